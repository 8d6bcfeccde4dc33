"""Underwriting rules of the cover use case, on a real store: a cover names a
registered deployment, fits its type's cap, is not paused, and is priced from
the deployment's facts with the premium explained."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from router import domain as m
from router.app.covers import CoverAsk, Covers
from router.app.engine import ReinsuranceEngine
from router.app.positions import read_state, requirements
from router.app.protocols import Protocols
from router.config import PolicyConfig
from router.errors import (
    CoverCapExceeded,
    InvalidRecord,
    InvalidRequest,
    Paused,
    PermissionDenied,
    PreconditionFailed,
    UnknownEntity,
)
from router.store import Store
from tests.app.conftest import ACME, ALICE, UNIT, fund
from tests.covers_support import cover_terms, deployment, register

REPORTER_A = m.Identity(m.Role.REPORTER, "chain-a")
REPORTER_B = m.Identity(m.Role.REPORTER, "chain-b")


def ask(ctype: m.CoverType, amount: int, deployment_id: str = "amm-a", **kw: object) -> CoverAsk:
    terms = cover_terms(ctype, deployment_id, amount, 30)
    return CoverAsk("chain-a", "a1", dataclasses.replace(terms, **kw))  # type: ignore[arg-type]


async def counts(book: Store) -> tuple[int, int]:
    return len(await book.list_covers("acme")), len(await book.list_audit())


async def test_unknown_deployment_is_refused_and_nothing_is_written(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10**6 * UNIT})
    before = await counts(book)
    with pytest.raises(UnknownEntity, match="unknown deployment 'nope'"):
        await Covers(book, engine, policy).quote(ACME, ask(m.CoverType.PROTOCOL, UNIT, "nope"))
    assert await counts(book) == before


async def test_limit_above_the_type_s_cap_is_refused_naming_the_cap(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10**7 * UNIT})
    await register(book, deployment("small-a", chain="chain-a", tvl=1_000_000 * UNIT))
    covers = Covers(book, engine, policy)
    # Protocol cover: at most 90 % of TVL; exactly 90 % is fine.
    with pytest.raises(CoverCapExceeded) as err:
        await covers.quote(ACME, ask(m.CoverType.PROTOCOL, 900_001 * UNIT, "small-a"))
    assert err.value.cap == 900_000 * UNIT and "90 % of tvl" in str(err.value)
    assert (await covers.quote(ACME, ask(m.CoverType.PROTOCOL, 900_000 * UNIT, "small-a"))).quote
    # Governance cover: 30 % of governance-controlled assets (half the TVL here).
    with pytest.raises(CoverCapExceeded) as err:
        await covers.quote(ACME, ask(m.CoverType.GOVERNANCE, 150_001 * UNIT, "small-a"))
    assert err.value.cap == 150_000 * UNIT
    # Liquidity cover: 20 % of the LP tokens' value.
    with pytest.raises(CoverCapExceeded) as err:
        await covers.quote(
            ACME, ask(m.CoverType.LIQUIDITY, 1_000 * UNIT, "small-a", insured_value=4_999 * UNIT)
        )
    assert err.value.cap == 4_999 * UNIT * 2_000 // 10_000


def test_bad_terms_never_reach_the_use_case() -> None:
    with pytest.raises(InvalidRecord, match="could never pay") as err:
        ask(m.CoverType.PROTOCOL, 1_000 * UNIT, deductible=1_000 * UNIT)
    assert isinstance(err.value, InvalidRequest) and err.value.field == "terms.deductible"


async def test_a_pool_in_another_asset_cannot_cover_the_deployment(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10**6 * UNIT})
    await register(book, deployment("eur-a", chain="chain-a", asset="EURC"))
    with pytest.raises(PreconditionFailed, match="valued in EURC"):
        await Covers(book, engine, policy).quote(ACME, ask(m.CoverType.ORACLE, UNIT, "eur-a"))


async def test_a_paused_type_or_pool_takes_no_quote_or_bind_until_resumed(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10**6 * UNIT})
    covers, protocols = Covers(book, engine, policy), Protocols(book, policy)
    terms = ask(m.CoverType.ORACLE, 1_000 * UNIT)
    quoted = await covers.quote(ACME, terms)
    await protocols.set_paused(ALICE, m.PauseTarget(cover_type=m.CoverType.ORACLE), True, "feed")
    with pytest.raises(Paused, match="cover type oracle is paused"):
        await covers.quote(ACME, terms)
    with pytest.raises(Paused):  # a quote taken before the pause does not bind either
        await covers.bind(ACME, "paused-0001", quoted.quote.quote_id, terms)
    # Another type on the same pool is not paused.
    assert await covers.quote(ACME, ask(m.CoverType.PROTOCOL, 1_000 * UNIT))
    await protocols.set_paused(ALICE, m.PauseTarget(pool_id="a1"), True, "rebalancing")
    with pytest.raises(Paused, match="pool a1 is paused"):
        await covers.quote(ACME, ask(m.CoverType.PROTOCOL, 1_000 * UNIT))
    assert [p.target.key for p in await protocols.pauses()] == ["cover_type:oracle", "pool:a1"]
    assert await book.list_covers("acme") == []
    for target in (m.PauseTarget(cover_type=m.CoverType.ORACLE), m.PauseTarget(pool_id="a1")):
        assert await protocols.set_paused(ALICE, target, False, "resolved") is True
    result, _ = await covers.bind(ACME, "paused-0001", quoted.quote.quote_id, terms)
    assert result.created
    actions = [e.action for e in await book.list_audit() if e.actor == ALICE.uri]
    assert sorted(actions) == ["paused", "paused", "resumed", "resumed"]


async def test_a_bind_after_the_tvl_fell_below_the_cap_is_refused(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10**7 * UNIT})
    await register(book, deployment("drop-a", chain="chain-a", tvl=1_000_000 * UNIT))
    covers = Covers(book, engine, policy)
    terms = ask(m.CoverType.PROTOCOL, 800_000 * UNIT, "drop-a")
    quoted = await covers.quote(ACME, terms)
    reading = m.TvlReading("drop-a", "USDC", 500_000 * UNIT, "test", datetime.now(UTC))
    await Protocols(book, policy).set_tvl(ALICE, reading)
    with pytest.raises(CoverCapExceeded):
        await covers.bind(ACME, "tvl-drop-01", quoted.quote.quote_id, terms)
    assert await book.list_covers("acme") == []


async def test_the_quote_explains_its_premium_and_history_prices_it(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10**7 * UNIT})
    hacked = m.IncidentHistory(count=3, severity_bps=4_000, window_days=365)
    await register(book, deployment("hacked-a", chain="chain-a", incidents=hacked))
    covers = Covers(book, engine, policy)
    clean = await covers.quote(ACME, ask(m.CoverType.PROTOCOL, 100_000 * UNIT))
    risky = await covers.quote(ACME, ask(m.CoverType.PROTOCOL, 100_000 * UNIT, "hacked-a"))
    for q in (clean, risky):
        assert q.premium.total == q.quote.premium
        assert q.premium.pure > 0 and q.premium.cost_of_capital > 0 and q.premium.fees > 0
    assert risky.premium.pure > 3 * clean.premium.pure
    assert risky.premium.incident_probability_ppm > clean.premium.incident_probability_ppm
    # The same cost of capital and fees: only the risk differs.
    assert risky.premium.cost_of_capital == clean.premium.cost_of_capital


async def test_the_bound_cover_keeps_its_terms(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10**7 * UNIT})
    covers = Covers(book, engine, policy)
    terms = ask(
        m.CoverType.PROTOCOL, 100_000 * UNIT, deductible=5_000 * UNIT, per_event_max=60_000 * UNIT
    )
    quoted = await covers.quote(ACME, terms)
    # The bind must repeat the terms: another deductible is refused.
    other = dataclasses.replace(
        terms, terms=dataclasses.replace(terms.terms, deductible=4_000 * UNIT)
    )
    with pytest.raises(PreconditionFailed, match="terms"):
        await covers.bind(ACME, "terms-00001", quoted.quote.quote_id, other)
    result, _ = await covers.bind(ACME, "terms-00001", quoted.quote.quote_id, terms)
    c = (await book.list_covers("acme"))[0]
    assert c == result.cover
    assert (c.deployment_id, c.deductible, c.per_event_max) == (
        "amm-a",
        5_000 * UNIT,
        60_000 * UNIT,
    )
    assert set(c.trigger_kinds) == {"exploit", "flash_loan", "upgrade_failure"}


async def test_deployments_of_one_protocol_raise_the_requirement(
    book: Store, policy: PolicyConfig
) -> None:
    """The engine links a pool's covers on deployments of one protocol (one shock)."""
    engine = ReinsuranceEngine(policy, [], scenarios=4_000)
    await fund(book, {"a1": 10**7 * UNIT, "a2": 10**7 * UNIT})
    await register(
        book,
        deployment("x-a", protocol_id="x", chain="chain-a"),
        deployment("x-b", protocol_id="x", chain="chain-b"),
        deployment("y-a", protocol_id="y", chain="chain-a"),
        deployment("z-b", protocol_id="z", chain="chain-b"),
    )
    covers = Covers(book, engine, policy)
    for pool, deps in (("a1", ("x-a", "x-b")), ("a2", ("y-a", "z-b"))):
        for i, dep in enumerate(deps):
            bound = CoverAsk(
                "chain-a", pool, cover_terms(m.CoverType.PROTOCOL, dep, 300_000 * UNIT)
            )
            q = await covers.quote(ACME, bound)
            await covers.bind(ACME, f"link-{pool}-{i}", q.quote.quote_id, bound)
    reqs = await requirements(engine, await read_state(book))
    # Same exposure and marginal risks; a1's two deployments share a protocol.
    assert reqs["a1"].scr > reqs["a2"].scr


async def test_the_tvl_reporter_feeds_its_own_chain_only_newer_readings(
    book: Store, policy: PolicyConfig
) -> None:
    protocols = Protocols(book, policy)
    now = datetime.now(UTC)
    reading = m.TvlReading("amm-a", "USDC", 7 * UNIT, "onchain", now)
    assert await protocols.report_tvl(REPORTER_A, reading) is True
    assert (await book.get_deployment("amm-a")).tvl == 7 * UNIT
    # Replayed or older: ignored, nothing rolls back, nothing audited.
    older = dataclasses.replace(reading, tvl=9 * UNIT, as_of=now - timedelta(minutes=1))
    assert await protocols.report_tvl(REPORTER_A, reading) is False
    assert await protocols.report_tvl(REPORTER_A, older) is False
    assert (await book.get_deployment("amm-a")).tvl == 7 * UNIT
    with pytest.raises(PermissionDenied, match="reports for chain chain-b"):
        await protocols.report_tvl(REPORTER_B, dataclasses.replace(reading, as_of=now))
    with pytest.raises(InvalidRequest, match="later than the router's clock"):
        await protocols.report_tvl(
            REPORTER_A, dataclasses.replace(reading, as_of=now + timedelta(hours=1))
        )
    await book.set_reporter_allowed("chain-a", False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        await protocols.report_tvl(
            REPORTER_A, dataclasses.replace(reading, as_of=now + timedelta(seconds=1))
        )
    tvl_entries = [e for e in await book.list_audit() if e.action == "deployment_tvl"]
    assert [e.actor for e in tvl_entries] == [REPORTER_A.uri]

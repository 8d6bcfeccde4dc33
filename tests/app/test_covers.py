"""Cover use cases: one bind per quote (enforced by the database), a bind commits
with its audit entry, capacity per pool says what binds, locked capital."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from router import domain as m
from router.app.covers import CoverAsk, Covers
from router.app.engine import ReinsuranceEngine
from router.app.positions import pool_views, read_state, requirements
from router.config import PolicyConfig
from router.errors import CapacityExceeded, Conflict, PermissionDenied
from router.store import Store
from router.store.tables import metadata
from tests.app.conftest import ACME, UNIT, Faulty, fund


def ask(pool: str, amount: int, chain: str = "chain-a", **terms: object) -> CoverAsk:
    deployment = "amm-a" if chain == "chain-a" else "amm-b"
    return CoverAsk(
        chain,
        pool,
        m.CoverTerms(m.CoverType.ORACLE, deployment, amount, 30, **terms),  # type: ignore[arg-type]
    )


TERMS = ask("a1", 1_000 * UNIT)


async def test_a_quote_binds_once_whatever_the_key(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 100_000 * UNIT})
    covers = Covers(book, engine, policy)
    quoted = await covers.quote(ACME, TERMS)
    first, _ = await covers.bind(ACME, "bind-key-001", quoted.quote.quote_id, TERMS)
    replay, _ = await covers.bind(ACME, "bind-key-001", quoted.quote.quote_id, TERMS)
    assert first.created and not replay.created and replay.cover == first.cover
    with pytest.raises(Conflict, match="already bound as cover"):
        await covers.bind(ACME, "bind-key-002", quoted.quote.quote_id, TERMS)
    assert len(await book.list_covers("acme")) == 1


async def test_the_database_itself_refuses_a_second_cover_for_one_quote(book: Store) -> None:
    """Not only the use case: a writer that skips it still cannot bind a quote twice."""
    covers_t = metadata.tables["covers"]
    await fund(book, {"a1": 100_000 * UNIT})
    now = datetime.now(UTC)
    await book.save_quote(
        m.Quote("q-raw", "acme", "a1", "oracle", UNIT, 1, "0" * 64, now + timedelta(hours=1))
    )
    row = {
        "partner_id": "acme",
        "request_hash": "0" * 64,
        "request_json": "{}",
        "pool_id": "a1",
        "cover_type": "oracle",
        "limit_amount": UNIT,
        "premium": 1,
        "starts_at": now,
        "ends_at": now + timedelta(days=1),
        "status": "active",
        "quote_id": "q-raw",
        "created_at": now,
    }
    async with book.engine.begin() as conn:
        await conn.execute(sa.insert(covers_t).values(cover_id="c1", idempotency_key="k1", **row))
    with pytest.raises(sa.exc.IntegrityError):
        async with book.engine.begin() as conn:
            await conn.execute(
                sa.insert(covers_t).values(cover_id="c2", idempotency_key="k2", **row)
            )


async def test_a_bind_and_its_audit_entry_commit_together(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 100_000 * UNIT})
    quoted = await Covers(book, engine, policy).quote(ACME, TERMS)
    crashing = Faulty(book, "append_audit")
    with pytest.raises(RuntimeError, match="injected crash"):
        await Covers(crashing, engine, policy).bind(  # type: ignore[arg-type]
            ACME, "bind-key-003", quoted.quote.quote_id, TERMS
        )
    assert await book.list_covers("acme") == []
    result, _ = await Covers(book, engine, policy).bind(
        ACME, "bind-key-003", quoted.quote.quote_id, TERMS
    )
    entries = [e for e in await book.list_audit(result.cover.cover_id) if e.action == "cover_bound"]
    assert len(entries) == 1 and entries[0].actor == ACME.uri


async def test_capacity_is_per_pool_and_says_what_binds(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    stale_time = datetime.now(UTC) - timedelta(seconds=policy.staleness_limit_seconds + 60)
    await fund(book, {"a1": 10_000 * UNIT, "a2": 50_000 * UNIT})
    await fund(book, {"b1": 20_000 * UNIT}, at=stale_time)
    covers = Covers(book, engine, policy)
    quoted = await covers.quote(ACME, TERMS)
    await covers.bind(ACME, "bind-key-004", quoted.quote.quote_id, TERMS)
    caps = {c.pool_id: c for c, _ in await covers.capacity(ACME, None)}
    share = policy.capacity_bps
    a1 = caps["a1"]
    assert (a1.limit, a1.in_force) == (10_000 * UNIT * share // 10_000, 1_000 * UNIT)
    assert a1.available == a1.limit - a1.in_force
    assert a1.binding is m.CapacityLimit.SHARE
    assert a1.frees_at is not None and a1.frees_at > datetime.now(UTC) + timedelta(days=29)
    assert caps["a2"].available == 50_000 * UNIT * share // 10_000
    assert caps["a2"].frees_at is None
    assert (caps["b1"].available, caps["b1"].binding) == (0, m.CapacityLimit.STALE)
    assert (caps["b2"].available, caps["b2"].binding) == (0, m.CapacityLimit.NO_BALANCE)

    stale_terms = ask("b1", UNIT, chain="chain-b")
    with pytest.raises(CapacityExceeded) as err:
        await covers.quote(ACME, stale_terms)
    assert err.value.limit == "stale_balance" and err.value.available == 0
    assert "stale" in str(err.value)
    too_big = ask("a1", a1.available + 1)
    with pytest.raises(CapacityExceeded) as err:
        await covers.quote(ACME, too_big)
    assert err.value.available == a1.available and err.value.limit == "capacity_share"
    assert "more frees up at" in str(err.value)


def spill(pool: str, amount: int) -> CoverAsk:
    a = ask(pool, amount)
    return CoverAsk(a.chain, a.pool_id, a.terms, spill_over=True)


async def test_a_cover_spills_over_whole_to_the_roomiest_pool_of_its_chain(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    """Asked of a full pool with spill_over: placed whole in the pool of the same
    chain with the most room (never another chain's), bound there; without
    spill_over the same request is refused as before."""
    await book.upsert_pool(m.Pool("a3", "chain-a", "0x" + b"a3".hex().ljust(40, "0"), "USDC"))
    await fund(book, {"a1": 10_000 * UNIT, "a2": 30_000 * UNIT, "a3": 60_000 * UNIT})
    await fund(book, {"b1": 900_000 * UNIT})  # roomiest of all, but another chain
    covers = Covers(book, engine, policy)
    share = policy.capacity_bps
    amount = 20_000 * UNIT  # beyond a1 (8,000 room); a2 (24,000) and a3 (48,000) fit
    with pytest.raises(CapacityExceeded):
        await covers.quote(ACME, ask("a1", amount))
    quoted = await covers.quote(ACME, spill("a1", amount))
    assert (quoted.pool.pool_id, quoted.spilled_from) == ("a3", "a1")
    assert quoted.quote.pool_id == "a3"
    # The bind names the quote's pool; the cover is in a3, its capacity taken there.
    bound, pool = await covers.bind(ACME, "spill-key-1", quoted.quote.quote_id, ask("a3", amount))
    assert bound.created and bound.cover.pool_id == pool.pool_id == "a3"
    caps = {c.pool_id: c for c, _ in await covers.capacity(ACME, "chain-a")}
    assert caps["a3"].in_force == amount and caps["a1"].in_force == 0
    # The next spill goes wherever most room is left now.
    assert caps["a3"].available == 60_000 * UNIT * share // 10_000 - amount
    again = await covers.quote(ACME, spill("a1", amount))
    best = max(("a2", "a3"), key=lambda p: (caps[p].available, p))
    assert again.pool.pool_id == best and again.spilled_from == "a1"
    # Placed where asked when it fits: nothing spills.
    fits = await covers.quote(ACME, spill("a1", 1_000 * UNIT))
    assert (fits.pool.pool_id, fits.spilled_from) == ("a1", "")


async def test_a_spill_no_pool_can_carry_is_refused_naming_each_pool(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10_000 * UNIT, "a2": 30_000 * UNIT})
    covers = Covers(book, engine, policy)
    quotes = await _count(book, "quotes")
    with pytest.raises(CapacityExceeded) as err:
        await covers.quote(ACME, spill("a1", 50_000 * UNIT))
    text = str(err.value)
    assert err.value.pool_id == "a1" and "no pool of chain-a can carry it" in text
    assert f"a2 {30_000 * UNIT * policy.capacity_bps // 10_000} left (capacity_share)" in text
    # A paused pool is never a place to spill to, and says so.
    await book.set_pause(
        m.Pause(m.PauseTarget(pool_id="a2"), "incident review", "alice", datetime.now(UTC)),
        m.PauseTarget(pool_id="a2"),
    )
    with pytest.raises(CapacityExceeded, match="a2 paused"):
        await covers.quote(ACME, spill("a1", 20_000 * UNIT))
    assert await _count(book, "quotes") == quotes  # nothing stored


async def _count(book: Store, table: str) -> int:
    async with book.engine.connect() as conn:
        stmt = sa.select(sa.func.count()).select_from(metadata.tables[table])
        return int((await conn.execute(stmt)).scalar_one())


async def test_binding_locks_capital_and_the_position_shows_it(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10_000 * UNIT})
    covers = Covers(book, engine, policy)
    quoted = await covers.quote(ACME, TERMS)
    await covers.bind(ACME, "bind-key-005", quoted.quote.quote_id, TERMS)
    snap = await read_state(book)
    views = {
        v.pool.pool_id: v
        for v in pool_views(snap, await requirements(engine, snap), policy, datetime.now(UTC))
    }
    assert views["a1"].locked == 1_000 * UNIT
    assert views["a1"].active_cover == 1_000 * UNIT
    assert views["a1"].requirement.scr > 0
    assert views["a2"].locked == 0
    # Expiry releases it: past the cover's end, nothing is locked or required.
    later = datetime.now(UTC) + timedelta(days=TERMS.period_days + 1)
    snap = await read_state(book, now=later)
    expired = {
        v.pool.pool_id: v for v in pool_views(snap, await requirements(engine, snap), policy, later)
    }
    assert expired["a1"].locked == 0 and expired["a1"].active_cover == 0
    assert expired["a1"].requirement.scr == 0


async def test_a_deactivated_partner_is_refused_at_once(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 10_000 * UNIT})
    covers = Covers(book, engine, policy)
    await book.set_partner_active("acme", False)
    with pytest.raises(PermissionDenied, match="deactivated"):
        await covers.quote(ACME, TERMS)
    await book.set_partner_active("acme", True)
    assert (await covers.quote(ACME, TERMS)).quote.partner_id == "acme"

"""Planning gets what the store knows: locked capital, capital in flight, the band,
risks per cover type; approvals are sized on net capital leaving pools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router import domain as m
from router.app.covers import CoverAsk, Covers
from router.app.engine import ReinsuranceEngine
from router.app.plans import Plans
from router.app.positions import read_state, requirements
from router.config import PolicyConfig
from router.store import Store
from tests.app.conftest import ACME, ALICE, UNIT, fund
from tests.covers_support import cover_terms


async def bind(
    book: Store,
    engine: ReinsuranceEngine,
    policy: PolicyConfig,
    pool: str,
    chain: str,
    amount: int,
    key: str,
    ctype: m.CoverType = m.CoverType.POSITION,
) -> None:
    covers = Covers(book, engine, policy)
    terms = CoverAsk(chain, pool, cover_terms(ctype, f"amm-{chain[-1]}", amount))
    quoted = await covers.quote(ACME, terms)
    await covers.bind(ACME, key, quoted.quote.quote_id, terms)


def out_of(plan: m.Plan, pool: str) -> int:
    return sum(s.amount for s in plan.steps if s.src_pool == pool and s.kind is m.StepKind.TRANSFER)


def into(plan: m.Plan, pool: str) -> int:
    return sum(s.amount for s in plan.steps if s.dst_pool == pool)


async def stressed_book(book: Store, engine: ReinsuranceEngine, policy: PolicyConfig) -> None:
    """b1 carries cover and lacks capital; a1 on the other chain is rich."""
    await fund(book, {"a1": 1_000_000 * UNIT, "b1": 400_000 * UNIT})
    await bind(book, engine, policy, "b1", "chain-b", 300_000 * UNIT, "stress-0001")
    await fund(book, {"b1": 10_000 * UNIT})  # paid out since: now short


async def test_approvals_count_net_capital_leaving_pools_once(
    book: Store, engine: ReinsuranceEngine
) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    await stressed_book(book, engine, policy)
    planned = await Plans(book, engine, policy).propose(ALICE, dry_run=True)
    plan = planned.plan
    leaving = out_of(plan, "a1")
    assert leaving > 0 and into(plan, "b1") > 0
    # The move travels three legs (pool -> hub, bridge, hub -> pool) but counts once.
    assert plan.total_amount == leaving
    assert sum(s.amount for s in plan.steps if s.kind is m.StepKind.TRANSFER) > 2 * leaving
    # So a threshold between one and three legs' worth needs one approval, not two.
    plans = Plans(book, engine, PolicyConfig(rebalance_band_bps=0, dual_approval_above=leaving))
    assert plans.approvals_needed(plan.total_amount) == 1
    assert plans.approvals_needed(plan.total_amount + 1) == 2


async def test_capital_in_flight_to_a_pool_is_not_sent_again(
    book: Store, engine: ReinsuranceEngine
) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    await stressed_book(book, engine, policy)
    plans = Plans(book, engine, policy)
    first = (await plans.propose(ALICE, dry_run=True)).plan
    need = into(first, "b1")
    assert need > 0
    # What the first plan sends is on its way (recorded, not final).
    await book.record_transfer(
        m.TransferRecord(
            transfer_id="0x" + "ab" * 32,
            src_chain="chain-a",
            src_pool="hub:chain-a",
            dst_chain="chain-b",
            recipient="0x" + "cd" * 20,
            amount=need,
            dst_pool="b1",
        )
    )
    second = (await plans.propose(ALICE, dry_run=True)).plan
    assert into(second, "b1") == 0, second.steps


async def test_locked_capital_never_leaves_a_donor(book: Store, engine: ReinsuranceEngine) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    await fund(book, {"a1": 500_000 * UNIT, "b1": 400_000 * UNIT})
    # a1 backs 380k of cover: that much of its capital is locked.
    await bind(book, engine, policy, "a1", "chain-a", 380_000 * UNIT, "lock-0001")
    await bind(book, engine, policy, "b1", "chain-b", 300_000 * UNIT, "lock-0002")
    await fund(book, {"b1": 1 * UNIT})
    plan = (await Plans(book, engine, policy).propose(ALICE, dry_run=True)).plan
    assert 0 < out_of(plan, "a1") <= 500_000 * UNIT - 380_000 * UNIT


async def test_pools_within_the_band_are_left_alone(book: Store, engine: ReinsuranceEngine) -> None:
    await fund(book, {"a1": 1_000_000 * UNIT, "b1": 400_000 * UNIT})
    policy0 = PolicyConfig(rebalance_band_bps=0)
    await bind(book, engine, policy0, "b1", "chain-b", 300_000 * UNIT, "band-0001")
    snap = await read_state(book)
    req = (await requirements(engine, snap))["b1"].required
    # Just under target (150 %): 1 % short, inside a 5 % band, outside a 0 % band.
    await fund(book, {"b1": req * 149 // 100})
    wide = (
        await Plans(book, engine, PolicyConfig(rebalance_band_bps=500)).propose(ALICE, dry_run=True)
    ).plan
    assert into(wide, "b1") == 0
    narrow = (await Plans(book, engine, policy0).propose(ALICE, dry_run=True)).plan
    assert into(narrow, "b1") > 0


async def test_each_cover_type_is_its_own_risk(book: Store, policy: PolicyConfig) -> None:
    """Same exposure, different cover types: different requirements (the store
    knows the types; a blended single risk would give them the same)."""
    engine = ReinsuranceEngine(policy, [], scenarios=4_000)
    await fund(book, {"a1": 1_000_000 * UNIT, "a2": 1_000_000 * UNIT})
    await bind(
        book, engine, policy, "a1", "chain-a", 200_000 * UNIT, "type-0001", m.CoverType.POSITION
    )
    await bind(
        book, engine, policy, "a2", "chain-a", 200_000 * UNIT, "type-0002", m.CoverType.LIQUIDITY
    )
    reqs = await requirements(engine, await read_state(book))
    assert reqs["a1"].scr > 0 and reqs["a2"].scr > 0
    assert reqs["a1"].scr != reqs["a2"].scr
    # Position losses are rarer but far more severe than liquidity losses
    # (Beta(2,3) vs Beta(1,20)): at the 99.5 % tail position cover needs more capital.
    assert reqs["a1"].scr > reqs["a2"].scr


async def test_the_policy_s_correlation_reaches_the_requirement(
    book: Store, policy: PolicyConfig
) -> None:
    """A pool's risks of every cover type share market shocks as configured:
    correlated, the diversification benefit shrinks and the requirement grows."""
    await fund(book, {"a1": 10_000_000 * UNIT})
    for i, ctype in enumerate(m.CoverType):
        await bind(
            book,
            ReinsuranceEngine(policy, [], scenarios=4_000),
            policy,
            "a1",
            "chain-a",
            300_000 * UNIT,
            f"corr-{i:04d}",
            ctype,
        )
    snap = await read_state(book)

    async def scr(type_corr: float, market: float) -> int:
        tuned = policy.model_copy(
            update={"cover_type_correlation": type_corr, "market_correlation": market}
        )
        return (await requirements(ReinsuranceEngine(tuned, [], scenarios=4_000), snap))["a1"].scr

    independent, correlated = await scr(0.0, 0.0), await scr(0.0, 0.45)
    assert 0 < independent < correlated


async def test_a_stale_pool_is_never_planned_on(book: Store, engine: ReinsuranceEngine) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    await stressed_book(book, engine, policy)
    old = datetime.now(UTC) - timedelta(seconds=policy.staleness_limit_seconds + 5)
    await fund(book, {"a1": 1_000_000 * UNIT}, at=old)
    planned = await Plans(book, engine, policy).propose(ALICE, dry_run=True)
    assert out_of(planned.plan, "a1") == 0
    assert any(s.startswith("a1: last confirmed report is stale") for s in planned.shortfalls)


def test_cessions_only_go_to_vaults_on_the_pools_chain(engine: ReinsuranceEngine) -> None:
    """A vault takes cessions from pools on its own chain only (no route needed)."""

    def view(pool_id: str, chain: str) -> m.PoolView:
        pool = m.Pool(pool_id, chain, "0x" + "11" * 20, "usdc")
        req = m.Requirement(scr=1_000 * UNIT, mcr=200 * UNIT)
        return m.PoolView(pool, 800 * UNIT, 0, 0, req, stale=False)

    def vault(vault_id: str, chain: str) -> m.Vault:
        return m.Vault(vault_id, chain, "0x" + "22" * 20, "usdc", 10**6 * UNIT, 100)

    proposal = engine.plan(
        [view("pa", "chain-a"), view("pb", "chain-b")],
        [vault("va", "chain-a")],
        target_ratio_bps=15_000,
    )
    ceded = {(s.src_pool, s.vault_id) for s in proposal.steps if s.kind is m.StepKind.CESSION}
    assert ("pa", "va") in ceded
    assert all(pool == "pa" for pool, _ in ceded)

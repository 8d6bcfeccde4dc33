"""A plan not yet executed, projected on a real store (SQLite and PostgreSQL) with
the real engine: the short pool's ratio rises to target, capital is conserved
(what leaves pools arrives, less the plan's costs), nothing is moved."""

from __future__ import annotations

from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.plans import Plans
from router.app.projection import capital_after
from router.config import PolicyConfig
from router.store import Store
from tests.app.conftest import ALICE
from tests.app.test_job import short_book


async def test_a_pending_plan_is_projected_without_moving_anything(
    book: Store, engine: ReinsuranceEngine
) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    await short_book(book, engine, policy)
    plans = Plans(book, engine, policy)
    plan = (await plans.propose(ALICE)).plan
    assert plan.status is m.PlanStatus.PENDING_APPROVAL and plan.steps
    balances = {p: b.amount for p, b in (await book.latest_balances()).items()}
    got = {p.pool_id: p for p in await plans.project(plan.plan_id)}
    b1 = got["b1"]
    assert b1.ratio_now_bps is not None and b1.ratio_after_bps is not None
    assert b1.ratio_now_bps < policy.target_ratio_bps <= b1.ratio_after_bps
    assert all(p.capital_now == balances.get(p.pool_id, 0) for p in got.values())
    # transfers conserve capital less fees; premiums leave pools for vaults
    moved_in = sum(p.capital_after for p in got.values())
    assert moved_in == sum(balances.values()) - plan.cost
    # a projection stores nothing and moves nothing
    assert {p: b.amount for p, b in (await book.latest_balances()).items()} == balances
    assert (await book.get_plan(plan.plan_id)).status is m.PlanStatus.PENDING_APPROVAL


def test_capital_after_takes_outflows_and_adds_deliveries() -> None:
    steps = (
        m.PlanStep(0, m.StepKind.TRANSFER, "a1", 100, "a", "hub:a"),
        m.PlanStep(1, m.StepKind.TRANSFER, "hub:a", 100, "b", "hub:b", fee=3),
        m.PlanStep(2, m.StepKind.TRANSFER, "hub:b", 97, "b", "b1"),
        m.PlanStep(3, m.StepKind.CESSION, "b1", 50, vault_id="v", fee=2, share_ppm=10),
    )
    assert capital_after({"a1": 1_000, "b1": 10}, steps) == {"a1": 900, "b1": 105}

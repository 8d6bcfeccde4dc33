"""A step resolved as refunded gives its limits back, through the saga's own
activity on a real store (the capital went back: it never left for good)."""

from __future__ import annotations

from pathlib import Path

from chains.base import ChainFamily
from router import domain as m
from router.domain.limits import DailyLimit, LimitsPolicy
from router.execution.activities import PlanActivities
from router.execution.effects import Places
from router.store import open_store
from tests.execution.crash_harness import approved_plan

POLICY = LimitsPolicy(daily=(DailyLimit("chain:ethereum", 1_000),))


async def test_a_refunded_step_releases_what_it_consumed(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        await store.upsert_chain(m.Chain("ethereum", ChainFamily.EVM, 1))
        await store.upsert_pool(m.Pool("a1", "ethereum", "0x" + "11" * 20, "USDC"))
        step = m.PlanStep(0, m.StepKind.TRANSFER, "a1", 800, "ethereum", "hub:ethereum")
        plan = await approved_plan(store, "plan-refund", [step])
        await store.consume_limits(plan.plan_id, 0, 800, ["chain:ethereum"], POLICY)
        await store.set_step_status(plan.plan_id, 0, m.StepStatus.STUCK, detail="no answer")
        assert (await store.limit_headroom(POLICY)).of("chain:ethereum") == 200

        async def places() -> Places:
            return Places({}, {}, {})

        acts = PlanActivities(store, {}, places, None, limits=POLICY)
        args = [plan.plan_id, 0, "refunded", "ballast://operator/bob", "checked on chain"]
        assert await acts.resolve_step(args) == "ok"
        assert (await store.get_plan(plan.plan_id)).steps[0].status is m.StepStatus.REFUNDED
        assert (await store.limit_headroom(POLICY)).of("chain:ethereum") == 1_000
        # a retried activity releases nothing more
        await store.release_limits(plan.plan_id, 0, POLICY)
        assert (await store.limit_headroom(POLICY)).of("chain:ethereum") == 1_000
    finally:
        await store.aclose()

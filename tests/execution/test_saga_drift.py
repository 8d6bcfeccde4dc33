"""Drift against the approved basis, on a real Temporal dev server and an embedded
chain: a source pool whose confirmed balance fell beyond tolerance after the
approval stops the plan before the step (nothing signed, nothing moved, the
reason on the step and in the audit log) until operators approve it again;
within tolerance the step runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any, cast

from temporalio.client import Client

from router import domain as m
from router.app.plans import Plans
from router.domain.ingest import ReportIn
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from router.store import Store
from tests.execution.conftest import block_producer
from tests.execution.saga_harness import Setup, setup
from tests.execution.test_saga_limits import step_where

UNIT = 10**6
MOVE = 100_000 * UNIT
_blocks = count(1_000)
BOB = m.Identity(m.Role.OPERATOR, "bob")


async def confirm(store: Store, pool: str, amount: int) -> None:
    """A confirmed report of the pool's balance at a new block."""
    n = next(_blocks)
    report = ReportIn(
        chain="ethereum",
        pool_id=pool,
        reporter_id="ethereum",
        amount=amount,
        block_number=n,
        block_hash="0x" + f"{n:064x}",
        finalized=True,
        observed_at=datetime.now(UTC),
    )
    outcomes = await store.record_reports([report])
    assert all(o.accepted for o in outcomes), outcomes


async def plan_where(s: Setup, plan_id: str, status: m.PlanStatus) -> m.Plan:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        plan = await s.store.get_plan(plan_id)
        if plan.status is status:
            return plan
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{plan_id} never {status.value}")


async def approved_on_basis(s: Setup, plan_id: str, basis: int) -> m.Plan:
    """carol's plan a1 -> hub, approved by bob while a1 confirms ``basis``, executing."""
    await s.store.register_reporter(m.Reporter("ethereum", "ethereum"))
    await confirm(s.store, "a1", basis)
    step = m.PlanStep(0, m.StepKind.TRANSFER, "a1", MOVE, "ethereum", "hub:ethereum")
    await s.store.create_plan(m.PlanDraft(plan_id, "carol", (step,), MOVE, 0))
    plans = Plans(cast(Any, s.store), cast(Any, None), s.settings.policy)
    plan = await plans.approve(BOB, plan_id)
    assert plan.status is m.PlanStatus.APPROVED
    assert (await s.store.plan_basis(plan_id))["a1"].balance == basis
    return await s.store.update_plan_status(
        plan_id, m.PlanStatus.EXECUTING, expected_version=plan.version
    )


async def test_a_pool_that_drifted_stops_the_plan_until_it_is_approved_again(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "drift-held") as s:
        basis = 1_000_000 * UNIT
        plan = await approved_on_basis(s, "plan-drifted", basis)
        # a claim paid 5 % of the pool's capital meanwhile: beyond the 1 % tolerance
        await confirm(s.store, "a1", basis - 50_000 * UNIT)
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        settings = s.settings
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        async with (
            block_producer(s.env),  # type: ignore[arg-type]
            executor_worker(client, settings, s.store, {"ethereum": s.eth.adapter}, None),
        ):
            assert await starter.start(plan.plan_id)
            held = await step_where(s, plan.plan_id, 0, m.StepStatus.PENDING, "drift: pool a1")
            stopped = await plan_where(s, plan.plan_id, m.PlanStatus.PENDING_APPROVAL)
            # nothing signed, nothing moved
            assert await s.store.plan_attempts(plan.plan_id) == []
            assert await s.holdings() == before
            assert stopped.approvals == () and stopped.approvals_required >= 1
            assert f"has {basis - 50_000 * UNIT} where the approval saw {basis}" in (
                held.detail or ""
            )
            assert "re-approval" in (held.detail or "")
            audit = await s.store.list_audit(plan.plan_id)
            assert "plan_held" in [e.action for e in audit]
            # an operator reviews it again and approves: the saga goes on, on the new basis
            plans = Plans(cast(Any, s.store), cast(Any, None), settings.policy)
            again = await plans.approve(BOB, plan.plan_id)
            assert again.status is m.PlanStatus.APPROVED
            assert (await s.store.plan_basis(plan.plan_id))["a1"].balance == basis - 50_000 * UNIT
            await step_where(s, plan.plan_id, 0, m.StepStatus.DONE, "done")
            await plan_where(s, plan.plan_id, m.PlanStatus.COMPLETED)
        a1, _, hub = s.pools
        after = await s.holdings()
        assert after[a1.address] == before[a1.address] - MOVE
        assert after[hub.address] == before[hub.address] + MOVE
        actions = [e.action for e in await s.store.list_audit(plan.plan_id)]
        assert "plan_resumed" in actions


async def test_a_drift_within_tolerance_executes(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "drift-within") as s:
        basis = 1_000_000 * UNIT
        plan = await approved_on_basis(s, "plan-within", basis)
        await confirm(s.store, "a1", basis - 5_000 * UNIT)  # 0.5 %: within 1 %
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        settings = s.settings
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        async with (
            block_producer(s.env),  # type: ignore[arg-type]
            executor_worker(client, settings, s.store, {"ethereum": s.eth.adapter}, None),
        ):
            assert await starter.start(plan.plan_id)
            await plan_where(s, plan.plan_id, m.PlanStatus.COMPLETED)
        a1, _, hub = s.pools
        after = await s.holdings()
        assert after[a1.address] == before[a1.address] - MOVE
        assert after[hub.address] == before[hub.address] + MOVE
        assert "plan_held" not in [e.action for e in await s.store.list_audit(plan.plan_id)]

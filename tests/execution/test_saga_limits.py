"""Limits before each step, on a real Temporal dev server and an embedded chain:
a step within the headroom consumes it once and runs; a step above it waits,
naming the limit, and nothing is signed for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from router import domain as m
from router.config import DailyLimitConfig, LimitsConfig
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from tests.execution.conftest import block_producer
from tests.execution.crash_harness import approved_plan
from tests.execution.saga_harness import Setup, setup

UNIT = 10**6


async def step_where(
    s: Setup, plan_id: str, seq: int, status: m.StepStatus, text: str
) -> m.PlanStep:
    """The step once the store shows it in ``status`` with ``text`` in its detail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        step = (await s.store.get_plan(plan_id)).steps[seq]
        if step.status is status and text in (step.detail or ""):
            return step
        await asyncio.sleep(0.05)
    raise TimeoutError(f"step {seq} of {plan_id} never {status.value} with {text!r}")


async def test_a_step_above_the_headroom_waits_and_signs_nothing(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "limits") as s:
        move = 100_000 * UNIT
        limits = LimitsConfig(
            daily=(
                DailyLimitConfig(scope="chain:ethereum", cap=150_000 * UNIT),
                DailyLimitConfig(scope="destination:a2", cap=110_000 * UNIT),
            )
        )
        settings = s.settings.model_copy(update={"limits": limits})
        # an earlier plan already brought 20,000 to a2 today: 90,000 headroom left
        await s.store.consume_limits(
            "plan-earlier", 3, 20_000 * UNIT, ["destination:a2"], limits.policy()
        )
        plan = await approved_plan(
            s.store,
            "plan-limited",
            [
                m.PlanStep(0, m.StepKind.TRANSFER, "a1", move, "ethereum", "hub:ethereum"),
                m.PlanStep(1, m.StepKind.TRANSFER, "hub:ethereum", move, "ethereum", "a2"),
            ],
        )
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        async with (
            block_producer(s.env),  # type: ignore[arg-type]
            executor_worker(client, settings, s.store, {"ethereum": s.eth.adapter}, None),
        ):
            assert await starter.start(plan.plan_id)
            await step_where(s, plan.plan_id, 0, m.StepStatus.DONE, "done")
            waiting = await step_where(
                s, plan.plan_id, 1, m.StepStatus.PENDING, "limit destination:a2"
            )
            await client.get_workflow_handle(plan.plan_id).terminate("test over")
        assert "90000000000 headroom" in (waiting.detail or "")
        assert "frees at" in (waiting.detail or "")
        a1, a2, hub = s.pools
        after = await s.holdings()
        # step 0 ran, step 1 moved nothing and nothing was signed for it
        assert after[a1.address] == before[a1.address] - move
        assert after[hub.address] == before[hub.address] + move
        assert after[a2.address] == before[a2.address]
        assert {a.seq for a in await s.store.plan_attempts(plan.plan_id)} == {0}
        # step 0 consumed the chain's window once (however often it was signed or
        # observed); step 1 consumed nothing
        usage = await s.store.limit_usage(plan.plan_id)
        assert [(u.seq, u.scope, u.amount) for u in usage] == [(0, "chain:ethereum", move)]

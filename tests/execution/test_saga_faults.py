"""The saga under faults that are not crashes: RPC endpoints that time out, refuse,
lose answers or lag, and two workers (and two starts) racing for one plan. In
each case every effect happens once and capital is conserved to the unit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.client import Client

from chains.evm_config import FeePolicy
from chains.testing import FaultyEndpoint
from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.plans import Plans
from router.config import PolicyConfig
from router.domain.execution import AttemptState
from router.errors import InvalidRequest, PreconditionFailed
from router.execution.messages import SagaOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from tests.execution.conftest import block_producer
from tests.execution.crash_harness import approved_plan
from tests.execution.saga_harness import Setup, setup

UNIT = 10**6
MOVE, PREMIUM, CEDED = 150_000 * UNIT, 2_000 * UNIT, 80_000 * UNIT


def plan_steps() -> list[m.PlanStep]:
    return [
        m.PlanStep(0, m.StepKind.TRANSFER, "a1", MOVE, "ethereum", "hub:ethereum"),
        m.PlanStep(1, m.StepKind.TRANSFER, "hub:ethereum", MOVE, "ethereum", "a2"),
        m.PlanStep(
            2, m.StepKind.CESSION, "a1", CEDED, vault_id="v1", fee=PREMIUM, share_ppm=80_000
        ),
    ]


async def audit_once(s: Setup, plan_id: str, before: dict[str, int]) -> None:
    a1, a2, hub = (p.address for p in s.pools)
    after = await s.holdings()
    assert after[a1] == before[a1] - MOVE - PREMIUM
    assert after[a2] == before[a2] + MOVE
    assert after[hub] == before[hub]
    assert after["vault"] == before["vault"] + PREMIUM
    assert sum(after.values()) == sum(before.values())
    done = await s.store.get_plan(plan_id)
    assert done.status is m.PlanStatus.COMPLETED
    assert [st.status for st in done.steps] == [m.StepStatus.DONE] * 3
    finals: dict[int, int] = {}
    for a in await s.store.plan_attempts(plan_id):
        finals[a.seq] = finals.get(a.seq, 0) + (a.state is AttemptState.FINAL)
    assert finals == {0: 1, 1: 1, 2: 1}, finals


def lost_answers(f: FaultyEndpoint) -> None:
    """Broadcasts executed whose answers never came back, receipts timing out."""
    f.lose_response(2, ["eth_sendRawTransaction"])
    f.time_out(4, ["eth_getTransactionReceipt"])


def swallowed(f: FaultyEndpoint) -> None:
    """Broadcasts answered with their hash but never forwarded: the node lost them."""
    f.swallow(2)


def refusing(f: FaultyEndpoint) -> None:
    """The endpoint refuses connections and answers error payloads for a while."""
    f.refuse(6)
    f.error_payload(3, -32000, "header not found", ["eth_getBlockByNumber"])


FAULTS: dict[str, Callable[[FaultyEndpoint], None]] = {
    "lost-answers": lost_answers,
    "swallowed": swallowed,
    "refusing": refusing,
    "lagging": lambda f: setattr(f, "lag", 3),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_rpc_faults_during_execution_are_waited_out_or_reconciled_never_doubled(
    temporal_server: DevServer, tmp_path: Path, fault: str
) -> None:
    async with setup(tmp_path, temporal_server, f"faults-{fault}") as s:
        faulty = FaultyEndpoint(s.eth.endpoint, label=f"faulty-{fault}")
        FAULTS[fault](faulty)
        adapter = s.eth.new_adapter([faulty])
        plan = await approved_plan(s.store, f"plan-fault-{fault}", plan_steps())
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, s.settings.temporal.task_queue, s.settings.execution)
        try:
            async with (
                block_producer(s.env),  # type: ignore[arg-type]
                executor_worker(client, s.settings, s.store, {"ethereum": adapter}, None),
            ):
                assert await starter.start(plan.plan_id)
                outcome = await asyncio.wait_for(
                    client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome).result(), 180
                )
        finally:
            await adapter.aclose()
        assert outcome.status == "completed", outcome
        await audit_once(s, plan.plan_id, before)
        if fault == "swallowed":  # the lost transactions were found missing and sent again
            assert len(faulty.swallowed) == 2
        if fault == "lagging":
            assert faulty.lag == 3 and faulty.round_trips > 0


async def test_two_workers_and_two_starts_race_for_one_plan_and_each_effect_happens_once(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "two-workers") as s:
        plan = await approved_plan(s.store, "plan-two-workers", plan_steps())
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        starters = [
            TemporalStarter(client, s.settings.temporal.task_queue, s.settings.execution)
            for _ in range(2)
        ]
        # Two workers (as two processes would be: each its own Temporal client and
        # its own adapter, with its own nonce cache, on the same key).
        other = await Client.connect(temporal_server.address)
        adapters = [s.eth.new_adapter(), s.eth.new_adapter()]
        try:
            async with (
                block_producer(s.env),  # type: ignore[arg-type]
                executor_worker(client, s.settings, s.store, {"ethereum": adapters[0]}, None),
                executor_worker(other, s.settings, s.store, {"ethereum": adapters[1]}, None),
            ):
                started = await asyncio.gather(*(st.start(plan.plan_id) for st in starters))
                assert sorted(started) == [False, True]  # one saga
                outcome = await asyncio.wait_for(
                    client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome).result(), 180
                )
        finally:
            for a in adapters:
                await a.aclose()
        assert outcome.status == "completed", outcome
        await audit_once(s, plan.plan_id, before)


async def step_status(
    s: Setup, plan_id: str, seq: int, want: m.StepStatus, after: int = 0
) -> m.PlanStep:
    """Wait until the store shows step ``seq`` in ``want`` at a version above ``after``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        step = (await s.store.get_plan(plan_id)).steps[seq]
        if step.status is want and step.version > after:
            return step
        await asyncio.sleep(0.05)
    raise TimeoutError(f"step {seq} of {plan_id} never {want.value}")


async def test_a_step_that_cannot_be_mined_goes_stuck_and_an_operator_resolves_it(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    """A fee cap below the chain's base fee: nothing can be signed, the step is
    STUCK past its deadline (its capital neither available nor lost); "retry"
    gives it a new deadline (stuck again: the cap still binds), "refunded" ends
    it after the operator checked the chain. Both audited; nothing moved."""
    async with setup(tmp_path, temporal_server, "stuck", step_deadline_seconds=1.0) as s:
        capped = s.eth.new_adapter(fees=FeePolicy(max_fee_per_gas=1, priority_fee=1))
        plan = await approved_plan(
            s.store,
            "plan-stuck",
            [m.PlanStep(0, m.StepKind.TRANSFER, "a1", MOVE, "ethereum", "hub:ethereum")],
        )
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, s.settings.temporal.task_queue, s.settings.execution)
        policy = PolicyConfig()
        plans = Plans(s.store, ReinsuranceEngine(policy), policy, executor=starter)
        alice = m.Identity(m.Role.OPERATOR, "alice")
        try:
            async with (
                block_producer(s.env),  # type: ignore[arg-type]
                executor_worker(client, s.settings, s.store, {"ethereum": capped}, None),
            ):
                assert await starter.start(plan.plan_id)
                stuck = await step_status(s, plan.plan_id, 0, m.StepStatus.STUCK)
                assert "fee" in (stuck.detail or "")
                with pytest.raises(InvalidRequest):
                    await plans.resolve_step(alice, plan.plan_id, 0, "forget", "typo")
                await plans.resolve_step(alice, plan.plan_id, 0, "retry", "fees should fall")
                retried = await step_status(s, plan.plan_id, 0, m.StepStatus.SENT, stuck.version)
                assert (retried.detail or "").startswith("retrying")
                again = await step_status(s, plan.plan_id, 0, m.StepStatus.STUCK, retried.version)
                await plans.resolve_step(alice, plan.plan_id, 0, "refunded", "nothing left a1")
                outcome = await asyncio.wait_for(
                    client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome).result(), 120
                )
        finally:
            await capped.aclose()
        assert again.version > retried.version
        assert outcome.status == "completed" and outcome.refunded == [0], outcome
        assert await s.holdings() == before  # nothing moved
        done = await s.store.get_plan(plan.plan_id)
        assert done.steps[0].status is m.StepStatus.REFUNDED
        actions = [e.action for e in await s.store.list_audit(plan.plan_id)]
        for action in ("step_stuck", "resolution_requested", "step_retry", "step_refunded"):
            assert action in actions, actions
        with pytest.raises(PreconditionFailed):  # only a stuck step of an executing plan
            await plans.resolve_step(alice, plan.plan_id, 0, "retry", "too late")


async def test_a_plan_whose_steps_changed_after_approval_is_not_executed(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    """The saga executes exactly what was approved or nothing: a step rewritten in
    the database after approval (and after ExecutePlan) fails the plan before
    anything is signed, and says why."""
    async with setup(tmp_path, temporal_server, "tampered") as s:
        plan = await approved_plan(s.store, "plan-tampered", plan_steps())
        async with s.store.engine.begin() as conn:  # someone rewrites a step in the database
            await conn.execute(
                sa.text("UPDATE plan_steps SET amount = :a WHERE plan_id = :p AND seq = 1"),
                {"a": str(MOVE * 2), "p": plan.plan_id},
            )
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, s.settings.temporal.task_queue, s.settings.execution)
        async with (
            block_producer(s.env),
            executor_worker(client, s.settings, s.store, {"ethereum": s.eth.adapter}, None),
        ):
            assert await starter.start(plan.plan_id)
            outcome = await asyncio.wait_for(
                client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome).result(), 120
            )
        assert outcome.status == "failed" and outcome.done == []
        assert await s.holdings() == before  # nothing moved
        done = await s.store.get_plan(plan.plan_id)
        assert done.status is m.PlanStatus.FAILED
        assert {st.status for st in done.steps} == {m.StepStatus.SKIPPED}
        assert "changed since" in (done.steps[0].detail or "")
        assert await s.store.plan_attempts(plan.plan_id) == []  # nothing was even signed
        (entry,) = [e for e in await s.store.list_audit(plan.plan_id) if e.action == "plan_failed"]
        assert "changed since" in str(entry.detail)

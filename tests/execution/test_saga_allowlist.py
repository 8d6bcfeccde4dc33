"""The destinations allow-list before signing, on a real Temporal dev server and an
embedded chain: a step paying to an address taken off the list fails before
anything is signed for it (nothing moved, the refusal audited); the steps
before it, to allowed addresses, ran."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.client import Client

from router import domain as m
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from tests.execution.conftest import block_producer
from tests.execution.crash_harness import approved_plan
from tests.execution.saga_harness import setup
from tests.execution.test_saga_drift import plan_where
from tests.execution.test_saga_limits import step_where

UNIT = 10**6


async def test_a_step_to_an_address_off_the_allowlist_is_refused_before_signing(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "allowlist") as s:
        a1, a2, hub = s.pools
        # the config's pools, hub and vault were allowed at first start
        allowed = {(d.chain, d.address) for d in await s.store.list_destinations()}
        assert ("ethereum", a2.address.lower()) in allowed
        assert ("ethereum", hub.address.lower()) in allowed
        assert await s.store.remove_destination("ethereum", a2.address.lower())
        move = 50_000 * UNIT
        plan = await approved_plan(
            s.store,
            "plan-offlist",
            [
                m.PlanStep(0, m.StepKind.TRANSFER, "a1", move, "ethereum", "hub:ethereum"),
                m.PlanStep(1, m.StepKind.TRANSFER, "hub:ethereum", move, "ethereum", "a2"),
            ],
        )
        before = await s.holdings()
        client = await Client.connect(temporal_server.address)
        settings = s.settings
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        async with (
            block_producer(s.env),  # type: ignore[arg-type]
            executor_worker(client, settings, s.store, {"ethereum": s.eth.adapter}, None),
        ):
            assert await starter.start(plan.plan_id)
            refused = await step_where(
                s, plan.plan_id, 1, m.StepStatus.FAILED, "not on the allow-list"
            )
            await plan_where(s, plan.plan_id, m.PlanStatus.FAILED)
        assert a2.address in (refused.detail or "")
        after = await s.holdings()
        assert after[a1.address] == before[a1.address] - move
        assert after[hub.address] == before[hub.address] + move
        assert after[a2.address] == before[a2.address]
        assert {a.seq for a in await s.store.plan_attempts(plan.plan_id)} == {0}
        audit = await s.store.list_audit(plan.plan_id)
        refusals = [json.loads(e.detail) for e in audit if e.action == "destination_refused"]
        assert [int(r["seq"]) for r in refusals] == [1]

"""The plan saga on a real Temporal dev server and embedded chains: effects once,
capital conserved to the unit, store states following the chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from router import domain as m
from router.domain.execution import AttemptState
from router.execution.messages import SagaOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from tests.execution.conftest import block_producer
from tests.execution.crash_harness import approved_plan
from tests.execution.saga_harness import setup

UNIT = 10**6


async def test_a_same_chain_plan_with_a_cession_executes_each_effect_once(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "same-chain") as s:
        eth, env, settings, store = s.eth, s.env, s.settings, s.store
        a1, a2, hub = s.pools
        move, premium, ceded = 200_000 * UNIT, 3_000 * UNIT, 100_000 * UNIT
        plan = await approved_plan(
            store,
            "plan-same-chain-1",
            [
                m.PlanStep(0, m.StepKind.TRANSFER, "a1", move, "ethereum", "hub:ethereum"),
                m.PlanStep(1, m.StepKind.TRANSFER, "hub:ethereum", move, "ethereum", "a2"),
                m.PlanStep(
                    2,
                    m.StepKind.CESSION,
                    "a1",
                    ceded,
                    vault_id="v1",
                    fee=premium,
                    share_ppm=100_000,
                ),
            ],
        )
        before = {r.address: await eth.token_balance(r.address) for r in (a1, a2, hub)}
        vault_before = (await eth.adapter.vault_state(eth.deployment.vault)).total_assets
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        async with (
            block_producer(env),
            executor_worker(client, settings, store, {"ethereum": eth.adapter}, None),
        ):
            assert await starter.start(plan.plan_id) is True
            assert await starter.start(plan.plan_id) is False  # the same saga, not a second
            outcome = await asyncio.wait_for(
                client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome).result(), 120
            )
        assert outcome.status == "completed", outcome
        # On chain: each effect exactly once, capital conserved to the unit.
        after = {r.address: await eth.token_balance(r.address) for r in (a1, a2, hub)}
        assert after[a1.address] == before[a1.address] - move - premium
        assert after[a2.address] == before[a2.address] + move
        assert after[hub.address] == before[hub.address] == 0
        vault = await eth.adapter.vault_state(eth.deployment.vault)
        assert vault.total_assets == vault_before + premium
        assert sum(after.values()) + vault.total_assets == sum(before.values()) + vault_before
        # The store followed the chain.
        done = await store.get_plan(plan.plan_id)
        assert done.status is m.PlanStatus.COMPLETED
        assert [s.status for s in done.steps] == [m.StepStatus.DONE] * 3
        transfers = await store.list_transfers(plan_id=plan.plan_id)
        assert {t.status for t in transfers} == {m.TransferState.FINALIZED}
        assert all(t.block_number is not None and t.tx_ref for t in transfers)
        (cession,) = await store.list_cessions()
        assert (cession.status, cession.premium, cession.share_ppm) == (
            m.CessionStatus.PLACED,
            premium,
            100_000,
        )
        record = await eth.adapter.cession_of(eth.deployment.vault, cession.cession_id)
        assert record is not None and record.ceded == ceded and record.premium == premium
        # The worker read the vault's free capacity on chain: the planner uses it.
        (stored_vault,) = await store.list_vaults()
        assert stored_vault.free_on_chain is not None
        assert stored_vault.free_on_chain <= vault_before + premium
        assert stored_vault.usable_capacity == stored_vault.free_on_chain
        attempts = await store.plan_attempts(plan.plan_id)
        assert len(attempts) == 3 and {a.state for a in attempts} == {AttemptState.FINAL}
        # Starting it again is refused: it ran to its end.
        assert await starter.start(plan.plan_id) is False

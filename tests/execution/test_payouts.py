"""The payout saga on a real Temporal dev server and an embedded EVM chain:
a recoverable is collected from the reinsurance vault once, whoever starts it
and however often, and the store follows the chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from router import domain as m
from router.domain.claims import Recoverable
from router.domain.execution import AttemptState
from router.execution.payouts import PayoutOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from tests.execution.conftest import block_producer
from tests.execution.crash_harness import approved_plan
from tests.execution.saga_harness import setup

UNIT = 10**6


async def test_a_recovery_is_collected_from_the_vault_once(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "payouts") as s:
        eth, env, settings, store = s.eth, s.env, s.settings, s.store
        a1 = s.pools[0]
        plan = await approved_plan(
            store,
            "plan-cede-1",
            [
                m.PlanStep(
                    0,
                    m.StepKind.CESSION,
                    "a1",
                    100_000 * UNIT,
                    vault_id="v1",
                    fee=2_000 * UNIT,
                    share_ppm=250_000,
                )
            ],
        )
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        async with (
            block_producer(env),
            executor_worker(client, settings, store, {"ethereum": eth.adapter}, None),
        ):
            assert await starter.start(plan.plan_id)
            await asyncio.wait_for(client.get_workflow_handle(plan.plan_id).result(), 120)
            (cession,) = await store.list_cessions()
            assert cession.status is m.CessionStatus.PLACED
            rec = await store.record_recoverable(
                Recoverable(
                    recovery_id="0x" + "5e" * 32,
                    payment_id="0x" + "9a" * 32,
                    cession_id=cession.cession_id,
                    vault_id="v1",
                    pool_id="a1",
                    amount=7_500 * UNIT,
                )
            )
            before = await eth.token_balance(a1.address)
            vault_before = (await eth.adapter.vault_state(eth.deployment.vault)).total_assets
            assert await starter.start_recovery(rec.recovery_id) is True
            assert await starter.start_recovery(rec.recovery_id) is False  # never a second
            outcome = await asyncio.wait_for(
                client.get_workflow_handle(rec.recovery_id, result_type=PayoutOutcome).result(),
                120,
            )
        assert outcome.status == "final", outcome
        # On chain: the vault paid the cedent once.
        assert await eth.token_balance(a1.address) == before + 7_500 * UNIT
        vault = await eth.adapter.vault_state(eth.deployment.vault)
        assert vault.total_assets == vault_before - 7_500 * UNIT
        record = await eth.adapter.cession_of(eth.deployment.vault, cession.cession_id)
        assert record is not None and record.remaining == 100_000 * UNIT - 7_500 * UNIT
        # The store followed: collected, with the transaction that paid it.
        done = await store.get_recoverable(rec.recovery_id)
        assert done.status == "collected" and done.tx_ref == outcome.tx_ref
        attempts = await store.attempts(rec.recovery_id)
        assert [a.state for a in attempts] == [AttemptState.FINAL]
        assert attempts[0].plan_id == rec.payment_id  # recorded under its payment

"""A plan across chains on the embedded bridge: EVM->EVM, EVM->Solana, Solana->EVM,
each bridge delivered once, every hub emptied, the bridge keeping exactly its fees."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from chains.bridge import DeliveryAttester, Lane
from chains.bridge.embedded import SOLANA, embedded_bridge
from chains.embedded.clock import time_passes
from router import domain as m
from router.app.access import sync_registry
from router.config import load_settings
from router.execution.messages import SagaOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from router.store import open_store
from tests.execution.conftest import db_url
from tests.execution.crash_harness import approved_plan

UNIT = 10**6
FEE_BPS, FIXED = 5, 100


async def test_capital_crosses_evm_and_solana_once_and_is_conserved(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with embedded_bridge(fee_bps=FEE_BPS, fixed_fee=FIXED, pools=0) as net:
        a_pool, a_hub = await net.create_pools("evm-a", [5_000_000 * UNIT, 0])
        b_pool, b_hub = await net.create_pools("evm-b", [10 * UNIT, 0])
        s_pool, s_hub, s_thin = await net.create_pools(SOLANA, [800_000 * UNIT, 0, 5 * UNIT])
        lane = Lane("x", "y", FEE_BPS, FIXED)
        x1, x2, y = 400_000 * UNIT + 1, 150_000 * UNIT + 7, 90_000 * UNIT + 3
        f1, f2, f3 = lane.fee(x1), lane.fee(x2), lane.fee(y)
        chains = [
            {
                "name": c.name,
                "family": "evm",
                "chain_id": c.chain_id,
                "settlement_asset": c.deployment.token,
                "hub": hub.address,
            }
            for c, hub in ((net.evm["evm-a"], a_hub), (net.evm["evm-b"], b_hub))
        ]
        chains.append(
            {
                "name": SOLANA,
                "family": "solana",
                "settlement_asset": str(net.solana.mint),
                "hub": s_hub.address,
            }
        )
        pools = [("a", a_pool), ("b", b_pool), ("s", s_pool), ("t", s_thin)]
        settings = load_settings(
            database_url=db_url(tmp_path),
            chains=chains,
            pools=[{"chain": p.chain, "pool_id": n, "address": p.address} for n, p in pools],
            routes=[
                {
                    "route_id": f"{s}>{d}",
                    "src_chain": s,
                    "dst_chain": d,
                    "fee_bps": FEE_BPS,
                    "fixed_fee": FIXED,
                }
                for s in net.chains
                for d in net.chains
                if s != d
            ],
            execution={"poll_seconds": 0.05, "observe_seconds": 2.0},
            temporal={"address": temporal_server.address, "task_queue": "bridged"},
        )
        store = await open_store(settings.database_url)
        await sync_registry(store, settings)
        T = m.StepKind.TRANSFER
        plan = await approved_plan(
            store,
            "plan-bridged-1",
            [
                m.PlanStep(0, T, "a", x1 + x2, "evm-a", "hub:evm-a"),
                m.PlanStep(1, T, "s", y, SOLANA, f"hub:{SOLANA}"),
                m.PlanStep(
                    2, T, "hub:evm-a", x1, "evm-b", "hub:evm-b", fee=f1, route_id="evm-a-evm-b"
                ),
                m.PlanStep(
                    3, T, "hub:evm-a", x2, SOLANA, f"hub:{SOLANA}", fee=f2, route_id="evm-a-solana"
                ),
                m.PlanStep(
                    4, T, f"hub:{SOLANA}", y, "evm-b", "hub:evm-b", fee=f3, route_id="solana-evm-b"
                ),
                m.PlanStep(5, T, "hub:evm-b", x1 - f1 + y - f3, "evm-b", "b"),
                m.PlanStep(6, T, f"hub:{SOLANA}", x2 - f2, SOLANA, "t"),
            ],
        )
        holders = [(p.chain, p.address) for _, p in pools] + [
            ("evm-a", a_hub.address),
            ("evm-b", b_hub.address),
            (SOLANA, s_hub.address),
        ]
        bridges = [(c, net.escrow_of(c)) for c in net.chains]

        async def snapshot() -> dict[tuple[str, str], int]:
            return {h: await net.balance(*h) for h in holders + bridges}

        before = await snapshot()
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, "bridged", settings.execution)
        try:
            async with (
                time_passes(net.tick, 0.05),
                executor_worker(
                    client, settings, store, net.destinations, DeliveryAttester(net.bridge)
                ),
            ):
                assert await starter.start(plan.plan_id)
                outcome = await asyncio.wait_for(
                    client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome).result(), 300
                )
            assert outcome.status == "completed", outcome
            after = await snapshot()
            delta = {h: after[h] - before[h] for h in after}
            assert delta[("evm-a", a_pool.address)] == -(x1 + x2)
            assert delta[(SOLANA, s_pool.address)] == -y
            assert delta[("evm-b", b_pool.address)] == x1 - f1 + y - f3
            assert delta[(SOLANA, s_thin.address)] == x2 - f2
            for hub in (a_hub, b_hub, s_hub):
                assert delta[(hub.chain, hub.address)] == 0  # every hub emptied
            # The bridge holds exactly the fees; nothing else was created or lost.
            assert sum(delta[h] for h in bridges) == f1 + f2 + f3
            assert sum(delta.values()) == 0
            done = await store.get_plan(plan.plan_id)
            assert {s.status for s in done.steps} == {m.StepStatus.DONE}
            bridged = [
                t
                for t in await store.list_transfers(plan_id=plan.plan_id)
                if t.src_pool.startswith("hub:") and t.dst_chain != t.src_chain
            ]
            assert len(bridged) == 3 and {t.status for t in bridged} == {m.TransferState.DELIVERED}
            assert all(t.delivery_tx and t.delivered_block for t in bridged)
        finally:
            await store.aclose()

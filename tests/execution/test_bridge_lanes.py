"""The local bridge charges the fee of the routes in force: after an approved
``route.set`` raises a lane's fee, a plan priced with the new fee is delivered
exactly (embedded EVM chains, real Temporal, the saga); a removed route keeps
its lane at the bridge for sends already made."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import Client

from chains.bridge import Lane
from chains.bridge.embedded import embedded_bridge
from chains.embedded.clock import time_passes
from router import domain as m
from router.app.access import sync_registry
from router.app.registry_changes import ROUTE, EffectiveRoutes
from router.config import load_settings
from router.domain.changes import canonical
from router.execution.bridge_lanes import RoutesFollowingAttester
from router.execution.messages import SagaOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from router.store import open_store
from tests.execution.conftest import db_url
from tests.execution.crash_harness import approved_plan

UNIT = 10**6
OLD_BPS, NEW_BPS, FIXED = 5, 40, 100


def route(src: str, dst: str, bps: float) -> dict[str, object]:
    return {
        "route_id": f"{src}-{dst}",
        "src_chain": src,
        "dst_chain": dst,
        "fee_bps": bps,
        "fixed_fee": FIXED,
    }


async def test_a_fee_an_approved_change_set_is_the_fee_the_bridge_charges(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with embedded_bridge(fee_bps=OLD_BPS, fixed_fee=FIXED, pools=0) as net:
        a_pool, a_hub = await net.create_pools("evm-a", [1_000_000 * UNIT, 0])
        b_pool, b_hub = await net.create_pools("evm-b", [10 * UNIT, 0])
        settings = load_settings(
            database_url=db_url(tmp_path),
            chains=[
                {
                    "name": c.name,
                    "family": "evm",
                    "chain_id": c.chain_id,
                    "settlement_asset": c.deployment.token,
                    "hub": hub.address,
                }
                for c, hub in ((net.evm["evm-a"], a_hub), (net.evm["evm-b"], b_hub))
            ],
            pools=[
                {"chain": "evm-a", "pool_id": "a", "address": a_pool.address},
                {"chain": "evm-b", "pool_id": "b", "address": b_pool.address},
            ],
            routes=[route("evm-a", "evm-b", OLD_BPS), route("evm-b", "evm-a", OLD_BPS)],
            execution={"poll_seconds": 0.05, "observe_seconds": 2.0},
            temporal={"address": temporal_server.address, "task_queue": "bridge-lanes"},
        )
        store = await open_store(settings.database_url)
        try:
            await sync_registry(store, settings)
            # Approved changes: evm-a -> evm-b now costs NEW_BPS; evm-b -> evm-a removed.
            raised = route("evm-a", "evm-b", NEW_BPS)
            await store.set_registry_override(ROUTE, "evm-a-evm-b", canonical(raised), "chg-1")
            await store.set_registry_override(
                ROUTE, "evm-b-evm-a", canonical({"route_id": "evm-b-evm-a"}), "chg-2", removed=True
            )
            attester = RoutesFollowingAttester(net.bridge, EffectiveRoutes(store, settings.routes))
            assert net.bridge.lane("evm-a", "evm-b").fee_bps == OLD_BPS  # as configured
            await attester.follow()
            assert net.bridge.lane("evm-a", "evm-b") == Lane("evm-a", "evm-b", NEW_BPS, FIXED)
            # Removed: kept at its last price for sends already made.
            assert net.bridge.lane("evm-b", "evm-a") == Lane("evm-b", "evm-a", OLD_BPS, FIXED)

            amount = 250_000 * UNIT + 3
            fee = Lane("evm-a", "evm-b", NEW_BPS, FIXED).fee(amount)
            assert fee > Lane("evm-a", "evm-b", OLD_BPS, FIXED).fee(amount)
            T = m.StepKind.TRANSFER
            plan = await approved_plan(
                store,
                "plan-new-fee",
                [
                    m.PlanStep(0, T, "a", amount, "evm-a", "hub:evm-a"),
                    m.PlanStep(
                        1,
                        T,
                        "hub:evm-a",
                        amount,
                        "evm-b",
                        "hub:evm-b",
                        fee=fee,
                        route_id="evm-a-evm-b",
                    ),
                    m.PlanStep(2, T, "hub:evm-b", amount - fee, "evm-b", "b"),
                ],
            )
            escrows = {c: net.escrow_of(c) for c in ("evm-a", "evm-b")}

            async def held() -> dict[str, int]:
                out = {
                    "a": await net.balance("evm-a", a_pool.address),
                    "b": await net.balance("evm-b", b_pool.address),
                }
                for c, e in escrows.items():
                    out[c] = await net.balance(c, e)
                return out

            before = await held()
            client = await Client.connect(temporal_server.address)
            starter = TemporalStarter(client, "bridge-lanes", settings.execution)
            async with (
                time_passes(net.tick, 0.05),
                executor_worker(client, settings, store, net.destinations, attester),
            ):
                assert await starter.start(plan.plan_id)
                handle = client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome)
                outcome = await asyncio.wait_for(handle.result(), 300)
            assert outcome.status == "completed", outcome
            after = await held()
            assert after["a"] - before["a"] == -amount
            assert after["b"] - before["b"] == amount - fee  # priced and charged alike
            bridge_gain = sum(after[c] - before[c] for c in escrows)
            assert bridge_gain == fee
        finally:
            await store.aclose()

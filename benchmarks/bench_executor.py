"""Executor throughput and recovery, measured on the embedded chains and on anvil.

1. Executed steps/s through the plan saga on Temporal (a dev server, an
   in-process worker) against the same activities called directly in one
   process, in the same run: the price of durable orchestration.
   EVM (py-evm) and Solana (LiteSVM) separately.
2. Recovery: a worker process killed (SIGKILL) in the middle of a plan on a
   real anvil node; the time from starting a new worker to the saga's next
   step progressing.

Run: ``.venv/bin/python benchmarks/bench_executor.py``
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client

from chains.bridge.embedded import SOLANA, embedded_bridge
from chains.embedded.clock import time_passes
from router import domain as m
from router.app.access import sync_registry
from router.config import RouterSettings, load_settings
from router.domain.execution import Leg
from router.execution.activities import PlanActivities
from router.execution.effects import Places
from router.execution.messages import Progress, SagaOutcome, StepRef
from router.execution.starter import TemporalStarter
from router.execution.temporal import start_dev_server
from router.execution.worker import chain_places, executor_worker
from router.store import Store, open_store

UNIT = 10**6
MOVES = 8  # pool -> hub -> pool round trips per plan: 2 * MOVES steps


def steps(pools: list[str], chain: str, salt: int) -> list[m.PlanStep]:
    out: list[m.PlanStep] = []
    for i in range(MOVES):
        src, dst = pools[i % 2], pools[(i + 1) % 2]
        amount = (1_000 + salt + i) * UNIT
        out.append(m.PlanStep(2 * i, m.StepKind.TRANSFER, src, amount, chain, f"hub:{chain}"))
        out.append(m.PlanStep(2 * i + 1, m.StepKind.TRANSFER, f"hub:{chain}", amount, chain, dst))
    return out


async def new_plan(store: Store, plan_id: str, plan_steps: list[m.PlanStep]) -> None:
    await store.create_plan(m.PlanDraft(plan_id, "carol", tuple(plan_steps), 0, 0))
    plan = await store.approve_plan(plan_id, "bob")
    await store.update_plan_status(plan_id, m.PlanStatus.EXECUTING, expected_version=plan.version)


async def direct(acts: PlanActivities, store: Store, plan_id: str) -> None:
    """The same activities, called in order in this process: no Temporal."""
    plan = await store.get_plan(plan_id)
    for s in sorted(plan.steps, key=lambda s: s.seq):
        ref = StepRef(plan_id, s.seq, Leg.SOURCE.value)
        report = await acts.sign_effect(ref)
        if report.progress is Progress.SIGNED:
            report = await acts.broadcast_effect(ref)
        while report.progress is not Progress.FINAL:
            report = await acts.observe_effect(ref)
        await acts.credit_step(ref)
    await acts.finish_plan([plan_id, "completed"])


async def throughput(server_address: str) -> None:
    print("-- steps/s on the embedded chains: saga on Temporal vs the same activities direct")
    async with embedded_bridge(pools=0) as net:
        with tempfile.TemporaryDirectory() as tmp:
            pools: dict[str, list[str]] = {}
            config_chains = []
            config_pools = []
            for chain in ("evm-a", SOLANA):
                made = await net.create_pools(chain, [10**9 * UNIT, 10**9 * UNIT, 0])
                pools[chain] = []
                for i, p in enumerate(made[:2]):
                    pid = f"{chain}-p{i}"
                    pools[chain].append(pid)
                    config_pools.append({"chain": chain, "pool_id": pid, "address": p.address})
                config_chains.append(
                    {
                        "name": chain,
                        "family": "solana" if chain == SOLANA else "evm",
                        "settlement_asset": (
                            str(net.solana.mint)
                            if chain == SOLANA
                            else net.evm[chain].deployment.token
                        ),
                        "hub": made[2].address,
                    }
                )
            settings: RouterSettings = load_settings(
                database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
                chains=config_chains,
                pools=config_pools,
                execution={"poll_seconds": 0.02, "observe_seconds": 2.0},
                temporal={"address": server_address, "task_queue": "bench"},
            )
            store = await open_store(settings.database_url)
            await sync_registry(store, settings)
            client = await Client.connect(server_address)
            starter = TemporalStarter(client, "bench", settings.execution)
            places_cfg = chain_places(settings)

            async def places() -> Places:
                return Places(places_cfg, {p.pool_id: p for p in await store.list_pools()}, {})

            acts = PlanActivities(
                store, net.destinations, places, None, poll_seconds=0.02, observe_seconds=2.0
            )
            try:
                async with (
                    time_passes(net.tick, 0.02),
                    executor_worker(client, settings, store, net.destinations, None),
                ):
                    for chain in ("evm-a", SOLANA):
                        n = 2 * MOVES
                        await new_plan(store, f"warm-{chain}", steps(pools[chain], chain, 0))
                        await direct(acts, store, f"warm-{chain}")
                        await new_plan(store, f"direct-{chain}", steps(pools[chain], chain, 1))
                        t0 = time.perf_counter()
                        await direct(acts, store, f"direct-{chain}")
                        t_direct = time.perf_counter() - t0
                        await new_plan(store, f"saga-{chain}", steps(pools[chain], chain, 2))
                        t0 = time.perf_counter()
                        await starter.start(f"saga-{chain}")
                        handle = client.get_workflow_handle(
                            f"saga-{chain}", result_type=SagaOutcome
                        )
                        outcome = await handle.result()
                        t_saga = time.perf_counter() - t0
                        assert outcome.status == "completed", outcome
                        print(
                            f"   {chain:8s} {n} steps: direct {n / t_direct:6.1f} steps/s "
                            f"({t_direct:5.2f} s), saga {n / t_saga:6.1f} steps/s "
                            f"({t_saga:5.2f} s); saga/direct time {t_saga / t_direct:4.2f}x"
                        )
            finally:
                await store.aclose()


async def recovery(server_address: str) -> None:
    print("-- recovery: worker SIGKILLed mid-plan on anvil; new worker start -> next step moves")
    from tests.chains.evm_harness import anvil_chain
    from tests.execution.crash_harness import (
        approved_plan,
        mining,
        spawn_worker,
        stop,
        wait_exit,
        world,
    )
    from tests.execution.test_crashes import plan_steps

    async with anvil_chain("anvil-x", 31_337) as chain:
        with tempfile.TemporaryDirectory() as tmp:
            async with world(chain, Path(tmp), server_address) as w, mining(chain):
                client = await Client.connect(server_address)
                starter = TemporalStarter(
                    client, w.settings.temporal.task_queue, w.settings.execution
                )
                samples = []
                for point, seed in (("broadcast", 1), ("final", 2), ("credit", 3)):
                    plan_steps_, _, _ = plan_steps(seed)
                    plan = await approved_plan(w.store, f"plan-recover-{point}", plan_steps_)
                    await starter.start(plan.plan_id)
                    dying = spawn_worker(w.config_file, f"{point}:1")
                    await wait_exit(dying, 120)
                    stop(dying)
                    frozen = [
                        (s.seq, s.status, s.version)
                        for s in (await w.store.get_plan(plan.plan_id)).steps
                    ]
                    t0 = time.perf_counter()
                    survivor = spawn_worker(w.config_file)
                    try:
                        while True:
                            now = [
                                (s.seq, s.status, s.version)
                                for s in (await w.store.get_plan(plan.plan_id)).steps
                            ]
                            if now != frozen:
                                break
                            await asyncio.sleep(0.02)
                        moved = time.perf_counter() - t0
                        await client.get_workflow_handle(
                            plan.plan_id, result_type=SagaOutcome
                        ).result()
                    finally:
                        stop(survivor)
                    samples.append(moved)
                    print(
                        f"   killed after {point:9s}: saga moving again {moved:5.2f} s after "
                        "the new worker was started (process start included)"
                    )
                print(f"   worst {max(samples):.2f} s (target: seconds, not the activity timeout)")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = await start_dev_server(Path(tmp) / "temporal.db")
        try:
            await throughput(server.address)
            await recovery(server.address)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())

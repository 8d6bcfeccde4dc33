"""kill -9 of the worker at every step boundary (and of the Temporal server): after a
restart every effect happened exactly once and capital is conserved to the unit.

A fast subset runs in ``make test``; ``--run-slow`` runs every point with more seeds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client

from router import domain as m
from router.domain.execution import AttemptState
from router.execution.messages import SagaOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer, start_dev_server
from tests.chains.evm_harness import AnvilChain, anvil_chain
from tests.execution.crash_harness import (
    UNIT,
    World,
    approved_plan,
    kill_and_resume,
    mining,
    spawn_worker,
    stop,
    wait_exit,
    world,
)

# One anvil node for the module (each test deploys its own pools and hub on it).
pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module")]

FAST = [("sign", 1, 1), ("broadcast", 2, 2), ("final", 1, 3), ("credit", 2, 4)]
SLOW = [
    (point, nth, seed)
    for seed in range(5, 9)
    for point in ("sign", "broadcast", "seen", "final", "credit")
    for nth in (1, 2, 3)
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil() -> AsyncIterator[AnvilChain]:
    async with anvil_chain("anvil-x", 31_337) as chain:
        yield chain


def plan_steps(seed: int) -> tuple[list[m.PlanStep], int, int]:
    rng = random.Random(seed)
    move = rng.randrange(10_000, 300_000) * UNIT + rng.randrange(UNIT)
    premium = rng.randrange(100, 5_000) * UNIT + rng.randrange(UNIT)
    steps = [
        m.PlanStep(0, m.StepKind.TRANSFER, "p0", move, "anvil-x", "hub:anvil-x"),
        m.PlanStep(1, m.StepKind.TRANSFER, "hub:anvil-x", move, "anvil-x", "p1"),
        m.PlanStep(
            2, m.StepKind.CESSION, "p0", 50_000 * UNIT, vault_id="v1", fee=premium, share_ppm=50_000
        ),
    ]
    return steps, move, premium


async def crash_and_recover(w: World, server: DevServer, point: str, nth: int, seed: int) -> None:
    steps, move, premium = plan_steps(seed)
    plan = await approved_plan(w.store, f"plan-crash-{point}-{nth}-{seed}", steps)
    before = await w.balances()
    outcome = await kill_and_resume(
        server.address, w.settings, w.config_file, plan.plan_id, f"{point}:{nth}"
    )
    assert outcome.status == "completed", outcome
    await audit_exactly_once(w, plan.plan_id, before, move, premium)


async def audit_exactly_once(
    w: World, plan_id: str, before: dict[str, int], move: int, premium: int
) -> None:
    p0, p1 = (p.address for p in w.pools)
    after = await w.balances()
    # Each effect once: the pool paid the move and the premium once, the other
    # pool got the move once, the hub kept nothing, the vault got one premium.
    assert after[p0] == before[p0] - move - premium
    assert after[p1] == before[p1] + move
    assert after[w.hub.address] == before[w.hub.address]
    assert after["vault"] == before["vault"] + premium
    assert sum(after.values()) == sum(before.values())  # conserved to the unit
    done = await w.store.get_plan(plan_id)
    assert done.status is m.PlanStatus.COMPLETED
    assert {s.status for s in done.steps} == {m.StepStatus.DONE}
    attempts = await w.store.plan_attempts(plan_id)
    by_step: dict[int, list[AttemptState]] = {}
    for a in attempts:
        by_step.setdefault(a.seq, []).append(a.state)
    for seq, states in by_step.items():
        # At most one attempt landed per effect; the rest were never sent or dropped.
        assert states.count(AttemptState.FINAL) <= 1, (seq, states)


@pytest.mark.parametrize(("point", "nth", "seed"), FAST)
async def test_a_worker_killed_at_a_boundary_resumes_and_each_effect_happens_once(
    anvil: AnvilChain, temporal_server: DevServer, tmp_path: Path, point: str, nth: int, seed: int
) -> None:
    async with world(anvil, tmp_path, temporal_server.address) as w, mining(anvil):
        await crash_and_recover(w, temporal_server, point, nth, seed)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth", "seed"), SLOW)
async def test_crash_points_over_many_seeds(
    anvil: AnvilChain, temporal_server: DevServer, tmp_path: Path, point: str, nth: int, seed: int
) -> None:
    async with world(anvil, tmp_path, temporal_server.address) as w, mining(anvil):
        await crash_and_recover(w, temporal_server, point, nth, seed)


async def step_done(w: World, plan_id: str, seq: int, seconds: float = 120) -> None:
    """Wait until the store shows step ``seq`` DONE (the saga wrote it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        plan = await w.store.get_plan(plan_id)
        if plan.steps[seq].status is m.StepStatus.DONE:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"step {seq} of {plan_id} not done after {seconds}s")


@pytest.mark.parametrize("worker_too", [False, True], ids=["server", "server+worker"])
async def test_the_temporal_server_killed_mid_plan_restarts_on_its_file_and_the_saga_finishes(
    anvil: AnvilChain, tmp_path: Path, worker_too: bool
) -> None:
    """kill -9 of the Temporal dev server after the first effect (alone, or after the
    worker died at its second broadcast): restarted on the same SQLite file and
    port, it resumes the saga, and each effect still happens exactly once."""
    db = tmp_path / "temporal" / "temporal.db"
    server = await start_dev_server(db)
    port = int(server.address.rsplit(":", 1)[1])
    async with world(anvil, tmp_path, server.address) as w, mining(anvil):
        steps, move, premium = plan_steps(11 + worker_too)
        plan = await approved_plan(w.store, f"plan-server-kill-{worker_too}", steps)
        before = await w.balances()
        client = await Client.connect(server.address)
        starter = TemporalStarter(client, w.settings.temporal.task_queue, w.settings.execution)
        assert await starter.start(plan.plan_id)
        worker = spawn_worker(w.config_file, "broadcast:2" if worker_too else "")
        try:
            if worker_too:  # the worker dies at its second broadcast, then the server
                assert await wait_exit(worker, 120) == -9
            else:
                await step_done(w, plan.plan_id, 0)
            server.stop(kill=True)
            server = await start_dev_server(db, port=port)
            if worker_too:
                worker = spawn_worker(w.config_file)
            client = await Client.connect(server.address)
            handle = client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome)
            outcome = await asyncio.wait_for(handle.result(), 180)
        finally:
            stop(worker)
            server.stop()
        assert outcome.status == "completed", outcome
        await audit_exactly_once(w, plan.plan_id, before, move, premium)


async def test_a_reorg_that_drops_an_included_transfer_is_survived_and_it_lands_once(
    anvil: AnvilChain, temporal_server: DevServer, tmp_path: Path
) -> None:
    """Only final blocks count: the block holding the first transfer is rolled back
    (anvil_rollback) after the saga saw it included; the saga does not take it
    as done, the transaction lands again, and each effect happens once."""
    async with world(anvil, tmp_path, temporal_server.address) as w, mining(anvil, every=0.3):
        steps, move, premium = plan_steps(21)
        plan = await approved_plan(w.store, "plan-reorg", steps)
        before = await w.balances()
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, w.settings.temporal.task_queue, w.settings.execution)
        assert await starter.start(plan.plan_id)
        worker = spawn_worker(w.config_file)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120
            included = None
            while included is None and loop.time() < deadline:
                for a in await w.store.plan_attempts(plan.plan_id):
                    if a.seq == 0 and a.state is AttemptState.INCLUDED and a.block_number:
                        included = a
                await asyncio.sleep(0.02)
            assert included is not None and included.block_number is not None
            head = int(await anvil.rpc("eth_blockNumber", []), 16)
            await anvil.rpc("anvil_rollback", [head - included.block_number + 1])
            receipt = await anvil.rpc("eth_getTransactionReceipt", [included.tx_ref])
            assert receipt is None  # the block that held it is gone
            outcome = await asyncio.wait_for(
                client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome).result(), 180
            )
        finally:
            stop(worker)
        assert outcome.status == "completed", outcome
        await audit_exactly_once(w, plan.plan_id, before, move, premium)

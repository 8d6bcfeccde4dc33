"""kill -9 of the worker at every boundary of a bridged plan across two real anvil
nodes (pool -> hub, hub -> bridge -> hub, hub -> pool): after a restart the
transfer is delivered exactly once, and capital is conserved to the unit across
pools, hubs and both bridge endpoints (the bridge keeps exactly its fee).

A fast subset runs in ``make test``; ``--run-slow`` runs every point with more seeds.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from chains.bridge.fees import lane_fee
from router import domain as m
from router.domain.execution import AttemptState
from router.execution.temporal import DevServer
from tests.chains.evm_harness import AnvilChain, anvil_chain
from tests.execution.crash_harness import (
    LANE_BPS,
    LANE_FIXED,
    UNIT,
    BridgedWorld,
    approved_plan,
    bridged_world,
    kill_and_resume,
    mining,
)

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module")]

FAST = [("delivery", 1, 1), ("seen", 2, 2)]
SLOW = [
    (point, nth, seed)
    for seed in range(3, 6)
    for point in ("sign", "broadcast", "seen", "final", "delivery", "credit")
    for nth in (1, 2, 3)
    if not (point == "delivery" and nth > 1)  # one delivery leg per plan
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes() -> AsyncIterator[tuple[AnvilChain, AnvilChain]]:
    async with anvil_chain("anvil-a", 31_900_001) as a, anvil_chain("anvil-b", 31_900_002) as b:
        yield a, b


@contextlib.asynccontextmanager
async def both_mining(w: BridgedWorld) -> AsyncIterator[None]:
    async with mining(w.chains[0]), mining(w.chains[1]):
        yield


async def crash_and_recover(
    w: BridgedWorld, server: DevServer, point: str, nth: int, seed: int
) -> None:
    a, b = (c.name for c in w.chains)
    rng = random.Random(seed)
    move = rng.randrange(10_000, 300_000) * UNIT + rng.randrange(UNIT)
    fee = lane_fee(move, LANE_BPS, LANE_FIXED)
    steps = [
        m.PlanStep(0, m.StepKind.TRANSFER, "p0", move, a, f"hub:{a}"),
        m.PlanStep(1, m.StepKind.TRANSFER, f"hub:{a}", move, b, f"hub:{b}", fee=fee),
        m.PlanStep(2, m.StepKind.TRANSFER, f"hub:{b}", move - fee, b, "p1"),
    ]
    plan = await approved_plan(w.store, f"plan-bridged-{point}-{nth}-{seed}", steps)
    before = await w.balances()
    outcome = await kill_and_resume(
        server.address, w.settings, w.config_file, plan.plan_id, f"{point}:{nth}"
    )
    assert outcome.status == "completed", outcome
    after = await w.balances()
    assert after[f"{a}:pool"] == before[f"{a}:pool"] - move
    assert after[f"{b}:pool"] == before[f"{b}:pool"] + move - fee  # delivered once
    assert after[f"{a}:hub"] == before[f"{a}:hub"] and after[f"{b}:hub"] == before[f"{b}:hub"]
    assert after[f"{a}:bridge"] == before[f"{a}:bridge"] + move
    assert after[f"{b}:bridge"] == before[f"{b}:bridge"] - (move - fee)
    assert sum(after.values()) == sum(before.values())  # conserved to the unit
    done = await w.store.get_plan(plan.plan_id)
    assert done.status is m.PlanStatus.COMPLETED
    assert {s.status for s in done.steps} == {m.StepStatus.DONE}
    (transfer,) = [t for t in await w.store.list_transfers(plan_id=plan.plan_id) if t.step_seq == 1]
    assert transfer.status is m.TransferState.DELIVERED
    finals: dict[tuple[int, str], int] = {}
    for att in await w.store.plan_attempts(plan.plan_id):
        key = (att.seq, att.leg)
        finals[key] = finals.get(key, 0) + (att.state is AttemptState.FINAL)
    assert all(n <= 1 for n in finals.values()), finals


@pytest.mark.parametrize(("point", "nth", "seed"), FAST)
async def test_a_worker_killed_in_a_bridged_plan_resumes_and_delivers_once(
    nodes: tuple[AnvilChain, AnvilChain],
    temporal_server: DevServer,
    tmp_path: Path,
    point: str,
    nth: int,
    seed: int,
) -> None:
    async with bridged_world(*nodes, tmp_path, temporal_server.address) as w, both_mining(w):
        await crash_and_recover(w, temporal_server, point, nth, seed)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth", "seed"), SLOW)
async def test_bridged_crash_points_over_many_seeds(
    nodes: tuple[AnvilChain, AnvilChain],
    temporal_server: DevServer,
    tmp_path: Path,
    point: str,
    nth: int,
    seed: int,
) -> None:
    async with bridged_world(*nodes, tmp_path, temporal_server.address) as w, both_mining(w):
        await crash_and_recover(w, temporal_server, point, nth, seed)

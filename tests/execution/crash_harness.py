"""kill -9 at every step boundary: a real anvil node, a real Temporal dev server, the
router's store on disk, and ``ballast worker`` processes that die and come back.

The chain and Temporal outlive the worker; only the worker is killed (it kills
itself at the boundary named by ``BALLAST_CRASH_AT``, i.e. SIGKILL at a
precise point, which is what a crash at that point is).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chains.base import PoolRef
from chains.embedded.clock import time_passes
from router import domain as m
from router.app.access import sync_registry
from router.config import RouterSettings, load_settings
from router.store import Store, open_store
from tests.chains.evm_harness import AnvilChain

UNIT = 10**6


@dataclass
class World:
    chain: AnvilChain
    pools: list[PoolRef]
    hub: PoolRef
    settings: RouterSettings
    config_file: Path
    store: Store

    def balances_of(self) -> list[str]:
        return [p.address for p in (*self.pools, self.hub)]

    async def balances(self) -> dict[str, int]:
        out = {a: await self.chain.token_balance(a) for a in self.balances_of()}
        assert self.chain.deployment is not None
        out["vault"] = await self.chain.token_balance(self.chain.deployment.vault)
        return out


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def write_toml(path: Path, settings: dict[str, Any]) -> None:
    lines: list[str] = []
    tables = {k: v for k, v in settings.items() if isinstance(v, dict)}
    arrays = {
        k: v for k, v in settings.items() if isinstance(v, list) and v and isinstance(v[0], dict)
    }
    for k, v in settings.items():
        if k not in tables and k not in arrays:
            lines.append(f"{k} = {toml_value(v)}")
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in table.items())
    for name, items in arrays.items():
        for item in items:
            lines.append(f"\n[[{name}]]")
            lines.extend(f"{k} = {toml_value(v)}" for k, v in item.items())
    path.write_text("\n".join(lines) + "\n")


@contextlib.asynccontextmanager
async def world(
    chain: AnvilChain,
    tmp: Path,
    temporal_address: str,
    *,
    database_url: str | None = None,
    extra: dict[str, Any] | None = None,
) -> AsyncIterator[World]:
    pools = await chain.create_pools([1_000_000 * UNIT, 50_000 * UNIT])
    (hub,) = await chain.create_pools([0])
    await chain.fund_vault(2_000_000 * UNIT)
    await chain.approve_cedent(pools[0].address)
    await chain.finalize()
    assert chain.deployment is not None
    raw: dict[str, Any] = {
        "chains": [
            {
                "name": chain.name,
                "family": "evm",
                "chain_id": chain.chain_id,
                "rpc_urls": [chain.url],
                "settlement_asset": chain.deployment.token,
                "batch_reader": chain.deployment.reader,
                "bridge_endpoint": chain.deployment.bridge,
                "hub": hub.address,
                "signer_key": "0x" + bytes(chain.operator.key).hex(),
                "rpc_timeout": 5.0,
            }
        ],
        "pools": [
            {"chain": chain.name, "pool_id": f"p{i}", "address": p.address}
            for i, p in enumerate(pools)
        ],
        "vaults": [
            {
                "vault_id": "v1",
                "chain": chain.name,
                "address": chain.deployment.vault,
                "capacity": 10**15,
            }
        ],
    }
    raw |= extra or {}
    async with worker_config(raw, tmp, temporal_address, database_url) as (
        settings,
        config_file,
        store,
    ):
        yield World(chain, pools, hub, settings, config_file, store)


@contextlib.asynccontextmanager
async def worker_config(
    raw: dict[str, Any], tmp: Path, temporal_address: str, database_url: str | None = None
) -> AsyncIterator[tuple[RouterSettings, Path, Store]]:
    """The config file ``ballast worker`` processes read (a task queue of its own:
    no other test's worker may pick up these sagas), its settings, and the store."""
    raw = {
        **raw,
        "database_url": database_url or f"sqlite+aiosqlite:///{tmp / 'router.db'}",
        "temporal": {"address": temporal_address, "task_queue": f"crash-{uuid.uuid4().hex[:8]}"},
        "execution": {"poll_seconds": 0.05, "observe_seconds": 3.0, "embedded_worker": False},
    }
    config_file = tmp / "ballast.toml"
    write_toml(config_file, raw)
    settings = load_settings(config_file)
    store = await open_store(settings.database_url)
    await sync_registry(store, settings)
    try:
        yield settings, config_file, store
    finally:
        await store.aclose()


def mining(chain: AnvilChain, every: float = 0.15) -> AbstractAsyncContextManager[None]:
    """Blocks keep coming (finality = head - 2 needs them), as on a live chain; a
    node busy for a moment misses a tick."""
    return time_passes(lambda: chain.mine(1), every, tolerate=(Exception,))


def spawn_worker(config_file: Path, crash_at: str = "") -> subprocess.Popen[bytes]:
    env = {**os.environ, "BALLAST_CRASH_AT": crash_at}
    return subprocess.Popen(
        [sys.executable, "-m", "router.cli", "worker", "--config", str(config_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


async def wait_exit(proc: subprocess.Popen[bytes], seconds: float) -> int:
    for _ in range(int(seconds / 0.05)):
        code = proc.poll()
        if code is not None:
            return code
        await asyncio.sleep(0.05)
    raise TimeoutError(f"worker still running after {seconds}s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


async def approved_plan(store: Store, plan_id: str, steps: list[m.PlanStep]) -> m.Plan:
    moved = sum(s.amount for s in steps if not s.src_pool.startswith("hub:"))
    await store.create_plan(m.PlanDraft(plan_id, "carol", tuple(steps), moved, 0))
    plan = await store.approve_plan(plan_id, "bob")
    return await store.update_plan_status(
        plan_id, m.PlanStatus.EXECUTING, expected_version=plan.version
    )


@dataclass
class BridgedWorld:
    """Two anvil nodes, a pool and a hub on each, the local bridge between them."""

    chains: tuple[AnvilChain, AnvilChain]
    pools: tuple[PoolRef, PoolRef]  # p0 on the first chain, p1 on the second
    hubs: tuple[PoolRef, PoolRef]
    settings: RouterSettings
    config_file: Path
    store: Store

    async def balances(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, chain in enumerate(self.chains):
            assert chain.deployment is not None
            for role, ref in (("pool", self.pools[i]), ("hub", self.hubs[i])):
                out[f"{chain.name}:{role}"] = await chain.token_balance(ref.address)
            out[f"{chain.name}:bridge"] = await chain.token_balance(chain.deployment.bridge)
        return out


#: The lane's price both ways (bps, fixed fee in base units): the bridge charges
#: it, the plan's bridge step carries it.
LANE_BPS, LANE_FIXED = 3, 50 * UNIT


@contextlib.asynccontextmanager
async def bridged_world(
    a: AnvilChain, b: AnvilChain, tmp: Path, temporal_address: str
) -> AsyncIterator[BridgedWorld]:
    from eth_account import Account

    attester = Account.create()
    pools, hubs = [], []
    for chain, funds in ((a, 1_000_000 * UNIT), (b, 50_000 * UNIT)):
        assert chain.deployment is not None
        bridge = chain.deployment.bridge
        set_attester = chain.abi("BridgeEndpoint").fn("setAttester").encode(attester.address)
        liquidity = chain.abi("SettlementToken").fn("mint").encode(bridge, 10**9 * UNIT)
        await chain.bulk(
            [(bridge, set_attester, 200_000), (chain.deployment.token, liquidity, 200_000)]
        )
        (pool,) = await chain.create_pools([funds])
        (hub,) = await chain.create_pools([0])
        pools.append(pool)
        hubs.append(hub)
        await chain.finalize()
    raw: dict[str, Any] = {
        "chains": [
            {
                "name": c.name,
                "family": "evm",
                "chain_id": c.chain_id,
                "rpc_urls": [c.url],
                "settlement_asset": c.deployment.token,  # type: ignore[union-attr]
                "batch_reader": c.deployment.reader,  # type: ignore[union-attr]
                "bridge_endpoint": c.deployment.bridge,  # type: ignore[union-attr]
                "hub": hubs[i].address,
                "signer_key": "0x" + bytes(c.operator.key).hex(),
                "rpc_timeout": 5.0,
            }
            for i, c in enumerate((a, b))
        ],
        "pools": [
            {"chain": c.name, "pool_id": f"p{i}", "address": pools[i].address}
            for i, c in enumerate((a, b))
        ],
        "routes": [
            {
                "route_id": f"{src.name}-{dst.name}",
                "src_chain": src.name,
                "dst_chain": dst.name,
                "fee_bps": LANE_BPS,
                "fixed_fee": LANE_FIXED,
            }
            for src, dst in ((a, b), (b, a))
        ],
        "bridge": {"kind": "local", "attester_key": "0x" + bytes(attester.key).hex()},
    }
    async with worker_config(raw, tmp, temporal_address) as (settings, config_file, store):
        yield BridgedWorld(
            (a, b), (pools[0], pools[1]), (hubs[0], hubs[1]), settings, config_file, store
        )


async def kill_and_resume(
    address: str, settings: RouterSettings, config_file: Path, plan_id: str, crash_at: str
) -> Any:
    """Start the plan's saga, let a worker kill itself at ``crash_at`` (asserted),
    then let a fresh worker finish it; returns the saga's outcome."""
    from temporalio.client import Client

    from router.execution.messages import SagaOutcome
    from router.execution.starter import TemporalStarter

    client = await Client.connect(address)
    starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
    assert await starter.start(plan_id)
    crashing = spawn_worker(config_file, crash_at)
    try:
        code = await wait_exit(crashing, 120)
    finally:
        stop(crashing)
    assert code == -9, f"the worker should have died at {crash_at}, exited {code}"
    survivor = spawn_worker(config_file)
    try:
        handle = client.get_workflow_handle(plan_id, result_type=SagaOutcome)
        return await asyncio.wait_for(handle.result(), 240)
    finally:
        stop(survivor)

"""One embedded EVM chain (two pools, a hub, a funded vault), the router's store
and settings for it: what the saga tests run on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from chains.base import PoolRef
from chains.embedded.evm import (
    EmbeddedChainSpec,
    EmbeddedEvmChain,
    EmbeddedEvmEnv,
    embedded_evm_chains,
)
from router.app.access import sync_registry
from router.config import RouterSettings, load_settings
from router.execution.temporal import DevServer
from router.store import Store, open_store
from tests.execution.conftest import db_url

UNIT = 10**6


@dataclass
class Setup:
    eth: EmbeddedEvmChain
    env: EmbeddedEvmEnv
    pools: tuple[PoolRef, PoolRef, PoolRef]  # a1, a2, hub
    settings: RouterSettings
    store: Store

    async def holdings(self) -> dict[str, int]:
        out = {p.address: await self.eth.token_balance(p.address) for p in self.pools}
        out["vault"] = await self.eth.token_balance(self.eth.deployment.vault)
        return out


@contextlib.asynccontextmanager
async def setup(
    tmp_path: Path, temporal: DevServer, queue: str, **execution: float
) -> AsyncIterator[Setup]:
    async with embedded_evm_chains(
        [EmbeddedChainSpec("ethereum", 31_011, pools=(1_000_000 * UNIT, 10_000 * UNIT))]
    ) as env:
        eth = env["ethereum"]
        a1, a2 = eth.pools
        (hub,) = await eth.create_pools([0], asset=eth.deployment.token)
        await eth.fund_vault(500_000 * UNIT)
        await eth.approve_cedent(a1.address)
        await eth.finalize()
        settings = load_settings(
            database_url=db_url(tmp_path),
            chains=[
                {
                    "name": "ethereum",
                    "family": "evm",
                    "chain_id": 31_011,
                    "settlement_asset": eth.deployment.token,
                    "hub": hub.address,
                }
            ],
            pools=[
                {"chain": "ethereum", "pool_id": "a1", "address": a1.address},
                {"chain": "ethereum", "pool_id": "a2", "address": a2.address},
            ],
            vaults=[
                {
                    "vault_id": "v1",
                    "chain": "ethereum",
                    "address": eth.deployment.vault,
                    "capacity": 10**15,
                }
            ],
            execution={"poll_seconds": 0.05, "observe_seconds": 2.0, **execution},
            temporal={"address": temporal.address, "task_queue": queue},
        )
        store = await open_store(settings.database_url)
        await sync_registry(store, settings)
        try:
            yield Setup(eth, env, (a1, a2, hub), settings, store)
        finally:
            await store.aclose()

"""The demo's world: two py-evm chains and a LiteSVM Solana cluster joined by our local
bridge, with pools, a hub per chain, funded reinsurance vaults, and blocks that keep
coming. Everything read back here is read from the chains themselves."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from chains.base import PoolRef
from chains.bridge import Lane
from chains.bridge.embedded import SOLANA, EmbeddedBridge, embedded_bridge
from chains.embedded.clock import time_passes

USDC = 10**6

#: Opening balances, deliberately uneven: Ethereum rich, Base thin, Solana
#: with little to spare.
POOLS: dict[str, tuple[int, ...]] = {
    "ethereum": (4_200_000 * USDC, 1_750_000 * USDC),
    "base": (120_000 * USDC, 35_000 * USDC),
    SOLANA: (20_000 * USDC, 90_000 * USDC),
}
#: Reinsurers' deposits in each EVM chain's vault.
VAULT_DEPOSITS = {"ethereum": 2_000_000 * USDC, "base": 400_000 * USDC}
#: Quota-share premium each vault charges (bps of the ceded share's exposure).
VAULT_PREMIUM_BPS = {"ethereum": 400, "base": 350}
#: Lanes: (fee in bps, fixed fee); the planner prices the routes the same way.
LANE_FEES = {"evm": (2.5, 5 * USDC), SOLANA: (4.0, 5 * USDC)}
#: Lanes into Base carry little per plan (in base units); the others are open.
LANE_CAPACITY = {("ethereum", "base"): 15_000 * USDC, (SOLANA, "base"): 5_000 * USDC}

#: Treasury limits the plan must fit: a token bucket per lane (refilled at
#: 1 USDC/s) and a rolling 24-hour cap on what leaves each chain's pools. The
#: report shows what each has left once the plan ran.
LANE_BUCKET = 60_000 * USDC
DAILY_CAP = 100_000 * USDC


def lane_fee(src: str, dst: str) -> tuple[float, int]:
    return LANE_FEES[SOLANA] if SOLANA in (src, dst) else LANE_FEES["evm"]


@dataclass
class Holdings:
    """Token balances read from the chains at one moment, by (chain, role, name)."""

    balances: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def total(self, role: str | None = None) -> int:
        return sum(v for (_, r, _), v in self.balances.items() if role is None or r == role)


@dataclass
class DemoWorld:
    net: EmbeddedBridge
    pools: dict[str, list[PoolRef]]  # by chain
    hubs: dict[str, PoolRef]
    attester_key: SecretStr = field(repr=False)

    @property
    def chains(self) -> tuple[str, ...]:
        return self.net.chains

    def vault(self, chain: str) -> str:
        return self.net.evm[chain].deployment.vault

    def settlement_asset(self, chain: str) -> str:
        if chain == SOLANA:
            return str(self.net.solana.mint)
        return self.net.evm[chain].deployment.token

    def chain_id(self, chain: str) -> int:
        from chains.bridge.embedded import SOLANA_CHAIN_ID

        return SOLANA_CHAIN_ID if chain == SOLANA else self.net.evm[chain].chain_id

    def lanes(self) -> list[Lane]:
        return [Lane(a, b, *lane_fee(a, b)) for a in self.chains for b in self.chains if a != b]

    def router_config(self) -> dict[str, Any]:
        """The chains, pools, routes, limits and vaults sections of the router's settings."""
        chains: list[dict[str, Any]] = []
        for name in self.chains:
            entry: dict[str, Any] = {
                "name": name,
                "family": "solana" if name == SOLANA else "evm",
                "chain_id": self.chain_id(name),
                "settlement_asset": self.settlement_asset(name),
                "hub": self.hubs[name].address,
            }
            chains.append(entry)
        return {
            "chains": chains,
            "pools": [
                {"chain": p.chain, "pool_id": p.pool_id, "address": p.address}
                for refs in self.pools.values()
                for p in refs
            ],
            "routes": [
                {
                    "route_id": f"{lane.src_chain}-{lane.dst_chain}",
                    "src_chain": lane.src_chain,
                    "dst_chain": lane.dst_chain,
                    "fee_bps": lane.fee_bps,
                    "fixed_fee": lane.fixed_fee,
                    "latency_s": 900.0,
                    "capacity": LANE_CAPACITY.get((lane.src_chain, lane.dst_chain), 10**15),
                }
                for lane in self.lanes()
            ],
            "limits": {
                "lanes": [
                    {
                        "src_chain": lane.src_chain,
                        "dst_chain": lane.dst_chain,
                        "capacity": LANE_BUCKET,
                        "refill_per_second": USDC,
                    }
                    for lane in self.lanes()
                ],
                "daily": [{"scope": f"chain:{c}", "cap": DAILY_CAP} for c in self.chains],
            },
            "vaults": [
                {
                    "vault_id": f"{chain}-vault",
                    "chain": chain,
                    "address": self.vault(chain),
                    "capacity": 3_000_000 * USDC,
                    "premium_bps": VAULT_PREMIUM_BPS[chain],
                }
                for chain in VAULT_DEPOSITS
            ],
        }

    async def holdings(self) -> Holdings:
        """Every place capital can be, read from the chains now."""
        out = Holdings()
        for chain, refs in self.pools.items():
            for p in refs:
                out.balances[(chain, "pool", p.pool_id)] = await self.net.balance(chain, p.address)
        for chain, hub in self.hubs.items():
            out.balances[(chain, "hub", hub.pool_id)] = await self.net.balance(chain, hub.address)
        for chain in self.chains:
            escrow = self.net.escrow_of(chain)
            out.balances[(chain, "bridge", escrow)] = await self.net.balance(chain, escrow)
        for chain in VAULT_DEPOSITS:
            out.balances[(chain, "vault", f"{chain}-vault")] = await self.net.balance(
                chain, self.vault(chain)
            )
        return out

    async def pay_losses(self, losses: Sequence[tuple[str, int, int]]) -> list[str]:
        """Losses paid out of pools to claimants: plain operator transfers."""
        from chains.base import Transfer

        done = []
        for chain, index, amount in losses:
            pool = self.pools[chain][index]
            claimant = await self.net.new_recipient(chain)
            transfer = Transfer("0x" + os.urandom(32).hex(), pool, chain, claimant, amount)
            receipt = await self.net.adapter(chain).send_transfer(transfer)
            done.append(
                f"{chain}/{pool.pool_id}: {amount // USDC:,} USDC paid to a claimant, "
                f"tx {receipt.tx_ref[:18]}…"
            )
        return done


@contextlib.asynccontextmanager
async def demo_world() -> AsyncIterator[DemoWorld]:
    lanes = [
        Lane(a, b, *lane_fee(a, b))
        for a in ("ethereum", "base", SOLANA)
        for b in ("ethereum", "base", SOLANA)
        if a != b
    ]
    async with embedded_bridge(
        (("ethereum", 9001), ("base", 9002)), pools=0, liquidity=5_000_000 * USDC, lanes=lanes
    ) as net:
        pools: dict[str, list[PoolRef]] = {}
        hubs: dict[str, PoolRef] = {}
        for chain, amounts in POOLS.items():
            made = await net.create_pools(chain, [*amounts, 0])
            pools[chain] = [
                PoolRef(chain, f"{chain[:3]}-pool-{i}", p.address, p.asset)
                for i, p in enumerate(made[:-1])
            ]
            hub = made[-1]
            hubs[chain] = PoolRef(chain, f"hub:{chain}", hub.address, hub.asset)
        for chain, deposit in VAULT_DEPOSITS.items():
            evm = net.evm[chain]
            await evm.fund_vault(deposit)
            for p in pools[chain]:
                await evm.approve_cedent(p.address)
        await net.finalize()
        yield DemoWorld(net, pools, hubs, net.attester_key)


def blocks_keep_coming(world: DemoWorld, every: float = 0.1) -> AbstractAsyncContextManager[None]:
    """Blocks and slots keep coming on every chain, as on live networks."""
    return time_passes(world.net.tick, every)


def workdir_db(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'ballast.db'}"

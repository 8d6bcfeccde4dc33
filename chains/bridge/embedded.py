"""A local bridge over embedded chains: EVM chains (py-evm) and Solana (LiteSVM
behind JSON-RPC), wired together, for the demo, tests and benchmarks.

::

    async with embedded_bridge() as net:
        relayer = Relayer(net.bridge, net.destinations, MemoryJournal())
        await net.evm["evm-a"].adapter.send_transfer(Transfer(tid, pool, "solana", acct, 10**6))
        await net.finalize()
        await relayer.run_once()                # attested, delivery broadcast
        await net.finalize()
        reports = await relayer.run_once()      # DELIVERED, final on Solana

Set-up: every EVM chain routes to every other and to Solana; each
``BridgeEndpoint`` is switched (by its admin) to the one attester key of the
bridge and funded with ``liquidity`` so deliveries release locked tokens
rather than mint; the Solana escrow holds ``liquidity`` too. Lanes join every
pair both ways at ``fee_bps``/``fixed_fee`` unless given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from eth_account import Account
from pydantic import SecretStr

from chains.base import ChainFamily, EffectSender, PoolRef
from chains.bridge.evm_side import EvmBridgeChain
from chains.bridge.fees import FeeBps, Lane
from chains.bridge.local import BridgeChain, LocalBridge
from chains.bridge.solana_side import SolanaBridgeChain
from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmEnv, embedded_evm_chains
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.evm import BridgeRoute, EvmAdapter
from chains.solana import SolanaAdapter, connect_solana

#: The chain id our EVM endpoints use for the Solana chain (Solana has none).
SOLANA_CHAIN_ID = 900_001
SOLANA = "solana"


@dataclass
class EmbeddedBridge:
    """The chains, the adapters that deliver on them, and the bridge between them."""

    evm: EmbeddedEvmEnv
    solana: EmbeddedSolana
    solana_adapter: SolanaAdapter  # the treasury's adapter, with the escrow and routes
    escrow: str
    bridge: LocalBridge
    attester_key: SecretStr = field(repr=False)

    @property
    def destinations(self) -> dict[str, EffectSender]:
        out: dict[str, EffectSender] = {c.name: c.adapter for c in self.evm}
        out[SOLANA] = self.solana_adapter
        return out

    def adapter(self, chain: str) -> EvmAdapter | SolanaAdapter:
        return self.solana_adapter if chain == SOLANA else self.evm[chain].adapter

    def pools(self, chain: str) -> list[PoolRef]:
        return self.solana.pools if chain == SOLANA else self.evm[chain].pools

    def escrow_of(self, chain: str) -> str:
        """Where the bridge holds tokens on ``chain`` (endpoint or escrow account)."""
        return self.escrow if chain == SOLANA else self.evm[chain].deployment.bridge

    async def balance(self, chain: str, address: str) -> int:
        """A token balance at the head, read without any adapter."""
        if chain == SOLANA:
            return self.solana.token_balance(address)
        return await self.evm[chain].token_balance(address)

    async def new_recipient(self, chain: str) -> str:
        """A fresh account that can receive the settlement token on ``chain``."""
        if chain == SOLANA:
            return str(self.solana.new_token_account())
        return str(Account.create().address)

    async def create_pools(self, chain: str, amounts: Sequence[int]) -> list[PoolRef]:
        """Funded pools whose bridge sends the bridge attests."""
        if chain == SOLANA:
            pools = self.solana.create_pools(amounts)
        else:
            pools = await self.evm[chain].create_pools(amounts)
            side = self.bridge.chains[chain]
            assert isinstance(side, EvmBridgeChain)
            side.trust(p.address for p in pools)
        await self.finalize()
        return pools

    async def finalize(self) -> None:
        """Every chain mines/advances until everything done so far is final."""
        for chain in self.evm:
            await chain.finalize()
        self.solana.finalize()

    async def tick(self) -> None:
        """Time passes as on live networks (embedded chains only move on
        transactions): one block on each EVM chain and a few Solana slots, few
        enough that a blockhash outlives many ticks (150 slots) while finality
        (32 slots) comes within a handful."""
        for chain in self.evm:
            await chain.mine(1)
        self.solana.ledger.advance(SLOTS_PER_TICK)

    @property
    def chains(self) -> tuple[str, ...]:
        return (*(c.name for c in self.evm), SOLANA)


#: Solana slots per :meth:`EmbeddedBridge.tick`.
SLOTS_PER_TICK = 8


def default_lanes(chains: Sequence[str], fee_bps: FeeBps, fixed_fee: int) -> list[Lane]:
    return [Lane(a, b, fee_bps, fixed_fee) for a in chains for b in chains if a != b]


@asynccontextmanager
async def embedded_bridge(
    evm: Sequence[tuple[str, int]] = (("evm-a", 31_700_001), ("evm-b", 31_700_002)),
    *,
    pools: int = 10**12,
    liquidity: int = 10**12,
    fee_bps: FeeBps = 5,
    fixed_fee: int = 100,
    lanes: Sequence[Lane] | None = None,
) -> AsyncIterator[EmbeddedBridge]:
    """Start the chains, wire routes and the attester, yield, tear everything down."""
    attester = Account.create()
    key = SecretStr("0x" + bytes(attester.key).hex())
    specs = [EmbeddedChainSpec(name, cid, pools=(pools,)) for name, cid in evm]
    async with AsyncExitStack() as stack:
        env = await stack.enter_async_context(embedded_evm_chains(specs))
        sol = await stack.enter_async_context(embedded_solana(pools=[pools], chain=SOLANA))
        escrow = str(sol.create_escrow(liquidity))
        for chain in env:
            chain.routes[SOLANA] = BridgeRoute(SOLANA_CHAIN_ID, ChainFamily.SOLANA)
            await chain.adapter.aclose()
            chain.adapter = EvmAdapter(chain.config(), [chain.endpoint])
            set_attester = chain.abi("BridgeEndpoint").fn("setAttester").encode(attester.address)
            chain.transact(chain.admin, chain.deployment.bridge, set_attester)
            chain.attester = attester
            await chain.mint(chain.deployment.bridge, liquidity)
        routes = {c.name: c.chain_id for c in env}
        config = dataclasses.replace(sol.config, bridge_escrow=escrow, routes=routes)
        adapter = await connect_solana(config)
        stack.push_async_callback(adapter.aclose)
        sides: list[BridgeChain] = [
            EvmBridgeChain(c.config(), [c.endpoint], pools=[p.address for p in c.pools])
            for c in env
        ]
        sides.append(SolanaBridgeChain(config))
        names = [c.name for c in env] + [SOLANA]
        bridge = LocalBridge(sides, lanes or default_lanes(names, fee_bps, fixed_fee), key)
        stack.push_async_callback(bridge.aclose)
        net = EmbeddedBridge(env, sol, adapter, escrow, bridge, key)
        await net.finalize()
        await bridge.check_attesters()
        yield net

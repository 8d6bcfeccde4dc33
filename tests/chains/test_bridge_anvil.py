"""EVM -> EVM across two real anvil nodes: the relayer reads ``BridgeSent`` at the
``finalized`` tag over HTTP, attests, and delivers once; a replay on the same or
the other chain is refused by the node's EVM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from eth_account import Account
from pydantic import SecretStr

from chains import errors
from chains.base import ChainFamily, EffectSender, PoolRef, Transfer
from chains.bridge import (
    DeliveryReport,
    DeliveryState,
    Lane,
    LocalBridge,
    MemoryJournal,
    Relayer,
    bridge_chain,
)
from chains.evm import FINALIZED, BridgeRoute, EvmAdapter
from chains.factory import ChainSpec
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import AnvilChain, anvil_chain, skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")

A, B = ("anvil-a", 31_800_001), ("anvil-b", 31_800_002)


@dataclass
class Pair:
    chains: dict[str, AnvilChain]
    adapters: dict[str, EvmAdapter]
    bridge: LocalBridge
    pools: dict[str, PoolRef]

    async def finalize(self) -> None:
        for chain in self.chains.values():
            await chain.finalize()

    async def delivered_logs(self, chain: str, transfer_id: str) -> int:
        c = self.chains[chain]
        assert c.deployment is not None
        topic = c.abi("BridgeEndpoint").events["BridgeDelivered"]
        flt = {"address": c.deployment.bridge, "fromBlock": "0x0", "topics": [topic, transfer_id]}
        return len(await c.rpc("eth_getLogs", [flt]))

    async def relayer(self) -> Relayer:
        journal = MemoryJournal()
        await self.finalize()
        for name in self.chains:
            source = self.bridge.source(name)
            await journal.set_cursor(name, await source.final_height() + 1)
        destinations: dict[str, EffectSender] = dict(self.adapters)
        return Relayer(self.bridge, destinations, journal)

    async def drive(self, relayer: Relayer, transfer_id: str) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        for _ in range(6):
            await self.finalize()
            reports += [r for r in await relayer.run_once() if r.transfer_id == transfer_id]
            if any(r.state is DeliveryState.DELIVERED for r in reports):
                break
        return reports


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    skip_unless_selected(request.config, "anvil")
    attester = Account.create()
    async with anvil_chain(*A) as a, anvil_chain(*B) as b:
        chains = {A[0]: a, B[0]: b}
        routes = {A[0]: {B[0]: BridgeRoute(B[1])}, B[0]: {A[0]: BridgeRoute(A[1])}}
        adapters, sides, pools = {}, [], {}
        for name, chain in chains.items():
            assert chain.deployment is not None
            bridge = chain.deployment.bridge
            set_attester = chain.abi("BridgeEndpoint").fn("setAttester").encode(attester.address)
            fund = chain.abi("SettlementToken").fn("mint").encode(bridge, 10**12)
            await chain.bulk(
                [(bridge, set_attester, 200_000), (chain.deployment.token, fund, 200_000)]
            )
            (pools[name],) = await chain.create_pools([10**12])
            adapters[name] = chain.new_adapter(routes=routes[name])
            spec = ChainSpec(
                family=ChainFamily.EVM,
                name=name,
                rpc_urls=(chain.url,),
                settlement_asset=chain.deployment.token,
                chain_id=chain.chain_id,
                signer_key=SecretStr("0x" + bytes(chain.operator.key).hex()),
                bridge_endpoint=bridge,
                routes=routes[name],
                finality=FINALIZED,
            )
            sides.append(bridge_chain(spec, pools=[pools[name].address]))
        lanes = [Lane(A[0], B[0], 3, 50), Lane(B[0], A[0], 3, 50)]
        bridge = LocalBridge(sides, lanes, SecretStr("0x" + bytes(attester.key).hex()))
        try:
            await bridge.check_attesters()
            yield Pair(chains, adapters, bridge, pools)
        finally:
            await bridge.aclose()
            for adapter in adapters.values():
                await adapter.aclose()


async def test_a_send_between_two_anvil_nodes_is_delivered_once(pair: Pair) -> None:
    src, dst = pair.chains[A[0]], pair.chains[B[0]]
    assert src.deployment is not None and dst.deployment is not None
    relayer = await pair.relayer()
    recipient = Account.create().address
    pool = pair.pools[A[0]]
    accounts = [
        (src, pool.address),
        (src, src.deployment.bridge),
        (dst, dst.deployment.bridge),
        (dst, recipient),
    ]
    before = [await c.token_balance(a) for c, a in accounts]
    transfer = Transfer(tid(), pool, B[0], recipient, 3_000_000)
    await pair.adapters[A[0]].send_transfer(transfer)
    with pytest.raises(errors.NotYetFinal):  # anvil's finalized tag lags its head
        await pair.bridge.attest(A[0], transfer.transfer_id)

    reports = await pair.drive(relayer, transfer.transfer_id)
    (report,) = reports
    fee = 3_000_000 * 3 // 10_000 + 50
    assert report.state is DeliveryState.DELIVERED
    assert (report.amount_sent, report.fee, report.amount_delivered) == (
        3_000_000,
        fee,
        3_000_000 - fee,
    )
    after = [await c.token_balance(a) for c, a in accounts]
    assert sum(after) == sum(before)
    assert after[3] == 3_000_000 - fee and after[0] == before[0] - 3_000_000
    assert await pair.delivered_logs(B[0], transfer.transfer_id) == 1

    # A second relayer finds it by id and signs nothing.
    late = await pair.relayer()
    await late.track(A[0], transfer.transfer_id)
    nonce = await dst.rpc("eth_getTransactionCount", [dst.operator.address, "latest"])
    (again,) = await pair.drive(late, transfer.transfer_id)
    assert again.state is DeliveryState.DELIVERED and again.delivery_tx == report.delivery_tx
    assert await dst.rpc("eth_getTransactionCount", [dst.operator.address, "latest"]) == nonce

    # The attestation replayed: on the same chain the id is spent, on the other the
    # digest binds another endpoint and chain id.
    inbound = (await pair.bridge.attest(A[0], transfer.transfer_id)).inbound
    with pytest.raises(errors.DuplicateTransfer):
        await pair.adapters[B[0]].prepare(inbound)
    mirrored = type(inbound)(
        inbound.transfer_id, B[0], A[0], recipient, inbound.amount, inbound.attestation
    )
    with pytest.raises(errors.TransactionReverted) as caught:
        await pair.adapters[A[0]].prepare(mirrored)
    assert caught.value.fields["revert"] == "InvalidAttestation"
    assert await pair.delivered_logs(A[0], transfer.transfer_id) == 0


async def test_two_relayers_on_anvil_deliver_both_ways_once(pair: Pair) -> None:
    one, two = await pair.relayer(), await pair.relayer()
    sent: list[tuple[str, Transfer]] = []
    for src, dst in ((A[0], B[0]), (B[0], A[0])):
        transfer = Transfer(tid(), pair.pools[src], dst, Account.create().address, 1_000_000)
        await pair.adapters[src].send_transfer(transfer)
        sent.append((dst, transfer))
    done: dict[str, set[str]] = {}
    for _ in range(6):
        await pair.finalize()
        for k, reports in enumerate(await asyncio.gather(one.run_once(), two.run_once())):
            for r in reports:
                if r.state is DeliveryState.DELIVERED:
                    done.setdefault(r.transfer_id, set()).add(str(k))
        if len(done) == 2 and all(v == {"0", "1"} for v in done.values()):
            break
    for dst, transfer in sent:
        assert done[transfer.transfer_id] == {"0", "1"}
        assert await pair.delivered_logs(dst, transfer.transfer_id) == 1
        paid = await pair.chains[dst].token_balance(transfer.recipient)
        assert paid == 1_000_000 - (1_000_000 * 3 // 10_000 + 50)

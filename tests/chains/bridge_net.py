"""What the bridge tests share: a fake clock, a fresh relayer, capital
read straight from the chains, and delivery counts read from the chains' logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from solders.pubkey import Pubkey

from chains.base import EffectSender, PoolRef, Transfer
from chains.bridge import (
    DeliveryReport,
    DeliveryState,
    MemoryJournal,
    Relayer,
    RelayerConfig,
    RelayerJournal,
    ReportSink,
)
from chains.bridge.embedded import SOLANA, EmbeddedBridge
from chains.bridge.transport import BridgeTransport
from chains.evm_rpc import as_int
from chains.solana import inbound_marker_address
from tests.chains.conformance import new_transfer_id as tid


class Clock:
    """Time the test moves by hand: deadlines pass without sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Sent:
    transfer: Transfer
    recipient: str
    since: int = 0  # the destination's head when planned: its delivery is later

    @property
    def id(self) -> str:
        return self.transfer.transfer_id

    @property
    def src(self) -> str:
        return self.transfer.source.chain

    @property
    def dst(self) -> str:
        return self.transfer.dst_chain


async def planned(
    net: EmbeddedBridge, src: str, dst: str, amount: int, pool: PoolRef | None = None
) -> Sent:
    """A bridge send from a pool of ``src`` to a fresh recipient on ``dst``, not sent yet."""
    recipient = await net.new_recipient(dst)
    transfer = Transfer(tid(), pool or net.pools(src)[0], dst, recipient, amount)
    return Sent(transfer, recipient, await head(net, dst))


async def head(net: EmbeddedBridge, chain: str) -> int:
    """The chain's newest block (EVM) or slot (Solana)."""
    if chain == SOLANA:
        return net.solana.ledger.slot
    return as_int(await net.evm[chain].endpoint.request("eth_blockNumber", []), "head")


async def send(
    net: EmbeddedBridge, src: str, dst: str, amount: int, pool: PoolRef | None = None
) -> Sent:
    """A bridge send from a pool of ``src`` to a fresh recipient on ``dst``."""
    sent = await planned(net, src, dst, amount, pool)
    await net.adapter(src).send_transfer(sent.transfer)
    return sent


async def fresh_relayer(
    net: EmbeddedBridge,
    *,
    bridge: BridgeTransport | None = None,
    clock: Clock | None = None,
    journal: RelayerJournal | None = None,
    sink: ReportSink | None = None,
    destinations: Mapping[str, EffectSender] | None = None,
    **config: float,
) -> Relayer:
    """A relayer whose cursors start after everything final so far (earlier tests'
    sends are not its business)."""
    transport = bridge or net.bridge
    journal = journal or MemoryJournal()
    await net.finalize()
    for lane in transport.lanes:
        source = transport.source(lane.src_chain)
        await journal.set_cursor(lane.src_chain, await source.final_height() + 1)
    return Relayer(
        transport,
        destinations or net.destinations,
        journal,
        RelayerConfig(**config),  # type: ignore[arg-type]
        clock=clock or Clock(),
        sink=sink,
    )


async def drive(
    net: EmbeddedBridge, relayers: Sequence[Relayer], ids: Sequence[str], passes: int = 6
) -> dict[str, list[DeliveryReport]]:
    """Passes of every relayer (side by side), chains finalized in between, until each
    relayer has reported every id DELIVERED; every report kept, per transfer id."""
    import asyncio

    seen: dict[str, list[DeliveryReport]] = {i: [] for i in ids}
    done: list[set[str]] = [set() for _ in relayers]
    for _ in range(passes):
        await net.finalize()
        results = await asyncio.gather(*(r.run_once() for r in relayers))
        for k, reports in enumerate(results):
            for report in reports:
                if report.transfer_id in seen:
                    seen[report.transfer_id].append(report)
                    if report.state is DeliveryState.DELIVERED:
                        done[k].add(report.transfer_id)
        if all(d >= set(ids) for d in done):
            return seen
    return seen


async def holdings(net: EmbeddedBridge, sends: Sequence[Sent]) -> dict[tuple[str, str], int]:
    """Every account some of these transfers touch (pools, every bridge escrow or
    endpoint, recipients), read at the head without any adapter."""
    accounts = {(s.src, s.transfer.source.address) for s in sends}
    accounts |= {(c, net.escrow_of(c)) for c in net.chains}
    accounts |= {(s.dst, s.recipient) for s in sends}
    return {a: await net.balance(*a) for a in sorted(accounts)}


async def capital(net: EmbeddedBridge, sent: Sent) -> dict[str, int]:
    """Every balance a transfer touches, read at the head without any adapter."""
    return {
        "pool": await net.balance(sent.src, sent.transfer.source.address),
        "src_bridge": await net.balance(sent.src, net.escrow_of(sent.src)),
        "dst_bridge": await net.balance(sent.dst, net.escrow_of(sent.dst)),
        "recipient": await net.balance(sent.dst, sent.recipient),
    }


async def deliveries(net: EmbeddedBridge, chain: str, transfer_id: str, since: int = 0) -> int:
    """How many deliveries of this id the destination chain holds (from its records),
    in blocks from ``since`` (eth-tester scans every block of the range)."""
    if chain == SOLANA:
        marker = inbound_marker_address(net.solana.authority.pubkey(), transfer_id)
        records = net.solana.ledger.signatures_for(marker, "confirmed")
        return sum(1 for r in records if r.err is None)
    evm = net.evm[chain]
    topic = evm.abi("BridgeEndpoint").events["BridgeDelivered"]
    logs = await evm.endpoint.request(
        "eth_getLogs",
        [
            {
                "address": evm.deployment.bridge,
                "fromBlock": hex(since),
                "toBlock": "latest",
                "topics": [topic, transfer_id],
            }
        ],
    )
    return len(logs)


def escrow_key(net: EmbeddedBridge) -> Pubkey:
    return Pubkey.from_string(net.escrow)

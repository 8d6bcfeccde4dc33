"""The relayer on embedded chains (two py-evm chains and a LiteSVM node): every send
delivered exactly once, capital conserved to the unit, and every transfer ending
DELIVERED or STUCK, through retries, restarts, crashes and a second relayer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from eth_account import Account as EthAccount
from solders.account import Account as SolAccount

from chains import errors
from chains.base import TxState
from chains.bridge import (
    DeliveryReport,
    DeliveryState,
    FileJournal,
    Lane,
    LocalBridge,
    MemoryJournal,
    PendingDelivery,
    Relayer,
)
from chains.bridge.embedded import SOLANA, EmbeddedBridge, embedded_bridge
from chains.embedded.solana_setup import token_account_data
from chains.solana import TOKEN_PROGRAM_ID
from tests.chains.bridge_net import (
    Clock,
    capital,
    deliveries,
    drive,
    escrow_key,
    fresh_relayer,
    holdings,
    planned,
    send,
)
from tests.chains.evm_harness import skip_unless_selected
from tests.chains.solana_harness import skip_unless_selected as skip_unless_litesvm

pytestmark = pytest.mark.asyncio(loop_scope="module")

LANES = [("evm-a", "evm-b"), ("evm-a", SOLANA), (SOLANA, "evm-b")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def net(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedBridge]:
    skip_unless_selected(request.config, "embedded")
    skip_unless_litesvm(request.config)
    async with embedded_bridge(fee_bps=7.5, fixed_fee=250) as bridge:
        yield bridge


@pytest.mark.parametrize(("src", "dst"), LANES)
async def test_a_send_is_delivered_once_at_finality_with_capital_conserved(
    net: EmbeddedBridge, src: str, dst: str
) -> None:
    relayer = await fresh_relayer(net)
    amount = 1_234_567
    sent = await planned(net, src, dst, amount)
    recipient = sent.recipient
    before = await capital(net, sent)
    await net.adapter(src).send_transfer(sent.transfer)

    # Not final at the source: nothing is attested, tracked or delivered.
    with pytest.raises(errors.NotYetFinal):
        await net.bridge.attest(src, sent.id)
    assert await relayer.run_once() == []
    assert await relayer.journal.get(sent.id) is None
    assert await net.balance(dst, recipient) == 0

    await net.finalize()
    assert await relayer.run_once() == []  # delivery broadcast, not final on the destination
    assert await deliveries(net, dst, sent.id, sent.since) == 1
    await net.finalize()
    (report,) = await relayer.run_once()

    fee = net.bridge.lane(src, dst).fee(amount)
    assert fee == -(-amount * 75 // 100_000) + 250  # ceil(7.5 bps) + fixed
    assert report.state is DeliveryState.DELIVERED
    assert (report.transfer_id, report.src_chain, report.dst_chain) == (sent.id, src, dst)
    assert (report.amount_sent, report.fee, report.amount_delivered) == (amount, fee, amount - fee)
    assert report.delivery_tx and report.source_tx and report.delivery_block
    after = await capital(net, sent)
    assert sum(after.values()) == sum(before.values())  # to the unit, on both chains
    assert after["pool"] == before["pool"] - amount
    assert after["recipient"] == before["recipient"] + amount - fee
    kept = (after["src_bridge"] - before["src_bridge"]) + (
        after["dst_bridge"] - before["dst_bridge"]
    )
    assert kept == fee  # the bridge keeps exactly the lane fee
    assert await deliveries(net, dst, sent.id, sent.since) == 1
    assert await relayer.run_once() == []  # finished: nothing more to say


async def test_two_relayers_at_once_deliver_every_transfer_once(net: EmbeddedBridge) -> None:
    one, two = await fresh_relayer(net), await fresh_relayer(net)
    sends = [await planned(net, s, d, 500_000 + i) for i, (s, d) in enumerate(LANES)]
    before = await holdings(net, sends)
    for s in sends:
        await net.adapter(s.src).send_transfer(s.transfer)
    seen = await drive(net, [one, two], [s.id for s in sends])
    fees = 0
    for s in sends:
        delivered = [r for r in seen[s.id] if r.state is DeliveryState.DELIVERED]
        assert len(delivered) == 2  # each relayer reports it ...
        assert len({r.delivery_tx for r in delivered}) == 1  # ... as the same delivery
        assert await deliveries(net, s.dst, s.id, s.since) == 1
        fee = net.bridge.lane(s.src, s.dst).fee(s.transfer.amount)
        assert await net.balance(s.dst, s.recipient) == s.transfer.amount - fee
        fees += fee
    after = await holdings(net, sends)
    assert sum(after.values()) == sum(before.values())  # across all three chains, to the unit
    bridges = [(c, net.escrow_of(c)) for c in net.chains]
    assert sum(after[b] - before[b] for b in bridges) == fees  # kept by the bridge


async def test_a_relayer_after_the_fact_finds_deliveries_and_sends_nothing(
    net: EmbeddedBridge,
) -> None:
    first = await fresh_relayer(net)
    sends = [await send(net, s, d, 777_000) for s, d in LANES]
    await drive(net, [first], [s.id for s in sends])
    late = await fresh_relayer(net)
    for s in sends:
        await late.track(s.src, s.id)
    nonces = {
        c.name: await c.endpoint.request("eth_getTransactionCount", [c.operator.address, "latest"])
        for c in net.evm
    }
    signatures = len(net.solana.ledger.txs)
    seen = await drive(net, [late], [s.id for s in sends])
    for s in sends:
        (report,) = seen[s.id]
        assert (
            report.state is DeliveryState.DELIVERED
            and await deliveries(net, s.dst, s.id, s.since) == 1
        )
    # Found by id: not one new transaction on any chain.
    assert nonces == {
        c.name: await c.endpoint.request("eth_getTransactionCount", [c.operator.address, "latest"])
        for c in net.evm
    }
    assert len(net.solana.ledger.txs) == signatures


@pytest.mark.parametrize("broadcast_first", [False, True])
@pytest.mark.parametrize(("src", "dst"), [("evm-a", "evm-b"), ("evm-a", SOLANA)])
async def test_a_crash_between_prepare_and_broadcast_delivers_the_same_bytes_once(
    net: EmbeddedBridge, src: str, dst: str, broadcast_first: bool
) -> None:
    """The steps of one delivery in pieces, a process dying after the journal write."""
    s = await send(net, src, dst, 2_000_000)
    await net.finalize()
    clock = Clock()
    journal = MemoryJournal()
    attested = await net.bridge.attest(src, s.id)
    adapter = net.destinations[dst]
    signed = await adapter.prepare(attested.inbound)
    await journal.put(PendingDelivery(s.id, src, clock(), attempt=signed))
    if broadcast_first:
        await adapter.broadcast(signed)  # ... and the process dies before it learns more
    else:
        assert (await adapter.status(signed)).state is TxState.UNKNOWN
    assert await deliveries(net, dst, s.id, s.since) == int(broadcast_first)

    restarted = await fresh_relayer(net, journal=journal, clock=clock)
    seen = await drive(net, [restarted], [s.id])
    (report,) = seen[s.id]
    assert report.state is DeliveryState.DELIVERED
    assert report.delivery_tx == signed.tx_ref  # the recorded bytes, not a new transaction
    assert await deliveries(net, dst, s.id, s.since) == 1
    assert await net.balance(dst, s.recipient) == attested.inbound.amount


@pytest.mark.parametrize("dst", ["evm-b", SOLANA])
async def test_an_attempt_that_can_never_land_is_signed_again_once(
    net: EmbeddedBridge, dst: str
) -> None:
    """DROPPED (its nonce went to another transaction; its blockhash expired) and no
    delivery of the id on chain: then, and only then, a new delivery is signed."""
    s = await send(net, "evm-a", dst, 2_500_000)
    await net.finalize()
    journal = MemoryJournal()
    attested = await net.bridge.attest("evm-a", s.id)
    adapter = net.destinations[dst]
    signed = await adapter.prepare(attested.inbound)
    await journal.put(PendingDelivery(s.id, "evm-a", Clock()(), attempt=signed))
    if dst == SOLANA:
        net.solana.expire_blockhashes()
    else:  # the nonce is spent by a no-op of ours instead
        evm = net.evm[dst].adapter
        await evm.broadcast(await evm.cancel(signed))
    await net.finalize()
    assert (await adapter.status(signed)).state is TxState.DROPPED
    relayer = await fresh_relayer(net, journal=journal)
    seen = await drive(net, [relayer], [s.id])
    (report,) = seen[s.id]
    assert report.state is DeliveryState.DELIVERED and report.delivery_tx != signed.tx_ref
    assert await deliveries(net, dst, s.id, s.since) == 1
    assert await net.balance(dst, s.recipient) == attested.inbound.amount


class Crash(Exception):
    """The process dies here (injected)."""


class CrashOnRecord(MemoryJournal):
    """A journal whose process dies while recording the first signed delivery."""

    async def put(self, item: PendingDelivery) -> None:
        if item.attempt is not None:
            raise Crash(item.attempt.tx_ref)
        await super().put(item)


async def test_nothing_is_broadcast_before_it_is_recorded(net: EmbeddedBridge) -> None:
    journal = CrashOnRecord()
    relayer = await fresh_relayer(net, journal=journal)
    s = await send(net, "evm-a", SOLANA, 1_100_000)
    await net.finalize()
    sends_before = net.solana.server.sends_received
    with pytest.raises(Crash):
        await relayer.run_once()
    assert net.solana.server.sends_received == sends_before  # signed, never sent
    assert await deliveries(net, SOLANA, s.id, s.since) == 0
    restarted = await fresh_relayer(net)
    await restarted.track("evm-a", s.id)
    seen = await drive(net, [restarted], [s.id])
    assert [r.state for r in seen[s.id]] == [DeliveryState.DELIVERED]
    assert await deliveries(net, SOLANA, s.id, s.since) == 1


@pytest.mark.parametrize(("src", "dst"), [("evm-a", "evm-b"), ("evm-b", SOLANA)])
async def test_an_attempt_that_lost_the_race_is_refused_and_reports_the_winner(
    net: EmbeddedBridge, src: str, dst: str
) -> None:
    """Relayer A signs a delivery and stalls; relayer B (its own key where the chain
    allows) delivers; A's bytes then reach the chain, which refuses the id."""
    s = await send(net, src, dst, 1_500_000)
    await net.finalize()
    slow_journal = MemoryJournal()
    slow = await fresh_relayer(net, journal=slow_journal)
    attested = await net.bridge.attest(src, s.id)
    signed = await net.destinations[dst].prepare(attested.inbound)
    await slow_journal.put(PendingDelivery(s.id, src, Clock()(), attempt=signed))

    destinations = dict(net.destinations)
    if dst != SOLANA:  # anyone may relay to a BridgeEndpoint: B uses a key of its own
        other = EthAccount.create()
        await net.evm[dst].fund_gas(other.address)
        destinations[dst] = net.evm[dst].new_adapter(operator_key="0x" + bytes(other.key).hex())
    else:
        net.solana.ledger.advance(1)  # another blockhash: another signature
    quick = await fresh_relayer(net, destinations=destinations)
    await quick.track(src, s.id)
    won = await drive(net, [quick], [s.id])
    (winner,) = won[s.id]
    assert winner.delivery_tx != signed.tx_ref

    lost = await drive(net, [slow], [s.id])  # the stale bytes go out now
    (report,) = lost[s.id]
    assert report.state is DeliveryState.DELIVERED and report.delivery_tx == winner.delivery_tx
    if dst != SOLANA:  # A's transaction was mined and reverted: the id was delivered
        outcome = await net.destinations[dst].status(signed)
        assert outcome.state is TxState.FAILED and outcome.revert == "TransferIdUsed"
    assert await deliveries(net, dst, s.id, s.since) == 1
    assert await net.balance(dst, s.recipient) == attested.inbound.amount


async def test_a_delivery_the_saga_made_is_found_and_reported(net: EmbeddedBridge) -> None:
    relayer = await fresh_relayer(net)
    s = await send(net, SOLANA, "evm-a", 3_000_000)
    await net.finalize()
    attested = await net.bridge.attest(SOLANA, s.id)
    made = await net.adapter("evm-a").complete_inbound(attested.inbound)  # the saga's step
    seen = await drive(net, [relayer], [s.id])
    (report,) = seen[s.id]
    assert report.state is DeliveryState.DELIVERED and report.delivery_tx == made.tx_ref
    assert await deliveries(net, "evm-a", s.id, s.since) == 1
    assert await net.balance("evm-a", s.recipient) == attested.inbound.amount


async def test_a_fee_above_the_amount_is_stuck_at_once_and_nothing_is_delivered(
    net: EmbeddedBridge,
) -> None:
    dear = LocalBridge(
        net.bridge.chains.values(), [Lane("evm-a", "evm-b", 10, 600_000)], net.attester_key
    )
    relayer = await fresh_relayer(net, bridge=dear)
    s = await send(net, "evm-a", "evm-b", 600_000)
    before = await capital(net, s)
    await net.finalize()
    with pytest.raises(errors.FeeExceedsAmount):
        await dear.attest("evm-a", s.id)
    (report,) = await relayer.run_once()
    assert report.state is DeliveryState.STUCK and not report.retrying
    assert report.error == "FeeExceedsAmount" and report.amount_sent == 600_000
    assert report.fee == 600_000 + 600  # what the lane would have kept
    assert await relayer.run_once() == []  # reported once, out of the journal
    after = await capital(net, s)
    assert after == before  # the capital stays locked at the source bridge, visible
    assert await deliveries(net, "evm-b", s.id, s.since) == 0


async def test_a_transfer_past_its_deadline_is_stuck_then_delivered(net: EmbeddedBridge) -> None:
    clock = Clock()
    relayer = await fresh_relayer(net, clock=clock, deadline=600)
    ledger, key = net.solana.ledger, escrow_key(net)
    original = ledger.svm.get_account(key)
    assert original is not None
    drained = SolAccount(
        lamports=original.lamports,
        data=token_account_data(net.solana.mint, net.solana.authority.pubkey(), 10),
        owner=TOKEN_PROGRAM_ID,
        executable=False,
    )
    ledger.set_accounts({key: drained})  # the escrow cannot pay the delivery
    try:
        s = await send(net, "evm-b", SOLANA, 5_000_000)
        await net.finalize()
        assert await relayer.run_once() == []  # waiting, within the deadline
        clock.now += 601
        (stuck,) = await relayer.run_once()
        assert stuck.state is DeliveryState.STUCK and stuck.retrying
        assert stuck.error == "InsufficientCapital" and "escrow" in stuck.reason
        assert stuck.amount_sent == 5_000_000 and stuck.dst_chain == SOLANA
        assert await relayer.run_once() == []  # STUCK is said once
    finally:
        ledger.set_accounts({key: original})  # liquidity back
    seen = await drive(net, [relayer], [s.id])
    (delivered,) = seen[s.id]
    assert delivered.state is DeliveryState.DELIVERED
    assert await deliveries(net, SOLANA, s.id, s.since) == 1


async def test_a_restart_resumes_from_the_journal_file(net: EmbeddedBridge, tmp_path: Path) -> None:
    path = tmp_path / "relayer.json"
    first = await fresh_relayer(net, journal=FileJournal(path))
    # Several deliveries to one chain, one key, a journal that really waits on disk:
    # they must still reach the node in nonce order.
    early = [await send(net, "evm-b", "evm-a", 900_000 + i) for i in range(2)]
    await net.finalize()
    assert await first.run_once() == []  # tracked and broadcast, then the process stops
    assert [await deliveries(net, "evm-a", s.id, s.since) for s in early] == [1, 1]
    late = await send(net, SOLANA, "evm-b", 800_000)  # sent while nothing runs

    again = Relayer(net.bridge, net.destinations, FileJournal(path))
    seen = await drive(net, [again], [*(s.id for s in early), late.id])
    for s in (*early, late):
        (report,) = seen[s.id]
        assert report.state is DeliveryState.DELIVERED
        assert await deliveries(net, s.dst, s.id, s.since) == 1
    journal = FileJournal(path)
    assert await journal.pending() == []
    assert (await journal.cursor(SOLANA) or 0) > 0


async def test_the_loop_reports_to_its_sink_until_stopped(net: EmbeddedBridge) -> None:
    delivered = asyncio.Event()
    recorded: list[DeliveryReport] = []

    class Sink:
        async def record(self, report: DeliveryReport) -> None:
            recorded.append(report)
            if report.state is DeliveryState.DELIVERED:
                delivered.set()

    relayer = await fresh_relayer(net, sink=Sink(), poll_interval=0.01)
    s = await send(net, "evm-a", "evm-b", 400_000)
    task = asyncio.create_task(relayer.run())
    for _ in range(100):  # the chains only move when told: finalize, then let a pass run
        await net.finalize()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(delivered.wait(), 0.2)
        if delivered.is_set():
            break
    relayer.stop()
    await asyncio.wait_for(task, 10)
    assert [(r.transfer_id, r.state) for r in recorded] == [(s.id, DeliveryState.DELIVERED)]
    assert await deliveries(net, "evm-b", s.id, s.since) == 1

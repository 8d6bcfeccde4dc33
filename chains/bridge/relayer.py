"""The relayer: every send on every lane, delivered once on its destination, or
reported STUCK with the reason.

One pass (:meth:`Relayer.run_once`):

1. **Scan** each source chain from its journal cursor up to its final
   height (at most ``scan_window`` heights a pass): every send found is
   ``put`` in the journal, *then* the cursor moves past it.
2. **Step** every tracked transfer once, through the destination adapter's
   saga ports:

   - attest it (its source send re-read at finality by the transport; the
     lane fee applied there, never a figure of ours);
   - no attempt yet: ``prepare`` the delivery, record the signed transaction
     in the journal, then ``broadcast`` it;
   - an attempt recorded: ``status`` by its hash/signature. UNKNOWN: the same
     bytes are broadcast again (never a new transaction); PENDING/INCLUDED:
     wait (an EVM attempt due for a fee bump is replaced at its nonce);
     FINAL: DELIVERED; FAILED or DROPPED: ``find_effect`` by the transfer id
     decides: delivered by someone (another relayer, the saga), or a new
     attempt is prepared on the next pass.
   - the destination refuses the id (``DuplicateTransfer``): the delivery
     exists; ``find_effect`` reports it DELIVERED once final.

A transfer is reported DELIVERED once, when the destination shows it in a
final block; STUCK once, when ``deadline`` seconds pass after it was first
seen (the relayer keeps trying: ``retrying=True``), or at once when it can
never be delivered as sent (fee above the amount, no lane, a recipient the
destination cannot take, a destination that refuses our attester:
``retrying=False``, dropped from the journal for an operator to resolve).

Never a second delivery: the destination refuses a delivered id (EVM
``BridgeEndpoint.delivered``, Solana inbound marker), so two relayers, a
retry, or a restart after a crash between prepare and broadcast (the signed
bytes are in the journal) deliver once. Reports are idempotent by transfer id.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from chains.base import EffectSender, FeeReplacer, SignedTx, TxOutcome, TxState
from chains.bridge.journal import RelayerJournal
from chains.bridge.transport import BridgeTransport
from chains.bridge.values import Attested, DeliveryReport, DeliveryState, PendingDelivery
from chains.errors import (
    ChainError,
    ConfirmationTimeout,
    DuplicateTransfer,
    EndpointDisagreement,
    FeeCapExceeded,
    InsufficientCapital,
    InvalidInput,
    NonceError,
    NotFinal,
    RpcError,
    TransactionReverted,
    UnknownChain,
    UnknownSend,
)

log = logging.getLogger("ballast.chains.bridge")

#: Reverts of a delivery that pass with time (liquidity can be added).
_PASSING_REVERTS = frozenset({"InsufficientLiquidity"})
#: Reverts of a landed delivery that no new attempt can cure: the endpoint does
#: not accept our attester, or the delivery itself is malformed.
_FINAL_REVERTS = frozenset({"InvalidAttestation", "ZeroAddress", "ZeroAmount"})


@dataclass(frozen=True, slots=True)
class RelayerConfig:
    """``deadline``: seconds from first sight to a STUCK report. ``scan_window``:
    heights scanned per source per pass (bounds one pass's log queries)."""

    deadline: float = 900.0
    poll_interval: float = 2.0
    concurrency: int = 8
    scan_window: int = 10_000

    def __post_init__(self) -> None:
        if not self.deadline > 0 or not self.poll_interval >= 0:
            raise InvalidInput("relayer deadline must be > 0 and poll_interval >= 0")
        if self.concurrency < 1 or self.scan_window < 1:
            raise InvalidInput("relayer concurrency and scan_window must be >= 1")


class ReportSink(Protocol):
    """Where reports go (the router records them); called once per report."""

    async def record(self, report: DeliveryReport) -> None: ...


class _Wait(Exception):
    """Internal: the transfer is not finished this pass (why, and the error behind it)."""

    def __init__(self, reason: str, error: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class Relayer:
    """Watches every lane's sends at finality and delivers each once (module docstring)."""

    def __init__(
        self,
        transport: BridgeTransport,
        destinations: Mapping[str, EffectSender],
        journal: RelayerJournal,
        config: RelayerConfig | None = None,
        *,
        sink: ReportSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._destinations = dict(destinations)
        self._journal = journal
        self._config = config or RelayerConfig()
        self._sink = sink
        self._clock = clock
        self._attested: dict[str, Attested] = {}
        self._recovered = False
        self._stop = asyncio.Event()
        self._gate = asyncio.Semaphore(self._config.concurrency)
        self._sending: dict[str, asyncio.Lock] = {}

    @property
    def journal(self) -> RelayerJournal:
        return self._journal

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(lane.src_chain for lane in self._transport.lanes))

    # -- loop -------------------------------------------------------------------------

    async def run(self) -> None:
        """Passes every ``poll_interval`` until :meth:`stop`. A failing pass is logged
        and the next one tries again; journal failures end the loop."""
        self._stop.clear()
        while not self._stop.is_set():
            try:
                await self.run_once()
            except ChainError as exc:
                log.warning("relayer pass failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._config.poll_interval)

    def stop(self) -> None:
        self._stop.set()

    async def run_once(self) -> list[DeliveryReport]:
        """One scan of every source and one step of every tracked transfer."""
        if not self._recovered:
            await self._recover()
        for chain in self.sources:
            try:
                await self._scan(chain)
            except ChainError as exc:  # that source waits; the others go on
                log.warning("%s: scanning bridge sends failed: %s", chain, exc)
        items = await self._journal.pending()
        try:  # a failure outside the chain layer (the journal) stops the whole pass
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._guarded_step(item)) for item in items]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        reports = [r for r in (t.result() for t in tasks) if r is not None]
        if self._sink is not None:
            for report in reports:
                await self._sink.record(report)
        return reports

    async def track(self, src_chain: str, transfer_id: str, *, block: int | None = None) -> None:
        """Hand over one transfer (a saga's, or an operator's retry) whatever the cursor;
        ``block``: the source block/slot of its send, if known (a search hint)."""
        self._transport.source(src_chain)  # UnknownChain before anything is written
        if await self._journal.get(transfer_id) is None:
            item = PendingDelivery(transfer_id, src_chain, self._clock(), block=block)
            await self._journal.put(item)

    async def forget(self, transfer_id: str) -> None:
        """An operator resolved this transfer by hand: stop trying."""
        self._attested.pop(transfer_id, None)
        await self._journal.done(transfer_id)

    async def _recover(self) -> None:
        """Before any new signature: count attempts signed before a restart as ours (EVM
        nonces), so new deliveries queue after them instead of colliding."""
        for item in await self._journal.pending():
            dst = self._destinations.get(item.attempt.chain) if item.attempt else None
            adopt = getattr(dst, "adopt", None)
            if item.attempt is not None and callable(adopt):
                adopt(item.attempt)
        self._recovered = True

    async def _scan(self, chain: str) -> None:
        source = self._transport.source(chain)
        cursor = await self._journal.cursor(chain)
        start = source.origin if cursor is None else cursor
        final = await source.final_height()
        if final < start:
            return
        end = min(final, start + self._config.scan_window - 1)
        for sent in await source.sends(start, end):
            if await self._journal.get(sent.transfer_id) is None:
                seen = PendingDelivery(
                    sent.transfer_id, chain, self._clock(), block=sent.block_number
                )
                await self._journal.put(seen)
        await self._journal.set_cursor(chain, end + 1)

    # -- one transfer -------------------------------------------------------------------

    async def _guarded_step(self, item: PendingDelivery) -> DeliveryReport | None:
        async with self._gate:
            attested = self._attested.get(item.transfer_id)
            try:
                if attested is None:
                    attested = await self._transport.attest(
                        item.src_chain, item.transfer_id, near=item.block
                    )
                    self._attested[item.transfer_id] = attested
                return await self._step(item, attested)
            except _Wait as wait:
                return await self._waiting(item, attested, wait.reason, wait.error)
            except ChainError as exc:
                if _passes(exc):
                    return await self._waiting(item, attested, exc.message, type(exc).__name__)
                return await self._hopeless(item, attested, exc)

    async def _step(self, item: PendingDelivery, attested: Attested) -> DeliveryReport | None:
        inbound = attested.inbound
        dst = self._destinations.get(inbound.dst_chain)
        if dst is None:
            raise UnknownChain(
                f"no destination adapter for {inbound.dst_chain!r}", chain=inbound.dst_chain
            )
        if item.attempt is None:
            # Sign, record, broadcast as one unit per destination: transactions reach
            # the node in the order their nonces were handed out (no self-made gaps).
            async with self._sending.setdefault(inbound.dst_chain, asyncio.Lock()):
                try:
                    signed = await dst.prepare(inbound)
                except DuplicateTransfer:  # delivered already (the saga, another relayer)
                    return await self._look(item, attested, dst, "the destination has the id")
                item = dataclasses.replace(item, attempt=signed)
                await self._journal.put(item)  # recorded before it can exist on chain
                await self._broadcast(item, dst, signed)
            raise _Wait(f"delivery {signed.tx_ref} broadcast on {inbound.dst_chain}")
        return await self._follow(item, attested, dst, item.attempt)

    async def _broadcast(self, item: PendingDelivery, dst: EffectSender, signed: SignedTx) -> None:
        """Broadcast ``signed``; a definitive refusal frees its nonce and the attempt."""
        try:
            await dst.broadcast(signed)
        except DuplicateTransfer:
            await self._drop_attempt(item, dst, signed)
            raise _Wait("the destination refused the id: delivered by someone else?") from None
        except ChainError as exc:
            if exc.retryable:  # a lost answer: the node may have it, status will say
                raise _Wait(f"broadcast answer lost: {exc.message}", type(exc).__name__) from None
            await self._drop_attempt(item, dst, signed)
            raise

    async def _drop_attempt(
        self, item: PendingDelivery, dst: EffectSender, signed: SignedTx
    ) -> None:
        dst.discard(signed)
        await self._journal.put(dataclasses.replace(item, attempt=None))

    async def _follow(
        self, item: PendingDelivery, attested: Attested, dst: EffectSender, signed: SignedTx
    ) -> DeliveryReport | None:
        outcome = await dst.status(signed)
        state = outcome.state
        if state is TxState.FINAL:
            return await self._delivered(item, attested, outcome)
        if state in (TxState.FAILED, TxState.DROPPED):
            found = await dst.find_effect(attested.inbound)
            if found.landed:
                return await self._look(item, attested, dst, outcome.detail, found)
            if state is TxState.FAILED and outcome.revert in _FINAL_REVERTS:
                # The chain refused it for a reason time does not fix (a wrong
                # attester, a malformed delivery): an operator must look.
                raise TransactionReverted(
                    f"delivery {signed.tx_ref} failed: {outcome.detail}",
                    chain=outcome.chain,
                    transfer_id=item.transfer_id,
                    tx_hash=signed.tx_ref,
                    revert=outcome.revert,
                )
            await self._journal.put(dataclasses.replace(item, attempt=None))
            raise _Wait(f"{outcome.detail}; a new delivery is prepared next pass", state.value)
        if state is TxState.UNKNOWN and outcome.waiting is None:
            # The node does not have it (never broadcast, or lost): the same bytes
            # first; only a transaction the node holds and does not mine is replaced.
            await self._broadcast(item, dst, signed)
            raise _Wait(f"delivery {signed.tx_ref} broadcast again: {outcome.detail}", state.value)
        replacer = dst if isinstance(dst, FeeReplacer) else None
        if replacer is not None and replacer.due_for_replacement(signed, outcome):
            async with self._sending.setdefault(signed.chain, asyncio.Lock()):
                bumped = await replacer.replace(signed)
                item = dataclasses.replace(item, attempt=bumped)
                await self._journal.put(item)
                await self._broadcast(item, dst, bumped)
            raise _Wait(f"replaced {signed.tx_ref} by {bumped.tx_ref} at a higher fee")
        raise _Wait(f"delivery {signed.tx_ref} {state.value}: {outcome.detail}", state.value)

    async def _look(
        self,
        item: PendingDelivery,
        attested: Attested,
        dst: EffectSender,
        why: str,
        found: TxOutcome | None = None,
    ) -> DeliveryReport | None:
        """The destination has the id: report it once its delivery is final."""
        if found is None:
            found = await dst.find_effect(attested.inbound)
        if found.state is TxState.FINAL:
            return await self._delivered(item, attested, found)
        raise _Wait(f"{why}; its delivery is {found.state.value}: {found.detail}")

    # -- reports --------------------------------------------------------------------------

    async def _delivered(
        self, item: PendingDelivery, attested: Attested, outcome: TxOutcome
    ) -> DeliveryReport:
        delivered = outcome.amount if outcome.amount is not None else attested.delivered
        reason = ""
        if delivered != attested.delivered:
            reason = f"delivered {delivered}, this lane would deliver {attested.delivered}"
        await self._journal.done(item.transfer_id)
        self._attested.pop(item.transfer_id, None)
        return DeliveryReport(
            transfer_id=item.transfer_id,
            src_chain=item.src_chain,
            dst_chain=attested.inbound.dst_chain,
            state=DeliveryState.DELIVERED,
            amount_sent=attested.sent.amount,
            fee=attested.sent.amount - delivered,
            amount_delivered=delivered,
            source_tx=attested.sent.tx_ref,
            delivery_tx=outcome.tx_ref,
            delivery_block=outcome.block_number,
            reason=reason,
        )

    async def _waiting(
        self, item: PendingDelivery, attested: Attested | None, reason: str, error: str | None
    ) -> DeliveryReport | None:
        """Not finished: STUCK once the deadline passed (and only once)."""
        current = await self._journal.get(item.transfer_id) or item
        late = self._clock() - current.first_seen >= self._config.deadline
        if not late or current.stuck_reported:
            return None
        await self._journal.put(dataclasses.replace(current, stuck_reported=True))
        log.warning("%s: stuck past %ss: %s", item.transfer_id, self._config.deadline, reason)
        return self._stuck(current, attested, reason, error, retrying=True)

    async def _hopeless(
        self, item: PendingDelivery, attested: Attested | None, exc: ChainError
    ) -> DeliveryReport:
        """Never deliverable as sent: STUCK now, out of the journal, for an operator."""
        log.error("%s: cannot be delivered: %s", item.transfer_id, exc)
        item = await self._journal.get(item.transfer_id) or item
        await self._journal.done(item.transfer_id)
        self._attested.pop(item.transfer_id, None)
        return self._stuck(
            item, attested, exc.message, type(exc).__name__, retrying=False, facts=exc.fields
        )

    def _stuck(
        self,
        item: PendingDelivery,
        attested: Attested | None,
        reason: str,
        error: str | None,
        *,
        retrying: bool,
        facts: Mapping[str, object] | None = None,
    ) -> DeliveryReport:
        """``facts``: what the error knows when nothing was attested (amount, fee...)."""
        known = facts or {}
        if attested is not None:
            known = {
                "dst_chain": attested.inbound.dst_chain,
                "amount": attested.sent.amount,
                "fee": attested.fee,
                "source_tx": attested.sent.tx_ref,
            }
        return DeliveryReport(
            transfer_id=item.transfer_id,
            src_chain=item.src_chain,
            dst_chain=_str(known.get("dst_chain")),
            state=DeliveryState.STUCK,
            amount_sent=_int(known.get("amount")),
            fee=_int(known.get("fee")),
            amount_delivered=None,
            source_tx=_str(known.get("source_tx")),
            delivery_tx=item.attempt.tx_ref if item.attempt else None,
            reason=reason,
            error=error,
            retrying=retrying,
        )


def _passes(exc: ChainError) -> bool:
    """Whether waiting can cure ``exc`` (the relayer keeps trying) or not (STUCK now)."""
    if exc.retryable or isinstance(
        exc,
        NotFinal
        | RpcError
        | InsufficientCapital
        | NonceError
        | FeeCapExceeded
        | ConfirmationTimeout
        | EndpointDisagreement
        | UnknownSend,
    ):
        return True
    return exc.fields.get("revert") in _PASSING_REVERTS


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

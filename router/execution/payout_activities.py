"""The payout saga's activities: a claim payment or a recovery, on chain, once.

Same rules as the plan saga's activities (:mod:`router.execution.activities`,
whose helpers these reuse): the signed transaction is recorded
(``tx_attempts``) before it is broadcast; nothing is signed while an attempt
is live or the chain shows the effect's id; a lost or dropped transaction is
reconciled by the chain-enforced id before anything is signed again. Sends on
one chain are made one at a time in a worker (sign, record, broadcast in the
chain's turn, :mod:`router.execution.send_queue`), so nonces reach the node
in order; a crowd of sends is told when to come back instead of waiting.

Attempts are recorded under (owner, 0, source): the claim for a payment,
the payment for a recovery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity

from chains.base import ClaimPayment, CoverOpening, Recovery, SignedTx, TxOutcome, TxState
from chains.errors import ChainError, DuplicateTransfer, FeeCapExceeded, NonceError
from router.app.claims import Claims, claim_terms
from router.domain.claims import PaymentStatus
from router.domain.execution import LIVE_ATTEMPTS, AttemptState, Leg, TxAttempt
from router.execution.activity_support import (
    Chains,
    NonRetryable,
    adopt_live,
    heartbeating,
    progress_of,
    report_of,
    signed_dict,
    signed_of,
)
from router.execution.effects import Places
from router.execution.faults import CrashPlan
from router.execution.messages import EffectReport, Progress
from router.execution.payouts import PayAct, PayoutInput, PayoutKind
from router.execution.send_queue import Busy, SendQueue
from router.store import Store

log = logging.getLogger("ballast.execution")

#: Any one-shot effect these helpers send (a cover opening too: its saga reuses them).
PayoutEffect = ClaimPayment | Recovery | CoverOpening
#: How long a queued send waits for its chain's turn before it reports WAITING
#: (the workflow then retries on a timer): far below the activity's timeout.
QUEUE_WAIT_SECONDS = 20.0


class PayoutActivities:
    def __init__(
        self,
        store: Store,
        chains: Chains,
        places: Callable[[], Awaitable[Places]],
        *,
        poll_seconds: float = 1.0,
        observe_seconds: float = 20.0,
        on_change: Callable[[], None] | None = None,
        crash: CrashPlan | None = None,
        queue: SendQueue | None = None,
    ) -> None:
        self.on_change = on_change
        self._crash = crash or CrashPlan()
        self._store = store
        self._claims = Claims(store)
        self._chains = chains
        self._places = places
        self._poll = poll_seconds
        self._observe = observe_seconds
        # One queue per worker for every one-shot send (payouts, recoveries,
        # openings): they share each chain's signer, so they share its turn.
        self._queue = queue or SendQueue(wait_seconds=QUEUE_WAIT_SECONDS)

    def all(self) -> list[Callable[..., Any]]:
        return [self.payout_send, self.payout_observe, self.payout_finish]

    # -- what the effect is ----------------------------------------------------

    async def _effect(self, inp: PayoutInput) -> tuple[ClaimPayment | Recovery, str]:
        """The effect and the owner its attempts are recorded under."""
        places = await self._places()
        if PayoutKind(inp.kind) is PayoutKind.PAYMENT:
            p = await self._store.get_payment(inp.key)
            cover = await self._store.cover_by_id(p.cover_id)
            ref = places.ref(p.pool_id)
            chain_cover = claim_terms(cover, paid=0).chain_cover_id
            return ClaimPayment(p.payment_id, ref, chain_cover, p.amount), p.claim_id
        r = await self._store.get_recoverable(inp.key)
        vault = places.vaults.get(r.vault_id)
        if vault is None:
            raise NonRetryable(f"vault {r.vault_id} is not registered")
        return Recovery(r.recovery_id, vault.chain, vault.address, r.cession_id, r.amount), (
            r.payment_id
        )

    def _adapter(self, effect: PayoutEffect) -> Any:
        if effect.chain not in self._chains:
            raise NonRetryable(f"no signing adapter for chain {effect.chain}: set its signer_key")
        return self._chains[effect.chain]

    async def _live(self, eid: str) -> TxAttempt | None:
        live = [a for a in await self._store.attempts(eid) if a.state in LIVE_ATTEMPTS]
        return live[-1] if live else None

    # -- activities ------------------------------------------------------------

    @activity.defn(name=PayAct.SEND.value)
    @heartbeating
    async def payout_send(self, inp: PayoutInput) -> EffectReport:
        """Reconcile, else sign, record and broadcast (one send per chain at a time)."""
        effect, owner = await self._effect(inp)
        eid = effect.payment_id if isinstance(effect, ClaimPayment) else effect.recovery_id
        return await self._send_effect(effect, eid, owner)

    async def _send_effect(self, effect: PayoutEffect, eid: str, owner: str) -> EffectReport:
        """The send of any one-shot effect (shared with the opening saga)."""
        adapter = self._adapter(effect)
        try:
            urgent = not isinstance(effect, Recovery)  # holders before vaults
            async with self._queue.turn(effect.chain, urgent=urgent):
                return await self._send_locked(effect, adapter, eid, owner)
        except Busy as busy:  # a long queue waits in the workflow, on a timer
            return EffectReport(Progress.WAITING, detail=str(busy), retry_after=busy.retry_after)

    async def _send_locked(
        self, effect: PayoutEffect, adapter: Any, eid: str, owner: str
    ) -> EffectReport:
        live = await self._live(eid)
        if live is not None:
            if live.state is AttemptState.SIGNED:
                outcome: TxOutcome = await adapter.broadcast(signed_of(live))
                return await self._apply(effect, live, outcome)
            return report_of(live)
        found: TxOutcome = await adapter.find_effect(effect)
        if found.landed:
            return EffectReport(
                progress_of(found), found.tx_ref or "", "found on chain", found.block_number
            )
        try:
            signed: SignedTx = await adapter.prepare(effect)
        except DuplicateTransfer:
            found = await adapter.find_effect(effect)
            if found.landed:
                return EffectReport(progress_of(found), found.tx_ref or "", "", found.block_number)
            raise
        except (FeeCapExceeded, NonceError) as exc:
            return EffectReport(Progress.WAITING, detail=str(exc))
        except ChainError as exc:
            if exc.retryable:
                raise
            return EffectReport(Progress.FAILED, detail=str(exc))
        n = len(await self._store.attempts(eid)) + 1
        attempt = TxAttempt(
            eid, n, owner, 0, Leg.SOURCE, signed.chain, signed.tx_ref, signed_dict(signed)
        )
        await self._store.record_attempt(attempt)
        self._crash.at("sign")  # recorded, never broadcast: the next send broadcasts it
        outcome = await adapter.broadcast(signed)
        self._crash.at("broadcast")  # on its way, its outcome not yet recorded
        return await self._apply(effect, attempt, outcome)

    @activity.defn(name=PayAct.OBSERVE.value)
    @heartbeating
    async def payout_observe(self, inp: PayoutInput) -> EffectReport:
        """Watch the recorded transaction for up to ``observe_seconds``."""
        effect, _ = await self._effect(inp)
        eid = effect.payment_id if isinstance(effect, ClaimPayment) else effect.recovery_id
        return await self._observe_effect(effect, eid)

    async def _observe_effect(self, effect: PayoutEffect, eid: str) -> EffectReport:
        """The watch of any one-shot effect's live attempt (shared with the opening saga)."""
        adapter = self._adapter(effect)
        report = EffectReport(Progress.SENT)
        elapsed = 0.0
        while elapsed < self._observe:
            live = await self._live(eid)
            if live is None:
                attempts = await self._store.attempts(eid)
                return report_of(attempts[-1]) if attempts else EffectReport(Progress.DROPPED)
            outcome: TxOutcome = await adapter.status(signed_of(live))
            report = await self._apply(effect, live, outcome)
            if report.progress in (Progress.FINAL, Progress.FAILED, Progress.DROPPED):
                return report
            if outcome.state is TxState.UNKNOWN:
                await adapter.broadcast(signed_of(live))  # the same bytes: never a second effect
            await asyncio.sleep(self._poll)
            elapsed += self._poll
        return report

    async def _apply(
        self, effect: PayoutEffect, live: TxAttempt, outcome: TxOutcome
    ) -> EffectReport:
        state = outcome.state
        if state in (TxState.PENDING, TxState.UNKNOWN):
            if live.state is AttemptState.SIGNED:
                await self._store.set_attempt_state(live.effect_id, live.attempt, AttemptState.SENT)
            return EffectReport(Progress.SENT, live.tx_ref, outcome.detail)
        if state in (TxState.INCLUDED, TxState.FINAL):
            final = state is TxState.FINAL or outcome.final
            await self._store.set_attempt_state(
                live.effect_id,
                live.attempt,
                AttemptState.FINAL if final else AttemptState.INCLUDED,
                block_number=outcome.block_number,
            )
            self._crash.at("final" if final else "seen")
            return EffectReport(
                progress_of(outcome), outcome.tx_ref or live.tx_ref, "", outcome.block_number
            )
        # FAILED or DROPPED: did another attempt land the effect meanwhile?
        found: TxOutcome = await self._adapter(effect).find_effect(effect)
        await self._store.set_attempt_state(
            live.effect_id,
            live.attempt,
            AttemptState.FAILED if state is TxState.FAILED else AttemptState.DROPPED,
        )
        if found.landed:
            return EffectReport(progress_of(found), found.tx_ref or "", "", found.block_number)
        if state is TxState.DROPPED:
            return EffectReport(Progress.DROPPED, live.tx_ref, outcome.detail)
        why = outcome.revert or outcome.detail or "reverted"
        return EffectReport(Progress.FAILED, live.tx_ref, f"{live.tx_ref} failed on chain: {why}")

    @activity.defn(name=PayAct.FINISH.value)
    @heartbeating
    async def payout_finish(self, args: list[Any]) -> list[str]:
        """Record the outcome; for a paid claim, the recoverables now due (their ids)."""
        kind, key, result, tx_ref, detail, block = args
        if PayoutKind(kind) is PayoutKind.PAYMENT:
            if result == "final":
                recs = await self._claims.payment_landed(key, tx_ref, block)
                self._crash.at("credit")  # paid and recorded, its recoveries not started
                return [r.recovery_id for r in recs if r.status == "due"]
            await self._claims.payment_failed(key, detail or "refused on chain")
            return []
        await self._claims.recovery_done(key, result == "final", tx_ref or None)
        return []


async def adopt_payouts(store: Store, adapters: Any) -> int:
    """Before acting: the live attempts of pending payments and due recoveries."""
    keys = [p.payment_id for p in await store.list_payments(status=PaymentStatus.PENDING)]
    keys += [r.recovery_id for r in await store.list_recoverables(status="due")]
    return adopt_live([a for key in keys for a in await store.attempts(key)], adapters)

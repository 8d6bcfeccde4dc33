"""The plan saga's activities: every effect on the chains and on the store.

Each activity is safe to run again after any crash, because it starts from
what is recorded and what the chain shows, never from what it was told:

- ``sign`` records the signed transaction before anyone can broadcast it;
  it signs only when no attempt is live and the chain has no trace of the
  effect's id (``find_effect``), and only after the step's source leg has
  consumed its amount from the configured limits (once per plan, step and
  scope; a step the limits refuse now waits, naming the limit; a step that
  fails on chain or is resolved as refunded gives it back);
- ``broadcast`` sends the recorded bytes (again, if need be: same bytes,
  same transaction);
- ``observe`` asks the chain about the recorded transaction, records where it
  landed, replaces it at the same nonce when it is stuck under the fee rules,
  and calls it DROPPED only when the chain says it can no longer land *and*
  the effect's id is nowhere on chain;
- ``credit`` marks the step done with its transfer or cession, in one unit
  of work.

Chain errors that no retry can fix become a FAILED report (nothing moved);
anything else is raised for Temporal to retry with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity

from chains.base import (
    Cession,
    ChainFamily,
    InboundTransfer,
    SignedTx,
    Transfer,
    TxOutcome,
    TxState,
    effect_id,
)
from chains.errors import (
    ChainError,
    DuplicateTransfer,
    FeeCapExceeded,
    NonceError,
)
from router import domain as m
from router.domain.changes import normal_address
from router.domain.drift import DriftPolicy, check_drift
from router.domain.execution import LIVE_ATTEMPTS, AttemptState, Leg, TxAttempt
from router.domain.execution import effect_id as attempt_key
from router.domain.limits import NO_LIMITS, LimitsPolicy, step_scopes
from router.errors import DestinationNotAllowed, LimitExceeded, PlanChanged, PreconditionFailed
from router.execution.activity_support import (
    Attester,
    Chains,
    NonRetryable,
    heartbeating,
    progress_of,
    report_of,
    signed_dict,
    signed_of,
)
from router.execution.effects import (
    PHASES,
    Places,
    Shape,
    delivered,
    delivery_recipient,
    shape_of,
    source_chain,
    source_effect,
)
from router.execution.faults import CrashPlan
from router.execution.messages import EffectReport, Progress, SagaStep, StepRef
from router.store import Store
from router.telemetry import context as log_context

log = logging.getLogger("ballast.execution")

Effect = Transfer | InboundTransfer | Cession


class PlanActivities:
    def __init__(
        self,
        store: Store,
        chains: Chains,
        places: Callable[[], Awaitable[Places]],
        attester: Attester | None,
        *,
        poll_seconds: float = 1.0,
        observe_seconds: float = 20.0,
        crash: CrashPlan | None = None,
        on_change: Callable[[], None] | None = None,
        limits: LimitsPolicy = NO_LIMITS,
        drift: DriftPolicy | None = None,
        limits_source: Callable[[], Awaitable[LimitsPolicy]] | None = None,
    ) -> None:
        #: Called after every activity: this process's views of positions and
        #: plans (other processes see the change within their cache's TTL).
        self.on_change = on_change
        self._store = store
        self._chains = chains
        self._places = places
        self._attester = attester
        self._poll = poll_seconds
        self._observe = observe_seconds
        self._crash = crash or CrashPlan()
        self._limits = limits
        self._drift = drift or DriftPolicy()
        #: The limits in force (config and approved changes); else ``limits``.
        self._limits_source = limits_source

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_plan,
            self.check_basis,
            self.sign_effect,
            self.broadcast_effect,
            self.observe_effect,
            self.mark_delivering,
            self.credit_step,
            self.mark_stuck,
            self.resolve_step,
            self.finish_plan,
        ]

    # -- what the step is ------------------------------------------------------

    async def _step(self, ref: StepRef) -> tuple[m.Plan, m.PlanStep]:
        plan = await self._store.get_plan(ref.plan_id)
        step = next((s for s in plan.steps if s.seq == ref.seq), None)
        if step is None:
            raise NonRetryable(f"plan {ref.plan_id} has no step {ref.seq}")
        return plan, step

    async def _effect(self, ref: StepRef, step: m.PlanStep) -> Effect:
        places = await self._places()
        if Leg(ref.leg) is Leg.SOURCE:
            return source_effect(ref.plan_id, step, places)
        if self._attester is None:
            raise NonRetryable("no bridge is configured to deliver cross-chain steps")
        src = source_effect(ref.plan_id, step, places)
        assert isinstance(src, Transfer)
        inbound = await self._attester.attest(src.chain, src.dst_chain, src.transfer_id)
        want = delivery_recipient(step, places)
        same = (
            inbound.recipient.lower() == want.address.lower()  # EVM: checksum case is not identity
            if places.chain(want.chain).family is ChainFamily.EVM
            else inbound.recipient == want.address  # base58 is case-sensitive
        )
        if not same or inbound.amount != delivered(step):
            raise _Mismatch(
                f"the bridge attests {inbound.amount} to {inbound.recipient}; the plan "
                f"delivers {delivered(step)} to {want.address}: left for an operator"
            )
        return inbound

    def _adapter(self, effect: Effect) -> Any:
        chain = effect.dst_chain if isinstance(effect, InboundTransfer) else effect.chain
        log_context.bind(chain=chain, transfer_id=getattr(effect, "transfer_id", None))
        if chain not in self._chains:
            raise NonRetryable(f"no signing adapter for chain {chain}: set its signer_key")
        return self._chains[chain]

    async def _live(self, eid: str) -> TxAttempt | None:
        attempts = await self._store.attempts(eid)
        live = [a for a in attempts if a.state in LIVE_ATTEMPTS]
        return live[-1] if live else None

    # -- activities ------------------------------------------------------------

    @activity.defn(name="load_plan")
    @heartbeating
    async def load_plan(self, plan_id: str) -> list[SagaStep]:
        plan = await self._store.get_plan(plan_id)
        try:  # execute exactly what was approved, or nothing
            m.check_unchanged(plan)
        except PlanChanged as exc:
            raise NonRetryable(str(exc)) from None
        places = await self._places()

        def nonces(chain: str) -> str:
            return chain if places.chain(chain).family is ChainFamily.EVM else ""

        out = []
        for s in sorted(plan.steps, key=lambda s: s.seq):
            shape = shape_of(s)
            delivery = delivery_recipient(s, places).chain if shape is Shape.BRIDGE else ""
            out.append(
                SagaStep(
                    s.seq,
                    shape.value,
                    PHASES[shape],
                    s.status.value,
                    source_nonces=nonces(source_chain(s, places)),
                    delivery_nonces=nonces(delivery) if delivery else "",
                )
            )
        return out

    @activity.defn(name="sign_effect")
    @heartbeating
    async def sign_effect(self, ref: StepRef) -> EffectReport:
        _, step = await self._step(ref)
        try:
            effect = await self._effect(ref, step)
        except _Mismatch as exc:
            await self._store.set_step_status(ref.plan_id, ref.seq, step.status, detail=str(exc))
            return EffectReport(Progress.WAITING, detail=str(exc))
        except PreconditionFailed as exc:
            # The step cannot become an effect (no hub, a vault on another chain...):
            # nothing was signed, nothing moved; retrying would not change that.
            await self._store.set_step_status(
                ref.plan_id, ref.seq, m.StepStatus.FAILED, detail=str(exc)
            )
            return EffectReport(Progress.FAILED, detail=str(exc))
        eid = _key(ref)
        live = await self._live(eid)
        if live is not None:
            return report_of(live)
        adapter = self._adapter(effect)
        found: TxOutcome = await adapter.find_effect(effect)
        if found.landed:
            await self._landed(ref, step, effect, found)
            return EffectReport(
                progress_of(found), found.tx_ref or "", "found on chain", found.block_number
            )
        if Leg(ref.leg) is Leg.SOURCE:
            try:
                await self._check_destination(effect, await self._places())
            except DestinationNotAllowed as exc:
                # Refused before anything is signed or consumed: nothing moved.
                async with self._store.unit_of_work():
                    await self._store.set_step_status(
                        ref.plan_id, ref.seq, m.StepStatus.FAILED, detail=str(exc)
                    )
                    await self._store.append_audit(
                        "ballast://executor",
                        "destination_refused",
                        ref.plan_id,
                        {"seq": ref.seq, "chain": exc.chain, "address": exc.address},
                    )
                return EffectReport(Progress.FAILED, detail=str(exc))
        try:
            await self._consume_limits(ref, step)
            signed: SignedTx = await adapter.prepare(effect)
        except DuplicateTransfer:
            found = await adapter.find_effect(effect)
            if found.landed:
                await self._landed(ref, step, effect, found)
                return EffectReport(progress_of(found), found.tx_ref or "", "", found.block_number)
            raise
        except (FeeCapExceeded, NonceError, LimitExceeded) as exc:
            await self._store.set_step_status(ref.plan_id, ref.seq, step.status, detail=str(exc))
            return EffectReport(Progress.WAITING, detail=str(exc))
        except ChainError as exc:
            if exc.retryable:
                raise
            await self._failed(ref, step, effect, str(exc))
            return EffectReport(Progress.FAILED, detail=str(exc))
        n = len(await self._store.attempts(eid)) + 1
        attempt = TxAttempt(
            eid,
            n,
            ref.plan_id,
            ref.seq,
            Leg(ref.leg),
            signed.chain,
            signed.tx_ref,
            signed_dict(signed),
        )
        async with self._store.unit_of_work():
            await self._store.record_attempt(attempt)
            await self._record_effect(ref, step, effect, m.TransferState.RECORDED, signed.tx_ref)
            await self._store.set_step_status(
                ref.plan_id,
                ref.seq,
                m.StepStatus.SIGNED if Leg(ref.leg) is Leg.SOURCE else m.StepStatus.DELIVERING,
                detail=f"signed {signed.tx_ref} on {signed.chain}",
                transfer_id=effect_id(effect) if Leg(ref.leg) is Leg.SOURCE else None,
            )
        self._crash.at("sign")
        return EffectReport(Progress.SIGNED, signed.tx_ref)

    async def _check_destination(self, effect: Effect, places: Places) -> None:
        """The effect pays to an address on the allow-list, or DestinationNotAllowed."""
        if isinstance(effect, Cession):
            chain, address = effect.source.chain, effect.vault
        elif isinstance(effect, Transfer):
            chain, address = effect.dst_chain, effect.recipient
        else:
            return  # a delivery: its recipient was checked on the source leg
        key = normal_address(places.chain(chain).family.value, address)
        if not await self._store.destination_allowed(chain, key):
            raise DestinationNotAllowed(
                f"destination {address} on {chain} is not on the allow-list: nothing was "
                "signed (propose `ballast change propose allowlist.add` to allow it)",
                chain=chain,
                address=address,
            )

    @activity.defn(name="check_basis")
    @heartbeating
    async def check_basis(self, ref: StepRef) -> str:
        """Before a step that has not started: "ok" to go on; "held" while the plan
        waits for re-approval (this call may have put it there: its source pool
        drifted against the approved basis beyond tolerance); "cancelled" when an
        operator cancelled it meanwhile. An APPROVED plan (re-approved after a
        hold) is moved back to EXECUTING here, then checked against its new basis."""
        plan, step = await self._step(ref)
        if plan.status is m.PlanStatus.CANCELLED:
            return "cancelled"
        if plan.status is m.PlanStatus.APPROVED:
            async with self._store.unit_of_work():
                plan = await self._store.update_plan_status(
                    plan.plan_id, m.PlanStatus.EXECUTING, expected_version=plan.version
                )
                await self._store.append_audit(
                    "ballast://executor", "plan_resumed", plan.plan_id, {"seq": ref.seq}
                )
        if plan.status is not m.PlanStatus.EXECUTING:
            return "held"
        if step.status is not m.StepStatus.PENDING:
            return "ok"
        basis = await self._store.plan_basis(plan.plan_id)
        if step.src_pool not in basis:
            return "ok"
        bal = await self._store.latest_balance(step.src_pool)
        drift = check_drift(
            step, plan.steps, basis, bal.amount if bal is not None else None, self._drift
        )
        if drift is None:
            return "ok"
        why = drift.describe()
        async with self._store.unit_of_work():
            await self._store.hold_plan(plan.plan_id, expected_version=plan.version)
            await self._store.set_step_status(plan.plan_id, step.seq, step.status, detail=why)
            await self._store.append_audit(
                "ballast://executor",
                "plan_held",
                plan.plan_id,
                {
                    "seq": step.seq,
                    "pool": drift.pool_id,
                    "basis": drift.basis,
                    "now": drift.now,
                    "tolerance": drift.tolerance,
                },
            )
        return "held"

    async def _limits_now(self) -> LimitsPolicy:
        return await self._limits_source() if self._limits_source else self._limits

    async def _consume_limits(self, ref: StepRef, step: m.PlanStep) -> None:
        """Take a new source effect's amount from its lane bucket and daily
        windows before it is signed; committed on its own, once per (plan,
        step, scope), so a re-sign or a restarted worker takes nothing more.
        Raises :class:`LimitExceeded` (nothing taken) when it does not fit now."""
        limits = await self._limits_now()
        if Leg(ref.leg) is Leg.SOURCE and not limits.empty:
            await self._store.consume_limits(
                ref.plan_id, ref.seq, step.amount, step_scopes(step), limits
            )

    @activity.defn(name="broadcast_effect")
    @heartbeating
    async def broadcast_effect(self, ref: StepRef) -> EffectReport:
        _, step = await self._step(ref)
        effect = await self._effect(ref, step)
        live = await self._live(_key(ref))
        if live is None:
            return EffectReport(Progress.DROPPED, detail="nothing signed to broadcast")
        outcome: TxOutcome = await self._adapter(effect).broadcast(signed_of(live))
        report = await self._apply(ref, step, effect, live, outcome)
        if report.progress in (Progress.SENT, Progress.INCLUDED, Progress.FINAL):
            self._crash.at("broadcast")
        return report

    @activity.defn(name="observe_effect")
    @heartbeating
    async def observe_effect(self, ref: StepRef) -> EffectReport:
        """Watch the recorded transaction for up to ``observe_seconds``."""
        _, step = await self._step(ref)
        effect = await self._effect(ref, step)
        eid = _key(ref)
        adapter = self._adapter(effect)
        report = EffectReport(Progress.SENT)
        elapsed = 0.0
        while elapsed < self._observe:
            live = await self._live(eid)
            if live is None:
                attempts = await self._store.attempts(eid)
                return report_of(attempts[-1]) if attempts else EffectReport(Progress.DROPPED)
            outcome: TxOutcome = await adapter.status(signed_of(live))
            report = await self._apply(ref, step, effect, live, outcome)
            if report.progress in (Progress.FINAL, Progress.FAILED, Progress.DROPPED):
                return report
            if outcome.state is TxState.UNKNOWN:
                await adapter.broadcast(signed_of(live))  # the same bytes: never a second effect
            elif (
                outcome.state is TxState.PENDING
                and hasattr(adapter, "due_for_replacement")
                and adapter.due_for_replacement(signed_of(live), outcome)
            ):
                await self._replace(ref, live, adapter)
            await _sleep(self._poll)
            elapsed += self._poll
        return report

    async def _replace(self, ref: StepRef, live: TxAttempt, adapter: Any) -> None:
        """A same-nonce successor with bumped fees, recorded before it is sent."""
        try:
            new: SignedTx = await adapter.replace(signed_of(live))
        except FeeCapExceeded as exc:
            await self._store.set_step_status(
                ref.plan_id, ref.seq, (await self._step(ref))[1].status, detail=str(exc)
            )
            return
        attempt = TxAttempt(
            live.effect_id,
            live.attempt + 1,
            ref.plan_id,
            ref.seq,
            Leg(ref.leg),
            new.chain,
            new.tx_ref,
            signed_dict(new),
        )
        async with self._store.unit_of_work():
            await self._store.record_attempt(attempt)
            await self._store.set_attempt_state(live.effect_id, live.attempt, AttemptState.REPLACED)
        await adapter.broadcast(new)
        await self._store.set_attempt_state(attempt.effect_id, attempt.attempt, AttemptState.SENT)

    async def _apply(
        self, ref: StepRef, step: m.PlanStep, effect: Effect, live: TxAttempt, outcome: TxOutcome
    ) -> EffectReport:
        """Record what the chain says about the live attempt."""
        state = outcome.state
        if state in (TxState.PENDING, TxState.UNKNOWN):
            if live.state is AttemptState.SIGNED:
                async with self._store.unit_of_work():
                    await self._store.set_attempt_state(
                        live.effect_id, live.attempt, AttemptState.SENT
                    )
                    await self._record_effect(
                        ref, step, effect, m.TransferState.PENDING, live.tx_ref
                    )
                    await self._store.set_step_status(
                        ref.plan_id, ref.seq, _moving(ref), detail=f"sent {live.tx_ref}"
                    )
            elif outcome.waiting is not None:
                await self._store.set_step_status(
                    ref.plan_id,
                    ref.seq,
                    _moving(ref),
                    detail=outcome.detail or outcome.waiting.value,
                )
            return EffectReport(Progress.SENT, live.tx_ref, outcome.detail)
        if state in (TxState.INCLUDED, TxState.FINAL):
            first_seen = live.state is not AttemptState.INCLUDED
            await self._landed(ref, step, effect, outcome, live)
            if state is TxState.FINAL:
                self._crash.at("final" if Leg(ref.leg) is Leg.SOURCE else "delivery")
            elif first_seen:
                self._crash.at("seen")
            return EffectReport(
                progress_of(outcome), outcome.tx_ref or live.tx_ref, "", outcome.block_number
            )
        # FAILED or DROPPED: did another attempt of ours land the effect meanwhile?
        adapter = self._adapter(effect)
        found: TxOutcome = await adapter.find_effect(effect)
        if found.landed:
            await self._store.set_attempt_state(
                live.effect_id,
                live.attempt,
                AttemptState.FAILED if state is TxState.FAILED else AttemptState.DROPPED,
            )
            await self._landed(ref, step, effect, found)
            return EffectReport(progress_of(found), found.tx_ref or "", "", found.block_number)
        if state is TxState.DROPPED:
            await self._store.set_attempt_state(live.effect_id, live.attempt, AttemptState.DROPPED)
            return EffectReport(Progress.DROPPED, live.tx_ref, outcome.detail)
        detail = f"{live.tx_ref} failed on chain: {outcome.revert or outcome.detail or 'reverted'}"
        await self._store.set_attempt_state(live.effect_id, live.attempt, AttemptState.FAILED)
        await self._failed(ref, step, effect, detail)
        return EffectReport(Progress.FAILED, live.tx_ref, detail)

    async def _landed(
        self,
        ref: StepRef,
        step: m.PlanStep,
        effect: Effect,
        outcome: TxOutcome,
        live: TxAttempt | None = None,
    ) -> None:
        """The effect is in a block (final or not): record where, once."""
        final = outcome.state is TxState.FINAL or outcome.final
        tx = outcome.tx_ref or (live.tx_ref if live else "")
        async with self._store.unit_of_work():
            if live is not None:
                await self._store.set_attempt_state(
                    live.effect_id,
                    live.attempt,
                    AttemptState.FINAL if final else AttemptState.INCLUDED,
                    block_number=outcome.block_number,
                )
            if Leg(ref.leg) is Leg.SOURCE:
                await self._record_effect(
                    ref,
                    step,
                    effect,
                    m.TransferState.FINALIZED if final else m.TransferState.CONFIRMED,
                    tx,
                    outcome.block_number,
                )
                await self._store.set_step_status(
                    ref.plan_id,
                    ref.seq,
                    m.StepStatus.SENT,
                    detail=f"{'final' if final else 'included'} in block {outcome.block_number}",
                    transfer_id=effect_id(effect),
                )
            else:
                await self._store.set_step_status(
                    ref.plan_id,
                    ref.seq,
                    m.StepStatus.DELIVERING,
                    detail=f"delivered in block {outcome.block_number}"
                    + ("" if final else ", not final yet"),
                )
                if final:
                    src = source_effect(ref.plan_id, step, await self._places())
                    await self._store.update_transfer(
                        effect_id(src),
                        m.TransferState.FINALIZED,
                        delivery_tx=tx,
                        delivered_block=outcome.block_number,
                    )

    async def _record_effect(
        self,
        ref: StepRef,
        step: m.PlanStep,
        effect: Effect,
        state: m.TransferState,
        tx_ref: str,
        block: int | None = None,
    ) -> None:
        """The step's transfer or cession row, created on first sight, then moved forward."""
        if Leg(ref.leg) is not Leg.SOURCE:
            return
        if isinstance(effect, Cession):
            status = {
                m.TransferState.FINALIZED: m.CessionStatus.PENDING,
                m.TransferState.FAILED: m.CessionStatus.FAILED,
            }.get(state, m.CessionStatus.PENDING)
            await self._store.record_cession(
                m.Cession(
                    cession_id=effect.cession_id,
                    vault_id=step.vault_id or "",
                    pool_id=step.src_pool,
                    amount=step.amount,
                    premium=step.fee,
                    plan_id=ref.plan_id,
                    status=m.CessionStatus.PENDING,
                    share_ppm=step.share_ppm,
                    step_seq=step.seq,
                )
            )
            if status is not m.CessionStatus.PENDING or block is not None:
                await self._store.update_cession(
                    effect.cession_id, status, tx_ref=tx_ref or None, block_number=block
                )
            return
        assert isinstance(effect, Transfer)
        await self._store.record_transfer(
            m.TransferRecord(
                transfer_id=effect.transfer_id,
                src_chain=effect.chain,
                src_pool=step.src_pool,
                dst_chain=effect.dst_chain,
                recipient=effect.recipient,
                amount=effect.amount,
                plan_id=ref.plan_id,
                step_seq=step.seq,
                dst_pool=step.dst_pool,
            )
        )
        await self._store.update_transfer(
            effect.transfer_id, state, tx_ref=tx_ref or None, block_number=block
        )

    async def _failed(self, ref: StepRef, step: m.PlanStep, effect: Effect, detail: str) -> None:
        async with self._store.unit_of_work():
            if Leg(ref.leg) is Leg.SOURCE:
                await self._record_effect(ref, step, effect, m.TransferState.FAILED, "")
                # The source effect failed: nothing left the pool, the limits get it back.
                await self._store.release_limits(ref.plan_id, ref.seq, await self._limits_now())
            await self._store.set_step_status(
                ref.plan_id, ref.seq, m.StepStatus.FAILED, detail=detail
            )

    @activity.defn(name="mark_delivering")
    @heartbeating
    async def mark_delivering(self, ref: StepRef) -> str:
        await self._store.set_step_status(
            ref.plan_id, ref.seq, m.StepStatus.DELIVERING, detail="final at the source; delivering"
        )
        return "ok"

    @activity.defn(name="credit_step")
    @heartbeating
    async def credit_step(self, ref: StepRef) -> str:
        _, step = await self._step(ref)
        if step.status is m.StepStatus.DONE:
            return "ok"
        places = await self._places()
        effect = source_effect(ref.plan_id, step, places)
        async with self._store.unit_of_work():
            if isinstance(effect, Cession):
                await self._store.update_cession(effect.cession_id, m.CessionStatus.PLACED)
            elif shape_of(step) is Shape.BRIDGE:
                await self._store.update_transfer(effect.transfer_id, m.TransferState.DELIVERED)
            await self._store.set_step_status(
                ref.plan_id, ref.seq, m.StepStatus.DONE, detail="done", deadline_at=None
            )
        self._crash.at("credit")
        return "ok"

    @activity.defn(name="mark_stuck")
    @heartbeating
    async def mark_stuck(self, args: list[Any]) -> str:
        plan_id, seq, leg, detail = args
        why = f"unfinished past its deadline ({leg} leg): {detail or 'no answer from the chain'}"
        async with self._store.unit_of_work():
            await self._store.set_step_status(plan_id, seq, m.StepStatus.STUCK, detail=why)
            await self._store.append_audit(
                "ballast://executor", "step_stuck", plan_id, {"seq": seq, "leg": leg, "detail": why}
            )
        return "ok"

    @activity.defn(name="resolve_step")
    @heartbeating
    async def resolve_step(self, args: list[Any]) -> str:
        plan_id, seq, action, operator, reason = args
        _, step = await self._step(StepRef(plan_id, seq, Leg.SOURCE.value))
        async with self._store.unit_of_work():
            if action == "refunded":
                await self._store.set_step_status(
                    plan_id, seq, m.StepStatus.REFUNDED, detail=f"refunded: {reason}"
                )
                # The capital went back where it came from: so does its headroom.
                await self._store.release_limits(plan_id, seq, await self._limits_now())
                if step.transfer_id is not None:
                    t = await self._store.get_transfer(step.transfer_id)
                    if t.status is m.TransferState.FINALIZED:
                        await self._store.update_transfer(t.transfer_id, m.TransferState.REFUNDED)
            else:
                await self._store.set_step_status(
                    plan_id, seq, m.StepStatus.SENT, detail=f"retrying: {reason}"
                )
            await self._store.append_audit(
                operator, f"step_{action}", plan_id, {"seq": seq, "reason": reason}
            )
        return "ok"

    @activity.defn(name="finish_plan")
    @heartbeating
    async def finish_plan(self, args: list[str]) -> str:
        plan_id, status, *why = args
        reason = why[0] if why else "an earlier step failed"
        plan = await self._store.get_plan(plan_id)
        if plan.status is not m.PlanStatus.EXECUTING:
            return plan.status.value
        target = m.PlanStatus.COMPLETED if status == "completed" else m.PlanStatus.FAILED
        async with self._store.unit_of_work():
            for s in plan.steps:
                if s.status is m.StepStatus.PENDING:
                    await self._store.set_step_status(
                        plan_id,
                        s.seq,
                        m.StepStatus.SKIPPED,
                        detail=f"not run: {reason}",
                    )
            await self._store.update_plan_status(plan_id, target, expected_version=plan.version)
            await self._store.append_audit(
                "ballast://executor",
                f"plan_{target.value}",
                plan_id,
                {"reason": why[0]} if why else {},
            )
        return target.value


class _Mismatch(Exception):
    pass


def _key(ref: StepRef) -> str:
    """Where a leg's attempts are recorded: the domain's id of (plan, step, leg).

    (A delivery carries its source's transfer id on chain, so chain ids alone
    would mix the two legs' transactions.)"""
    return attempt_key(ref.plan_id, ref.seq, Leg(ref.leg))


def _moving(ref: StepRef) -> m.StepStatus:
    return m.StepStatus.SENT if Leg(ref.leg) is Leg.SOURCE else m.StepStatus.DELIVERING


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


__all__ = ["PlanActivities"]

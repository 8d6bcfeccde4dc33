"""The opening saga: one Temporal workflow per cover bound with a holder and a
payer (workflow id = ``"open-" + cover id``), which opens the cover on chain
(``CoverOpening`` with the on-chain id :func:`router.domain.openings.chain_cover_id`)
once, whoever starts it and however often.

    send (reconcile, sign, record, broadcast) -> observe (until final) -> finish

The payout saga's shape and send/observe helpers
(:class:`router.execution.payout_activities.PayoutActivities`): the signed
transaction is recorded before it is broadcast; nothing is signed while an
attempt is live or the chain shows the cover. Attempts are recorded under
(cover id, 0, source). ``finish`` marks the opening open (with the
certificate holder read back from chain) or failed with the chain's reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from chains.base import CoverOpening
    from router.domain.openings import OpeningStatus
    from router.execution.activity_support import NonRetryable, adopt_live, heartbeating
    from router.execution.messages import EffectReport, Progress
    from router.execution.payout_activities import PayoutActivities
    from router.execution.payouts import run_activity, send_until_settled

OPENING_WORKFLOW = "OpeningSaga"


def opening_workflow_id(cover_id: str) -> str:
    return f"open-{cover_id}"


class OpenAct(StrEnum):
    SEND = "opening_send"
    OBSERVE = "opening_observe"
    FINISH = "opening_finish"


@dataclass(frozen=True)
class OpeningInput:
    cover_id: str
    poll_seconds: float = 1.0
    observe_seconds: float = 20.0


@dataclass(frozen=True)
class OpeningOutcome:
    status: str  # OpeningStatus: "open" or "failed"
    tx_ref: str = ""
    detail: str = ""


@workflow.defn(name=OPENING_WORKFLOW)
class OpeningSaga:
    @workflow.run
    async def run(self, inp: OpeningInput) -> OpeningOutcome:
        report = await send_until_settled(
            OpenAct.SEND, OpenAct.OBSERVE, inp, inp.poll_seconds, inp.observe_seconds
        )
        final = report.progress is Progress.FINAL
        outcome: OpeningOutcome = await run_activity(
            OpenAct.FINISH,
            [inp.cover_id, "final" if final else "failed", report.tx_ref, report.detail],
            OpeningOutcome,
            60.0,
        )
        return outcome


class OpeningActivities(PayoutActivities):
    """The payout activities' send/observe/apply, for a ``CoverOpening``."""

    def all(self) -> list[Callable[..., Any]]:
        return [self.opening_send, self.opening_observe, self.opening_finish]

    async def _opening(self, cover_id: str) -> CoverOpening:
        opening = await self._store.get_opening(cover_id)
        cover = await self._store.cover_by_id(cover_id)
        places = await self._places()
        return CoverOpening(
            opening.chain_cover_id,
            places.ref(cover.pool_id),
            cover.limit_amount,
            opening.locked,
            cover.premium,
            opening.payer,
            opening.holder,
        )

    @activity.defn(name=OpenAct.SEND.value)
    @heartbeating
    async def opening_send(self, inp: OpeningInput) -> EffectReport:
        """Reconcile, else sign, record and broadcast (one send per chain at a time)."""
        effect = await self._opening(inp.cover_id)
        return await self._send_effect(effect, effect.cover_id, inp.cover_id)

    @activity.defn(name=OpenAct.OBSERVE.value)
    @heartbeating
    async def opening_observe(self, inp: OpeningInput) -> EffectReport:
        """Watch the recorded transaction for up to ``observe_seconds``."""
        effect = await self._opening(inp.cover_id)
        return await self._observe_effect(effect, effect.cover_id)

    @activity.defn(name=OpenAct.FINISH.value)
    @heartbeating
    async def opening_finish(self, args: list[Any]) -> OpeningOutcome:
        """Record the outcome: open with the certificate holder of record, or failed."""
        cover_id, result, tx_ref, detail = args
        if result != "final":
            why = detail or "refused on chain"
            await self._store.set_opening(cover_id, OpeningStatus.FAILED, tx_ref=tx_ref, detail=why)
            return OpeningOutcome(OpeningStatus.FAILED.value, tx_ref, why)
        effect = await self._opening(cover_id)
        holder = await self._adapter(effect).certificate_holder(effect.pool, effect.cover_id)
        if holder is None:
            raise NonRetryable(f"cover {cover_id} landed but has no certificate on chain")
        await self._store.set_opening(
            cover_id, OpeningStatus.OPEN, tx_ref=tx_ref, certificate_holder=holder
        )
        return OpeningOutcome(OpeningStatus.OPEN.value, tx_ref)


async def adopt_openings(store: Any, adapters: Any) -> int:
    """Before acting: the live attempts of openings under way."""
    under_way = await store.openings_in(OpeningStatus.OPENING)
    return adopt_live(
        [a for o in under_way for a in await store.attempts(o.chain_cover_id)], adapters
    )

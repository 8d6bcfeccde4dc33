"""The payout saga: one Temporal workflow per claim payment or recovery (workflow
id = the payment id or recovery id, the ids the pool and the vault enforce on
chain), so each is carried out once, whoever starts it and however often.

Orchestration only; the effects are activities (:mod:`router.execution.payout_activities`):

    send (reconcile, sign, record, broadcast) -> observe (until final) -> finish

``send`` records the signed transaction before it broadcasts it and signs
nothing when an attempt is live or the chain already shows the effect; an
attempt that can no longer land is signed anew. A paid claim's ``finish``
records the recoverables its pool's cessions owe; each is claimed from its
vault by a child saga of its own (id = recovery id).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from router.execution.messages import EffectReport, Progress

PAYOUT_WORKFLOW = "PayoutSaga"
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["NonRetryable"],
)


async def run_activity(name: str, arg: object, result_type: type, seconds: float) -> Any:
    """One activity of a one-shot saga, under its retry policy and a short
    heartbeat timeout (a dead worker shows in seconds)."""
    return await workflow.execute_activity(
        str(name),  # an activity enum's value
        arg,
        result_type=result_type,
        start_to_close_timeout=timedelta(seconds=seconds),
        heartbeat_timeout=timedelta(seconds=5),
        retry_policy=RETRY,
    )


async def send_until_settled(
    send: str, observe: str, arg: object, poll_seconds: float, observe_seconds: float
) -> EffectReport:
    """Send, then observe until final or failed: sent again when the attempt was
    dropped or only signed, after a pause when the chain's send queue was busy.
    The loop of every one-shot effect (a payment, a recovery, a cover opening)."""
    report: EffectReport = await run_activity(send, arg, EffectReport, 60.0)
    while report.progress not in (Progress.FINAL, Progress.FAILED):
        if report.progress is Progress.WAITING:
            pause = report.retry_after or max(poll_seconds, 5.0)  # the queue's slot
            await workflow.sleep(timedelta(seconds=max(0.1, pause)))
        if report.progress in (Progress.DROPPED, Progress.SIGNED, Progress.WAITING):
            report = await run_activity(send, arg, EffectReport, 60.0)
        else:
            report = await run_activity(observe, arg, EffectReport, observe_seconds + 60.0)
    return report


class PayoutKind(StrEnum):
    PAYMENT = "payment"  # a claim payment to the cover's certificate holder
    RECOVERY = "recovery"  # a reinsurance recovery from a vault


class PayAct(StrEnum):
    SEND = "payout_send"
    OBSERVE = "payout_observe"
    FINISH = "payout_finish"


@dataclass(frozen=True)
class PayoutInput:
    kind: str  # PayoutKind
    key: str  # payment id or recovery id
    poll_seconds: float = 1.0
    observe_seconds: float = 20.0


@dataclass(frozen=True)
class PayoutOutcome:
    status: str  # "final" or "failed"
    tx_ref: str = ""
    recoveries: list[str] | None = None


@workflow.defn(name=PAYOUT_WORKFLOW)
class PayoutSaga:
    @workflow.run
    async def run(self, inp: PayoutInput) -> PayoutOutcome:
        report = await send_until_settled(
            PayAct.SEND, PayAct.OBSERVE, inp, inp.poll_seconds, inp.observe_seconds
        )
        final = report.progress is Progress.FINAL
        due: list[str] = await run_activity(
            PayAct.FINISH,
            [
                inp.kind,
                inp.key,
                "final" if final else "failed",
                report.tx_ref,
                report.detail,
                report.block,
            ],
            list[str],
            60.0,
        )
        for rid in due:
            # started before (a retry, the reconciler): never twice
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await workflow.start_child_workflow(
                    PAYOUT_WORKFLOW,
                    PayoutInput(
                        PayoutKind.RECOVERY.value, rid, inp.poll_seconds, inp.observe_seconds
                    ),
                    id=rid,
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                )
        return PayoutOutcome("final" if final else "failed", report.tx_ref, due)

"""The plan saga: one Temporal workflow per approved plan (workflow id = plan id).

The workflow only orchestrates; every effect on the world is an activity
(:mod:`router.execution.activities`), called by name. Per step and leg:

    sign -> broadcast -> observe (until final) [-> delivery leg: sign -> ...] -> credit

``sign`` reconciles first (an effect the chain already shows, or a signed
transaction already recorded, is never signed again); ``observe`` replaces a
transaction stuck under the fee cap rules and reports DROPPED when it can no
longer land, and only then is the effect signed anew. Steps run in phases:
capital gathers at each chain's hub (and cessions run) first, then crosses
between hubs, then spreads into the pools.

Before a step that has not started, ``check_basis`` compares its source pool
with the balance the plan was approved on; a drift beyond tolerance puts the
plan back to approval and the saga waits (a durable timer) until operators
approve it again (then it goes on) or cancel it (the rest is skipped).

A step unfinished past its deadline is marked STUCK and keeps being watched;
an operator's ``resolve`` signal either gives it a new deadline ("retry") or
records it as refunded after checking the chain ("refunded"). A failed step
fails the plan: the steps after it are skipped, nothing is undone blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from router.execution.messages import (
        WORKFLOW,
        Act,
        EffectReport,
        Progress,
        Resolution,
        SagaInput,
        SagaOutcome,
        SagaStep,
        StepRef,
    )

#: Activities retry transient faults (RPC, database) forever with backoff; the
#: step deadline, not a retry count, decides when a human must look.
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["NonRetryable"],
)
FINAL = {"done", "failed", "skipped", "refunded"}
HEARTBEAT_SECONDS = 5.0


@workflow.defn(name=WORKFLOW)
class PlanSaga:
    def __init__(self) -> None:
        self._resolutions: dict[int, Resolution] = {}
        # One send at a time per nonce sequence: a transaction is signed and
        # broadcast before the next is signed, so nonces reach the node in
        # order (a node that keeps no future nonces refuses a gap).
        self._sending: dict[str, asyncio.Lock] = {}

    @workflow.signal
    def resolve(self, resolution: Resolution) -> None:
        self._resolutions[resolution.seq] = resolution

    async def _act(
        self, name: Act, arg: object, result_type: type, *, seconds: float = 60.0
    ) -> object:
        return await workflow.execute_activity(
            name.value,
            arg,
            result_type=result_type,
            start_to_close_timeout=timedelta(seconds=seconds),
            # Activities heartbeat every second: a dead worker's activity is
            # handed to another after this, not after its whole timeout.
            heartbeat_timeout=timedelta(seconds=HEARTBEAT_SECONDS),
            retry_policy=RETRY,
        )

    @workflow.run
    async def run(self, inp: SagaInput) -> SagaOutcome:
        try:
            steps: list[SagaStep] = await workflow.execute_activity(
                Act.LOAD.value,
                inp.plan_id,
                result_type=list[SagaStep],
                start_to_close_timeout=timedelta(seconds=60),
                heartbeat_timeout=timedelta(seconds=HEARTBEAT_SECONDS),
                retry_policy=RETRY,
            )
        except ActivityError as err:  # e.g. the steps are not those approved
            why = str(err.cause.message) if isinstance(err.cause, ApplicationError) else str(err)
            await self._act(Act.FINISH, [inp.plan_id, "failed", why], str)
            return SagaOutcome(status="failed", done=[], failed=[], refunded=[])
        outcome: dict[int, str] = {}
        for phase in sorted({s.phase for s in steps}):
            batch = [s for s in steps if s.phase == phase]
            results = await asyncio.gather(*(self._step(inp, s) for s in batch))
            outcome.update({s.seq: r for s, r in zip(batch, results, strict=True)})
            if "failed" in results:
                break
        failed = sorted(seq for seq, r in outcome.items() if r == "failed")
        status = "failed" if failed else "completed"
        await self._act(Act.FINISH, [inp.plan_id, status], str)
        return SagaOutcome(
            status=status,
            done=sorted(seq for seq, r in outcome.items() if r == "done"),
            failed=failed,
            refunded=sorted(seq for seq, r in outcome.items() if r == "refunded"),
        )

    async def _step(self, inp: SagaInput, step: SagaStep) -> str:
        if step.status in FINAL:
            return step.status
        # (patched: a saga started before the check replays without it)
        if step.status == "pending" and workflow.patched("check-basis-v1"):
            # Nothing of it started: its source pool must still be as approved. A
            # drifted pool holds the plan for re-approval; wait for it (or a cancel).
            while True:
                verdict = await self._act(
                    Act.CHECK_BASIS, StepRef(inp.plan_id, step.seq, "source"), str
                )
                if verdict == "ok":
                    break
                if verdict == "cancelled":
                    return "skipped"
                await workflow.sleep(timedelta(seconds=min(max(inp.poll_seconds * 20, 1.0), 30.0)))
        deadline = workflow.now() + timedelta(seconds=inp.step_deadline_seconds)
        legs = ["source", "delivery"] if step.shape == "bridge" else ["source"]
        if step.status == "delivering":
            legs = ["delivery"]
        for leg in legs:
            ref = StepRef(inp.plan_id, step.seq, leg)
            nonces = step.delivery_nonces if leg == "delivery" else step.source_nonces
            result, deadline = await self._effect(inp, ref, nonces, deadline)
            if result != "final":
                return result
            if leg == "source" and step.shape == "bridge":
                await self._act(Act.DELIVERING, ref, str)
        await self._act(Act.CREDIT, StepRef(inp.plan_id, step.seq, legs[-1]), str)
        return "done"

    async def _send(self, ref: StepRef, nonces: str) -> EffectReport:
        """Sign (reconciling first) and, if signed, broadcast; in nonce order."""
        lock = self._sending.setdefault(nonces, asyncio.Lock()) if nonces else None
        async with lock or contextlib.nullcontext():
            report: EffectReport = await self._act(Act.SIGN, ref, EffectReport)  # type: ignore[assignment]
            if report.progress is Progress.SIGNED:
                report = await self._act(Act.BROADCAST, ref, EffectReport)  # type: ignore[assignment]
            return report

    async def _effect(
        self, inp: SagaInput, ref: StepRef, nonces: str, deadline: datetime
    ) -> tuple[str, datetime]:
        """Drive one effect to FINAL (or FAILED / refunded); returns the result and
        the deadline, which an operator's "retry" extends."""
        stuck = False
        report = await self._send(ref, nonces)
        while True:
            if report.progress is Progress.FINAL:
                return "final", deadline
            if report.progress is Progress.FAILED:
                return "failed", deadline
            if report.progress in (Progress.DROPPED, Progress.SIGNED):
                report = await self._send(ref, nonces)
                continue
            if workflow.now() > deadline and not stuck:
                stuck = True
                await self._act(Act.STUCK, [ref.plan_id, ref.seq, ref.leg, report.detail], str)
            resolution = self._resolutions.pop(ref.seq, None)
            if resolution is not None:
                await self._act(
                    Act.RESOLVE,
                    [
                        ref.plan_id,
                        ref.seq,
                        resolution.action,
                        resolution.operator,
                        resolution.reason,
                    ],
                    str,
                )
                if resolution.action == "refunded":
                    return "refunded", deadline
                stuck = False
                deadline = workflow.now() + timedelta(seconds=inp.step_deadline_seconds)
            if report.progress is Progress.WAITING:
                # Cannot be signed or mined now (fee above the cap, a nonce to fill):
                # wait a while on a durable timer, then try the whole effect again.
                await workflow.sleep(timedelta(seconds=max(inp.poll_seconds, 5.0)))
                report = await self._send(ref, nonces)
                continue
            report = await self._act(  # type: ignore[assignment]
                Act.OBSERVE, ref, EffectReport, seconds=inp.observe_seconds + 60.0
            )

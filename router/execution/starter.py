"""Starting plan sagas and signalling them: the app layer's door to Temporal.

Workflow id = plan id: Temporal refuses to start a plan whose saga runs or
ran, so a plan is carried out by one saga, once, whoever asks and however often.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from router.config import ExecutionConfig
from router.execution.messages import WORKFLOW, Resolution, SagaInput
from router.execution.payouts import PAYOUT_WORKFLOW, PayoutInput, PayoutKind

log = logging.getLogger("ballast.execution")


class TemporalStarter:
    def __init__(self, client: Client, task_queue: str, execution: ExecutionConfig) -> None:
        self._client = client
        self._queue = task_queue
        self._execution = execution

    async def _start_once(self, workflow: str, arg: object, workflow_id: str) -> bool:
        """Start a saga unless one with this id runs or ran; True if this call started it."""
        try:
            await self._client.start_workflow(
                workflow,
                arg,
                id=workflow_id,
                task_queue=self._queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                # A workflow task held by a worker that died is retried after this.
                task_timeout=timedelta(seconds=5),
            )
        except WorkflowAlreadyStartedError:
            return False  # it runs, or ran to its end: never a second saga
        return True

    async def start(self, plan_id: str) -> bool:
        """Start the plan's saga unless it runs or ran; True if this call started it."""
        arg = SagaInput(
            plan_id,
            step_deadline_seconds=self._execution.step_deadline_seconds,
            poll_seconds=self._execution.poll_seconds,
            observe_seconds=self._execution.observe_seconds,
        )
        return await self._start_once(WORKFLOW, arg, plan_id)

    async def resolve(
        self, plan_id: str, seq: int, action: str, operator: str, reason: str
    ) -> None:
        await self._client.get_workflow_handle(plan_id).signal(
            "resolve", Resolution(seq, action, operator, reason)
        )

    async def start_payment(self, payment_id: str) -> bool:
        """Start a claim payment's saga (workflow id = payment id) unless it runs or ran."""
        return await self._start_payout(PayoutKind.PAYMENT, payment_id)

    async def start_recovery(self, recovery_id: str) -> bool:
        """Start a recovery's saga (workflow id = recovery id) unless it runs or ran."""
        return await self._start_payout(PayoutKind.RECOVERY, recovery_id)

    async def _start_payout(self, kind: PayoutKind, key: str) -> bool:
        arg = PayoutInput(
            kind.value,
            key,
            poll_seconds=self._execution.poll_seconds,
            observe_seconds=self._execution.observe_seconds,
        )
        return await self._start_once(PAYOUT_WORKFLOW, arg, key)

    async def start_opening(self, cover_id: str) -> bool:
        """Start a cover's opening saga (workflow id = "open-" + cover id) unless it runs or ran."""
        from router.execution.openings import OPENING_WORKFLOW, OpeningInput, opening_workflow_id

        arg = OpeningInput(
            cover_id,
            poll_seconds=self._execution.poll_seconds,
            observe_seconds=self._execution.observe_seconds,
        )
        return await self._start_once(OPENING_WORKFLOW, arg, opening_workflow_id(cover_id))

"""The scheduled rebalancing job (``ballast rebalance``): one run at a time, never
on stale data, never a plan beside one under way, execution only within the
policy's pre-approval.

A run: take the job's database lease (another run holds it: LEASE_HELD); refuse
when any pool's last confirmed report is stale (STALE_DATA); stop when a plan
is pending approval, approved or executing (IN_PROGRESS); plan; nothing to move
(NOTHING_TO_DO, or SHORT when pools stay below target all the same); store the
plan; if its net capital leaving pools is within ``policy.auto_execute_below``
the policy's pre-approval stands in for the operators' and execution is
requested through :meth:`Plans.request_execution` (the ExecutePlan use case)
with a key derived from the plan id (EXECUTED, or SHORT when the plan cannot
bring every pool to target); otherwise the plan waits for operators
(AWAITING_APPROVAL). While it runs, a task renews the lease; a run that loses
it (taken over by another) stops at once (LEASE_LOST). A dry run takes no
lease and stores nothing: it answers what a run would do now, with the same
outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from router import domain as m
from router.app.plans import Plans
from router.app.ports import Balances, PlanBook, Registry
from router.config import PolicyConfig
from router.errors import PlanInProgress, RouterError

log = logging.getLogger("ballast.router.job")

LEASE_NAME = "rebalance-job"


class Outcome(StrEnum):
    NOTHING_TO_DO = "nothing_to_do"
    EXECUTED = "executed"
    AWAITING_APPROVAL = "awaiting_approval"
    IN_PROGRESS = "in_progress"
    STALE_DATA = "stale_data"
    LEASE_HELD = "lease_held"
    SHORT = "short"
    LEASE_LOST = "lease_lost"


#: The job's exit codes, for schedulers (documented in router/README.md and
#: ``ballast rebalance --help``; 1 and 2 are the CLI's: refused / usage or config).
EXIT_CODES: dict[Outcome, int] = {
    Outcome.NOTHING_TO_DO: 0,
    Outcome.EXECUTED: 0,
    Outcome.AWAITING_APPROVAL: 10,
    Outcome.IN_PROGRESS: 11,
    Outcome.STALE_DATA: 12,
    Outcome.LEASE_HELD: 13,
    Outcome.SHORT: 14,
    Outcome.LEASE_LOST: 15,
}


class JobStore(Registry, Balances, PlanBook, Protocol):
    async def acquire_lease(
        self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None
    ) -> tuple[bool, m.Lease]: ...
    async def release_lease(self, name: str, holder: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class JobRun:
    """What one run did (or, dry, would do)."""

    outcome: Outcome
    dry_run: bool = False
    #: The plan this run made (a dry run's preview has an empty id), or the plan under way.
    plan: m.Plan | None = None
    shortfalls: tuple[str, ...] = ()
    #: Pools whose last confirmed report is stale (or that never reported).
    stale_pools: tuple[str, ...] = ()
    #: LEASE_HELD: the other run's lease.
    lease: m.Lease | None = None
    #: The idempotency key execution was requested with.
    key: str = ""
    note: str = ""

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def execution_key(plan_id: str) -> str:
    """The job's idempotency key for a plan: a retried run asks once, whatever happens."""
    return f"rebalance-job-{plan_id}"


def default_holder() -> str:
    """This run's name in the lease: host, process and a random part (two runs never share it)."""
    return f"{socket.gethostname()[:64]}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


class RebalanceJob:
    """One scheduled rebalancing run over the store and the plan use cases."""

    def __init__(
        self,
        store: JobStore,
        plans: Plans,
        policy: PolicyConfig,
        operator: m.Identity,
        *,
        lease_ttl: timedelta = timedelta(minutes=15),
        holder: str | None = None,
        renew_every: timedelta | None = None,
    ) -> None:
        self._store = store
        self._plans = plans
        self._policy = policy
        self._operator = operator
        self._ttl = lease_ttl
        #: Renewal keeps a long run's lease: a third of its length by default,
        #: so two renewals may fail (a database blip) before it could expire.
        self._renew_every = renew_every or lease_ttl / 3
        self.holder = holder or default_holder()

    async def run(self, *, dry_run: bool = False) -> JobRun:
        if dry_run:
            return await self._run(dry_run=True)
        won, lease = await self._store.acquire_lease(LEASE_NAME, self.holder, self._ttl)
        if not won:
            return JobRun(
                Outcome.LEASE_HELD,
                lease=lease,
                note=f"another run ({lease.holder}) holds the job's lease until "
                f"{lease.expires_at.isoformat()}",
            )
        try:
            return await self._run_leased(lease)
        finally:
            # A lease that cannot be given back expires on its own.
            with contextlib.suppress(RouterError):
                await self._store.release_lease(LEASE_NAME, self.holder)

    async def _run_leased(self, lease: m.Lease) -> JobRun:
        """The run, with a task renewing the lease beside it. If a renewal finds
        the lease taken over (ours expired: the run outlived it, a renewal
        could not reach the database in time), the run is cancelled where it
        is (its open transaction rolls back; an execution request, recorded
        under the plan's key, is resumed by the next run) and ends LEASE_LOST."""
        run = asyncio.create_task(self._run(dry_run=False))
        renew = asyncio.create_task(self._renew())
        try:
            done, _ = await asyncio.wait({run, renew}, return_when=asyncio.FIRST_COMPLETED)
            if run in done:
                return run.result()
            lost = renew.result()  # the other holder's lease (or an error, raised)
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            log.warning("the job's lease was taken over by %s: run aborted", lost.holder)
            return JobRun(
                Outcome.LEASE_LOST,
                lease=lost,
                note=f"lost the job's lease to {lost.holder} (held until "
                f"{lost.expires_at.isoformat()}); this run stopped",
            )
        finally:
            for task in (run, renew):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _renew(self) -> m.Lease:
        """Extend the lease every ``renew_every`` while the run lasts; returns the
        other holder's lease once it is no longer ours. A renewal the database
        refuses is tried again at the next tick (the lease outlives two)."""
        while True:
            await asyncio.sleep(self._renew_every.total_seconds())
            try:
                won, lease = await self._store.acquire_lease(LEASE_NAME, self.holder, self._ttl)
            except RouterError as exc:
                log.warning("could not renew the job's lease: %s", exc)
                continue
            if not won:
                return lease

    async def stale_pools(self, now: datetime) -> tuple[str, ...]:
        """Pools whose last confirmed report is older than the staleness limit (or missing):
        the same rule positions use."""
        limit = timedelta(seconds=self._policy.staleness_limit_seconds)
        balances = await self._store.latest_balances()
        out = []
        for pool in await self._store.list_pools():
            bal = balances.get(pool.pool_id)
            if bal is None or now - bal.fresh_at > limit:
                out.append(pool.pool_id)
        return tuple(sorted(out))

    def pre_approved(self, plan: m.Plan) -> bool:
        """Within the policy's pre-approval: no human needed (0 = never)."""
        limit = self._policy.auto_execute_below
        return limit > 0 and plan.total_amount <= limit

    async def _run(self, *, dry_run: bool) -> JobRun:
        stale = await self.stale_pools(m.utcnow())
        if stale:
            return JobRun(
                Outcome.STALE_DATA,
                dry_run=dry_run,
                stale_pools=stale,
                note="no plan on stale data: check the reporting agents of "
                + ", ".join(stale[:10])
                + (" …" if len(stale) > 10 else ""),
            )
        active = await self._plans.active_plan()
        if active is not None and self._resumable(active):
            # An earlier run stored and pre-approved it, then stopped before asking.
            if dry_run:
                note = f"dry run: would request execution of {active.plan_id}"
                return JobRun(Outcome.EXECUTED, dry_run=True, plan=active, note=note)
            return await self._execute(active, ())
        if active is not None:
            return self._in_progress(active, dry_run)
        preview, draft = await self._plans.draft(self._operator)
        shortfalls = preview.shortfalls
        if not draft.steps:
            outcome = Outcome.SHORT if shortfalls else Outcome.NOTHING_TO_DO
            note = "pools stay below target and no plan can help" if shortfalls else ""
            return JobRun(outcome, dry_run=dry_run, shortfalls=shortfalls, note=note)
        auto = self.pre_approved(preview.plan)
        if dry_run:
            outcome = Outcome.AWAITING_APPROVAL
            if auto:
                outcome = Outcome.SHORT if shortfalls else Outcome.EXECUTED
            return JobRun(
                outcome,
                dry_run=True,
                plan=preview.plan,
                shortfalls=shortfalls,
                note="dry run: nothing stored"
                + (", would execute (pre-approved)" if auto else ", would wait for approval"),
            )
        try:
            plan = await self._plans.store_draft(
                self._operator, draft, unless_active=True, pre_approved=auto
            )
        except PlanInProgress as exc:  # an operator's plan landed meanwhile
            return self._in_progress(await self._plans.get(exc.plan_id), dry_run)
        if not auto:
            return JobRun(
                Outcome.AWAITING_APPROVAL,
                plan=plan,
                shortfalls=shortfalls,
                note=f"needs {plan.approvals_required} operator approval(s): "
                f"ballast approve {plan.plan_id}",
            )
        return await self._execute(plan, shortfalls)

    def _resumable(self, plan: m.Plan) -> bool:
        return (
            plan.status is m.PlanStatus.APPROVED
            and plan.created_by == self._operator.name
            and plan.approvals_required == 0
            and self.pre_approved(plan)  # still within the policy as it is now
        )

    async def _execute(self, plan: m.Plan, shortfalls: tuple[str, ...]) -> JobRun:
        """Ask for execution as ExecutePlan does, under the plan's own key."""
        key = execution_key(plan.plan_id)
        done = await self._plans.request_execution(self._operator, plan.plan_id, key)
        return JobRun(
            Outcome.SHORT if shortfalls else Outcome.EXECUTED,
            plan=done.plan,
            shortfalls=shortfalls,
            key=key,
            note=done.note,
        )

    def _in_progress(self, plan: m.Plan, dry_run: bool) -> JobRun:
        return JobRun(
            Outcome.IN_PROGRESS,
            dry_run=dry_run,
            plan=plan,
            note=f"plan {plan.plan_id} is {plan.status.value}: no new plan beside it",
        )

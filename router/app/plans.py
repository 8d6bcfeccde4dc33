"""Plans: computing one, approving it, asking for its execution, watching it.

Every state change commits in one unit of work with its audit entry (and,
for an execution request, its idempotency record): after a crash either all
of it happened or none of it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from router import domain as m
from router.app.ports import Engine, Executor, PlanStore
from router.app.positions import pool_views, read_state, requirements
from router.app.projection import Projection, project_plan
from router.config import PolicyConfig, RouteConfig
from router.domain.changes import normal_address
from router.domain.drift import PoolBasis, source_pools
from router.domain.limits import NO_LIMITS, LimitsPolicy, LimitState
from router.errors import (
    Conflict,
    DestinationNotAllowed,
    DuplicateApproval,
    IdempotencyMismatch,
    InvalidRequest,
    InvalidTransition,
    PlanChanged,
    PlanInProgress,
    PreconditionFailed,
    StaleVersion,
)
from router.telemetry.tracing import traced

log = logging.getLogger("ballast.router.plans")

FINAL_PLAN = frozenset({m.PlanStatus.COMPLETED, m.PlanStatus.FAILED, m.PlanStatus.CANCELLED})
EXECUTE_SCOPE = "execute_plan"
#: Plans that are still under way: a scheduled run never adds one beside them.
ACTIVE_PLAN = (m.PlanStatus.EXECUTING, m.PlanStatus.APPROVED, m.PlanStatus.PENDING_APPROVAL)


class PlanEvents:
    """Wakes plan watchers after this process changed a plan; watchers also
    poll, so changes made by other replicas are seen within ``poll_seconds``."""

    def __init__(self, poll_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds
        self._event = asyncio.Event()
        self.closed = False

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def close(self) -> None:
        self.closed = True
        self.notify()

    async def wait(self) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), self.poll_seconds)


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan (stored, or a dry run's preview with an empty id) and what it leaves short."""

    plan: m.Plan
    shortfalls: tuple[str, ...]
    dry_run: bool


@dataclass(frozen=True, slots=True)
class ExecutionRequested:
    plan: m.Plan
    #: False when this call repeated an earlier request with the same key.
    first: bool
    #: What happens next, for the operator (started, already running, recorded only).
    note: str = ""


class Plans:
    """The plan use cases over the store, the engine and the policy."""

    def __init__(
        self,
        store: PlanStore,
        engine: Engine,
        policy: PolicyConfig,
        events: PlanEvents | None = None,
        executor: Executor | None = None,
        limits: LimitsPolicy = NO_LIMITS,
        limits_source: Callable[[], Awaitable[LimitsPolicy]] | None = None,
        routes_source: Callable[[], Awaitable[Sequence[RouteConfig]]] | None = None,
    ) -> None:
        self._store = store
        #: The routes in force (config and approved changes); else the engine's own.
        self._routes_source = routes_source
        self._limits = limits
        #: The limits in force (config and approved changes); else ``limits``.
        self._limits_source = limits_source
        self._engine = engine
        self._policy = policy
        self.events = events or PlanEvents()
        self._executor = executor

    async def _limits_now(self) -> LimitsPolicy:
        return await self._limits_source() if self._limits_source else self._limits

    def approvals_needed(self, leaving: int) -> int:
        """Distinct operator approvals a plan moving ``leaving`` base units out of pools needs."""
        return m.approvals_for(leaving, self._policy.tiers())

    async def propose(
        self, operator: m.Identity, *, target_ratio_bps: int = 0, dry_run: bool = False
    ) -> Planned:
        """Plan on the current state; store it for approval unless ``dry_run``."""
        planned, draft = await self.draft(operator, target_ratio_bps=target_ratio_bps)
        if dry_run:
            return planned
        plan = await self.store_draft(operator, draft)
        return Planned(plan, planned.shortfalls, dry_run=False)

    @traced("plan.draft")
    async def draft(
        self, operator: m.Identity, *, target_ratio_bps: int = 0
    ) -> tuple[Planned, m.PlanDraft]:
        """Compute a plan on the current state without storing it: its preview
        (a dry run's answer, empty id) and the draft :meth:`store_draft` stores."""
        target = target_ratio_bps or self._policy.target_ratio_bps
        if not 10_000 <= target <= 100_000:
            raise InvalidRequest("target_ratio_bps", "must be 0 (default) or 10000-100000")
        now = m.utcnow()
        snap = await read_state(self._store, now=now)
        views = pool_views(snap, await requirements(self._engine, snap), self._policy, now)
        vaults = await self._store.list_vaults()
        headroom = await self._store.limit_headroom(await self._limits_now(), now=now)
        # HiGHS can run for seconds: keep the event loop serving other calls meanwhile.
        proposal = await asyncio.to_thread(
            self._engine.plan,
            views,
            vaults,
            target,
            self._policy.rebalance_band_bps,
            headroom,
            await self._routes_source() if self._routes_source else None,
        )
        await self.check_destinations(proposal.steps)
        draft = m.PlanDraft(
            plan_id=f"plan-{uuid.uuid4().hex[:20]}",
            created_by=operator.name,
            steps=proposal.steps,
            total_amount=proposal.total_amount,
            cost=proposal.cost,
            summary=proposal.summary,
            approvals_required=self.approvals_needed(proposal.total_amount),
        )
        preview = m.Plan(
            plan_id="",
            status=m.PlanStatus.PENDING_APPROVAL,
            version=0,
            created_by=draft.created_by,
            total_amount=draft.total_amount,
            cost=draft.cost,
            summary=draft.summary,
            approvals_required=draft.approvals_required,
            steps=draft.steps,
            approvals=(),
            created_at=now,
            updated_at=now,
        )
        return Planned(preview, proposal.shortfalls, dry_run=True), draft

    async def store_draft(
        self,
        operator: m.Identity,
        draft: m.PlanDraft,
        *,
        unless_active: bool = False,
        pre_approved: bool = False,
    ) -> m.Plan:
        """Store a computed plan for approval, with its audit entry. With
        ``unless_active``, refuse (:class:`PlanInProgress`) when another plan is
        pending, approved or executing, checked in the same transaction. With
        ``pre_approved`` (the scheduled job, within ``policy.auto_execute_below``)
        the plan needs no operator and is stored APPROVED, audited as such."""
        if pre_approved:
            draft = dataclasses.replace(draft, approvals_required=0)
        async with self._store.unit_of_work():
            if unless_active:
                active = await self.active_plan()
                if active is not None:
                    raise PlanInProgress(active.plan_id, active.status.value)
            plan = await self._store.create_plan(draft)
            await self._store.append_audit(
                operator.uri,
                "plan_created",
                plan.plan_id,
                {"steps": len(plan.steps), "moved": plan.total_amount, "cost": plan.cost},
            )
            if pre_approved:
                plan = await self._store.update_plan_status(
                    plan.plan_id, m.PlanStatus.APPROVED, expected_version=plan.version
                )
                await self.record_basis(plan)
                await self._store.append_audit(
                    operator.uri,
                    "plan_preapproved",
                    plan.plan_id,
                    {
                        "moved": plan.total_amount,
                        "auto_execute_below": self._policy.auto_execute_below,
                    },
                )
        self.events.notify()
        return plan

    async def check_destinations(self, steps: tuple[m.PlanStep, ...]) -> None:
        """Every pool and vault the steps pay to is on the allow-list, or
        :class:`DestinationNotAllowed` naming the first that is not. (A chain's
        hub is the executor's to check: its address is not in the registry.)"""
        pools = {p.pool_id: p for p in await self._store.list_pools()}
        vaults = {v.vault_id: v for v in await self._store.list_vaults()}
        families = {c.name: c.family for c in await self._store.list_chains()}
        for step in steps:
            if step.kind is m.StepKind.CESSION:
                vault = vaults.get(step.vault_id or "")
                target = (vault.chain, vault.address, f"vault {vault.vault_id}") if vault else None
            else:
                pool = pools.get(step.dst_pool or "")
                target = (pool.chain, pool.address, f"pool {pool.pool_id}") if pool else None
            if target is None:
                continue
            chain, address, what = target
            if not await self._store.destination_allowed(
                chain, normal_address(families.get(chain), address)
            ):
                raise DestinationNotAllowed(
                    f"step {step.seq} pays to {what} ({address} on {chain}), which is not on "
                    "the destinations allow-list: no plan was made (allow it through "
                    "`ballast change propose allowlist.add`)",
                    chain=chain,
                    address=address,
                )

    async def record_basis(self, plan: m.Plan) -> None:
        """What an approval relied on: the confirmed balance of every pool the plan
        takes from, now. The executor stops the plan if one drifts away from it."""
        balances = await self._store.latest_balances()
        basis = [
            PoolBasis(pool, balances[pool].amount, balances[pool].block_number)
            for pool in source_pools(plan.steps)
            if pool in balances
        ]
        await self._store.record_basis(plan.plan_id, basis)

    async def project(self, plan_id: str) -> list[Projection]:
        """Every pool now and projected after the plan's steps (for a plan not yet
        executed; see :mod:`router.app.projection`)."""
        plan = await self._store.get_plan(plan_id)
        return await project_plan(self._store, self._engine, plan)

    async def active_plan(self) -> m.Plan | None:
        """The newest plan that is pending approval, approved or executing, if any."""
        for status in ACTIVE_PLAN:
            found = await self._store.list_plans(status, limit=1)
            if found:
                return found[0]
        return None

    async def get(self, plan_id: str) -> m.Plan:
        return await self._store.get_plan(plan_id)

    async def page(
        self, status: m.PlanStatus | None, *, limit: int, offset: int
    ) -> tuple[list[m.Plan], bool]:
        """One page of plans, newest first, and whether more follow."""
        plans = await self._store.list_plans(status, limit=offset + limit + 1)
        return plans[offset : offset + limit], len(plans) > offset + limit

    async def limits(self) -> list[LimitState]:
        """Every configured limit and what it can still take now, by scope."""
        policy = await self._limits_now()
        headroom = await self._store.limit_headroom(policy)
        sizes = {lane.scope: lane.capacity for lane in policy.lanes}
        sizes |= {d.scope: d.cap for d in policy.daily}
        return [LimitState(s, size, headroom.left.get(s, 0)) for s, size in sorted(sizes.items())]

    async def approve(
        self, operator: m.Identity, plan_id: str, *, reviewed_hash: str | None = None
    ) -> m.Plan:
        """Record the operator's approval, bound to the hash of the plan's steps
        (``reviewed_hash``: refused unless the steps still hash so). The
        initiator cannot approve. Approving again is a no-op that returns the
        plan as it stands, whatever its state since."""
        try:
            async with self._store.unit_of_work():
                plan = await self._store.approve_plan(
                    plan_id, operator.name, reviewed_hash=reviewed_hash
                )
                if plan.status is m.PlanStatus.APPROVED:
                    await self.record_basis(plan)
                await self._store.append_audit(
                    operator.uri,
                    "plan_approved",
                    plan_id,
                    {
                        "approvals": len(plan.approvals),
                        "status": plan.status.value,
                        "steps_hash": dict(
                            zip(plan.approvals, plan.approval_hashes, strict=False)
                        ).get(operator.name),
                    },
                )
        except (DuplicateApproval, InvalidTransition):
            # A retry of an approval that went through: answer as it stands.
            plan = await self._store.get_plan(plan_id)
            if operator.name in plan.approvals:
                return plan
            raise
        self.events.notify()
        return plan

    @traced("plan.execute")
    async def request_execution(
        self, operator: m.Identity, plan_id: str, key: str
    ) -> ExecutionRequested:
        """Move an approved plan to EXECUTING, once per idempotency key.

        The status change, the key's record and the audit entry commit
        together. A repeat with the same key (concurrent, or after a crash)
        returns the first answer; the same key for another plan is refused.
        """
        record = m.IdempotencyRecord.of(
            EXECUTE_SCOPE, key, {"plan_id": plan_id}, subject=plan_id, actor=operator.uri
        )
        for _attempt in range(3):
            earlier = await self._store.find_key(EXECUTE_SCOPE, key)
            if earlier is not None:
                return await self._replay(earlier, record)
            try:
                async with self._store.unit_of_work():
                    plan = await self._store.get_plan(plan_id)
                    if plan.status is not m.PlanStatus.APPROVED:
                        raise PreconditionFailed(
                            f"plan {plan_id} is {plan.status.value}, not approved: it needs "
                            f"{plan.approvals_required} approval(s), has {len(plan.approvals)}"
                        )
                    # Approvals hold for the steps they were given for only.
                    m.check_unchanged(plan)
                    plan = await self._store.update_plan_status(
                        plan_id, m.PlanStatus.EXECUTING, expected_version=plan.version
                    )
                    await self._store.record_key(record)
                    await self._store.append_audit(
                        operator.uri, "execution_requested", plan_id, {"key": key}
                    )
            except PlanChanged:
                raise  # the approvals are void: no retry changes that
            except (Conflict, StaleVersion):
                # Lost a race: another request moved the plan or took the key first.
                continue
            except PreconditionFailed:
                # Someone else's request may have moved it meanwhile under this key.
                earlier = await self._store.find_key(EXECUTE_SCOPE, key)
                if earlier is not None:
                    return await self._replay(earlier, record)
                raise
            self.events.notify()
            return ExecutionRequested(plan, first=True, note=await self._start(plan_id))
        raise PreconditionFailed(
            f"plan {plan_id} changed while execution was requested; read it and retry"
        )

    async def _replay(
        self, earlier: m.IdempotencyRecord, record: m.IdempotencyRecord
    ) -> ExecutionRequested:
        differs = earlier.differs_from(record)
        if differs:
            raise IdempotencyMismatch(record.scope, record.key, mismatch=differs)
        plan = await self._store.get_plan(earlier.subject)
        # A repeat also starts a saga a crash kept from starting (never a second one).
        note = await self._start(plan.plan_id) if plan.status is m.PlanStatus.EXECUTING else ""
        return ExecutionRequested(plan, first=False, note=note)

    async def _start(self, plan_id: str) -> str:
        """Hand the plan to the executor; the request stays recorded whatever happens."""
        if self._executor is None:
            return (
                "execution request recorded; no executor is configured on this router, "
                "so no step is sent (run `ballast worker` and retry with the same key)"
            )
        try:
            started = await self._executor.start(plan_id)
        except Exception as exc:  # Temporal unreachable: the reconciler starts it later
            log.warning("could not start the saga of %s: %s", plan_id, type(exc).__name__)
            return (
                "execution request recorded; the executor is unreachable now and will "
                "start the plan when it is (or retry with the same key)"
            )
        return "execution started" if started else "execution already under way"

    async def reconcile_executions(self) -> list[str]:
        """Every EXECUTING plan has its saga (run at start-up: a crash between
        recording a request and starting its saga leaves nothing behind)."""
        if self._executor is None:
            return []
        started = []
        for plan in await self._store.list_plans(m.PlanStatus.EXECUTING, limit=10_000):
            if await self._executor.start(plan.plan_id):
                started.append(plan.plan_id)
        return started

    async def resolve_step(
        self, operator: m.Identity, plan_id: str, seq: int, action: str, reason: str
    ) -> m.Plan:
        """An operator's decision about a STUCK step: "retry" (new deadline) or
        "refunded" (after checking the chain: the capital went back). Audited."""
        if action not in ("retry", "refunded"):
            raise InvalidRequest("action", "must be retry or refunded")
        plan = await self._store.get_plan(plan_id)
        step = next((s for s in plan.steps if s.seq == seq), None)
        if step is None:
            raise InvalidRequest("step", f"plan {plan_id} has no step {seq}")
        if plan.status is not m.PlanStatus.EXECUTING or step.status is not m.StepStatus.STUCK:
            raise PreconditionFailed(
                f"step {seq} of plan {plan_id} is {step.status.value} (plan "
                f"{plan.status.value}): only a stuck step of an executing plan is resolved"
            )
        if self._executor is None:
            raise PreconditionFailed("no executor is configured on this router")
        await self._store.append_audit(
            operator.uri,
            "resolution_requested",
            plan_id,
            {"seq": seq, "action": action, "reason": reason},
        )
        await self._executor.resolve(plan_id, seq, action, operator.uri, reason)
        return plan

    async def watch(self, plan_id: str) -> AsyncIterator[m.Plan]:
        """The plan now, then again after every change, until it is final
        (or the server stops)."""
        last: tuple[int, tuple[tuple[int, str, int], ...]] | None = None
        while True:
            plan = await self._store.get_plan(plan_id)
            seen = (plan.version, tuple((s.seq, s.status.value, s.version) for s in plan.steps))
            if seen != last:
                last = seen
                yield plan
            if plan.status in FINAL_PLAN or self.events.closed:
                return
            await self.events.wait()

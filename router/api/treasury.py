"""TreasuryService: positions, plans, approvals, execution requests.

Execution proper (sending the steps through the chain adapters) belongs to
the executor of a later issue: ``ExecutePlan`` persists the request (audit
entry keyed by the idempotency key) and moves the plan to EXECUTING, and the
response says that the steps are not being sent yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ballast.v1 import treasury_pb2 as pb
from ballast.v1 import treasury_pb2_grpc
from grpc.aio import ServicerContext

from router import domain as m
from router.api import auth, convert
from router.app.engine import Engine, PoolView, Requirement
from router.app.ports import Repository
from router.config import PolicyConfig
from router.errors import IdempotencyConflict, InvalidRequest, PreconditionFailed

FINAL_PLAN = {m.PlanStatus.COMPLETED, m.PlanStatus.FAILED, m.PlanStatus.CANCELLED}
IN_FLIGHT = (m.TransferState.RECORDED, m.TransferState.PENDING, m.TransferState.CONFIRMED)
NO_REQUIREMENT = Requirement(0, 0)
EXECUTION_NOTE = (
    "execution request recorded and the plan is EXECUTING; the executor that sends "
    "the steps on chain is not enabled in this release, so steps stay PENDING"
)


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
class StateSnapshot:
    """What positions are computed from, read from the store in one go."""

    pools: tuple[m.Pool, ...]
    balances: dict[str, m.ConfirmedBalance]
    cover: dict[str, int]
    out_flight: dict[str, int]
    chains: frozenset[str]


async def read_state(repo: Repository) -> StateSnapshot:
    pools = await repo.list_pools()
    balances = await repo.latest_balances()
    cover = await repo.active_cover_by_pool()
    out_flight: dict[str, int] = {}
    for state in IN_FLIGHT:
        for t in await repo.list_transfers(state):
            out_flight[t.src_pool] = out_flight.get(t.src_pool, 0) + t.amount
    chains = frozenset(c.name for c in await repo.list_chains())
    pools.sort(key=lambda p: (p.chain, p.pool_id))
    return StateSnapshot(tuple(pools), balances, cover, out_flight, chains)


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A balance this process just confirmed (from ingestion)."""

    pool_id: str
    amount: int
    block_number: int
    observed_at: datetime


@dataclass(slots=True)
class Materialized:
    """A snapshot turned into the GetPosition answer, minus what depends on the clock.

    Patched in place when this process confirms balances (:meth:`PositionCache.confirmed`);
    ``serial`` changes with every build or patch and keys the per-second answers.
    """

    snap: StateSnapshot
    base: pb.GetPositionResponse  # staleness/stale unset
    observed: list[datetime | None]  # per pool of ``base``: last confirmed read
    required: list[int]  # per pool: max(SCR, MCR)
    index: dict[str, int]  # pool id -> position in ``base.pools``
    serial: int


class PositionCache:
    """The materialised position of every pool.

    Balances this process confirms are patched in (:meth:`confirmed`); a bound
    cover forces a rebuild (:meth:`invalidate`, callers wait). Changes by other
    replicas appear within
    ``ttl_seconds``: past it, callers get the current view while one
    background task rebuilds it (stale-while-revalidate), so no call pays for
    a 1,000-pool reload. Staleness is computed from the clock, to the second.
    """

    def __init__(
        self, repo: Repository, engine: Engine, policy: PolicyConfig, ttl_seconds: float = 5.0
    ) -> None:
        self._repo = repo
        self._engine = engine
        self._policy = policy
        self._ttl = ttl_seconds
        self._current: Materialized | None = None
        self._taken = 0.0
        self._invalidations = 0
        self._building = 0
        self._log: list[Confirmed] = []
        self._refresh: asyncio.Task[Materialized] | None = None
        self._serial = 0
        self._answers: dict[tuple[int, datetime, tuple[str, ...]], pb.GetPositionResponse] = {}

    async def aclose(self) -> None:
        """Stop a background rebuild; call before the store closes (a rebuild
        cut off inside a store transaction would wait on a closed connection)."""
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def invalidate(self) -> None:
        """State changed in a way only a rebuild captures (cover bound: requirements move)."""
        self._invalidations += 1
        self._current = None

    def confirmed(self, balances: Sequence[Confirmed]) -> None:
        """Balances confirmed by this process: patch the view in place (capital,
        ratio, confirmed block and time) instead of reloading 1,000 pools.
        Requirements do not depend on capital, so they stay valid. Builds in
        flight replay these patches when they finish."""
        if self._building:
            self._log.extend(balances)
        if self._current is not None and not self._patch(self._current, balances):
            self._current = None

    def _patch(self, view: Materialized, balances: Sequence[Confirmed]) -> bool:
        """False if a balance names a pool the view does not know (rebuild)."""
        for b in balances:
            i = view.index.get(b.pool_id)
            if i is None:
                return False
            pos = view.base.pools[i]
            if view.observed[i] is not None and pos.confirmed_block > b.block_number:
                continue
            pos.capital.value = str(b.amount)
            if view.required[i] > 0:
                pos.solvency_ratio_bps = b.amount * 10_000 // view.required[i]
            pos.confirmed_block = b.block_number
            pos.confirmed_at.CopyFrom(convert.timestamp(b.observed_at))
            view.observed[i] = b.observed_at
        self._serial += 1
        view.serial = self._serial
        return True

    async def _materialize(self) -> Materialized:
        invalidations, start, taken = self._invalidations, len(self._log), time.monotonic()
        self._building += 1
        try:
            snap = await read_state(self._repo)
            reqs = await requirements(self._engine, snap)
        finally:
            self._building -= 1
        views = pool_views(snap, reqs, self._policy, datetime.now(UTC))
        base = pb.GetPositionResponse(pools=[position_proto(v, None, None) for v in views])
        observed: list[datetime | None] = []
        for v, pos in zip(views, base.pools, strict=True):
            bal = snap.balances.get(v.pool.pool_id)
            observed.append(bal.observed_at if bal else None)
            if bal is not None:
                pos.confirmed_block = bal.block_number
                pos.confirmed_at.CopyFrom(convert.timestamp(bal.observed_at))
        self._serial += 1
        view = Materialized(
            snap=snap,
            base=base,
            observed=observed,
            required=[max(v.requirement.scr, v.requirement.mcr) for v in views],
            index={v.pool.pool_id: i for i, v in enumerate(views)},
            serial=self._serial,
        )
        missed = self._log[start:]
        if not self._building:
            self._log.clear()
        # Keep it unless a rebuild-worthy change happened while we read.
        if invalidations == self._invalidations and self._patch(view, missed):
            self._current, self._taken = view, taken
        return view

    async def get(self) -> Materialized:
        current = self._current
        if current is None:
            return await self._materialize()
        if time.monotonic() - self._taken >= self._ttl and (
            self._refresh is None or self._refresh.done()
        ):
            self._refresh = asyncio.create_task(self._materialize())
        return current

    def answer(
        self, view: Materialized, chains: Sequence[str], now: datetime
    ) -> pb.GetPositionResponse:
        """The answer at ``now``, to the second: within one second the same
        (never mutated) message is returned again, so a burst of calls costs
        one build per second, not one per call."""
        now = now.replace(microsecond=0)
        key = (view.serial, now, tuple(chains))
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        resp = self._build_answer(view, chains, now)
        if len(self._answers) >= 64:
            self._answers.clear()
        self._answers[key] = resp
        return resp

    def _build_answer(
        self, view: Materialized, chains: Sequence[str], now: datetime
    ) -> pb.GetPositionResponse:
        limit = timedelta(seconds=self._policy.staleness_limit_seconds)
        resp = pb.GetPositionResponse(as_of=convert.timestamp(now))
        if chains:
            wanted = set(chains)
            picked = [i for i, p in enumerate(view.base.pools) if p.chain in wanted]
            resp.pools.extend(view.base.pools[i] for i in picked)
            observed = [view.observed[i] for i in picked]
        else:
            resp.pools.MergeFrom(view.base.pools)
            observed = list(view.observed)
        for pos, seen in zip(resp.pools, observed, strict=True):
            if seen is None:
                pos.stale = True
            else:
                age = now - seen
                pos.staleness.CopyFrom(convert.duration(age))
                pos.stale = age > limit
        return resp


async def requirements(engine: Engine, snap: StateSnapshot) -> dict[str, Requirement]:
    """Every pool's SCR/MCR; the simulation runs in a worker thread (numpy), off the loop."""
    rows = [
        (
            p,
            b.amount if (b := snap.balances.get(p.pool_id)) else 0,
            snap.cover.get(p.pool_id, 0),
        )
        for p in snap.pools
    ]
    return await asyncio.to_thread(engine.requirements, rows)


def pool_views(
    snap: StateSnapshot,
    reqs: dict[str, Requirement],
    policy: PolicyConfig,
    now: datetime,
    chains: Sequence[str] = (),
) -> list[PoolView]:
    """Every pool's capital and requirement, sorted by (chain, pool)."""
    wanted = set(chains)
    limit = timedelta(seconds=policy.staleness_limit_seconds)
    views = []
    for p in snap.pools:
        if wanted and p.chain not in wanted:
            continue
        bal = snap.balances.get(p.pool_id)
        active = snap.cover.get(p.pool_id, 0)
        views.append(
            PoolView(
                pool=p,
                capital=bal.amount if bal else 0,
                in_flight=snap.out_flight.get(p.pool_id, 0),
                active_cover=active,
                requirement=reqs.get(p.pool_id, NO_REQUIREMENT),
                stale=bal is None or now - bal.observed_at > limit,
            )
        )
    return views


def position_proto(
    v: PoolView, bal: m.ConfirmedBalance | None, now: datetime | None
) -> pb.PoolPosition:
    a = v.pool.asset
    req = max(v.requirement.scr, v.requirement.mcr)
    pos = pb.PoolPosition(
        chain=v.pool.chain,
        pool_id=v.pool.pool_id,
        capital=convert.amount(a, v.capital),
        locked=convert.amount(a, v.pool.locked_capital),
        in_flight=convert.amount(a, v.in_flight),
        scr=convert.amount(a, v.requirement.scr),
        mcr=convert.amount(a, v.requirement.mcr),
        stale=v.stale,
    )
    if req > 0:
        pos.solvency_ratio_bps = v.capital * 10_000 // req
    if bal is not None and now is not None:
        pos.confirmed_block = bal.block_number
        pos.confirmed_at.CopyFrom(convert.timestamp(bal.observed_at))
        pos.staleness.CopyFrom(convert.duration(now - bal.observed_at))
    return pos


class TreasuryServicer(treasury_pb2_grpc.TreasuryServiceServicer):
    def __init__(
        self,
        repo: Repository,
        engine: Engine,
        policy: PolicyConfig,
        events: PlanEvents | None = None,
        asset: str = "USDC",
        positions: PositionCache | None = None,
    ) -> None:
        self.positions = positions or PositionCache(repo, engine, policy)
        self._repo = repo
        self._engine = engine
        self._policy = policy
        self.events = events or PlanEvents()
        self._asset = asset

    async def _pool_chain(self) -> dict[str, str]:
        return {p.pool_id: p.chain for p in await self._repo.list_pools()}

    async def _plan_proto(self, plan: m.Plan) -> pb.Plan:
        return convert.plan_to_proto(plan, self._asset, await self._pool_chain())

    async def GetPosition(
        self, request: pb.GetPositionRequest, context: ServicerContext
    ) -> pb.GetPositionResponse:
        auth.current_identity()
        chains = [convert.parse_name(c, f"chains[{i}]") for i, c in enumerate(request.chains)]
        view = await self.positions.get()
        for c in chains:
            if c not in view.snap.chains:
                known = sorted(view.snap.chains)
                raise InvalidRequest("chains", f"unknown chain {c!r}; known: {known}")
        return self.positions.answer(view, chains, datetime.now(UTC))

    async def PlanRebalance(
        self, request: pb.PlanRebalanceRequest, context: ServicerContext
    ) -> pb.PlanRebalanceResponse:
        operator = auth.current_identity()
        target = request.target_ratio_bps or self._policy.target_ratio_bps
        if not 10_000 <= target <= 100_000:
            raise InvalidRequest("target_ratio_bps", "must be 0 (default) or 10000-100000")
        now = datetime.now(UTC)
        snap = await read_state(self._repo)
        views = pool_views(snap, await requirements(self._engine, snap), self._policy, now)
        vaults = await self._repo.list_vaults()
        # HiGHS can run for seconds: keep the event loop serving other calls meanwhile.
        result = await asyncio.to_thread(self._engine.plan, views, vaults, target)
        required = 2 if result.total_amount > self._policy.dual_approval_above else 1
        draft = m.PlanDraft(
            plan_id=f"plan-{uuid.uuid4().hex[:20]}",
            created_by=operator.name,
            steps=result.steps,
            total_amount=result.total_amount,
            cost=result.cost,
            summary=result.summary,
            approvals_required=required,
        )
        if request.dry_run:
            preview = m.Plan(
                plan_id="",
                status=m.PlanStatus.PENDING_APPROVAL,
                version=0,
                created_by=draft.created_by,
                total_amount=draft.total_amount,
                cost=draft.cost,
                summary=draft.summary,
                approvals_required=required,
                steps=draft.steps,
                approvals=(),
                created_at=now,
                updated_at=now,
            )
            plan_pb = await self._plan_proto(preview)
        else:
            plan = await self._repo.create_plan(draft)
            await self._repo.append_audit(
                operator.uri, "plan_created", plan.plan_id, {"steps": len(plan.steps)}
            )
            plan_pb = await self._plan_proto(plan)
            self.events.notify()
        plan_pb.shortfalls.extend(result.shortfalls)
        return pb.PlanRebalanceResponse(plan=plan_pb)

    async def GetPlan(
        self, request: pb.GetPlanRequest, context: ServicerContext
    ) -> pb.GetPlanResponse:
        auth.current_identity()
        plan = await self._repo.get_plan(convert.parse_id(request.plan_id, "plan_id"))
        return pb.GetPlanResponse(plan=await self._plan_proto(plan))

    async def ListPlans(
        self, request: pb.ListPlansRequest, context: ServicerContext
    ) -> pb.ListPlansResponse:
        auth.current_identity()
        limit, offset = convert.parse_page(request.page_size, request.page_token)
        status = convert.parse_plan_state(request.state)
        plans = await self._repo.list_plans(status, limit=offset + limit + 1)
        page = plans[offset : offset + limit]
        more = len(plans) > offset + limit
        chains = await self._pool_chain()
        return pb.ListPlansResponse(
            plans=[convert.plan_to_proto(p, self._asset, chains) for p in page],
            next_page_token=str(offset + limit) if more else "",
        )

    async def ApprovePlan(
        self, request: pb.ApprovePlanRequest, context: ServicerContext
    ) -> pb.ApprovePlanResponse:
        operator = auth.current_identity()
        plan_id = convert.parse_id(request.plan_id, "plan_id")
        plan = await self._repo.approve_plan(plan_id, operator.name)
        await self._repo.append_audit(operator.uri, "plan_approved", plan_id, {})
        self.events.notify()
        return pb.ApprovePlanResponse(plan=await self._plan_proto(plan))

    async def ExecutePlan(
        self, request: pb.ExecutePlanRequest, context: ServicerContext
    ) -> pb.ExecutePlanResponse:
        operator = auth.current_identity()
        plan_id = convert.parse_id(request.plan_id, "plan_id")
        key = convert.parse_key(request.idempotency_key)
        key_subject = f"execution-request:{key}"
        earlier = await self._repo.list_audit(subject=key_subject, limit=1)
        if earlier:
            if json.loads(earlier[0].detail).get("plan_id") != plan_id:
                raise IdempotencyConflict(key, ["plan_id"])
            plan = await self._repo.get_plan(plan_id)
            return pb.ExecutePlanResponse(plan=await self._plan_proto(plan), note=EXECUTION_NOTE)
        plan = await self._repo.get_plan(plan_id)
        if plan.status is not m.PlanStatus.APPROVED:
            raise PreconditionFailed(
                f"plan {plan_id} is {plan.status.value}, not approved: it needs "
                f"{plan.approvals_required} approval(s), has {len(plan.approvals)}"
            )
        plan = await self._repo.update_plan_status(
            plan_id, m.PlanStatus.EXECUTING, expected_version=plan.version
        )
        await self._repo.append_audit(
            operator.uri, "execution_requested", key_subject, {"plan_id": plan_id}
        )
        await self._repo.append_audit(operator.uri, "execution_requested", plan_id, {"key": key})
        self.events.notify()
        return pb.ExecutePlanResponse(plan=await self._plan_proto(plan), note=EXECUTION_NOTE)

    async def WatchPlan(
        self, request: pb.WatchPlanRequest, context: ServicerContext
    ) -> AsyncIterator[pb.WatchPlanResponse]:
        auth.current_identity()
        plan_id = convert.parse_id(request.plan_id, "plan_id")
        last: bytes | None = None
        while True:
            plan = await self._repo.get_plan(plan_id)
            msg = await self._plan_proto(plan)
            wire = msg.SerializeToString(deterministic=True)
            if wire != last:
                last = wire
                yield pb.WatchPlanResponse(plan=msg)
            if plan.status in FINAL_PLAN or self.events.closed:
                return
            await self.events.wait()

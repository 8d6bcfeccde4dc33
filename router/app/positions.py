"""Positions: every pool's capital, what is locked and in flight, and its requirement.

:func:`read_state` reads what positions are computed from in one pass;
:func:`pool_views` combines it with the requirements into one
:class:`~router.domain.PoolView` per pool. :class:`PositionCache` keeps the
views materialised for a fast ``GetPosition``: balances this process confirms
are patched in; a bound cover forces a rebuild; other replicas' changes show
within ``ttl_seconds`` (stale-while-revalidate).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from router import domain as m
from router.app.ports import Engine, PositionStore
from router.config import PolicyConfig


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """What positions are computed from, read from the store in one go."""

    pools: tuple[m.Pool, ...]  # sorted by (chain, pool id)
    balances: dict[str, m.ConfirmedBalance]
    covers: tuple[m.CoverInForce, ...]
    moving: tuple[m.TransferRecord, ...]  # transfers whose capital may still be on its way
    cessions: tuple[m.Cession, ...]
    chains: frozenset[str]
    executing: tuple[m.Plan, ...] = ()
    deployments: tuple[m.Deployment, ...] = ()  # the registry, for the loss model's links

    def deployment_cover(self) -> dict[str, tuple[m.DeploymentCover, ...]]:
        """Per pool, its cover in force on each registered deployment, by cover type."""
        known = {d.deployment_id: d for d in self.deployments}
        sums: dict[tuple[str, str, str], int] = {}
        for c in self.covers:
            if c.deployment_id in known:
                key = (c.pool_id, c.deployment_id, c.cover_type)
                sums[key] = sums.get(key, 0) + c.limit_amount
        out: dict[str, list[m.DeploymentCover]] = {}
        for (pool, dep, ctype), amount in sorted(sums.items()):
            out.setdefault(pool, []).append(m.DeploymentCover(ctype, known[dep], amount))
        return {k: tuple(v) for k, v in out.items()}

    def cover_by_type(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.covers:
            by_type = out.setdefault(c.pool_id, {})
            by_type[c.cover_type] = by_type.get(c.cover_type, 0) + c.limit_amount
        return out

    def capital(self, pool_id: str) -> int:
        bal = self.balances.get(pool_id)
        return bal.amount if bal else 0

    def ceded_ppm(self) -> dict[str, int]:
        """Quota share placed on chain per pool (capped at the whole risk)."""
        out: dict[str, int] = {}
        for c in self.cessions:
            if c.status is m.CessionStatus.PLACED and c.share_ppm:
                out[c.pool_id] = min(1_000_000, out.get(c.pool_id, 0) + c.share_ppm)
        return out


async def read_state(repo: PositionStore, *, now: datetime | None = None) -> StateSnapshot:
    pools = sorted(await repo.list_pools(), key=lambda p: (p.chain, p.pool_id))
    balances = await repo.latest_balances()
    covers = await repo.covers_in_force(now=now)
    moving = await repo.moving_transfers()
    cessions = await repo.list_cessions()
    chains = frozenset(c.name for c in await repo.list_chains())
    executing = await repo.list_plans(m.PlanStatus.EXECUTING, limit=10_000)
    deployments = await repo.list_deployments()
    return StateSnapshot(
        tuple(pools),
        balances,
        tuple(covers),
        tuple(moving),
        tuple(cessions),
        chains,
        tuple(executing),
        tuple(deployments),
    )


def transit(snap: StateSnapshot) -> list[m.Transit]:
    """Capital of every executing plan that left its pools and has not reached them:
    what each hub holds between legs, and each bridge transfer not yet delivered."""
    by_id = {t.transfer_id: t for t in snap.moving}
    landed = (m.TransferState.CONFIRMED, m.TransferState.FINALIZED, m.TransferState.DELIVERED)
    out: list[m.Transit] = []
    for plan in snap.executing:
        at_hub: dict[str, int] = {}
        holder: dict[str, m.PlanStep] = {}
        for s in sorted(plan.steps, key=lambda s: s.seq):
            t = by_id.get(s.transfer_id or "")
            if s.kind is not m.StepKind.TRANSFER or t is None or t.status not in landed:
                continue
            from_hub = s.src_pool.startswith("hub:")
            to_hub = (s.dst_pool or "").startswith("hub:")
            if from_hub:
                at_hub[t.src_chain] = at_hub.get(t.src_chain, 0) - s.amount
            if to_hub and t.dst_chain == t.src_chain:
                at_hub[t.dst_chain] = at_hub.get(t.dst_chain, 0) + s.amount
                holder[t.dst_chain] = s
            elif to_hub and t.status is m.TransferState.DELIVERED:
                at_hub[t.dst_chain] = at_hub.get(t.dst_chain, 0) + s.amount - s.fee
                holder[t.dst_chain] = s
            elif to_hub:
                out.append(
                    m.Transit(
                        plan.plan_id,
                        s.seq,
                        t.src_chain,
                        "bridge",
                        t.dst_chain,
                        s.amount,
                        s.status.value,
                        s.detail or "",
                    )
                )
        for chain, amount in sorted(at_hub.items()):
            if amount > 0 and chain in holder:
                s = holder[chain]
                out.append(
                    m.Transit(
                        plan.plan_id,
                        s.seq,
                        chain,
                        "hub",
                        chain,
                        amount,
                        s.status.value,
                        s.detail or "",
                    )
                )
    return out


async def requirements(engine: Engine, snap: StateSnapshot) -> dict[str, m.Requirement]:
    """Every pool's SCR/MCR; the simulation runs in a worker thread (numpy), off the loop."""
    by_type = snap.cover_by_type()
    by_deployment = snap.deployment_cover()
    ceded = snap.ceded_ppm()
    exposures = [
        m.PoolExposure(
            p,
            snap.capital(p.pool_id),
            by_type.get(p.pool_id, {}),
            ceded.get(p.pool_id, 0),
            by_deployment.get(p.pool_id, ()),
        )
        for p in snap.pools
    ]
    return await asyncio.to_thread(engine.requirements, exposures)


def pool_views(
    snap: StateSnapshot,
    reqs: dict[str, m.Requirement],
    policy: PolicyConfig,
    now: datetime,
    chains: Sequence[str] = (),
) -> list[m.PoolView]:
    """Every pool's position, sorted by (chain, pool).

    Locked capital is the pool's reserve plus the limits of its covers in
    force (what backs them), at most its capital: the planner never moves it.
    Capital in flight is counted exactly once, by comparing where each
    transfer landed with the block of the pool's confirmed balance: a transfer
    out that is signed, pending, or included after that block has left (or
    may leave) capital the balance still shows; a transfer in, final after
    that block, is capital the balance does not show yet; one not final is
    arriving. Premiums of cessions not yet final are leaving too.
    """
    wanted = set(chains)
    limit = timedelta(seconds=policy.staleness_limit_seconds)
    by_type = snap.cover_by_type()
    leaving: dict[str, int] = {}
    arriving: dict[str, int] = {}
    arrived: dict[str, int] = {}

    def seen(pool: str, block: int | None) -> bool:
        bal = snap.balances.get(pool)
        return block is not None and bal is not None and bal.block_number >= block

    known = snap_pools(snap)
    for t in snap.moving:
        if t.src_pool in known and not seen(t.src_pool, t.block_number):
            leaving[t.src_pool] = leaving.get(t.src_pool, 0) + t.amount
        dst = t.dst_pool
        if dst is None or dst not in known or seen(dst, t.block_number):
            continue
        final = t.status in (m.TransferState.FINALIZED, m.TransferState.DELIVERED)
        bucket = arrived if final else arriving
        bucket[dst] = bucket.get(dst, 0) + t.amount
    for c in snap.cessions:
        if c.status is m.CessionStatus.PENDING or (
            c.status is m.CessionStatus.PLACED and not seen(c.pool_id, c.block_number)
        ):
            leaving[c.pool_id] = leaving.get(c.pool_id, 0) + c.premium
    views = []
    for p in snap.pools:
        if wanted and p.chain not in wanted:
            continue
        bal = snap.balances.get(p.pool_id)
        capital = bal.amount if bal else 0
        cover = sum(by_type.get(p.pool_id, {}).values())
        fresh_at = bal.fresh_at if bal else None
        views.append(
            m.PoolView(
                pool=p,
                capital=capital,
                in_flight=leaving.get(p.pool_id, 0),
                active_cover=cover,
                requirement=reqs.get(p.pool_id, m.NO_REQUIREMENT),
                stale=fresh_at is None or now - fresh_at > limit,
                locked=min(capital, p.locked_capital + cover),
                arriving=arriving.get(p.pool_id, 0),
                confirmed_block=bal.block_number if bal else 0,
                fresh_at=fresh_at,
                arriving_final=arrived.get(p.pool_id, 0),
            )
        )
    return views


def snap_pools(snap: StateSnapshot) -> frozenset[str]:
    return frozenset(p.pool_id for p in snap.pools)


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A balance this process just confirmed (from ingestion)."""

    pool_id: str
    amount: int
    block_number: int
    fresh_at: datetime


@dataclass(slots=True)
class Materialized:
    """Every pool's view, built once and patched as balances confirm.

    ``serial`` changes with every build or patch: callers key what they derive
    from a view (the gRPC answer) on it.
    """

    snap: StateSnapshot
    views: list[m.PoolView]
    index: dict[str, int]  # pool id -> position in ``views``
    serial: int
    transit: list[m.Transit] = dataclasses.field(default_factory=list)


class PositionCache:
    """The materialised position of every pool (see the module docstring)."""

    def __init__(
        self,
        repo: PositionStore,
        engine: Engine,
        policy: PolicyConfig,
        ttl_seconds: float = 5.0,
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

    async def aclose(self) -> None:
        """Stop a background rebuild; call before the store closes (a rebuild
        cut off inside a store transaction would wait on a closed connection)."""
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def invalidate(self) -> None:
        """State changed in a way only a rebuild captures (a cover bound: requirements
        and locked capital move)."""
        self._invalidations += 1
        self._current = None

    def confirmed(self, balances: Sequence[Confirmed]) -> None:
        """Balances confirmed by this process: patch the view in place instead of
        reloading every pool. Requirements do not depend on capital, so they
        stay valid. Builds in flight replay these patches when they finish."""
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
            old = view.views[i]
            if old.fresh_at is not None and old.confirmed_block > b.block_number:
                continue
            view.views[i] = dataclasses.replace(
                old,
                capital=b.amount,
                locked=min(b.amount, old.pool.locked_capital + old.active_cover),
                confirmed_block=b.block_number,
                fresh_at=b.fresh_at,
            )
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
        views = pool_views(snap, reqs, self._policy, m.utcnow())
        self._serial += 1
        view = Materialized(
            snap=snap,
            views=views,
            index={v.pool.pool_id: i for i, v in enumerate(views)},
            serial=self._serial,
            transit=transit(snap),
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

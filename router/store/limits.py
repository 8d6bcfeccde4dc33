"""Limits' state: lane buckets and consumptions, taken under the scope's row lock.

Two replicas (or two workers) consuming the same scope at once are serialised
by the database: the transaction first makes sure every limited scope has a
``limit_buckets`` row (an ``INSERT … ON CONFLICT DO NOTHING``: on SQLite a
write as the first statement takes the database's write lock before anything
is read), then locks the rows in scope order (``SELECT … FOR UPDATE`` on
PostgreSQL; a fixed order cannot deadlock), then reads the levels and the
window, then writes. So the last headroom is taken once. Which scopes a step
consumes and the arithmetic are the domain's (:mod:`router.domain.limits`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from router.domain import check_utc, utcnow
from router.domain.checks import check_amount, check_id, check_int
from router.domain.limits import (
    WINDOW,
    Headroom,
    LimitRefusal,
    LimitsPolicy,
    TokenBucket,
    Usage,
    check_scope,
    headroom_of,
    refused,
    window_take,
)
from router.domain.plans import PlanStatus
from router.store._base import PLANS, StoreBase
from router.store.tables import metadata

BUCKETS, USAGE = metadata.tables["limit_buckets"], metadata.tables["limit_usage"]
RELEASES = metadata.tables["limit_releases"]
#: Plans none of whose steps consumes a limit again.
ENDED = (PlanStatus.COMPLETED, PlanStatus.FAILED, PlanStatus.CANCELLED)


def _unreleased() -> sa.ColumnElement[bool]:
    """A consumption still counts: no release row for its (plan, step, scope)."""
    return ~sa.exists().where(
        RELEASES.c.plan_id == USAGE.c.plan_id,
        RELEASES.c.seq == USAGE.c.seq,
        RELEASES.c.scope == USAGE.c.scope,
    )


class LimitsPart(StoreBase):
    async def consume_limits(
        self,
        plan_id: str,
        seq: int,
        amount: int,
        scopes: Sequence[str],
        policy: LimitsPolicy,
        *,
        now: datetime | None = None,
    ) -> list[str]:
        """Take ``amount`` from every limited scope among ``scopes`` for the plan's
        step ``seq``, all or none; returns the scopes consumed now.

        Idempotent per (plan, step, scope): a scope this step already consumed
        is skipped (a retried or restarted step takes once). Raises
        :class:`~router.errors.LimitExceeded` (headroom, when it frees) and
        consumes nothing when any scope cannot take it.
        """
        check_id(plan_id, "plan_id")
        check_int(seq, "seq", lo=0, hi=1_000_000)
        check_amount(amount, "amount")
        for s in scopes:
            check_scope(s)
        now = check_utc(now or utcnow(), "now")
        limited = policy.limited(scopes)
        if not limited:
            return []
        async with self._tx() as conn:
            seed = [
                {"scope": s, "level": lane.capacity if (lane := policy.lane(s)) else 0}
                | {"updated_at": now}
                for s in limited
            ]
            await conn.execute(
                self._insert(BUCKETS).values(seed).on_conflict_do_nothing(index_elements=["scope"])
            )
            stmt = sa.select(BUCKETS).where(BUCKETS.c.scope.in_(limited)).order_by(BUCKETS.c.scope)
            rows = {
                r["scope"]: r
                for r in (await conn.execute(stmt.with_for_update() if self._pg else stmt))
                .mappings()
                .all()
            }
            done = set(
                (
                    await conn.execute(
                        sa.select(USAGE.c.scope).where(
                            USAGE.c.plan_id == plan_id,
                            USAGE.c.seq == seq,
                            USAGE.c.scope.in_(limited),
                        )
                    )
                ).scalars()
            )
            todo = [s for s in limited if s not in done]
            buckets: dict[str, TokenBucket] = {}
            for s in todo:
                lane = policy.lane(s)
                if lane is not None:
                    r = rows[s]
                    took = TokenBucket.stored(lane, r["level"], r["updated_at"]).take(
                        amount, now, s
                    )
                    if isinstance(took, LimitRefusal):
                        raise refused(took)
                    buckets[s] = took
                    continue
                cap = policy.daily_cap(s)
                assert cap is not None
                usages = await self._window(conn, s, now)
                refusal = window_take(cap.cap, usages, amount, now, s)
                if refusal is not None:
                    raise refused(refusal)
            for s, b in buckets.items():
                await conn.execute(
                    sa.update(BUCKETS)
                    .where(BUCKETS.c.scope == s)
                    .values(level=b.level, updated_at=b.updated_at)
                )
            if todo:
                await conn.execute(
                    sa.insert(USAGE),
                    [
                        {"plan_id": plan_id, "seq": seq, "scope": s, "amount": amount, "at": now}
                        for s in todo
                    ],
                )
        return todo

    async def _window(
        self, conn: AsyncConnection, scope: str, now: datetime
    ) -> list[tuple[int, datetime]]:
        rows = await conn.execute(
            sa.select(USAGE.c.amount, USAGE.c.at).where(
                USAGE.c.scope == scope, USAGE.c.at > now - WINDOW, _unreleased()
            )
        )
        return [(int(a), at) for a, at in rows.all()]

    async def limit_headroom(
        self, policy: LimitsPolicy, *, now: datetime | None = None
    ) -> Headroom:
        """What every configured limit can still take at ``now`` (advice: the
        executor's consumption, under the lock, is what counts)."""
        if policy.empty:
            return Headroom()
        now = check_utc(now or utcnow(), "now")
        lanes = [lane.scope for lane in policy.lanes]
        daily = [d.scope for d in policy.daily]
        async with self._tx() as conn:
            brows = await conn.execute(
                sa.select(BUCKETS.c.scope, BUCKETS.c.level, BUCKETS.c.updated_at).where(
                    BUCKETS.c.scope.in_(lanes)
                )
            )
            buckets = {s: (int(level), at) for s, level, at in brows.all()}
            urows = await conn.execute(
                sa.select(USAGE.c.scope, USAGE.c.amount, USAGE.c.at).where(
                    USAGE.c.scope.in_(daily), USAGE.c.at > now - WINDOW, _unreleased()
                )
            )
            usages: dict[str, list[tuple[int, datetime]]] = {}
            for s, a, at in urows.all():
                usages.setdefault(s, []).append((int(a), at))
        return headroom_of(policy, buckets, usages, now)

    async def release_limits(
        self, plan_id: str, seq: int, policy: LimitsPolicy, *, now: datetime | None = None
    ) -> list[str]:
        """Give back what the plan's step ``seq`` consumed, because it moved nothing
        (it failed on chain, or an operator resolved it as refunded); returns
        the scopes released now.

        Once per (plan, step, scope): a ``limit_releases`` row marks it, so a
        retried release gives nothing more. A lane's bucket gets the amount
        back (capped at its capacity) under the same row lock consuming takes;
        a daily window stops counting the consumption. A step that consumed
        nothing releases nothing.
        """
        check_id(plan_id, "plan_id")
        check_int(seq, "seq", lo=0, hi=1_000_000)
        now = check_utc(now or utcnow(), "now")
        async with self._tx() as conn:
            taken = (
                await conn.execute(
                    sa.select(USAGE.c.scope, USAGE.c.amount)
                    .where(USAGE.c.plan_id == plan_id, USAGE.c.seq == seq, _unreleased())
                    .order_by(USAGE.c.scope)
                )
            ).all()
            if not taken:
                return []
            lanes = [s for s, _ in taken if policy.lane(s) is not None]
            rows: dict[str, Any] = {}
            if lanes:
                stmt = (
                    sa.select(BUCKETS).where(BUCKETS.c.scope.in_(lanes)).order_by(BUCKETS.c.scope)
                )
                rows = {
                    r["scope"]: r
                    for r in (await conn.execute(stmt.with_for_update() if self._pg else stmt))
                    .mappings()
                    .all()
                }
            for scope, amount in taken:
                lane = policy.lane(scope)
                if lane is not None and scope in rows:
                    r = rows[scope]
                    b = TokenBucket.stored(lane, r["level"], r["updated_at"]).give_back(
                        int(amount), now
                    )
                    await conn.execute(
                        sa.update(BUCKETS)
                        .where(BUCKETS.c.scope == scope)
                        .values(level=b.level, updated_at=b.updated_at)
                    )
            await conn.execute(
                sa.insert(RELEASES),
                [
                    {"plan_id": plan_id, "seq": seq, "scope": s, "amount": int(a), "at": now}
                    for s, a in taken
                ],
            )
        return [s for s, _ in taken]

    async def limit_usage(self, plan_id: str | None = None) -> list[Usage]:
        """Recorded consumptions (oldest first), of one plan or all."""
        stmt = sa.select(USAGE).order_by(USAGE.c.at, USAGE.c.plan_id, USAGE.c.seq, USAGE.c.scope)
        if plan_id is not None:
            stmt = stmt.where(USAGE.c.plan_id == plan_id)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [Usage(r["scope"], int(r["amount"]), r["at"], r["plan_id"], r["seq"]) for r in rows]

    # -- retention -------------------------------------------------------------

    def _prunable_usage(self, before: datetime) -> sa.Select[Any]:
        """Consumptions that count nowhere any more: of plans that ended (no step
        of theirs consumes again) and recorded before ``before`` and the window."""
        before = min(check_utc(before, "before"), utcnow() - WINDOW)
        ended = sa.select(PLANS.c.plan_id).where(PLANS.c.status.in_([s.value for s in ENDED]))
        return sa.select(USAGE.c.plan_id, USAGE.c.seq, USAGE.c.scope).where(
            USAGE.c.at < before, USAGE.c.plan_id.in_(ended)
        )

    async def count_prunable_limit_usage(self, before: datetime) -> int:
        stmt = sa.select(sa.func.count()).select_from(self._prunable_usage(before).subquery())
        async with self._tx() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def prune_limit_usage(self, before: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` prunable consumptions (oldest first) with their
        releases, in one transaction; how many went."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        keys = self._prunable_usage(before).order_by(USAGE.c.at).limit(limit)
        async with self._tx() as conn:
            rows = [tuple(r) for r in (await conn.execute(keys)).all()]
            for table in (RELEASES, USAGE) if rows else ():
                key = sa.tuple_(table.c.plan_id, table.c.seq, table.c.scope)
                await conn.execute(sa.delete(table).where(key.in_(rows)))
        return len(rows)

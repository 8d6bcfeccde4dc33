"""Balance-report ingestion and confirmed balances (rules in :mod:`router.domain.ingest`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from router.domain import (
    ConfirmedBalance,
    Disagreement,
    check_utc,
    utcnow,
)
from router.domain.ingest import Decision, ReportIn, ReportOutcome, StaticView, Vote, decide, screen
from router.store import convert
from router.store._base import CHAINS, DISAGREE, HISTORY, LATEST, POOLS, REPORTERS, StoreBase

#: Namespace of the per-chain advisory locks (first key of the two-key form).
_CHAIN_LOCK = sa.text("SELECT pg_advisory_xact_lock(20461, hashtext(:chain))")


class ReportsPart(StoreBase):
    # -- balance reports -----------------------------------------------------

    async def _static_view(self) -> StaticView:
        if self._static is not None and time.monotonic() - self._static_at < self._cache_ttl:
            return self._static
        async with self._tx() as conn:
            pools = (await conn.execute(sa.select(POOLS.c.pool_id, POOLS.c.chain))).all()
            reps = (
                await conn.execute(
                    sa.select(REPORTERS.c.reporter_id, REPORTERS.c.chain, REPORTERS.c.allowed)
                )
            ).all()
            chains = (await conn.execute(sa.select(CHAINS.c.name, CHAINS.c.quorum))).all()
        view = StaticView(
            pool_chain={p: c for p, c in pools},
            reporters={r: (c, bool(a)) for r, c, a in reps},
            quorum={c: q for c, q in chains},
        )
        self._static, self._static_at = view, time.monotonic()
        return view

    async def record_reports(
        self,
        reports: Sequence[ReportIn],
        *,
        now: datetime | None = None,
        max_skew: timedelta = timedelta(seconds=30),
    ) -> list[ReportOutcome]:
        """Judge and store a batch atomically; one outcome per report, same order.

        Bad reports are rejected one by one (never raise); a database failure
        raises ``StoreUnavailable`` and writes nothing of the batch.

        On PostgreSQL, batches touching a quorum chain serialise on a per-chain
        advisory lock: two reporters' votes committed side by side must see
        each other, or neither would complete the quorum.
        """
        if not reports:
            return []
        received = check_utc(now, "now") if now is not None else utcnow()
        static = await self._static_view()
        wanted = {
            r.pool_id
            for r in reports
            if isinstance(r, ReportIn)
            and isinstance(r.pool_id, str)
            and r.pool_id in static.pool_chain
        }
        voting = sorted(
            {
                c
                for r in reports
                if isinstance(r, ReportIn)
                and isinstance(c := r.chain, str)
                and static.quorum.get(c, 1) > 1
            }
        )
        async with self._tx() as conn:
            if voting and self._pg:
                for chain in voting:  # sorted: a fixed lock order cannot deadlock
                    await conn.execute(_CHAIN_LOCK, {"chain": chain})
            latest = await self._bulk_sql().latest_votes(conn, wanted) if wanted else {}
            screening = screen(reports, static, latest, not_after=received + max_skew)
            stored = (
                await self._bulk_sql().stored_votes(conn, screening.vote_keys)
                if screening.vote_keys
                else {}
            )
            decision = decide(reports, screening, static, stored)
            await self._write_decision(conn, reports, decision, static, received)
        return decision.outcomes

    async def _write_decision(
        self,
        conn: AsyncConnection,
        reports: Sequence[ReportIn],
        decision: Decision,
        static: StaticView,
        received: datetime,
    ) -> None:
        """Bulk writes of one batch: history, confirmed balances, disagreements."""
        sql = self._bulk_sql()
        amount, stamp = sql.bind_amount, sql.bind_ts
        at = stamp(received)
        stamps: dict[datetime, Any] = {}  # a batch usually shares one observed_at

        def ts(value: datetime) -> Any:
            out = stamps.get(value)
            if out is None:
                out = stamps[value] = stamp(value)
            return out

        if decision.history:
            rows: list[tuple[Any, ...]] = [
                (
                    r.pool_id,
                    r.block_number,
                    r.reporter_id,
                    r.chain,
                    amount(r.amount),
                    r.block_hash,
                    ts(r.observed_at),
                    at,
                )
                for r in (reports[i] for i in decision.history)
            ]
            rows.sort()  # key order for every writer: concurrent batches cannot deadlock
            await sql.insert_history(conn, rows)
        if decision.confirm:
            rows = [
                (
                    r.pool_id,
                    r.chain,
                    amount(r.amount),
                    r.block_number,
                    r.block_hash,
                    ts(r.observed_at),
                    at,
                    n,
                    ts(r.block_time) if r.block_time is not None else None,
                )
                for r, n in ((reports[i], n) for i, n in decision.confirm.values())
            ]
            rows.sort()
            await sql.run(conn, sql.latest, rows)
        if decision.disagreements:
            rows = [
                (pool, block, static.pool_chain[pool], "\n".join(votes), at)
                for pool, block, votes in decision.disagreements
            ]
            await sql.run(conn, sql.disagree, rows)

    async def latest_balance(self, pool_id: str) -> ConfirmedBalance | None:
        async with self._tx() as conn:
            r = await self._one(conn, sa.select(LATEST).where(LATEST.c.pool_id == pool_id))
        return None if r is None else convert.balance(r)

    async def latest_balances(self, chain: str | None = None) -> dict[str, ConfirmedBalance]:
        stmt = sa.select(LATEST)
        if chain is not None:
            stmt = stmt.where(LATEST.c.chain == chain)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return {r["pool_id"]: convert.balance(r) for r in rows}

    async def list_disagreements(
        self, pool_id: str | None = None, *, limit: int = 100
    ) -> list[Disagreement]:
        stmt = sa.select(DISAGREE).order_by(DISAGREE.c.detected_at.desc(), DISAGREE.c.pool_id)
        if pool_id is not None:
            stmt = stmt.where(DISAGREE.c.pool_id == pool_id)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt.limit(limit))).mappings().all()
        return [convert.disagreement(r) for r in rows]

    async def report_history(
        self, pool_id: str, *, limit: int = 100
    ) -> list[tuple[str, Vote, datetime]]:
        """Votes stored for a pool, newest block first: (reporter, vote, observed_at)."""
        stmt = (
            sa.select(HISTORY)
            .where(HISTORY.c.pool_id == pool_id)
            .order_by(HISTORY.c.block_number.desc(), HISTORY.c.reporter_id)
            .limit(limit)
        )
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            (
                r["reporter_id"],
                Vote(r["block_number"], r["block_hash"], r["amount"]),
                r["observed_at"],
            )
            for r in rows
        ]

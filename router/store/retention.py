"""Retention of the balance-report history: bounded pruning by permit.

The rule (``router/README.md``, Retention) is one query: rows received
before the cutoff whose block is below the pool's confirmed block. The
votes that back the confirmed balance (its block), votes above it (a
quorum in progress) and pools with no confirmed balance yet are kept;
``balance_latest`` and ``audit_log`` are never touched. The database
refuses the DELETE without the permit the same transaction inserts and
removes (migration 0010).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from router.domain import check_utc
from router.store._base import HISTORY, LATEST, StoreBase
from router.store.tables import metadata

PERMITS = metadata.tables["history_prune_permit"]


def _prunable(before: datetime) -> sa.Select[tuple[str, int, str]]:
    return (
        sa.select(HISTORY.c.pool_id, HISTORY.c.block_number, HISTORY.c.reporter_id)
        .join(LATEST, LATEST.c.pool_id == HISTORY.c.pool_id)
        .where(HISTORY.c.received_at < before, HISTORY.c.block_number < LATEST.c.block_number)
    )


class RetentionPart(StoreBase):
    async def count_prunable_history(self, before: datetime) -> int:
        """How many history rows a prune with this cutoff would remove (all batches)."""
        before = check_utc(before, "before")
        stmt = sa.select(sa.func.count()).select_from(_prunable(before).subquery())
        async with self._tx() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def count_history(self) -> int:
        async with self._tx() as conn:
            return int(
                (await conn.execute(sa.select(sa.func.count()).select_from(HISTORY))).scalar_one()
            )

    async def prune_history(self, before: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` prunable rows received before ``before``; how many went.

        One transaction: permit in, bounded delete, permit out.
        """
        before = check_utc(before, "before")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        keys = _prunable(before).order_by(HISTORY.c.received_at).limit(limit)
        permit = uuid.uuid4().hex
        async with self._tx() as conn:
            await conn.execute(sa.insert(PERMITS).values(permit_id=permit, before=before))
            result = await conn.execute(
                sa.delete(HISTORY).where(
                    sa.tuple_(HISTORY.c.pool_id, HISTORY.c.block_number, HISTORY.c.reporter_id).in_(
                        keys.subquery().select()
                    )
                )
            )
            await conn.execute(sa.delete(PERMITS).where(PERMITS.c.permit_id == permit))
        return int(result.rowcount or 0)

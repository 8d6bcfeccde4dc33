"""Leases: insert-or-take-over-if-expired in one statement, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from router.domain import Lease, check_id, check_text, utcnow
from router.store._base import LEASES, StoreBase


class LeasesPart(StoreBase):
    async def acquire_lease(
        self, name: str, holder: str, ttl: timedelta, *, now: datetime | None = None
    ) -> tuple[bool, Lease]:
        """Take ``name`` for ``holder`` until now + ``ttl``: (True, the lease) if this
        call holds it (new, expired, or already ours: renewed), else (False, the
        other holder's lease).

        One ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired`` statement:
        PostgreSQL serialises racing inserts on the primary key and re-checks the
        WHERE on the row it waited for; SQLite has one writer. So two callers
        never both get a row back.
        """
        check_id(name, "name")
        check_text(holder, "holder", max_len=128)
        now = now or utcnow()
        expires = now + ttl
        stmt = self._insert(LEASES).values(name=name, holder=holder, expires_at=expires)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
            where=sa.or_(LEASES.c.expires_at <= now, LEASES.c.holder == holder),
        ).returning(LEASES.c.holder)
        async with self._tx() as conn:
            won = (await conn.execute(stmt)).first() is not None
            row = await self._one(conn, sa.select(LEASES).where(LEASES.c.name == name))
        assert row is not None  # inserted, or the holder that kept us out
        return won, Lease(row["name"], row["holder"], row["expires_at"])

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give ``name`` up if ``holder`` still holds it (a lease taken over is left alone)."""
        async with self._tx() as conn:
            result = await conn.execute(
                sa.delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder)
            )
        return bool(result.rowcount)

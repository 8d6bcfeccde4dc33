"""Who may act: partner and reporter activation, revoked certificates, idempotency keys.

Deactivation and revocation are read fresh on every call that depends on
them (never from a cache), so they take effect at once on every replica.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

from router.domain.checks import utcnow
from router.domain.idempotency import IdempotencyRecord
from router.domain.identity import Revocation
from router.errors import IdempotencyMismatch, NotFound
from router.store import convert
from router.store._base import IDEMPOTENCY, PARTNERS, REPORTERS, REVOCATIONS, StoreBase


class AccessPart(StoreBase):
    # -- activation ------------------------------------------------------------

    async def set_partner_active(self, partner_id: str, active: bool) -> bool:
        """Activate or deactivate a partner; returns the previous state."""
        async with self._tx() as conn:
            r = await self._one(
                conn, sa.select(PARTNERS.c.active).where(PARTNERS.c.partner_id == partner_id)
            )
            if r is None:
                raise NotFound("partner", partner_id)
            await conn.execute(
                sa.update(PARTNERS)
                .where(PARTNERS.c.partner_id == partner_id)
                .values(active=active, updated_at=utcnow())
            )
        return bool(r["active"])

    async def set_reporter_allowed(self, reporter_id: str, allowed: bool) -> bool:
        """Allow or refuse a reporter; returns the previous state."""
        async with self._tx() as conn:
            r = await self._one(
                conn,
                sa.select(REPORTERS.c.allowed).where(REPORTERS.c.reporter_id == reporter_id),
            )
            if r is None:
                raise NotFound("reporter", reporter_id)
            await conn.execute(
                sa.update(REPORTERS)
                .where(REPORTERS.c.reporter_id == reporter_id)
                .values(allowed=allowed, updated_at=utcnow())
            )
        self.invalidate_cache()
        return bool(r["allowed"])

    async def reporters_allowed(self, reporter_ids: list[str]) -> dict[str, bool]:
        """The current flag of each reporter (fresh from the database, never cached)."""
        if not reporter_ids:
            return {}
        stmt = sa.select(REPORTERS.c.reporter_id, REPORTERS.c.allowed).where(
            REPORTERS.c.reporter_id.in_(sorted(set(reporter_ids)))
        )
        async with self._tx() as conn:
            return {rid: bool(a) for rid, a in await conn.execute(stmt)}

    # -- revocations -------------------------------------------------------------

    async def revoke(self, revocation: Revocation) -> Revocation:
        """Refuse a certificate from now on; revoking it again keeps the first record."""
        row = {
            "fingerprint": revocation.fingerprint,
            "identity": revocation.identity,
            "reason": revocation.reason,
            "revoked_by": revocation.revoked_by,
            "revoked_at": revocation.revoked_at,
        }
        async with self._tx() as conn:
            stmt = sa.select(REVOCATIONS).where(REVOCATIONS.c.fingerprint == revocation.fingerprint)
            existing = await self._one(conn, stmt)
            if existing is not None:
                return convert.revocation(existing)
            await conn.execute(sa.insert(REVOCATIONS).values(**row))
        return revocation

    async def is_revoked(self, fingerprint: str) -> bool:
        stmt = sa.select(REVOCATIONS.c.fingerprint).where(REVOCATIONS.c.fingerprint == fingerprint)
        async with self._tx() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def list_revocations(self) -> list[Revocation]:
        stmt = sa.select(REVOCATIONS).order_by(REVOCATIONS.c.revoked_at, REVOCATIONS.c.fingerprint)
        async with self._tx() as conn:
            return [convert.revocation(r) for r in (await conn.execute(stmt)).mappings()]

    # -- idempotency keys --------------------------------------------------------

    async def find_key(self, scope: str, key: str) -> IdempotencyRecord | None:
        stmt = sa.select(IDEMPOTENCY).where(IDEMPOTENCY.c.scope == scope, IDEMPOTENCY.c.key == key)
        async with self._tx() as conn:
            r = await self._one(conn, stmt)
        return None if r is None else convert.idempotency_record(r)

    async def record_key(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Record a key's first use; the same request again returns the stored record,
        another request under the key raises :class:`IdempotencyMismatch`.

        Call it inside the unit of work of the change it guards. Two first uses
        racing: the loser's insert fails (``Conflict``) and its unit of work
        rolls back; a retry then finds the winner's record.
        """
        async with self._tx() as conn:
            stmt = sa.select(IDEMPOTENCY).where(
                IDEMPOTENCY.c.scope == record.scope, IDEMPOTENCY.c.key == record.key
            )
            r = await self._one(conn, stmt)
            if r is not None:
                stored = convert.idempotency_record(r)
                differs = stored.differs_from(record)
                if differs:
                    raise IdempotencyMismatch(record.scope, record.key, mismatch=differs)
                return stored
            created = utcnow()
            await conn.execute(
                sa.insert(IDEMPOTENCY).values(
                    scope=record.scope,
                    key=record.key,
                    request_hash=record.request_hash,
                    request_json=record.request_json,
                    subject=record.subject,
                    result=json.dumps(dict(record.result), sort_keys=True),
                    actor=record.actor,
                    created_at=created,
                )
            )
        return IdempotencyRecord(
            record.scope,
            record.key,
            record.request_json,
            record.request_hash,
            record.subject,
            record.actor,
            dict(record.result),
            created,
        )


__all__ = ["AccessPart"]

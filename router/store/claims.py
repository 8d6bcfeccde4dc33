"""What incidents and claims persist: oracle reporters, signed reports, incidents,
alerts, claims, payments and recoverables.

Persists and decides nothing: the rules are :mod:`router.domain.incidents`
and :mod:`router.domain.claims`. Claim moves are checked against
:data:`~router.domain.claims.CLAIM_TRANSITIONS` (``InvalidTransition``, nothing
written). A replayed report is refused by the primary key (its hash) and the
(reporter, nonce) unique constraint, whichever replica stores it first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from router.domain.checks import utcnow
from router.domain.claims import (
    CLAIM_TRANSITIONS,
    Claim,
    ClaimStatus,
    Payment,
    PaymentStatus,
    Recoverable,
)
from router.domain.covers import Cover
from router.domain.incidents import (
    Alert,
    AlertKind,
    Incident,
    IncidentKind,
    IncidentStatus,
    OracleReporter,
    StoredReport,
    parse_payload,
)
from router.errors import InvalidTransition, NotFound, ReplayedReport
from router.store import convert
from router.store._base import COVERS, StoreBase
from router.store.tables import metadata

T = metadata.tables
ORACLES, INCIDENTS, REPORTS = T["oracle_reporters"], T["incidents"], T["incident_reports"]
ALERTS, CLAIMS, PAYMENTS, RECOVERABLES = (
    T["incident_alerts"],
    T["claims"],
    T["claim_payments"],
    T["recoverables"],
)
Row = Mapping[Any, Any]


def _incident(r: Row) -> Incident:
    return Incident(
        incident_id=r["incident_id"],
        deployment_id=r["deployment_id"],
        kind=IncidentKind(r["kind"]),
        occurred_at=r["occurred_at"],
        status=IncidentStatus(r["status"]),
        loss=int(r["loss"]),
        reporters=r["reporters"],
        reports=r["reports"],
        detail=r["detail"],
        confirmed_at=r["confirmed_at"],
        updated_at=r["updated_at"],
    )


def _report(r: Row) -> StoredReport:
    return StoredReport(
        report_hash=r["report_hash"],
        report=parse_payload(r["payload"].encode()),
        incident_id=r["incident_id"],
        received_at=r["received_at"],
    )


def _claim(r: Row) -> Claim:
    return Claim(
        claim_id=r["claim_id"],
        cover_id=r["cover_id"],
        partner_id=r["partner_id"],
        incident_id=r["incident_id"],
        pool_id=r["pool_id"],
        claimed_loss=int(r["claimed_loss"]),
        status=ClaimStatus(r["status"]),
        approved=int(r["approved"]),
        paid=int(r["paid"]),
        disputed=int(r["disputed"]),
        reason=r["reason"],
        filed_by=r["filed_by"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


def _payment(r: Row) -> Payment:
    return Payment(
        payment_id=r["payment_id"],
        claim_id=r["claim_id"],
        cover_id=r["cover_id"],
        pool_id=r["pool_id"],
        amount=int(r["amount"]),
        status=PaymentStatus(r["status"]),
        tx_ref=r["tx_ref"],
        block_number=r["block_number"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def _recoverable(r: Row) -> Recoverable:
    return Recoverable(
        recovery_id=r["recovery_id"],
        payment_id=r["payment_id"],
        cession_id=r["cession_id"],
        vault_id=r["vault_id"],
        pool_id=r["pool_id"],
        amount=int(r["amount"]),
        status=r["status"],
        tx_ref=r["tx_ref"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


class ClaimsPart(StoreBase):
    # -- oracle reporters ------------------------------------------------------

    async def upsert_oracle(self, oracle: OracleReporter) -> OracleReporter:
        row = {
            "reporter_id": oracle.reporter_id,
            "public_key": oracle.public_key,
            "active": oracle.active,
            "updated_at": utcnow(),
        }
        async with self._tx() as conn:
            await self._upsert(conn, ORACLES, ["reporter_id"], row)
        return oracle

    async def get_oracle(self, reporter_id: str) -> OracleReporter:
        """Read fresh (never cached): a deactivation refuses the very next report."""
        async with self._tx() as conn:
            r = await self._one(
                conn, sa.select(ORACLES).where(ORACLES.c.reporter_id == reporter_id)
            )
        if r is None:
            raise NotFound("oracle reporter", reporter_id)
        return OracleReporter(r["reporter_id"], r["public_key"], bool(r["active"]))

    async def list_oracles(self) -> list[OracleReporter]:
        async with self._tx() as conn:
            rows = await conn.execute(sa.select(ORACLES).order_by(ORACLES.c.reporter_id))
            return [
                OracleReporter(r["reporter_id"], r["public_key"], bool(r["active"]))
                for r in rows.mappings()
            ]

    async def set_oracle_active(self, reporter_id: str, active: bool) -> bool:
        """True if it changed."""
        async with self._tx() as conn:
            result = await conn.execute(
                sa.update(ORACLES)
                .where(ORACLES.c.reporter_id == reporter_id, ORACLES.c.active != active)
                .values(active=active, updated_at=utcnow())
            )
            if result.rowcount == 0:
                await self._require(conn, ORACLES, "oracle reporter", reporter_id)
            return bool(result.rowcount)

    # -- reports and incidents -------------------------------------------------

    async def find_replay(self, report_hash: str, reporter_id: str, nonce: str) -> str | None:
        """The hash of a stored report with this hash or this (reporter, nonce)."""
        stmt = sa.select(REPORTS.c.report_hash).where(
            sa.or_(
                REPORTS.c.report_hash == report_hash,
                sa.and_(REPORTS.c.reporter_id == reporter_id, REPORTS.c.nonce == nonce),
            )
        )
        async with self._tx() as conn:
            r = await self._one(conn, stmt)
        return None if r is None else str(r["report_hash"])

    async def lock_incidents(self) -> None:
        """Serialise incident writers until commit (call inside a unit of work):
        two replicas cannot both open an incident for one event or both confirm it."""
        async with self._tx() as conn:
            if self._pg:
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x1C1DE7})
            else:  # the first write takes SQLite's database lock
                await conn.execute(
                    sa.update(ORACLES).where(sa.false()).values(active=ORACLES.c.active)
                )

    async def record_report(
        self, stored: StoredReport, payload: bytes, signature: bytes
    ) -> StoredReport:
        r = stored.report
        row = {
            "report_hash": stored.report_hash,
            "reporter_id": r.reporter_id,
            "nonce": r.nonce,
            "incident_id": stored.incident_id,
            "deployment_id": r.deployment_id,
            "kind": r.kind.value,
            "occurred_at": r.occurred_at,
            "loss": r.loss,
            "payload": payload.decode(),
            "signature": signature.hex(),
            "received_at": stored.received_at,
        }
        async with self._tx() as conn:
            if await self._one(
                conn,
                sa.select(REPORTS.c.report_hash).where(
                    sa.or_(
                        REPORTS.c.report_hash == stored.report_hash,
                        sa.and_(REPORTS.c.reporter_id == r.reporter_id, REPORTS.c.nonce == r.nonce),
                    )
                ),
            ):
                raise ReplayedReport(
                    f"report {stored.report_hash} (reporter {r.reporter_id}, nonce {r.nonce}) "
                    "was received before: nothing recorded",
                    report_hash=stored.report_hash,
                )
            await conn.execute(sa.insert(REPORTS).values(**row))
        return stored

    async def signed_report(self, report_hash: str) -> tuple[bytes, bytes]:
        """The stored signed bytes and signature, to verify again."""
        async with self._tx() as conn:
            r = await self._one(
                conn,
                sa.select(REPORTS.c.payload, REPORTS.c.signature).where(
                    REPORTS.c.report_hash == report_hash
                ),
            )
        if r is None:
            raise NotFound("incident report", report_hash)
        return r["payload"].encode(), bytes.fromhex(r["signature"])

    async def incident_reports(self, incident_id: str) -> list[StoredReport]:
        stmt = (
            sa.select(REPORTS)
            .where(REPORTS.c.incident_id == incident_id)
            .order_by(REPORTS.c.received_at, REPORTS.c.report_hash)
        )
        async with self._tx() as conn:
            return [_report(r) for r in (await conn.execute(stmt)).mappings()]

    async def open_incidents(self, deployment_id: str, kind: IncidentKind) -> list[Incident]:
        """Pending and confirmed incidents on a deployment and kind (oldest first)."""
        stmt = (
            sa.select(INCIDENTS)
            .where(
                INCIDENTS.c.deployment_id == deployment_id,
                INCIDENTS.c.kind == kind.value,
                INCIDENTS.c.status != IncidentStatus.REJECTED.value,
            )
            .order_by(INCIDENTS.c.occurred_at, INCIDENTS.c.incident_id)
        )
        async with self._tx() as conn:
            return [_incident(r) for r in (await conn.execute(stmt)).mappings()]

    async def save_incident(self, incident: Incident) -> Incident:
        row = {
            "incident_id": incident.incident_id,
            "deployment_id": incident.deployment_id,
            "kind": incident.kind.value,
            "occurred_at": incident.occurred_at,
            "status": incident.status.value,
            "loss": incident.loss,
            "reporters": incident.reporters,
            "reports": incident.reports,
            "detail": incident.detail[:512],
            "confirmed_at": incident.confirmed_at,
            "updated_at": incident.updated_at or utcnow(),
        }
        async with self._tx() as conn:
            await self._upsert(conn, INCIDENTS, ["incident_id"], row)
        return _incident(row)

    async def get_incident(self, incident_id: str) -> Incident:
        async with self._tx() as conn:
            r = await self._one(
                conn, sa.select(INCIDENTS).where(INCIDENTS.c.incident_id == incident_id)
            )
        if r is None:
            raise NotFound("incident", incident_id)
        return _incident(r)

    async def list_incidents(
        self, status: IncidentStatus | None = None, *, limit: int = 100
    ) -> list[Incident]:
        stmt = sa.select(INCIDENTS).order_by(
            INCIDENTS.c.occurred_at.desc(), INCIDENTS.c.incident_id
        )
        if status is not None:
            stmt = stmt.where(INCIDENTS.c.status == status.value)
        async with self._tx() as conn:
            return [_incident(r) for r in (await conn.execute(stmt.limit(limit))).mappings()]

    async def raise_alert(self, alert: Alert) -> Alert:
        async with self._tx() as conn:
            await conn.execute(
                sa.insert(ALERTS).values(
                    incident_id=alert.incident_id,
                    kind=alert.kind.value,
                    detail=alert.detail[:512],
                    raised_at=alert.raised_at,
                )
            )
        return alert

    async def list_alerts(self, incident_id: str | None = None) -> list[Alert]:
        stmt = sa.select(ALERTS).order_by(ALERTS.c.seq)
        if incident_id is not None:
            stmt = stmt.where(ALERTS.c.incident_id == incident_id)
        async with self._tx() as conn:
            return [
                Alert(r["incident_id"], AlertKind(r["kind"]), r["detail"], r["raised_at"])
                for r in (await conn.execute(stmt)).mappings()
            ]

    # -- claims ----------------------------------------------------------------

    async def insert_opened(self, claims: Sequence[Claim], payments: Sequence[Payment]) -> None:
        """Bulk-insert new claims and their first payments (the caller checked that
        none exists, under the incident lock): two statements whatever the count."""
        now = utcnow()
        async with self._tx() as conn:
            if claims:
                await conn.execute(
                    sa.insert(CLAIMS),
                    [
                        {
                            "claim_id": c.claim_id,
                            "cover_id": c.cover_id,
                            "partner_id": c.partner_id,
                            "incident_id": c.incident_id,
                            "pool_id": c.pool_id,
                            "claimed_loss": c.claimed_loss,
                            "status": c.status.value,
                            "approved": c.approved,
                            "paid": c.paid,
                            "disputed": c.disputed,
                            "reason": c.reason[:512],
                            "filed_by": c.filed_by,
                            "version": 1,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for c in claims
                    ],
                )
            if payments:
                await conn.execute(
                    sa.insert(PAYMENTS),
                    [
                        {
                            "payment_id": p.payment_id,
                            "claim_id": p.claim_id,
                            "cover_id": p.cover_id,
                            "pool_id": p.pool_id,
                            "amount": p.amount,
                            "status": p.status.value,
                            "tx_ref": None,
                            "block_number": None,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for p in payments
                    ],
                )

    async def get_claim(self, claim_id: str, *, partner_id: str | None = None) -> Claim:
        """A claim; with ``partner_id`` only that partner's (another's is NotFound)."""
        stmt = sa.select(CLAIMS).where(CLAIMS.c.claim_id == claim_id)
        if partner_id is not None:
            stmt = stmt.where(CLAIMS.c.partner_id == partner_id)
        async with self._tx() as conn:
            r = await self._one(conn, stmt)
        if r is None:
            raise NotFound("claim", claim_id)
        return _claim(r)

    async def list_claims(
        self,
        *,
        partner_id: str | None = None,
        incident_id: str | None = None,
        cover_id: str | None = None,
        status: ClaimStatus | None = None,
        limit: int = 1000,
    ) -> list[Claim]:
        stmt = sa.select(CLAIMS).order_by(CLAIMS.c.created_at.desc(), CLAIMS.c.claim_id)
        for col, value in (
            (CLAIMS.c.partner_id, partner_id),
            (CLAIMS.c.incident_id, incident_id),
            (CLAIMS.c.cover_id, cover_id),
            (CLAIMS.c.status, status.value if status else None),
        ):
            if value is not None:
                stmt = stmt.where(col == value)
        async with self._tx() as conn:
            return [_claim(r) for r in (await conn.execute(stmt.limit(limit))).mappings()]

    async def update_claim(
        self,
        claim_id: str,
        status: ClaimStatus,
        *,
        approved: int | None = None,
        paid: int | None = None,
        disputed: int | None = None,
        reason: str | None = None,
    ) -> Claim:
        """Move a claim along its state machine (the same status just updates figures)."""
        target = ClaimStatus(status)
        async with self._tx() as conn:
            r = await self._one(conn, sa.select(CLAIMS).where(CLAIMS.c.claim_id == claim_id))
            if r is None:
                raise NotFound("claim", claim_id)
            current = ClaimStatus(r["status"])
            if target is not current and target not in CLAIM_TRANSITIONS[current]:
                raise InvalidTransition(
                    f"claim {claim_id} cannot go from {current.value} to {target.value}"
                )
            values: dict[str, Any] = {
                "status": target.value,
                "version": CLAIMS.c.version + 1,
                "updated_at": utcnow(),
            }
            for name, value in (("approved", approved), ("paid", paid), ("disputed", disputed)):
                if value is not None:
                    values[name] = value
            if reason is not None:
                values["reason"] = reason[:512]
            await conn.execute(
                sa.update(CLAIMS)
                .where(CLAIMS.c.claim_id == claim_id, CLAIMS.c.status == current.value)
                .values(**values)
            )
            r = await self._one(conn, sa.select(CLAIMS).where(CLAIMS.c.claim_id == claim_id))
            assert r is not None
            return _claim(r)

    # -- payments --------------------------------------------------------------

    async def record_payment(self, payment: Payment) -> Payment:
        """Idempotent by ``payment_id`` (the same id with other terms is a mismatch)."""
        fields = ("claim_id", "cover_id", "pool_id", "amount")
        now = utcnow()
        async with self._tx() as conn:
            r = await self._replayed(
                conn, PAYMENTS, "claim payment", payment.payment_id, payment, fields
            )
            if r is not None:
                return _payment(r)
            row = {f: getattr(payment, f) for f in fields}
            row |= {
                "payment_id": payment.payment_id,
                "status": payment.status.value,
                "tx_ref": payment.tx_ref,
                "block_number": payment.block_number,
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(sa.insert(PAYMENTS).values(**row))
        return _payment(row)

    async def get_payment(self, payment_id: str) -> Payment:
        async with self._tx() as conn:
            r = await self._one(
                conn, sa.select(PAYMENTS).where(PAYMENTS.c.payment_id == payment_id)
            )
        if r is None:
            raise NotFound("claim payment", payment_id)
        return _payment(r)

    async def set_payment(
        self,
        payment_id: str,
        status: PaymentStatus,
        *,
        tx_ref: str | None = None,
        block_number: int | None = None,
    ) -> Payment:
        """PENDING -> PAID | FAILED, once; the same status again changes nothing."""
        target = PaymentStatus(status)
        async with self._tx() as conn:
            stmt = sa.select(PAYMENTS).where(PAYMENTS.c.payment_id == payment_id)
            r = await self._one(conn, stmt)
            if r is None:
                raise NotFound("claim payment", payment_id)
            current = PaymentStatus(r["status"])
            if current is target:
                return _payment(r)
            if current is not PaymentStatus.PENDING:
                raise InvalidTransition(
                    f"payment {payment_id} is {current.value}; it cannot become {target.value}"
                )
            await conn.execute(
                sa.update(PAYMENTS)
                .where(PAYMENTS.c.payment_id == payment_id)
                .values(
                    status=target.value,
                    tx_ref=tx_ref,
                    block_number=block_number,
                    updated_at=utcnow(),
                )
            )
            r = await self._one(conn, stmt)
            assert r is not None
            return _payment(r)

    async def list_payments(
        self,
        *,
        claim_id: str | None = None,
        cover_ids: Sequence[str] | None = None,
        status: PaymentStatus | None = None,
        limit: int = 1000,
    ) -> list[Payment]:
        stmt = sa.select(PAYMENTS).order_by(PAYMENTS.c.created_at, PAYMENTS.c.payment_id)
        if claim_id is not None:
            stmt = stmt.where(PAYMENTS.c.claim_id == claim_id)
        if cover_ids is not None:
            stmt = stmt.where(PAYMENTS.c.cover_id.in_(list(cover_ids)))
        if status is not None:
            stmt = stmt.where(PAYMENTS.c.status == status.value)
        async with self._tx() as conn:
            return [_payment(r) for r in (await conn.execute(stmt.limit(limit))).mappings()]

    async def paid_by_cover(
        self, cover_ids: Sequence[str] | None = None, *, final_only: bool = False
    ) -> dict[str, int]:
        """What each cover has paid or is paying (PENDING and PAID payments; with
        ``final_only`` PAID ones only, the capital that has left), exactly."""
        stmt = sa.select(PAYMENTS.c.cover_id, PAYMENTS.c.amount).where(
            PAYMENTS.c.status == PaymentStatus.PAID.value
            if final_only
            else PAYMENTS.c.status != PaymentStatus.FAILED.value
        )
        if cover_ids is not None:
            stmt = stmt.where(PAYMENTS.c.cover_id.in_(list(cover_ids)))
        out: dict[str, int] = {}
        async with self._tx() as conn:
            for cover, amount in await conn.execute(stmt):
                out[cover] = out.get(cover, 0) + int(amount)
        return out

    # -- recoverables ----------------------------------------------------------

    async def record_recoverable(self, rec: Recoverable) -> Recoverable:
        fields = ("payment_id", "cession_id", "vault_id", "pool_id", "amount")
        now = utcnow()
        async with self._tx() as conn:
            r = await self._replayed(
                conn, RECOVERABLES, "recoverable", rec.recovery_id, rec, fields
            )
            if r is not None:
                return _recoverable(r)
            row = {f: getattr(rec, f) for f in fields}
            row |= {
                "recovery_id": rec.recovery_id,
                "status": rec.status,
                "tx_ref": rec.tx_ref,
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(sa.insert(RECOVERABLES).values(**row))
        return _recoverable(row)

    async def get_recoverable(self, recovery_id: str) -> Recoverable:
        async with self._tx() as conn:
            r = await self._one(
                conn, sa.select(RECOVERABLES).where(RECOVERABLES.c.recovery_id == recovery_id)
            )
        if r is None:
            raise NotFound("recoverable", recovery_id)
        return _recoverable(r)

    async def set_recoverable(
        self, recovery_id: str, status: str, *, tx_ref: str | None = None
    ) -> Recoverable:
        """due -> collected | failed; a collected one stays collected."""
        async with self._tx() as conn:
            stmt = sa.select(RECOVERABLES).where(RECOVERABLES.c.recovery_id == recovery_id)
            r = await self._one(conn, stmt)
            if r is None:
                raise NotFound("recoverable", recovery_id)
            if r["status"] == status:
                return _recoverable(r)
            if r["status"] != "due":
                raise InvalidTransition(
                    f"recoverable {recovery_id} is {r['status']}; it cannot become {status}"
                )
            await conn.execute(
                sa.update(RECOVERABLES)
                .where(RECOVERABLES.c.recovery_id == recovery_id)
                .values(status=status, tx_ref=tx_ref, updated_at=utcnow())
            )
            r = await self._one(conn, stmt)
            assert r is not None
            return _recoverable(r)

    async def list_recoverables(
        self, *, status: str | None = None, payment_id: str | None = None, limit: int = 1000
    ) -> list[Recoverable]:
        stmt = sa.select(RECOVERABLES).order_by(
            RECOVERABLES.c.created_at, RECOVERABLES.c.recovery_id
        )
        if status is not None:
            stmt = stmt.where(RECOVERABLES.c.status == status)
        if payment_id is not None:
            stmt = stmt.where(RECOVERABLES.c.payment_id == payment_id)
        async with self._tx() as conn:
            return [_recoverable(r) for r in (await conn.execute(stmt.limit(limit))).mappings()]

    async def recovered_by_cession(self) -> dict[str, int]:
        """What each cession has owed so far (due or collected), to cap the next recovery."""
        stmt = sa.select(RECOVERABLES.c.cession_id, RECOVERABLES.c.amount).where(
            RECOVERABLES.c.status != "failed"
        )
        out: dict[str, int] = {}
        async with self._tx() as conn:
            for cession, amount in await conn.execute(stmt):
                out[cession] = out.get(cession, 0) + int(amount)
        return out

    async def cover_by_id(self, cover_id: str) -> Cover:
        """A cover by id whoever holds it (the claim use case checks the holder)."""
        async with self._tx() as conn:
            r = await self._one(conn, sa.select(COVERS).where(COVERS.c.cover_id == cover_id))
        if r is None:
            raise NotFound("cover", cover_id)
        return convert.cover(r)

    async def covers_active_at(self, at: datetime) -> list[Cover]:
        """Active covers whose period contains ``at`` (what an incident at ``at`` may touch)."""
        stmt = (
            sa.select(COVERS)
            .where(
                COVERS.c.status == "active",
                COVERS.c.starts_at <= at,
                COVERS.c.ends_at > at,
            )
            .order_by(COVERS.c.created_at, COVERS.c.cover_id)
        )
        async with self._tx() as conn:
            return [convert.cover(r) for r in (await conn.execute(stmt)).mappings()]

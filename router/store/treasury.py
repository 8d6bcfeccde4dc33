"""Treasury controls' state: change proposals and approvals, the destinations
allow-list, and the basis each plan was approved on. Persists; the rules are
:mod:`router.domain.changes` and :mod:`router.domain.drift`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from router.domain import Plan, PlanStatus, check_id, utcnow
from router.domain.changes import ChangeProposal, ChangeStatus, Destination
from router.domain.drift import PoolBasis
from router.domain.limits import LimitOverride
from router.errors import InvalidTransition, NotFound, StaleVersion
from router.store._base import APPROVALS, PLANS, StoreBase
from router.store.tables import metadata

CHANGES, CHANGE_APPROVALS = metadata.tables["change_proposals"], metadata.tables["change_approvals"]
ALLOWED, BASIS = metadata.tables["allowed_destinations"], metadata.tables["plan_basis"]
OVERRIDES = metadata.tables["limit_overrides"]
REGISTRY = metadata.tables["registry_overrides"]
COVER_TERMS = metadata.tables["cover_governed_terms"]


class TreasuryPart(StoreBase):
    # -- the basis a plan was approved on -------------------------------------

    async def record_basis(
        self, plan_id: str, basis: Sequence[PoolBasis], *, now: datetime | None = None
    ) -> None:
        """Replace the plan's basis (a re-approval records what it saw)."""
        check_id(plan_id, "plan_id")
        now = now or utcnow()
        async with self._tx() as conn:
            await conn.execute(sa.delete(BASIS).where(BASIS.c.plan_id == plan_id))
            if basis:
                await conn.execute(
                    sa.insert(BASIS),
                    [
                        {
                            "plan_id": plan_id,
                            "pool_id": b.pool_id,
                            "balance": b.balance,
                            "block_number": b.block,
                            "captured_at": now,
                        }
                        for b in basis
                    ],
                )

    async def plan_basis(self, plan_id: str) -> dict[str, PoolBasis]:
        async with self._tx() as conn:
            rows = (
                (await conn.execute(sa.select(BASIS).where(BASIS.c.plan_id == plan_id)))
                .mappings()
                .all()
            )
        return {
            r["pool_id"]: PoolBasis(r["pool_id"], int(r["balance"]), r["block_number"])
            for r in rows
        }

    async def hold_plan(self, plan_id: str, *, expected_version: int) -> Plan:
        """An executing plan back to PENDING_APPROVAL with every approval void (the
        audit log keeps who approved what); it needs at least one fresh approval."""
        async with self._tx() as conn:
            row = await self._one(conn, sa.select(PLANS).where(PLANS.c.plan_id == plan_id))
            if row is None:
                raise NotFound("plan", plan_id)
            if row["version"] != expected_version:
                raise StaleVersion(
                    "plan", plan_id, expected=expected_version, actual=row["version"]
                )
            if row["status"] != PlanStatus.EXECUTING.value:
                raise InvalidTransition(
                    f"plan {plan_id!r} is {row['status']}: only an executing plan is held"
                )
            await conn.execute(sa.delete(APPROVALS).where(APPROVALS.c.plan_id == plan_id))
            await conn.execute(
                sa.update(PLANS)
                .where(PLANS.c.plan_id == plan_id)
                .values(
                    status=PlanStatus.PENDING_APPROVAL.value,
                    version=PLANS.c.version + 1,
                    approvals_required=sa.func.max(PLANS.c.approvals_required, 1)
                    if not self._pg
                    else sa.func.greatest(PLANS.c.approvals_required, 1),
                    updated_at=utcnow(),
                )
            )
        return await self.get_plan(plan_id)  # type: ignore[attr-defined]

    # -- the destinations allow-list -----------------------------------------

    async def add_destination(
        self, dest: Destination, added_by: str, *, now: datetime | None = None
    ) -> bool:
        """Allow ``dest``; False if it was allowed already (its label is kept)."""
        stmt = (
            self._insert(ALLOWED)
            .values(
                chain=dest.chain,
                address=dest.address,
                label=dest.label,
                added_by=added_by,
                added_at=now or utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["chain", "address"])
            .returning(ALLOWED.c.chain)
        )
        async with self._tx() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def remove_destination(self, chain: str, address: str) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(
                sa.delete(ALLOWED).where(ALLOWED.c.chain == chain, ALLOWED.c.address == address)
            )
        return bool(result.rowcount)

    async def list_destinations(self) -> list[Destination]:
        async with self._tx() as conn:
            rows = (
                (
                    await conn.execute(
                        sa.select(ALLOWED).order_by(ALLOWED.c.chain, ALLOWED.c.address)
                    )
                )
                .mappings()
                .all()
            )
        return [Destination(r["chain"], r["address"], r["label"]) for r in rows]

    async def destination_allowed(self, chain: str, address: str) -> bool:
        async with self._tx() as conn:
            row = await self._one(
                conn,
                sa.select(ALLOWED.c.chain).where(
                    ALLOWED.c.chain == chain, ALLOWED.c.address == address
                ),
            )
        return row is not None

    async def allowlist_touched(self) -> bool:
        """Whether the allow-list was ever set: it holds a row, or a change to it
        was applied (an emptied list is not seeded again)."""
        async with self._tx() as conn:
            rows = await conn.execute(sa.select(ALLOWED.c.chain).limit(1))
            if rows.first() is not None:
                return True
            applied = await conn.execute(
                sa.select(CHANGES.c.change_id)
                .where(
                    CHANGES.c.kind.like("allowlist.%"),
                    CHANGES.c.status == ChangeStatus.APPLIED.value,
                )
                .limit(1)
            )
            return applied.first() is not None

    # -- limits set through changes -------------------------------------------

    async def set_limit_override(self, override: LimitOverride, change_id: str) -> None:
        row = {
            "scope": override.scope,
            "capacity": override.capacity,
            "refill_per_second": override.refill_per_second,
            "change_id": change_id,
            "updated_at": utcnow(),
        }
        async with self._tx() as conn:
            await self._upsert(conn, OVERRIDES, ["scope"], row)

    async def limit_overrides(self) -> list[LimitOverride]:
        async with self._tx() as conn:
            rows = (
                (await conn.execute(sa.select(OVERRIDES).order_by(OVERRIDES.c.scope)))
                .mappings()
                .all()
            )
        return [
            LimitOverride(
                r["scope"],
                int(r["capacity"]),
                None if r["refill_per_second"] is None else int(r["refill_per_second"]),
            )
            for r in rows
        ]

    # -- routes and vaults set through changes --------------------------------

    async def set_registry_override(
        self, kind: str, key: str, body: str, change_id: str, *, removed: bool = False
    ) -> None:
        """Record what an applied change set (``body``: canonical JSON) for one
        route or vault; ``removed`` takes a configured one out."""
        row = {
            "kind": kind,
            "key": key,
            "body": body,
            "removed": removed,
            "change_id": change_id,
            "updated_at": utcnow(),
        }
        async with self._tx() as conn:
            await self._upsert(conn, REGISTRY, ["kind", "key"], row)

    async def registry_overrides(self, kind: str) -> list[tuple[str, str, bool]]:
        """(key, body, removed) of every override of one kind, by key."""
        async with self._tx() as conn:
            rows = await conn.execute(
                sa.select(REGISTRY.c.key, REGISTRY.c.body, REGISTRY.c.removed)
                .where(REGISTRY.c.kind == kind)
                .order_by(REGISTRY.c.key)
            )
            return [(k, b, bool(r)) for k, b, r in rows]

    # -- the governed terms a cover was bound under ----------------------------

    async def record_cover_terms(
        self, cover_id: str, terms: str, block_number: int, version: int, limit: int
    ) -> None:
        """Write once: the terms a cover was bound under (a replay keeps the first)."""
        async with self._tx() as conn:
            found = await conn.execute(
                sa.select(COVER_TERMS.c.cover_id).where(COVER_TERMS.c.cover_id == cover_id)
            )
            if found.first() is not None:
                return
            await conn.execute(
                sa.insert(COVER_TERMS).values(
                    cover_id=cover_id,
                    terms=terms,
                    block_number=block_number,
                    version=version,
                    coverage_limit=limit,
                    recorded_at=utcnow(),
                )
            )

    async def cover_terms(self, cover_id: str) -> tuple[str, int, int, int] | None:
        """(terms contract, block, version, limit) a cover was bound under, or None."""
        async with self._tx() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        COVER_TERMS.c.terms,
                        COVER_TERMS.c.block_number,
                        COVER_TERMS.c.version,
                        COVER_TERMS.c.coverage_limit,
                    ).where(COVER_TERMS.c.cover_id == cover_id)
                )
            ).first()
        if row is None:
            return None
        return str(row[0]), int(row[1]), int(row[2]), int(row[3])

    # -- change proposals ------------------------------------------------------

    async def create_change(self, change: ChangeProposal) -> ChangeProposal:
        async with self._tx() as conn:
            await conn.execute(sa.insert(CHANGES).values(**_change_row(change)))
        return change

    async def get_change(self, change_id: str) -> ChangeProposal:
        async with self._tx() as conn:
            found = await self._load_changes(
                conn, sa.select(CHANGES).where(CHANGES.c.change_id == change_id)
            )
        if not found:
            raise NotFound("change", change_id)
        return found[0]

    async def list_changes(
        self, status: ChangeStatus | None = None, *, limit: int = 100
    ) -> list[ChangeProposal]:
        stmt = (
            sa.select(CHANGES)
            .order_by(CHANGES.c.proposed_at.desc(), CHANGES.c.change_id)
            .limit(limit)
        )
        if status is not None:
            stmt = stmt.where(CHANGES.c.status == ChangeStatus(status).value)
        async with self._tx() as conn:
            return await self._load_changes(conn, stmt)

    async def save_change(self, change: ChangeProposal, *, expected_version: int) -> ChangeProposal:
        """Store a change's new status and approvals if nobody changed it since
        ``expected_version`` (approvals are only ever added)."""
        async with self._tx() as conn:
            result = await conn.execute(
                sa.update(CHANGES)
                .where(
                    CHANGES.c.change_id == change.change_id,
                    CHANGES.c.version == expected_version,
                )
                .values(
                    status=change.status.value,
                    decided_at=change.decided_at,
                    decided_by=change.decided_by,
                    version=expected_version + 1,
                )
            )
            if result.rowcount != 1:
                raise StaleVersion(
                    "change", change.change_id, expected=expected_version, actual=None
                )
            have = set(
                (
                    await conn.execute(
                        sa.select(CHANGE_APPROVALS.c.operator_id).where(
                            CHANGE_APPROVALS.c.change_id == change.change_id
                        )
                    )
                ).scalars()
            )
            new = [op for op in change.approvals if op not in have]
            if new:
                now = utcnow()
                await conn.execute(
                    sa.insert(CHANGE_APPROVALS),
                    [
                        {"change_id": change.change_id, "operator_id": op, "approved_at": now}
                        for op in new
                    ],
                )
            found = await self._load_changes(
                conn, sa.select(CHANGES).where(CHANGES.c.change_id == change.change_id)
            )
        return found[0]

    async def _load_changes(self, conn: Any, stmt: Any) -> list[ChangeProposal]:
        rows = (await conn.execute(stmt)).mappings().all()
        ids = [r["change_id"] for r in rows]
        approvals: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            arows = await conn.execute(
                sa.select(CHANGE_APPROVALS.c.change_id, CHANGE_APPROVALS.c.operator_id)
                .where(CHANGE_APPROVALS.c.change_id.in_(ids))
                .order_by(CHANGE_APPROVALS.c.approved_at, CHANGE_APPROVALS.c.operator_id)
            )
            for cid, op in arows.all():
                approvals[cid].append(op)
        return [_change(r, approvals[r["change_id"]]) for r in rows]


def _change_row(c: ChangeProposal) -> dict[str, Any]:
    return {
        "change_id": c.change_id,
        "kind": c.kind.value,
        "payload": c.payload,
        "diff": c.diff,
        "proposed_by": c.proposed_by,
        "reason": c.reason,
        "required": c.required,
        "status": c.status.value,
        "proposed_at": c.proposed_at,
        "not_before": c.not_before,
        "expires_at": c.expires_at,
        "decided_at": c.decided_at,
        "decided_by": c.decided_by,
        "version": c.version,
    }


def _change(r: Mapping[str, Any], approvals: list[str]) -> ChangeProposal:
    return ChangeProposal(
        change_id=r["change_id"],
        kind=r["kind"],
        payload=r["payload"],
        diff=r["diff"],
        proposed_by=r["proposed_by"],
        reason=r["reason"],
        required=r["required"],
        status=r["status"],
        proposed_at=r["proposed_at"],
        not_before=r["not_before"],
        expires_at=r["expires_at"],
        approvals=tuple(approvals),
        decided_at=r["decided_at"],
        decided_by=r["decided_by"],
        version=r["version"],
    )

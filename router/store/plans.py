"""Plans, steps, approvals, transfers and the audit log."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from router.domain import (
    PLAN_TRANSITIONS,
    AuditEntry,
    Plan,
    PlanDraft,
    PlanStatus,
    PlanStep,
    StepStatus,
    check_id,
    check_int,
    check_text,
    check_transfer_id,
    check_unchanged,
    steps_hash,
    utcnow,
)
from router.errors import (
    Conflict,
    DuplicateApproval,
    InvalidRecord,
    InvalidTransition,
    NotFound,
    PlanChanged,
    StaleVersion,
)
from router.store import convert
from router.store._base import APPROVALS, AUDIT, PLANS, STEPS, StoreBase


class PlansPart(StoreBase):
    # -- plans, steps, approvals ---------------------------------------------

    async def create_plan(self, draft: PlanDraft) -> Plan:
        now = utcnow()
        row = {
            "plan_id": draft.plan_id,
            "status": PlanStatus.PENDING_APPROVAL.value,
            "version": 1,
            "created_by": draft.created_by,
            "total_amount": draft.total_amount,
            "cost": draft.cost,
            "summary": draft.summary,
            "approvals_required": draft.approvals_required,
            "steps_hash": steps_hash(draft.steps),
            "created_at": now,
            "updated_at": now,
        }
        async with self._tx() as conn:
            if await self._one(
                conn, sa.select(PLANS.c.plan_id).where(PLANS.c.plan_id == draft.plan_id)
            ):
                raise Conflict(f"plan {draft.plan_id!r} already exists")
            await conn.execute(sa.insert(PLANS).values(**row))
            if draft.steps:
                await conn.execute(
                    sa.insert(STEPS), [_step_row(draft.plan_id, s, now) for s in draft.steps]
                )
            return await self._load_plan(conn, draft.plan_id)

    async def _load_plan(self, conn: AsyncConnection, plan_id: str) -> Plan:
        plans = await self._load_plans(conn, sa.select(PLANS).where(PLANS.c.plan_id == plan_id))
        if not plans:
            raise NotFound("plan", plan_id)
        return plans[0]

    async def _load_plans(self, conn: AsyncConnection, stmt: Any) -> list[Plan]:
        rows = (await conn.execute(stmt)).mappings().all()
        if not rows:
            return []
        ids = [r["plan_id"] for r in rows]
        steps: dict[str, list[PlanStep]] = {i: [] for i in ids}
        approvals: dict[str, list[tuple[str, str | None]]] = {i: [] for i in ids}
        srows = await conn.execute(
            sa.select(STEPS).where(STEPS.c.plan_id.in_(ids)).order_by(STEPS.c.plan_id, STEPS.c.seq)
        )
        for s in srows.mappings():
            steps[s["plan_id"]].append(convert.step(s))
        arows = await conn.execute(
            sa.select(APPROVALS.c.plan_id, APPROVALS.c.operator_id, APPROVALS.c.steps_hash)
            .where(APPROVALS.c.plan_id.in_(ids))
            .order_by(APPROVALS.c.approved_at, APPROVALS.c.operator_id)
        )
        for pid, op, digest in arows:
            approvals[pid].append((op, digest))
        return [convert.plan(r, steps[r["plan_id"]], approvals[r["plan_id"]]) for r in rows]

    async def get_plan(self, plan_id: str) -> Plan:
        async with self._tx() as conn:
            return await self._load_plan(conn, plan_id)

    async def list_plans(self, status: PlanStatus | None = None, *, limit: int = 100) -> list[Plan]:
        check_int(limit, "limit", lo=1, hi=10_000)
        stmt = sa.select(PLANS).order_by(PLANS.c.created_at.desc(), PLANS.c.plan_id).limit(limit)
        if status is not None:
            stmt = stmt.where(PLANS.c.status == PlanStatus(status).value)
        async with self._tx() as conn:
            return await self._load_plans(conn, stmt)

    async def update_plan_status(
        self, plan_id: str, status: PlanStatus, *, expected_version: int
    ) -> Plan:
        """Move a plan to ``status`` if nobody changed it since ``expected_version``."""
        target = PlanStatus(status)
        async with self._tx() as conn:
            plan = await self._load_plan(conn, plan_id)
            if plan.version != expected_version:
                raise StaleVersion("plan", plan_id, expected=expected_version, actual=plan.version)
            if target not in PLAN_TRANSITIONS[plan.status]:
                raise InvalidTransition(
                    f"plan {plan_id!r} cannot go from {plan.status.value} to {target.value}"
                )
            if target is PlanStatus.APPROVED and len(plan.approvals) < plan.approvals_required:
                raise InvalidTransition(
                    f"plan {plan_id!r} has {len(plan.approvals)} of "
                    f"{plan.approvals_required} required approvals"
                )
            await self._bump_plan(conn, plan_id, target, expected_version)
            return await self._load_plan(conn, plan_id)

    async def _bump_plan(
        self, conn: AsyncConnection, plan_id: str, status: PlanStatus, expected: int
    ) -> None:
        result = await conn.execute(
            sa.update(PLANS)
            .where(PLANS.c.plan_id == plan_id, PLANS.c.version == expected)
            .values(status=status.value, version=PLANS.c.version + 1, updated_at=utcnow())
        )
        if result.rowcount != 1:
            raise StaleVersion("plan", plan_id, expected=expected, actual=None)

    async def approve_plan(
        self, plan_id: str, operator_id: str, *, reviewed_hash: str | None = None
    ) -> Plan:
        """Record one operator's approval, bound to the hash of the steps as they
        are in this transaction; enough distinct ones approve the plan. With
        ``reviewed_hash`` (what the operator reviewed), a plan whose steps hash
        otherwise is refused (:class:`PlanChanged`), and so is one whose steps
        changed since it was proposed."""
        check_id(operator_id, "operator_id")
        async with self._tx() as conn:
            plan = await self._load_plan(conn, plan_id)
            current = check_unchanged(dataclasses.replace(plan, approvals=(), approval_hashes=()))
            if reviewed_hash is not None and reviewed_hash != current:
                raise PlanChanged(
                    plan_id,
                    f"plan {plan_id}'s steps hash {current[:12]}, not the "
                    f"{reviewed_hash[:12]} reviewed: read the plan again",
                )
            if plan.status is not PlanStatus.PENDING_APPROVAL:
                raise InvalidTransition(
                    f"plan {plan_id!r} is {plan.status.value}: only pending plans take approvals"
                )
            if operator_id == plan.created_by:
                raise Conflict(
                    f"operator {operator_id!r} created plan {plan_id!r} and cannot approve it"
                )
            if operator_id in plan.approvals:
                raise DuplicateApproval(
                    f"operator {operator_id!r} already approved plan {plan_id!r}"
                )
            try:
                await conn.execute(
                    sa.insert(APPROVALS).values(
                        plan_id=plan_id,
                        operator_id=operator_id,
                        approved_at=utcnow(),
                        steps_hash=current,
                    )
                )
            except IntegrityError as exc:
                raise DuplicateApproval(
                    f"operator {operator_id!r} already approved plan {plan_id!r}"
                ) from exc
            if len(plan.approvals) + 1 >= plan.approvals_required:
                await self._bump_plan(conn, plan_id, PlanStatus.APPROVED, plan.version)
            return await self._load_plan(conn, plan_id)

    async def update_step(
        self,
        plan_id: str,
        seq: int,
        *,
        status: StepStatus,
        expected_version: int,
        transfer_id: str | None = None,
    ) -> PlanStep:
        values: dict[str, Any] = {
            "status": StepStatus(status).value,
            "version": STEPS.c.version + 1,
            "updated_at": utcnow(),
        }
        if transfer_id is not None:
            values["transfer_id"] = check_transfer_id(transfer_id)
        where = (STEPS.c.plan_id == plan_id, STEPS.c.seq == seq)
        async with self._tx() as conn:
            result = await conn.execute(
                sa.update(STEPS).where(*where, STEPS.c.version == expected_version).values(**values)
            )
            r = await self._one(conn, sa.select(STEPS).where(*where))
            if r is None:
                raise NotFound("plan step", f"{plan_id}#{seq}")
            if result.rowcount != 1:
                raise StaleVersion(
                    "plan step", f"{plan_id}#{seq}", expected=expected_version, actual=r["version"]
                )
            return convert.step(r)

    # -- audit ---------------------------------------------------------------

    async def append_audit(
        self,
        actor: str,
        action: str,
        subject: str,
        detail: Mapping[str, str | int | bool | None] | None = None,
    ) -> AuditEntry:
        """Append one entry; the log is never updated or deleted through the store."""
        check_id(actor, "actor")
        check_id(action, "action")
        check_text(subject, "subject", max_len=128)
        detail = dict(detail or {})
        for k, v in detail.items():
            if not isinstance(k, str) or not (v is None or isinstance(v, str | int | bool)):
                raise InvalidRecord(
                    "audit detail must map strings to str/int/bool/None", field="detail"
                )
        # Big ints as strings: JSON readers elsewhere may not keep 256-bit integers.
        text = json.dumps(
            {
                k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v)
                for k, v in detail.items()
            },
            sort_keys=True,
        )
        at = utcnow()
        async with self._tx() as conn:
            result = await conn.execute(
                sa.insert(AUDIT)
                .values(at=at, actor=actor, action=action, subject=subject, detail=text)
                .returning(AUDIT.c.seq)
            )
            seq = result.scalar_one()
        return AuditEntry(seq, at, actor, action, subject, text)

    async def list_audit(self, subject: str | None = None, *, limit: int = 100) -> list[AuditEntry]:
        stmt = sa.select(AUDIT).order_by(AUDIT.c.seq.desc()).limit(limit)
        if subject is not None:
            stmt = stmt.where(AUDIT.c.subject == subject)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            AuditEntry(r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["detail"])
            for r in rows
        ]


def _step_row(plan_id: str, s: PlanStep, now: datetime) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "seq": s.seq,
        "kind": s.kind.value,
        "src_pool": s.src_pool,
        "dst_chain": s.dst_chain,
        "dst_pool": s.dst_pool,
        "vault_id": s.vault_id,
        "route_id": s.route_id,
        "share_ppm": s.share_ppm,
        "amount": s.amount,
        "fee": s.fee,
        "transfer_id": s.transfer_id,
        "status": s.status.value,
        "version": 1,
        "updated_at": now,
    }

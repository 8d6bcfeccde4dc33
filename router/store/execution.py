"""What the executor persists: signed transactions before broadcast, step progress,
transfers and cessions as they land.

Every move is checked against the domain's state machines
(:data:`~router.domain.STEP_TRANSITIONS`, :data:`~router.domain.TRANSFER_TRANSITIONS`);
a move that is not allowed raises :class:`~router.errors.InvalidTransition`
and writes nothing. Writes are idempotent: recording what is already
recorded returns it unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from router.domain import (
    STEP_TRANSITIONS,
    TRANSFER_TRANSITIONS,
    Cession,
    CessionStatus,
    PlanStep,
    StepStatus,
    TransferRecord,
    TransferState,
    check_text,
    utcnow,
)
from router.domain.execution import AttemptState, TxAttempt
from router.errors import Conflict, InvalidTransition, NotFound
from router.store import convert
from router.store._base import ATTEMPTS, CESSIONS, STEPS, TRANSFERS, StoreBase

_UNSET: Any = object()


class ExecutionPart(StoreBase):
    # -- signed transactions ---------------------------------------------------

    async def record_attempt(self, attempt: TxAttempt) -> TxAttempt:
        """Persist a signed transaction before it is broadcast; the same attempt
        again returns the stored one (its bytes never change)."""
        now = utcnow()
        async with self._tx() as conn:
            stmt = sa.select(ATTEMPTS).where(
                ATTEMPTS.c.effect_id == attempt.effect_id, ATTEMPTS.c.attempt == attempt.attempt
            )
            r = await self._one(conn, stmt)
            if r is not None:
                stored = convert.attempt(r)
                if stored.tx_ref != attempt.tx_ref:
                    raise InvalidTransition(
                        f"effect {attempt.effect_id} attempt {attempt.attempt} is already "
                        f"{stored.tx_ref}, not {attempt.tx_ref}"
                    )
                return stored
            row = {
                "effect_id": attempt.effect_id,
                "attempt": attempt.attempt,
                "plan_id": attempt.plan_id,
                "seq": attempt.seq,
                "leg": attempt.leg.value,
                "chain": attempt.chain,
                "tx_ref": attempt.tx_ref,
                "signed": attempt.signed_json(),
                "state": attempt.state.value,
                "block_number": attempt.block_number,
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(sa.insert(ATTEMPTS).values(**row))
        return convert.attempt(row)

    async def attempts(self, effect_id: str) -> list[TxAttempt]:
        """Every attempt of an effect, oldest first."""
        stmt = (
            sa.select(ATTEMPTS)
            .where(ATTEMPTS.c.effect_id == effect_id)
            .order_by(ATTEMPTS.c.attempt)
        )
        async with self._tx() as conn:
            return [convert.attempt(r) for r in (await conn.execute(stmt)).mappings()]

    async def plan_attempts(self, plan_id: str) -> list[TxAttempt]:
        stmt = (
            sa.select(ATTEMPTS)
            .where(ATTEMPTS.c.plan_id == plan_id)
            .order_by(ATTEMPTS.c.seq, ATTEMPTS.c.leg, ATTEMPTS.c.attempt)
        )
        async with self._tx() as conn:
            return [convert.attempt(r) for r in (await conn.execute(stmt)).mappings()]

    async def set_attempt_state(
        self, effect_id: str, attempt: int, state: AttemptState, *, block_number: int | None = None
    ) -> None:
        values: dict[str, Any] = {"state": AttemptState(state).value, "updated_at": utcnow()}
        if block_number is not None:
            values["block_number"] = block_number
        async with self._tx() as conn:
            result = await conn.execute(
                sa.update(ATTEMPTS)
                .where(ATTEMPTS.c.effect_id == effect_id, ATTEMPTS.c.attempt == attempt)
                .values(**values)
            )
            if result.rowcount != 1:
                raise NotFound("transaction attempt", f"{effect_id}#{attempt}")

    # -- steps -------------------------------------------------------------------

    async def set_step_status(
        self,
        plan_id: str,
        seq: int,
        status: StepStatus,
        *,
        detail: str | None = _UNSET,
        transfer_id: str | None = None,
        deadline_at: datetime | None = _UNSET,
    ) -> PlanStep:
        """Move a step along its state machine (a repeat of the current state just
        updates its detail); bumps its version so watchers see every change."""
        target = StepStatus(status)
        where = (STEPS.c.plan_id == plan_id, STEPS.c.seq == seq)
        async with self._tx() as conn:
            r = await self._one(conn, sa.select(STEPS).where(*where))
            if r is None:
                raise NotFound("plan step", f"{plan_id}#{seq}")
            current = StepStatus(r["status"])
            if target is not current and target not in STEP_TRANSITIONS[current]:
                raise InvalidTransition(
                    f"step {plan_id}#{seq} cannot go from {current.value} to {target.value}"
                )
            values: dict[str, Any] = {
                "status": target.value,
                "version": STEPS.c.version + 1,
                "updated_at": utcnow(),
            }
            if detail is not _UNSET:
                values["detail"] = (
                    None if detail is None else check_text(detail[:512], "detail", max_len=512)
                )
            if deadline_at is not _UNSET:
                values["deadline_at"] = deadline_at
            if transfer_id is not None:
                values["transfer_id"] = transfer_id
            unchanged = target is current and all(
                r[k] == v
                for k, v in values.items()
                if k in ("detail", "deadline_at", "transfer_id")
            )
            if unchanged:
                return convert.step(r)
            await conn.execute(sa.update(STEPS).where(*where).values(**values))
            r = await self._one(conn, sa.select(STEPS).where(*where))
            assert r is not None
            return convert.step(r)

    # -- transfers ---------------------------------------------------------------

    async def record_transfer(self, t: TransferRecord) -> TransferRecord:
        """Persist a transfer before it is sent; idempotent by ``transfer_id``."""
        fields = (
            "src_chain",
            "src_pool",
            "dst_chain",
            "recipient",
            "amount",
            "plan_id",
            "step_seq",
            "dst_pool",
        )
        now = utcnow()
        async with self._tx() as conn:
            r = await self._replayed(conn, TRANSFERS, "transfer", t.transfer_id, t, fields)
            if r is not None:
                return convert.transfer(r)
            row = {f: getattr(t, f) for f in fields}
            row |= {
                "transfer_id": t.transfer_id,
                "status": t.status.value,
                "tx_ref": t.tx_ref,
                "block_number": t.block_number,
                "delivery_tx": t.delivery_tx,
                "delivered_block": t.delivered_block,
                "created_at": t.created_at or now,
                "updated_at": t.updated_at or now,
            }
            await conn.execute(sa.insert(TRANSFERS).values(**row))
        return convert.transfer(row)

    async def get_transfer(self, transfer_id: str) -> TransferRecord:
        async with self._tx() as conn:
            r = await self._one(
                conn, sa.select(TRANSFERS).where(TRANSFERS.c.transfer_id == transfer_id)
            )
        if r is None:
            raise NotFound("transfer", transfer_id)
        return convert.transfer(r)

    async def update_transfer(
        self,
        transfer_id: str,
        status: TransferState,
        *,
        tx_ref: str | None = None,
        block_number: int | None = None,
        delivery_tx: str | None = None,
        delivered_block: int | None = None,
    ) -> TransferRecord:
        """Move forward only (see :data:`~router.domain.TRANSFER_TRANSITIONS`); the
        same state again only fills in what was missing."""
        target = TransferState(status)
        if tx_ref is not None:
            check_text(tx_ref, "tx_ref", max_len=128)
        async with self._tx() as conn:
            stmt = sa.select(TRANSFERS).where(TRANSFERS.c.transfer_id == transfer_id)
            r = await self._one(conn, stmt)
            if r is None:
                raise NotFound("transfer", transfer_id)
            current = TransferState(r["status"])
            landed = current not in (TransferState.RECORDED, TransferState.PENDING)
            if landed and tx_ref is not None and r["tx_ref"] not in (None, tx_ref):
                raise Conflict(f"transfer {transfer_id!r} already has tx_ref {r['tx_ref']!r}")
            if target is not current and target not in TRANSFER_TRANSITIONS[current]:
                raise InvalidTransition(
                    f"transfer {transfer_id!r} cannot go from {current.value} to {target.value}"
                )
            values: dict[str, Any] = {"status": target.value, "updated_at": utcnow()}
            for name, value in (
                ("tx_ref", tx_ref),
                ("block_number", block_number),
                ("delivery_tx", delivery_tx),
                ("delivered_block", delivered_block),
            ):
                if value is not None:
                    values[name] = value
            if target is current and all(r[k] == v for k, v in values.items() if k != "updated_at"):
                return convert.transfer(r)
            await conn.execute(
                sa.update(TRANSFERS)
                .where(TRANSFERS.c.transfer_id == transfer_id, TRANSFERS.c.status == current.value)
                .values(**values)
            )
            r = await self._one(conn, stmt)
            assert r is not None
            return convert.transfer(r)

    async def list_transfers(
        self, status: TransferState | None = None, *, plan_id: str | None = None
    ) -> list[TransferRecord]:
        stmt = sa.select(TRANSFERS).order_by(TRANSFERS.c.created_at, TRANSFERS.c.transfer_id)
        if status is not None:
            stmt = stmt.where(TRANSFERS.c.status == TransferState(status).value)
        if plan_id is not None:
            stmt = stmt.where(TRANSFERS.c.plan_id == plan_id)
        async with self._tx() as conn:
            return [convert.transfer(r) for r in (await conn.execute(stmt)).mappings()]

    async def moving_transfers(self) -> list[TransferRecord]:
        """Transfers whose capital may still be on its way (for positions and planning)."""
        stmt = (
            sa.select(TRANSFERS)
            .where(
                TRANSFERS.c.status.in_(
                    [
                        TransferState.RECORDED.value,
                        TransferState.PENDING.value,
                        TransferState.CONFIRMED.value,
                        TransferState.FINALIZED.value,
                        TransferState.DELIVERED.value,
                    ]
                )
            )
            .order_by(TRANSFERS.c.created_at, TRANSFERS.c.transfer_id)
        )
        async with self._tx() as conn:
            return [convert.transfer(r) for r in (await conn.execute(stmt)).mappings()]

    # -- cessions ----------------------------------------------------------------

    async def update_cession(
        self,
        cession_id: str,
        status: CessionStatus,
        *,
        tx_ref: str | None = None,
        block_number: int | None = None,
    ) -> Cession:
        target = CessionStatus(status)
        allowed = {
            CessionStatus.PENDING: {CessionStatus.PLACED, CessionStatus.FAILED},
            CessionStatus.PLACED: {CessionStatus.RELEASED},
        }
        async with self._tx() as conn:
            stmt = sa.select(CESSIONS).where(CESSIONS.c.cession_id == cession_id)
            r = await self._one(conn, stmt)
            if r is None:
                raise NotFound("cession", cession_id)
            current = CessionStatus(r["status"])
            if target is not current and target not in allowed.get(current, set()):
                raise InvalidTransition(
                    f"cession {cession_id!r} cannot go from {current.value} to {target.value}"
                )
            values: dict[str, Any] = {"status": target.value}
            if tx_ref is not None:
                values["tx_ref"] = tx_ref
            if block_number is not None:
                values["block_number"] = block_number
            await conn.execute(
                sa.update(CESSIONS).where(CESSIONS.c.cession_id == cession_id).values(**values)
            )
            r = await self._one(conn, stmt)
            assert r is not None
            return convert.cession(r)

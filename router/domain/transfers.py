"""Transfers and cessions: capital leaving a pool, recorded before the side effect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from router.domain.checks import (
    check_amount,
    check_enum,
    check_id,
    check_int,
    check_text,
    check_transfer_id,
    opt_utc,
)
from router.errors import InvalidRecord


class TransferState(StrEnum):
    RECORDED = "recorded"  # persisted (its transaction signed) before the side effect
    PENDING = "pending"  # sent, not yet in a block
    CONFIRMED = "confirmed"  # included, not final
    FINALIZED = "finalized"  # final at the source (a same-chain transfer ends here)
    DELIVERED = "delivered"  # bridge: delivered and final at the destination
    FAILED = "failed"  # refused by the chain: nothing moved
    REFUNDED = "refunded"  # bridge never delivered; an operator recorded the refund


#: Forward moves only; a terminal state never changes.
TRANSFER_TRANSITIONS: dict[TransferState, frozenset[TransferState]] = {
    TransferState.RECORDED: frozenset(
        {
            TransferState.PENDING,
            TransferState.CONFIRMED,
            TransferState.FINALIZED,
            TransferState.DELIVERED,
            TransferState.FAILED,
        }
    ),
    TransferState.PENDING: frozenset(
        {
            TransferState.RECORDED,
            TransferState.CONFIRMED,
            TransferState.FINALIZED,
            TransferState.DELIVERED,
            TransferState.FAILED,
        }
    ),
    TransferState.CONFIRMED: frozenset(
        {
            TransferState.FINALIZED,
            TransferState.DELIVERED,
            TransferState.FAILED,
            TransferState.PENDING,
        }
    ),
    TransferState.FINALIZED: frozenset({TransferState.DELIVERED, TransferState.REFUNDED}),
    TransferState.DELIVERED: frozenset(),
    TransferState.FAILED: frozenset(),
    TransferState.REFUNDED: frozenset(),
}
#: Capital of these may still be on its way: it counts as in flight.
MOVING = frozenset(
    {
        TransferState.RECORDED,
        TransferState.PENDING,
        TransferState.CONFIRMED,
        TransferState.FINALIZED,
    }
)


class CessionStatus(StrEnum):
    PENDING = "pending"  # recorded before its transaction: premium may be leaving
    PLACED = "placed"  # final on chain: the vault took the risk and the premium
    FAILED = "failed"  # refused by the chain: nothing moved
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class Cession:
    cession_id: str
    vault_id: str
    pool_id: str
    amount: int  # exposure ceded
    premium: int
    plan_id: str | None = None
    status: CessionStatus = CessionStatus.PLACED
    created_at: datetime | None = None
    share_ppm: int | None = None  # quota share ceded, of the pool's retained risk
    step_seq: int | None = None
    tx_ref: str | None = None
    block_number: int | None = None

    def __post_init__(self) -> None:
        check_id(self.cession_id, "cession_id")
        check_id(self.vault_id, "vault_id")
        check_id(self.pool_id, "pool_id")
        check_amount(self.amount, "amount")
        check_amount(self.premium, "premium")
        if self.plan_id is not None:
            check_id(self.plan_id, "plan_id")
        object.__setattr__(self, "status", check_enum(CessionStatus, self.status, "status"))
        opt_utc(self, "created_at")
        if self.share_ppm is not None:
            check_int(self.share_ppm, "share_ppm", lo=0, hi=1_000_000)
        if self.step_seq is not None:
            check_int(self.step_seq, "step_seq", lo=0, hi=1_000_000)
        if self.tx_ref is not None:
            check_text(self.tx_ref, "tx_ref", max_len=128)
        if self.block_number is not None:
            check_int(self.block_number, "block_number", lo=0, hi=2**63 - 1)


@dataclass(frozen=True, slots=True)
class TransferRecord:
    transfer_id: str
    src_chain: str
    src_pool: str
    dst_chain: str
    recipient: str
    amount: int
    plan_id: str | None = None
    step_seq: int | None = None
    status: TransferState = TransferState.RECORDED
    tx_ref: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: The pool this capital is for; None when it goes to a hub or outside.
    dst_pool: str | None = None
    block_number: int | None = None  # where the source chain included it
    delivery_tx: str | None = None  # bridge: the delivery on the destination
    delivered_block: int | None = None

    def __post_init__(self) -> None:
        check_transfer_id(self.transfer_id)
        if self.dst_pool is not None:
            check_id(self.dst_pool, "dst_pool")
        check_id(self.src_chain, "src_chain")
        check_id(self.src_pool, "src_pool")
        check_id(self.dst_chain, "dst_chain")
        check_text(self.recipient, "recipient", max_len=128)
        check_amount(self.amount, "amount")
        if self.amount == 0:
            raise InvalidRecord("amount must be positive", field="amount")
        if self.plan_id is not None:
            check_id(self.plan_id, "plan_id")
        if self.step_seq is not None:
            check_int(self.step_seq, "step_seq", lo=0, hi=1_000_000)
        object.__setattr__(self, "status", check_enum(TransferState, self.status, "status"))
        if self.tx_ref is not None:
            check_text(self.tx_ref, "tx_ref", max_len=128)
        opt_utc(self, "created_at")
        opt_utc(self, "updated_at")

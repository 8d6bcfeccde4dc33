"""Validated domain values the store takes and returns.

These, never the table rows, cross the store's boundary: every value is
checked in ``__post_init__`` (raising :class:`InvalidRecord` naming the field),
so a row can only be built from something that already passed validation.
Amounts are ``int`` base units in ``[0, 2**256 - 1]``; ratios are integer basis
points; timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from chains.base import ChainFamily
from router.store.errors import InvalidRecord

#: Largest amount the store holds exactly: uint256, the widest on-chain integer.
MAX_AMOUNT = 2**256 - 1
#: Largest block number / slot (fits a signed 64-bit column).
MAX_BLOCK = 2**63 - 1

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}\Z")
_HASH = re.compile(r"^(0x[0-9a-f]{64}|[1-9A-HJ-NP-Za-km-z]{32,44})\Z")
_TRANSFER_ID = re.compile(r"^0x[0-9a-f]{64}\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


def check_id(value: object, what: str) -> str:
    """Identifiers: 1-128 chars of letters, digits and ``._:/@-``, not starting with a symbol."""
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidRecord(
            f"{what} must be 1-128 characters of letters, digits and ._:/@- "
            f"starting with a letter or digit, got {value!r}",
            field=what,
        )
    return value


def check_text(value: object, what: str, *, max_len: int = 256) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidRecord(
            f"{what} must be a non-empty string of at most {max_len} characters", field=what
        )
    return value


def check_amount(value: object, what: str) -> int:
    """Non-negative integer base units that fit uint256."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(
            f"{what} must be an integer in base units, got {type(value).__name__}", field=what
        )
    if value < 0:
        raise InvalidRecord(f"{what} must not be negative, got {value}", field=what)
    if value > MAX_AMOUNT:
        raise InvalidRecord(f"{what} {value} exceeds uint256", field=what)
    return value


def check_int(value: object, what: str, *, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidRecord(f"{what} must be an integer in [{lo}, {hi}], got {value!r}", field=what)
    return value


def check_block_hash(value: object, what: str = "block_hash") -> str:
    """EVM 0x + 64 lowercase hex, or a Solana base58 blockhash."""
    if not isinstance(value, str) or not _HASH.match(value):
        raise InvalidRecord(
            f"{what} must be 0x + 64 lowercase hex (EVM) or base58 (Solana), got {value!r}",
            field=what,
        )
    return value


def check_transfer_id(value: object, what: str = "transfer_id") -> str:
    if not isinstance(value, str) or not _TRANSFER_ID.match(value):
        raise InvalidRecord(
            f"{what} must be 0x + 64 lowercase hex digits, got {value!r}", field=what
        )
    return value


def check_sha256(value: object, what: str) -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InvalidRecord(f"{what} must be a lowercase hex SHA-256 digest", field=what)
    return value


def check_utc(value: object, what: str) -> datetime:
    """Aware datetimes only (a naive one is ambiguous); normalised to UTC."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRecord(f"{what} must be a timezone-aware datetime", field=what)
    return value.astimezone(UTC)


def _opt_utc(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if value is not None:
        object.__setattr__(obj, name, check_utc(value, name))


def utcnow() -> datetime:
    return datetime.now(UTC)


class PlanStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Which plan status may follow which; anything else is InvalidTransition.
PLAN_TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.PENDING_APPROVAL: frozenset({PlanStatus.APPROVED, PlanStatus.CANCELLED}),
    PlanStatus.APPROVED: frozenset({PlanStatus.EXECUTING, PlanStatus.CANCELLED}),
    PlanStatus.EXECUTING: frozenset({PlanStatus.COMPLETED, PlanStatus.FAILED}),
    PlanStatus.COMPLETED: frozenset(),
    PlanStatus.FAILED: frozenset(),
    PlanStatus.CANCELLED: frozenset(),
}


class StepKind(StrEnum):
    TRANSFER = "transfer"  # move capital src_pool -> dst_pool (maybe cross-chain)
    CESSION = "cession"  # cede exposure of src_pool to vault_id for a premium


class StepStatus(StrEnum):
    PENDING = "pending"  # recorded, not sent
    SENT = "sent"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class TransferState(StrEnum):
    RECORDED = "recorded"  # persisted before the side effect
    PENDING = "pending"  # sent, not yet in a block we trust
    CONFIRMED = "confirmed"
    FINALIZED = "finalized"
    FAILED = "failed"


class CoverStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class CessionStatus(StrEnum):
    PLACED = "placed"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    family: ChainFamily
    #: How many distinct reporters must agree on (block, hash, amount) to confirm.
    quorum: int = 1

    def __post_init__(self) -> None:
        check_id(self.name, "chain")
        try:
            object.__setattr__(self, "family", ChainFamily(self.family))
        except ValueError:
            raise InvalidRecord(
                f"family must be one of {[f.value for f in ChainFamily]}", field="family"
            ) from None
        check_int(self.quorum, "quorum", lo=1, hi=64)


@dataclass(frozen=True, slots=True)
class Pool:
    pool_id: str
    chain: str
    address: str
    asset: str
    locked_capital: int = 0
    active_cover: int = 0
    target_ratio_bps: int = 15_000  # 150 %: capital / requirement we steer to
    min_ratio_bps: int = 10_000  # 100 %: below this the pool is insolvent

    def __post_init__(self) -> None:
        check_id(self.pool_id, "pool_id")
        check_id(self.chain, "chain")
        check_text(self.address, "address", max_len=128)
        check_text(self.asset, "asset", max_len=128)
        check_amount(self.locked_capital, "locked_capital")
        check_amount(self.active_cover, "active_cover")
        check_int(self.min_ratio_bps, "min_ratio_bps", lo=0, hi=1_000_000)
        check_int(self.target_ratio_bps, "target_ratio_bps", lo=self.min_ratio_bps, hi=1_000_000)


@dataclass(frozen=True, slots=True)
class Reporter:
    reporter_id: str
    chain: str
    allowed: bool = True

    def __post_init__(self) -> None:
        check_id(self.reporter_id, "reporter_id")
        check_id(self.chain, "chain")
        if not isinstance(self.allowed, bool):
            raise InvalidRecord("allowed must be a bool", field="allowed")


@dataclass(frozen=True, slots=True)
class Partner:
    partner_id: str
    name: str
    active: bool = True

    def __post_init__(self) -> None:
        check_id(self.partner_id, "partner_id")
        check_text(self.name, "name", max_len=128)
        if not isinstance(self.active, bool):
            raise InvalidRecord("active must be a bool", field="active")


@dataclass(frozen=True, slots=True)
class ConfirmedBalance:
    """The latest balance of a pool that reached its chain's quorum."""

    pool_id: str
    chain: str
    amount: int
    block_number: int
    block_hash: str
    observed_at: datetime  # when the reporter read it: staleness is measured from here
    confirmed_at: datetime  # when the router confirmed it
    reporters: int  # how many distinct reporters agreed


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Reporters of one chain disagreed on a pool at one block: surfaced, never averaged."""

    pool_id: str
    chain: str
    block_number: int
    #: "reporter_id=block_hash:amount" for every vote seen at that block.
    votes: tuple[str, ...]
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class CoverRequest:
    """What a partner asks to bind; hashed to detect a replayed key with another payload."""

    partner_id: str
    idempotency_key: str
    pool_id: str
    cover_type: str
    limit_amount: int
    premium: int
    starts_at: datetime
    ends_at: datetime
    quote_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.partner_id, "partner_id")
        check_id(self.idempotency_key, "idempotency_key")
        check_id(self.pool_id, "pool_id")
        check_id(self.cover_type, "cover_type")
        check_amount(self.limit_amount, "limit_amount")
        if self.limit_amount == 0:
            raise InvalidRecord("limit_amount must be positive", field="limit_amount")
        check_amount(self.premium, "premium")
        object.__setattr__(self, "starts_at", check_utc(self.starts_at, "starts_at"))
        object.__setattr__(self, "ends_at", check_utc(self.ends_at, "ends_at"))
        if self.ends_at <= self.starts_at:
            raise InvalidRecord("ends_at must be after starts_at", field="ends_at")
        if self.quote_id is not None:
            check_id(self.quote_id, "quote_id")

    def payload(self) -> dict[str, str]:
        """The fields the idempotency hash covers (everything but the key itself)."""
        return {
            "pool_id": self.pool_id,
            "cover_type": self.cover_type,
            "limit_amount": str(self.limit_amount),
            "premium": str(self.premium),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "quote_id": self.quote_id or "",
        }


@dataclass(frozen=True, slots=True)
class Cover:
    cover_id: str
    partner_id: str
    idempotency_key: str
    pool_id: str
    cover_type: str
    limit_amount: int
    premium: int
    starts_at: datetime
    ends_at: datetime
    status: CoverStatus
    quote_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BindResult:
    cover: Cover
    created: bool  # False: an earlier bind with the same key and payload was returned


@dataclass(frozen=True, slots=True)
class CapacityRule:
    """How much cover a pool may carry: ``capacity_bps`` of its free capital.

    Free capital is the last confirmed balance minus ``locked_capital``; a
    balance observed more than ``max_staleness`` ago counts as zero (we never
    underwrite against a balance we cannot vouch for). One definition, used by
    the partner service to show capacity and by ``Store.bind_cover`` to
    enforce it inside the bind transaction.
    """

    capacity_bps: int
    max_staleness: timedelta

    def __post_init__(self) -> None:
        if isinstance(self.capacity_bps, bool) or not isinstance(self.capacity_bps, int):
            raise InvalidRecord("capacity_bps must be an integer", field="capacity_bps")
        if not 0 <= self.capacity_bps <= 10_000:
            raise InvalidRecord("capacity_bps must be 0-10000", field="capacity_bps")
        if not isinstance(self.max_staleness, timedelta) or self.max_staleness <= timedelta(0):
            raise InvalidRecord("max_staleness must be a positive timedelta", field="max_staleness")

    def limit(
        self, balance: int | None, observed_at: datetime | None, locked: int, now: datetime
    ) -> int:
        """Total cover the pool may carry at ``now`` (before subtracting cover in force)."""
        fresh = (
            balance is not None
            and observed_at is not None
            and (observed_at >= now - self.max_staleness)
        )
        free = max(0, (balance if fresh and balance is not None else 0) - locked)
        return free * self.capacity_bps // 10_000


@dataclass(frozen=True, slots=True)
class Quote:
    quote_id: str
    partner_id: str
    pool_id: str
    cover_type: str
    limit_amount: int
    premium: int
    #: SHA-256 hex of the canonical quote inputs: a bind must present the same inputs.
    inputs_hash: str
    expires_at: datetime
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        check_id(self.quote_id, "quote_id")
        check_id(self.partner_id, "partner_id")
        check_id(self.pool_id, "pool_id")
        check_id(self.cover_type, "cover_type")
        check_amount(self.limit_amount, "limit_amount")
        check_amount(self.premium, "premium")
        check_sha256(self.inputs_hash, "inputs_hash")
        object.__setattr__(self, "expires_at", check_utc(self.expires_at, "expires_at"))
        _opt_utc(self, "created_at")


@dataclass(frozen=True, slots=True)
class Vault:
    vault_id: str
    chain: str
    address: str
    asset: str
    capacity: int
    premium_bps: int

    def __post_init__(self) -> None:
        check_id(self.vault_id, "vault_id")
        check_id(self.chain, "chain")
        check_text(self.address, "address", max_len=128)
        check_text(self.asset, "asset", max_len=128)
        check_amount(self.capacity, "capacity")
        check_int(self.premium_bps, "premium_bps", lo=0, hi=1_000_000)


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

    def __post_init__(self) -> None:
        check_id(self.cession_id, "cession_id")
        check_id(self.vault_id, "vault_id")
        check_id(self.pool_id, "pool_id")
        check_amount(self.amount, "amount")
        check_amount(self.premium, "premium")
        if self.plan_id is not None:
            check_id(self.plan_id, "plan_id")
        object.__setattr__(self, "status", _enum(CessionStatus, self.status, "status"))
        _opt_utc(self, "created_at")


@dataclass(frozen=True, slots=True)
class PlanStep:
    seq: int
    kind: StepKind
    src_pool: str
    amount: int
    dst_chain: str | None = None
    dst_pool: str | None = None
    vault_id: str | None = None
    fee: int = 0
    transfer_id: str | None = None
    status: StepStatus = StepStatus.PENDING
    version: int = 1
    #: The bridge route a cross-chain step travels (None for same-chain moves).
    route_id: str | None = None

    def __post_init__(self) -> None:
        check_int(self.seq, "seq", lo=0, hi=1_000_000)
        object.__setattr__(self, "kind", _enum(StepKind, self.kind, "kind"))
        object.__setattr__(self, "status", _enum(StepStatus, self.status, "status"))
        check_id(self.src_pool, "src_pool")
        check_amount(self.amount, "amount")
        check_amount(self.fee, "fee")
        for name in ("dst_chain", "dst_pool", "vault_id", "route_id"):
            value = getattr(self, name)
            if value is not None:
                check_id(value, name)
        if self.transfer_id is not None:
            check_transfer_id(self.transfer_id)
        if self.kind is StepKind.TRANSFER and self.dst_pool is None:
            raise InvalidRecord("a transfer step needs dst_pool", field="dst_pool")
        if self.kind is StepKind.CESSION and self.vault_id is None:
            raise InvalidRecord("a cession step needs vault_id", field="vault_id")


@dataclass(frozen=True, slots=True)
class PlanDraft:
    plan_id: str
    created_by: str
    steps: tuple[PlanStep, ...]
    total_amount: int
    cost: int
    summary: str = ""
    #: Distinct operator approvals needed before the plan may execute.
    approvals_required: int = 1

    def __post_init__(self) -> None:
        check_id(self.plan_id, "plan_id")
        check_id(self.created_by, "created_by")
        object.__setattr__(self, "steps", tuple(self.steps))
        seqs = [s.seq for s in self.steps]
        if len(set(seqs)) != len(seqs):
            raise InvalidRecord("plan steps must have distinct seq numbers", field="steps")
        for step in self.steps:
            if not isinstance(step, PlanStep):
                raise InvalidRecord("steps must be PlanStep values", field="steps")
        check_amount(self.total_amount, "total_amount")
        check_amount(self.cost, "cost")
        if not isinstance(self.summary, str) or len(self.summary) > 4096:
            raise InvalidRecord(
                "summary must be a string of at most 4096 characters", field="summary"
            )
        check_int(self.approvals_required, "approvals_required", lo=0, hi=16)


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: str
    status: PlanStatus
    version: int  # bumped by every status change: pass it back as expected_version
    created_by: str
    total_amount: int
    cost: int
    summary: str
    approvals_required: int
    steps: tuple[PlanStep, ...]
    approvals: tuple[str, ...]  # operator ids, in approval order
    created_at: datetime
    updated_at: datetime


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

    def __post_init__(self) -> None:
        check_transfer_id(self.transfer_id)
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
        object.__setattr__(self, "status", _enum(TransferState, self.status, "status"))
        if self.tx_ref is not None:
            check_text(self.tx_ref, "tx_ref", max_len=128)
        _opt_utc(self, "created_at")
        _opt_utc(self, "updated_at")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: str  # JSON object, keys sorted


E = TypeVar("E", bound=StrEnum)


def _enum(cls: type[E], value: object, what: str) -> E:
    try:
        return cls(value)  # type: ignore[arg-type]  # validated right here
    except ValueError:
        raise InvalidRecord(
            f"{what} must be one of {[m.value for m in cls]}, got {value!r}", field=what
        ) from None


__all__ = [
    "MAX_AMOUNT",
    "PLAN_TRANSITIONS",
    "AuditEntry",
    "BindResult",
    "Cession",
    "CessionStatus",
    "Chain",
    "ConfirmedBalance",
    "Cover",
    "CoverRequest",
    "CoverStatus",
    "Disagreement",
    "Partner",
    "Plan",
    "PlanDraft",
    "PlanStatus",
    "PlanStep",
    "Pool",
    "Quote",
    "Reporter",
    "StepKind",
    "StepStatus",
    "TransferRecord",
    "TransferState",
    "Vault",
    "check_amount",
    "utcnow",
]

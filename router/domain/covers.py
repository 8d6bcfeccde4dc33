"""Covers: requests, quotes, bound covers, and the capacity rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from router.domain.checks import (
    check_amount,
    check_id,
    check_sha256,
    check_utc,
    opt_utc,
)
from router.errors import InvalidRecord


class CoverStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


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
        opt_utc(self, "created_at")

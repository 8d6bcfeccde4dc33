"""Covers: the cover types, their terms, quotes, bound covers, and the capacity rule.

Each definition lives here once: the cover types and their risk profiles,
the longest period, what a quote is bound to (:func:`inputs_hash`), and how
much cover a pool may carry (:class:`CapacityRule`, :func:`pool_capacity`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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


class CoverType(StrEnum):
    SMART_CONTRACT = "smart_contract"
    DEPEG = "depeg"
    CUSTODY = "custody"
    SLASHING = "slashing"


@dataclass(frozen=True, slots=True)
class RiskProfile:
    """Annual incident probability and Beta(alpha, beta) severity of a cover type."""

    probability: float
    alpha: float
    beta: float

    @property
    def severity_mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


#: The loss model of each cover type: pricing and solvency use these, nothing else.
COVER_RISK: dict[CoverType, RiskProfile] = {
    CoverType.SMART_CONTRACT: RiskProfile(0.04, 2.0, 5.0),
    CoverType.DEPEG: RiskProfile(0.02, 1.5, 8.0),
    CoverType.CUSTODY: RiskProfile(0.01, 2.0, 3.0),
    CoverType.SLASHING: RiskProfile(0.03, 1.0, 20.0),
}

#: Longest cover period a quote may ask for.
MAX_PERIOD_DAYS = 1095


def inputs_hash(*parts: object) -> str:
    """SHA-256 hex of the canonical inputs a quote is bound to."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def quote_hash(
    partner: str,
    chain: str,
    pool_id: str,
    cover_type: str,
    amount: int,
    period_days: int,
    premium: int,
    expires_at: datetime,
) -> str:
    """What a quote is bound to: a bind must present exactly these inputs."""
    return inputs_hash(
        partner, chain, pool_id, cover_type, amount, period_days, premium, expires_at.isoformat()
    )


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
        check_cover_type(self.cover_type)
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
        check_cover_type(self.cover_type)
        check_amount(self.limit_amount, "limit_amount")
        check_amount(self.premium, "premium")
        check_sha256(self.inputs_hash, "inputs_hash")
        object.__setattr__(self, "expires_at", check_utc(self.expires_at, "expires_at"))
        opt_utc(self, "created_at")


def check_cover_type(value: object, what: str = "cover_type") -> str:
    try:
        return CoverType(value).value  # type: ignore[arg-type]  # validated right here
    except ValueError:
        raise InvalidRecord(
            f"{what} must be one of {[t.value for t in CoverType]}, got {value!r}", field=what
        ) from None


class CapacityLimit(StrEnum):
    """Which limit binds a pool's capacity."""

    SHARE = "capacity_share"  # the configured share of free capital, less cover in force
    STALE = "stale_balance"  # the last confirmed balance is too old to underwrite against
    NO_BALANCE = "no_balance"  # no balance was ever confirmed


@dataclass(frozen=True, slots=True)
class PoolCapacity:
    """How much more cover one pool can take now, and why not more.

    All cover types share a pool's capacity. ``frees_at`` is when the earliest
    cover in force expires (more capacity then), None if none is in force.
    """

    pool_id: str
    limit: int  # cover the pool may carry in all
    in_force: int  # cover bound and not expired
    available: int  # limit - in_force, never negative
    binding: CapacityLimit
    frees_at: datetime | None

    def explain(self) -> str:
        if self.binding is CapacityLimit.STALE:
            return "the pool's last confirmed balance is stale: no cover until a fresh report"
        if self.binding is CapacityLimit.NO_BALANCE:
            return "no balance of the pool was ever confirmed: no cover until one is"
        more = f"; more frees up at {self.frees_at.isoformat()}" if self.frees_at else ""
        return f"limit {self.limit}, in force {self.in_force}{more}"


def pool_capacity(
    rule: CapacityRule,
    pool_id: str,
    *,
    balance: int | None,
    fresh_at: datetime | None,
    reserved: int,
    covers: Iterable[tuple[int, datetime]],
    now: datetime,
) -> PoolCapacity:
    """Apply ``rule`` to one pool: ``covers`` are (limit, ends_at) of its active covers."""
    live = [(amount, ends) for amount, ends in covers if ends > now]
    in_force = sum(a for a, _ in live)
    if balance is None or fresh_at is None:
        binding = CapacityLimit.NO_BALANCE
    elif fresh_at < now - rule.max_staleness:
        binding = CapacityLimit.STALE
    else:
        binding = CapacityLimit.SHARE
    limit = rule.limit(balance, fresh_at, reserved, now)
    return PoolCapacity(
        pool_id=pool_id,
        limit=limit,
        in_force=in_force,
        available=max(0, limit - in_force),
        binding=binding,
        frees_at=min((e for _, e in live), default=None),
    )


@dataclass(frozen=True, slots=True)
class CoverInForce:
    """The slice of an active cover that positions, capacity and solvency need."""

    pool_id: str
    cover_type: str
    limit_amount: int
    ends_at: datetime

"""Covers: the cover types, their terms, quotes, bound covers, and the capacity rule.

Each definition lives here once: the five cover types (:data:`COVER_DEFINITIONS`:
what caps each one's limit, which incident kinds trigger it, its risk prior),
a cover's terms (:class:`CoverTerms`) and how one loss is split across a
holder's covers (:func:`allocate_loss`), the longest period, what a quote is
bound to (:func:`quote_hash`), and how much cover a pool may carry
(:class:`CapacityRule`, :func:`pool_capacity`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from router.domain.checks import (
    check_amount,
    check_enum,
    check_id,
    check_sha256,
    check_utc,
    opt_utc,
)
from router.errors import InvalidRecord


class CoverType(StrEnum):
    """The five cover types the market sells; :data:`COVER_DEFINITIONS` defines each."""

    PROTOCOL = "protocol"
    POSITION = "position"
    ORACLE = "oracle"
    GOVERNANCE = "governance"
    LIQUIDITY = "liquidity"


class IncidentKind(StrEnum):
    """What happened to a covered deployment; a cover type is triggered by some kinds.

    One definition for underwriting (trigger conditions) and for claims (an
    incident's kind decides which covers it touches)."""

    EXPLOIT = "exploit"  # a bug in the deployment's contracts was exploited
    FLASH_LOAN = "flash_loan"  # a flash-loan attack drained liquidity
    UPGRADE_FAILURE = "upgrade_failure"  # a failed or faulty contract upgrade
    ORACLE_FAILURE = "oracle_failure"  # a price feed reported wrong prices
    ORACLE_MANIPULATION = "oracle_manipulation"  # a price feed was moved on purpose
    GOVERNANCE_ATTACK = "governance_attack"  # a malicious governance action
    IMPERMANENT_LOSS = "impermanent_loss"  # LPs' divergence loss beyond the trigger


class CapBasis(StrEnum):
    """What a cover type's limit is capped against."""

    TVL = "tvl"  # the deployment's total value locked (registry)
    GOVERNANCE_ASSETS = "governance_assets"  # assets governance controls (registry)
    INSURED_VALUE = "insured_value"  # the value insured, from the request (position, LP tokens)


@dataclass(frozen=True, slots=True)
class RiskProfile:
    """Annual incident probability and Beta(alpha, beta) severity of a cover type.

    The prior of pricing: a deployment's own incident history moves it
    (``reinsurance.pricing.incident_probability``)."""

    probability: float
    alpha: float
    beta: float

    @property
    def severity_mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


@dataclass(frozen=True, slots=True)
class CoverDefinition:
    """One cover type: what it pays for, what caps its limit, its risk prior."""

    cover_type: CoverType
    description: str
    cap_basis: CapBasis
    cap_bps: int  # the limit is at most this share of the basis
    triggers: frozenset[IncidentKind]
    risk: RiskProfile
    needs_position: bool = False  # a position cover names its position

    def cap(self, basis: int) -> int:
        """The largest limit on ``basis`` (rounded down: never above the share)."""
        return basis * self.cap_bps // 10_000

    def trigger_kinds(self) -> tuple[str, ...]:
        return tuple(sorted(k.value for k in self.triggers))


_CONTRACT_FAILURE = frozenset(
    {IncidentKind.EXPLOIT, IncidentKind.FLASH_LOAN, IncidentKind.UPGRADE_FAILURE}
)

#: The one definition of each cover type: pricing, solvency, binds and claims use these.
COVER_DEFINITIONS: dict[CoverType, CoverDefinition] = {
    CoverType.PROTOCOL: CoverDefinition(
        CoverType.PROTOCOL,
        "a covered deployment's contract failure (exploit, flash-loan drain, failed upgrade)",
        CapBasis.TVL,
        9_000,
        _CONTRACT_FAILURE,
        RiskProfile(0.04, 2.0, 5.0),
    ),
    CoverType.POSITION: CoverDefinition(
        CoverType.POSITION,
        "a fixed amount for one position in a covered deployment",
        CapBasis.INSURED_VALUE,
        10_000,
        _CONTRACT_FAILURE,
        RiskProfile(0.04, 2.0, 3.0),
        needs_position=True,
    ),
    CoverType.ORACLE: CoverDefinition(
        CoverType.ORACLE,
        "losses from faulty or manipulated price feeds",
        CapBasis.TVL,
        10_000,
        frozenset({IncidentKind.ORACLE_FAILURE, IncidentKind.ORACLE_MANIPULATION}),
        RiskProfile(0.03, 1.5, 8.0),
    ),
    CoverType.GOVERNANCE: CoverDefinition(
        CoverType.GOVERNANCE,
        "malicious governance actions",
        CapBasis.GOVERNANCE_ASSETS,
        3_000,
        frozenset({IncidentKind.GOVERNANCE_ATTACK}),
        RiskProfile(0.01, 2.0, 3.0),
    ),
    CoverType.LIQUIDITY: CoverDefinition(
        CoverType.LIQUIDITY,
        "liquidity providers' flash-loan and impermanent-loss losses",
        CapBasis.INSURED_VALUE,
        2_000,
        frozenset({IncidentKind.FLASH_LOAN, IncidentKind.IMPERMANENT_LOSS}),
        RiskProfile(0.05, 1.0, 20.0),
    ),
}

#: The loss model of each cover type (the definitions' priors).
COVER_RISK: dict[CoverType, RiskProfile] = {t: d.risk for t, d in COVER_DEFINITIONS.items()}

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
    terms: tuple[object, ...] = (),
) -> str:
    """What a quote is bound to: a bind must present exactly these inputs
    (``terms``: :meth:`CoverTerms.hashed`, the terms beyond type, limit and period)."""
    return inputs_hash(
        partner,
        chain,
        pool_id,
        cover_type,
        amount,
        period_days,
        premium,
        expires_at.isoformat(),
        *terms,
    )


@dataclass(frozen=True, slots=True)
class CoverTerms:
    """A cover's terms: one value for a quote, its bind and (later) its claims.

    A loss from an incident of a kind in :attr:`triggers` pays
    ``min(loss - deductible, limit, per_event_max, what is left of the limit)``.
    Checked here once: a positive limit, ``0 < per_event_max <= limit``,
    ``deductible < per_event_max`` (a cover that could never pay is bad
    terms), a period of 1-:data:`MAX_PERIOD_DAYS` days, a position for position
    cover (and only there), an insured value where the type is capped by one.
    The caps against the registry (TVL, governance assets) need the deployment:
    :func:`limit_cap`.
    """

    cover_type: CoverType
    deployment_id: str
    limit: int
    period_days: int
    deductible: int = 0
    per_event_max: int = 0  # 0: the limit
    insured_value: int = 0  # 0: not given
    position_ref: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "cover_type", CoverType(check_cover_type(self.cover_type)))
        check_id(self.deployment_id, "deployment_id")
        check_amount(self.limit, "cover_amount")
        if self.limit == 0:
            raise InvalidRecord("cover_amount must be positive", field="cover_amount")
        if isinstance(self.period_days, bool) or not isinstance(self.period_days, int):
            raise InvalidRecord("period_days must be an integer", field="period_days")
        if not 1 <= self.period_days <= MAX_PERIOD_DAYS:
            raise InvalidRecord(f"period_days must be 1-{MAX_PERIOD_DAYS}", field="period_days")
        check_amount(self.per_event_max, "terms.per_event_max")
        if self.per_event_max == 0:
            object.__setattr__(self, "per_event_max", self.limit)
        if self.per_event_max > self.limit:
            raise InvalidRecord(
                f"per_event_max {self.per_event_max} exceeds the limit {self.limit}",
                field="terms.per_event_max",
            )
        check_amount(self.deductible, "terms.deductible")
        if self.deductible >= self.per_event_max:
            raise InvalidRecord(
                f"deductible {self.deductible} must be below the limit and the per-event "
                f"maximum ({self.per_event_max}): such a cover could never pay",
                field="terms.deductible",
            )
        check_amount(self.insured_value, "terms.insured_value")
        definition = self.definition
        if definition.cap_basis is CapBasis.INSURED_VALUE and self.insured_value == 0:
            raise InvalidRecord(
                f"{self.cover_type.value} cover needs the insured value "
                f"({'the position' if definition.needs_position else 'the LP tokens'})",
                field="terms.insured_value",
            )
        if definition.cap_basis is not CapBasis.INSURED_VALUE and self.insured_value:
            raise InvalidRecord(
                f"{self.cover_type.value} cover is capped by the registry, not an insured value",
                field="terms.insured_value",
            )
        if definition.needs_position:
            check_id(self.position_ref, "terms.position_ref")
        elif self.position_ref:
            raise InvalidRecord(
                f"only position cover names a position, not {self.cover_type.value} cover",
                field="terms.position_ref",
            )

    @property
    def definition(self) -> CoverDefinition:
        return COVER_DEFINITIONS[self.cover_type]

    @property
    def triggers(self) -> frozenset[IncidentKind]:
        return self.definition.triggers

    def hashed(self) -> tuple[object, ...]:
        """The terms a quote binds beyond type, limit and period (see :func:`quote_hash`)."""
        return (
            self.deployment_id,
            self.deductible,
            self.per_event_max,
            self.insured_value,
            self.position_ref,
        )


@dataclass(frozen=True, slots=True)
class Premium:
    """A premium and what it is made of (base units; the parts sum exactly to it)."""

    pure: int
    cost_of_capital: int
    fees: int
    surcharge: int
    incident_probability_ppm: int  # annual, as priced
    utilisation_bps: int  # the pool's utilisation after the cover

    def __post_init__(self) -> None:
        for name in ("pure", "cost_of_capital", "fees", "surcharge"):
            check_amount(getattr(self, name), name)

    @property
    def total(self) -> int:
        return self.pure + self.cost_of_capital + self.fees + self.surcharge


def limit_cap(terms: CoverTerms, *, tvl: int, governance_assets: int) -> tuple[int, CapBasis]:
    """The largest limit the cover type allows on this deployment, and what caps it."""
    d = terms.definition
    basis = {
        CapBasis.TVL: tvl,
        CapBasis.GOVERNANCE_ASSETS: governance_assets,
        CapBasis.INSURED_VALUE: terms.insured_value,
    }[d.cap_basis]
    return d.cap(basis), d.cap_basis


def allocate_loss(
    loss: int, covers: Sequence[CoverTerms], remaining: Sequence[int] | None = None
) -> tuple[int, ...]:
    """Split one loss across a holder's covers, in the order given, so that no
    unit is paid twice (layered protection).

    Each cover in turn sees what the earlier ones left unpaid and pays
    ``min(unpaid - its deductible, its per-event maximum, what is left of its
    limit)`` (``remaining[i]``, default the limit), never below zero. So the
    amounts sum to at most ``loss`` and each is within its cover's caps
    (property-tested). Claims call this with the covers an incident triggers,
    in the holder's order (e.g. primary first, then excess).
    """
    check_amount(loss, "loss")
    left = list(remaining) if remaining is not None else [c.limit for c in covers]
    if len(left) != len(covers):
        raise InvalidRecord("remaining must have one amount per cover", field="remaining")
    unpaid = loss
    out: list[int] = []
    for terms, rest in zip(covers, left, strict=True):
        check_amount(rest, "remaining")
        pay = max(0, min(unpaid - terms.deductible, terms.per_event_max, rest, terms.limit))
        out.append(pay)
        unpaid -= pay
    return tuple(out)


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
    #: The terms beyond type and limit (a request without them: no deployment,
    #: no deductible, one event may take the whole limit, the type's triggers).
    deployment_id: str | None = None
    deductible: int = 0
    per_event_max: int = 0  # 0: the limit (see ``event_cap``)
    trigger_kinds: tuple[str, ...] = ()  # (): the type's
    insured_value: int = 0
    position_ref: str = ""

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
        if self.deployment_id is not None:
            check_id(self.deployment_id, "deployment_id")
        check_amount(self.deductible, "deductible")
        check_amount(self.per_event_max, "per_event_max")
        if not self.trigger_kinds:
            kinds = COVER_DEFINITIONS[CoverType(self.cover_type)].trigger_kinds()
            object.__setattr__(self, "trigger_kinds", kinds)
        for k in self.trigger_kinds:
            check_enum(IncidentKind, k, "trigger_kinds")
        check_amount(self.insured_value, "insured_value")

    @property
    def event_cap(self) -> int:
        """Most paid for one incident."""
        return self.per_event_max or self.limit_amount

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
            "deployment_id": self.deployment_id or "",
            "deductible": str(self.deductible),
            "per_event_max": str(self.per_event_max),
            "insured_value": str(self.insured_value),
            "position_ref": self.position_ref,
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
    deployment_id: str | None = None
    deductible: int = 0
    per_event_max: int = 0
    trigger_kinds: tuple[str, ...] = ()
    insured_value: int = 0
    position_ref: str = ""


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
    deployment_id: str | None = None

"""Limits on capital moved: a token bucket per bridge lane, a rolling 24 h cap per scope.

Pure values and arithmetic; the store keeps the state and consumes under a
row lock, the planner sees what is left, the executor consumes before it signs.

Scopes (strings, one per thing a limit can name):

- ``lane:<src>-><dst>``: a bridge lane, one token bucket (capacity and refill
  per second, in the style of CCIP rate limits);
- ``chain:<name>``: capital leaving the chain's pools (pool -> hub steps);
- ``destination:<pool or vault id>``: capital arriving at a pool (hub -> pool
  steps) or exposure ceded to a vault (cessions).

Splitting cannot evade a limit: every step of every plan consumes from the
same bucket and the same window, so many small steps take what one large one
would. Refill is integer arithmetic only: ``level += elapsed_ms * rate // 1000``,
capped at the capacity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from router.domain.checks import check_amount, check_text, check_utc
from router.domain.plans import PlanStep, StepKind
from router.errors import InvalidRecord, LimitExceeded

#: A rolling window: a consumption at ``t`` counts while ``now - WINDOW < t``. One
#: stamped later than ``now`` (another replica's clock runs ahead) counts too:
#: clock skew can only make a cap stricter, never let it be overdrawn.
WINDOW = timedelta(hours=24)
_HUB = "hub:"  # the planner's name for a chain's hub (router.app.engine.hub)
_MS = timedelta(milliseconds=1)


def lane_scope(src_chain: str, dst_chain: str) -> str:
    return f"lane:{src_chain}->{dst_chain}"


def chain_scope(chain: str) -> str:
    return f"chain:{chain}"


def destination_scope(pool_or_vault: str) -> str:
    return f"destination:{pool_or_vault}"


def check_scope(scope: str, what: str = "scope") -> str:
    """``chain:<name>`` or ``destination:<id>`` (daily caps), ``lane:<a>-><b>``."""
    check_text(scope, what, max_len=300)
    kind, sep, rest = scope.partition(":")
    if not sep or not rest or kind not in ("chain", "destination", "lane"):
        raise InvalidRecord(
            f"{what} {scope!r} must be chain:<name>, destination:<pool or vault id> "
            "or lane:<src>-><dst>",
            field=what,
        )
    return scope


@dataclass(frozen=True, slots=True)
class LaneLimit:
    """A bridge lane's token bucket: at most ``capacity`` at once, refilled
    ``refill_per_second`` base units per second."""

    src_chain: str
    dst_chain: str
    capacity: int
    refill_per_second: int

    def __post_init__(self) -> None:
        check_text(self.src_chain, "src_chain", max_len=128)
        check_text(self.dst_chain, "dst_chain", max_len=128)
        check_amount(self.capacity, "capacity")
        check_amount(self.refill_per_second, "refill_per_second")

    @property
    def scope(self) -> str:
        return lane_scope(self.src_chain, self.dst_chain)


@dataclass(frozen=True, slots=True)
class DailyLimit:
    """At most ``cap`` base units per rolling 24 h in ``scope`` (chain:/destination:)."""

    scope: str
    cap: int

    def __post_init__(self) -> None:
        check_scope(self.scope)
        check_amount(self.cap, "cap")
        if self.scope.startswith("lane:"):
            raise InvalidRecord("a daily cap names chain:<name> or destination:<id>", field="scope")


@dataclass(frozen=True, slots=True)
class LimitsPolicy:
    """Every configured limit; empty by default (nothing is limited)."""

    lanes: tuple[LaneLimit, ...] = ()
    daily: tuple[DailyLimit, ...] = ()
    _by_scope: dict[str, LaneLimit | DailyLimit] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by: dict[str, LaneLimit | DailyLimit] = {}
        every: tuple[LaneLimit | DailyLimit, ...] = (*self.lanes, *self.daily)
        for lim in every:
            if lim.scope in by:
                raise InvalidRecord(f"{lim.scope} is limited twice", field="scope")
            by[lim.scope] = lim
        object.__setattr__(self, "_by_scope", by)

    @property
    def empty(self) -> bool:
        return not self._by_scope

    def lane(self, scope: str) -> LaneLimit | None:
        lim = self._by_scope.get(scope)
        return lim if isinstance(lim, LaneLimit) else None

    def daily_cap(self, scope: str) -> DailyLimit | None:
        lim = self._by_scope.get(scope)
        return lim if isinstance(lim, DailyLimit) else None

    def limited(self, scopes: Iterable[str]) -> list[str]:
        """The scopes among ``scopes`` that some limit names, sorted (the lock order)."""
        return sorted({s for s in scopes if s in self._by_scope})


NO_LIMITS = LimitsPolicy()


@dataclass(frozen=True, slots=True)
class LimitOverride:
    """A limit set through an approved change (``limits.set``): it replaces the
    configured limit of the same scope, or adds one. ``refill_per_second`` for a
    lane's bucket, None for a 24-hour cap."""

    scope: str
    capacity: int
    refill_per_second: int | None = None

    def __post_init__(self) -> None:
        check_scope(self.scope)
        check_amount(self.capacity, "capacity")
        lane = self.scope.startswith("lane:")
        if lane and self.refill_per_second is None:
            raise InvalidRecord("a lane's limit needs refill_per_second", field="refill_per_second")
        if not lane and self.refill_per_second is not None:
            raise InvalidRecord("a 24-hour cap has no refill_per_second", field="refill_per_second")
        if self.refill_per_second is not None:
            check_amount(self.refill_per_second, "refill_per_second")
        if lane:
            src, sep, dst = self.scope.removeprefix("lane:").partition("->")
            if not sep or not src or not dst:
                raise InvalidRecord("a lane scope is lane:<src>-><dst>", field="scope")

    def limit(self) -> LaneLimit | DailyLimit:
        if self.refill_per_second is None:
            return DailyLimit(self.scope, self.capacity)
        src, _, dst = self.scope.removeprefix("lane:").partition("->")
        return LaneLimit(src, dst, self.capacity, self.refill_per_second)


def with_overrides(policy: LimitsPolicy, overrides: Iterable[LimitOverride]) -> LimitsPolicy:
    """The configured policy with each override replacing (or adding) its scope."""
    by = {o.scope: o.limit() for o in overrides}
    if not by:
        return policy
    lanes = [lane for lane in policy.lanes if lane.scope not in by]
    daily = [d for d in policy.daily if d.scope not in by]
    for lim in by.values():
        if isinstance(lim, LaneLimit):
            lanes.append(lim)
        else:
            daily.append(lim)
    return LimitsPolicy(
        lanes=tuple(sorted(lanes, key=lambda x: x.scope)),
        daily=tuple(sorted(daily, key=lambda x: x.scope)),
    )


@dataclass(frozen=True, slots=True)
class LimitRefusal:
    """Why an amount cannot be taken now: what is left and when enough will be."""

    scope: str
    requested: int
    headroom: int
    #: When ``requested`` fits if nothing else consumes meanwhile; None: never
    #: (above the bucket's capacity or the daily cap, or a bucket that never refills).
    frees_at: datetime | None

    def describe(self) -> str:
        when = (
            f"enough frees at {self.frees_at.isoformat(timespec='seconds')}"
            if self.frees_at is not None
            else "it never fits: above the limit itself (split the plan or raise the limit)"
        )
        return (
            f"limit {self.scope}: {self.requested} requested, {self.headroom} headroom left; {when}"
        )


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A bucket's state at ``updated_at``; refill is exact integer arithmetic.

    ``updated_at`` advances by whole elapsed milliseconds only, so the
    sub-millisecond rest carries to the next refill; each stored refill (one
    per consumption) loses less than one base unit to the floor and never
    over-grants.
    """

    capacity: int
    rate: int  # base units per second
    level: int
    updated_at: datetime

    def __post_init__(self) -> None:
        check_amount(self.capacity, "capacity")
        check_amount(self.rate, "rate")
        check_amount(self.level, "level")
        if self.level > self.capacity:
            raise InvalidRecord("a bucket's level cannot exceed its capacity", field="level")
        check_utc(self.updated_at, "updated_at")

    @classmethod
    def full(cls, limit: LaneLimit, now: datetime) -> TokenBucket:
        return cls(limit.capacity, limit.refill_per_second, limit.capacity, now)

    @classmethod
    def stored(cls, limit: LaneLimit, level: int, updated_at: datetime) -> TokenBucket:
        """A stored level under the current configuration (a lowered capacity caps it)."""
        return cls(
            limit.capacity, limit.refill_per_second, min(max(level, 0), limit.capacity), updated_at
        )

    def refilled(self, now: datetime) -> TokenBucket:
        elapsed_ms = (now - self.updated_at) // _MS
        if elapsed_ms <= 0:
            return self  # a clock that went back refills nothing
        level = min(self.capacity, self.level + elapsed_ms * self.rate // 1000)
        return replace(self, level=level, updated_at=self.updated_at + elapsed_ms * _MS)

    def take(self, amount: int, now: datetime, scope: str = "") -> TokenBucket | LimitRefusal:
        """The bucket after taking ``amount`` at ``now``, or why it cannot."""
        check_amount(amount, "amount")
        b = self.refilled(now)
        if amount <= b.level:
            return replace(b, level=b.level - amount)
        frees_at = None
        if amount <= b.capacity and b.rate > 0:
            need_ms = -(-(amount - b.level) * 1000 // b.rate)  # ceil: floor(ms*rate/1000) >= need
            frees_at = b.updated_at + need_ms * _MS
        return LimitRefusal(scope, amount, b.level, frees_at)

    def give_back(self, amount: int, now: datetime) -> TokenBucket:
        """The bucket after returning ``amount`` a step took but never moved
        (refilled to ``now`` first, then capped at the capacity: a bucket
        never holds more than it could)."""
        check_amount(amount, "amount")
        b = self.refilled(now)
        return replace(b, level=min(b.capacity, b.level + amount))


@dataclass(frozen=True, slots=True)
class Usage:
    """One recorded consumption: ``amount`` in ``scope`` at ``at`` by a plan's step."""

    scope: str
    amount: int
    at: datetime
    plan_id: str = ""
    seq: int = 0


def window_used(usages: Iterable[tuple[int, datetime]], now: datetime) -> int:
    """What the rolling window ending at ``now`` has consumed."""
    return sum(amount for amount, at in usages if now - WINDOW < at)


def window_take(
    cap: int, usages: Sequence[tuple[int, datetime]], amount: int, now: datetime, scope: str = ""
) -> LimitRefusal | None:
    """None if ``amount`` fits under ``cap`` in the window ending at ``now``;
    else the refusal, with when enough of the window's consumption expires."""
    inside = sorted((at, a) for a, at in usages if now - WINDOW < at)
    used = sum(a for _, a in inside)
    if used + amount <= cap:
        return None
    headroom = max(0, cap - used)
    frees_at = None
    if amount <= cap:
        for at, a in inside:  # oldest first: each leaves the window at at + WINDOW
            used -= a
            if used + amount <= cap:
                frees_at = at + WINDOW
                break
    return LimitRefusal(scope, amount, headroom, frees_at)


def step_scopes(step: PlanStep) -> tuple[str, ...]:
    """The scopes a plan step consumes from (see the module docstring).

    pool -> hub: the source chain's outflow; hub -> hub: the lane; hub ->
    pool: the destination pool; a cession: the destination vault.
    """
    if step.kind is StepKind.CESSION:
        return (destination_scope(step.vault_id or ""),)
    src_hub = step.src_pool.startswith(_HUB)
    dst = step.dst_pool or ""
    if src_hub and dst.startswith(_HUB):
        return (lane_scope(step.src_pool.removeprefix(_HUB), step.dst_chain or ""),)
    if dst.startswith(_HUB):
        return (chain_scope(step.dst_chain or dst.removeprefix(_HUB)),)
    if src_hub:
        return (destination_scope(dst),)
    return ()


@dataclass(frozen=True, slots=True)
class LimitState:
    """One configured limit now: its size (bucket or 24 h cap) and what it can
    still take."""

    scope: str
    capacity: int
    headroom: int


@dataclass(frozen=True, slots=True)
class Headroom:
    """What each limited scope can still take now (absent: unlimited)."""

    left: Mapping[str, int] = field(default_factory=dict)

    def of(self, scope: str) -> int | None:
        return self.left.get(scope)

    def cap(self, amount: int, *scopes: str) -> int:
        """``amount`` capped by the headroom of every one of ``scopes``."""
        for s in scopes:
            h = self.left.get(s)
            if h is not None:
                amount = min(amount, h)
        return amount

    def excess(self, steps: Sequence[PlanStep]) -> list[str]:
        """Scopes a plan's steps would exceed together (summed, so splitting shows)."""
        total: dict[str, int] = {}
        for s in steps:
            for scope in step_scopes(s):
                total[scope] = total.get(scope, 0) + s.amount
        return [
            f"limit {scope}: the plan takes {amt}, {self.left[scope]} headroom left; "
            "steps above it wait until it frees"
            for scope, amt in sorted(total.items())
            if scope in self.left and amt > self.left[scope]
        ]


def headroom_of(
    policy: LimitsPolicy,
    buckets: Mapping[str, tuple[int, datetime]],
    usages: Mapping[str, Sequence[tuple[int, datetime]]],
    now: datetime,
) -> Headroom:
    """Headroom of every configured limit from stored bucket levels and usages."""
    left: dict[str, int] = {}
    for lane in policy.lanes:
        stored = buckets.get(lane.scope)
        b = (
            TokenBucket.full(lane, now)
            if stored is None
            else TokenBucket.stored(lane, *stored).refilled(now)
        )
        left[lane.scope] = b.level
    for d in policy.daily:
        left[d.scope] = max(0, d.cap - window_used(usages.get(d.scope, ()), now))
    return Headroom(left)


def refused(r: LimitRefusal) -> LimitExceeded:
    """The refusal as the error tree's :class:`~router.errors.LimitExceeded`."""
    return LimitExceeded(
        r.describe(), scope=r.scope, requested=r.requested, headroom=r.headroom, frees_at=r.frees_at
    )

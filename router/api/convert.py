"""Proto <-> domain at the gRPC edge, with the validation every request gets.

Every ``parse_*`` either returns a clean domain value or raises
:class:`~router.errors.InvalidRequest` naming the field and saying what shape
it must have; nothing is stored before all of a request's fields are parsed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ballast.v1 import common_pb2, partner_pb2, treasury_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from router import domain as m
from router.domain.checks import BLOCK_HASH
from router.errors import InvalidRequest

MAX_AMOUNT = m.MAX_AMOUNT
DIGITS = re.compile(r"^(0|[1-9][0-9]{0,77})\Z")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}\Z")
_PAGE_TOKEN = re.compile(r"^[0-9]{1,9}\Z")
_BATCH_ID = re.compile(r"^[\x21-\x7e]{0,64}\Z")
HASH = BLOCK_HASH

#: Wire enum <-> the domain's cover types (one entry per domain type).
COVER_TYPES: dict[int, m.CoverType] = {
    common_pb2.COVER_TYPE_PROTOCOL: m.CoverType.PROTOCOL,
    common_pb2.COVER_TYPE_POSITION: m.CoverType.POSITION,
    common_pb2.COVER_TYPE_ORACLE: m.CoverType.ORACLE,
    common_pb2.COVER_TYPE_GOVERNANCE: m.CoverType.GOVERNANCE,
    common_pb2.COVER_TYPE_LIQUIDITY: m.CoverType.LIQUIDITY,
}
COVER_TYPE_CODES: dict[str, int] = {v.value: k for k, v in COVER_TYPES.items()}
assert set(COVER_TYPES.values()) == set(m.CoverType), "every cover type has a wire code"
CAPACITY_LIMITS: dict[m.CapacityLimit, int] = {
    m.CapacityLimit.SHARE: partner_pb2.CAPACITY_LIMIT_CAPACITY_SHARE,
    m.CapacityLimit.STALE: partner_pb2.CAPACITY_LIMIT_STALE_BALANCE,
    m.CapacityLimit.NO_BALANCE: partner_pb2.CAPACITY_LIMIT_NO_BALANCE,
}

PLAN_STATES: dict[m.PlanStatus, int] = {
    m.PlanStatus.PENDING_APPROVAL: treasury_pb2.PLAN_STATE_PENDING_APPROVAL,
    m.PlanStatus.APPROVED: treasury_pb2.PLAN_STATE_APPROVED,
    m.PlanStatus.EXECUTING: treasury_pb2.PLAN_STATE_EXECUTING,
    m.PlanStatus.COMPLETED: treasury_pb2.PLAN_STATE_COMPLETED,
    m.PlanStatus.FAILED: treasury_pb2.PLAN_STATE_FAILED,
    m.PlanStatus.CANCELLED: treasury_pb2.PLAN_STATE_CANCELLED,
}
PLAN_STATUS_OF = {v: k for k, v in PLAN_STATES.items()}
STEP_STATES: dict[m.StepStatus, int] = {
    m.StepStatus.PENDING: treasury_pb2.STEP_STATE_PENDING,
    m.StepStatus.SENT: treasury_pb2.STEP_STATE_SENT,
    m.StepStatus.DONE: treasury_pb2.STEP_STATE_DONE,
    m.StepStatus.FAILED: treasury_pb2.STEP_STATE_FAILED,
    m.StepStatus.SKIPPED: treasury_pb2.STEP_STATE_SKIPPED,
    m.StepStatus.SIGNED: treasury_pb2.STEP_STATE_SIGNED,
    m.StepStatus.DELIVERING: treasury_pb2.STEP_STATE_DELIVERING,
    m.StepStatus.STUCK: treasury_pb2.STEP_STATE_STUCK,
    m.StepStatus.REFUNDED: treasury_pb2.STEP_STATE_REFUNDED,
}
assert set(STEP_STATES) == set(m.StepStatus), "every step status has a wire code"
STEP_KINDS: dict[m.StepKind, int] = {
    m.StepKind.TRANSFER: treasury_pb2.STEP_KIND_TRANSFER,
    m.StepKind.CESSION: treasury_pb2.STEP_KIND_CESSION,
}
COVER_STATES: dict[m.CoverStatus, int] = {
    m.CoverStatus.ACTIVE: partner_pb2.COVER_STATE_ACTIVE,
    m.CoverStatus.EXPIRED: partner_pb2.COVER_STATE_EXPIRED,
    m.CoverStatus.CANCELLED: partner_pb2.COVER_STATE_CANCELLED,
}

MAX_PAGE = 500
DEFAULT_PAGE = 100


# ---------------------------------------------------------------- parsing


def parse_value(value: str, field: str) -> int:
    """A base-unit decimal string -> int (no sign, no leading zeros, <= uint256)."""
    if not isinstance(value, str) or not DIGITS.match(value):
        shown = value[:40] if isinstance(value, str) else value
        raise InvalidRequest(
            field,
            f"must be a base-unit integer as decimal digits (no sign, point or leading "
            f"zeros), got {shown!r}",
        )
    n = int(value)
    if n > MAX_AMOUNT:
        raise InvalidRequest(field, "exceeds the largest amount (2**256 - 1)")
    return n


def parse_amount(
    msg: common_pb2.Amount,
    field: str,
    *,
    asset: str | None = None,
    positive: bool = True,
    present: bool = True,
) -> int:
    """An :class:`Amount` message -> int base units, checked against ``asset``."""
    if not present or not msg.value:
        raise InvalidRequest(field, "is missing: send {asset, value} in base units")
    n = parse_value(msg.value, f"{field}.value")
    if positive and n == 0:
        raise InvalidRequest(f"{field}.value", "must be positive")
    if asset is not None and msg.asset != asset:
        raise InvalidRequest(
            f"{field}.asset",
            f"must be the pool's settlement asset {asset!r}, got {msg.asset[:40]!r}",
        )
    return n


def parse_name(value: str, field: str) -> str:
    """Chain and pool names: 1-63 of [a-z0-9._-], starting alphanumeric."""
    if not NAME.match(value):
        raise InvalidRequest(
            field,
            f"must be 1-63 of [a-z0-9._-] starting with a letter or digit, got {value[:70]!r}",
        )
    return value


def parse_id(value: str, field: str) -> str:
    """Server-issued ids (plans, quotes, covers)."""
    if not _ID.match(value):
        raise InvalidRequest(field, f"is not a valid id: got {value[:70]!r}")
    return value


def parse_key(value: str, field: str = "idempotency_key") -> str:
    if not _KEY.match(value):
        raise InvalidRequest(field, "must be 8-64 characters of [A-Za-z0-9_-]")
    return value


def parse_batch_id(value: str) -> str:
    if not _BATCH_ID.match(value):
        raise InvalidRequest("batch_id", "must be at most 64 printable ASCII characters")
    return value


def parse_block_hash(value: str, field: str) -> str:
    if not HASH.match(value):
        raise InvalidRequest(field, "must be 0x + 64 lowercase hex (EVM) or base58 (Solana)")
    return value


def parse_cover_type(
    code: int, field: str = "cover_type", *, allow_unspecified: bool = False
) -> m.CoverType | None:
    if code == common_pb2.COVER_TYPE_UNSPECIFIED and allow_unspecified:
        return None
    name = COVER_TYPES.get(code)
    if name is None:
        valid = ", ".join(common_pb2.CoverType.Name(c) for c in COVER_TYPES)
        raise InvalidRequest(field, f"must be one of {valid}, got {code}")
    return name


def parse_plan_state(code: int) -> m.PlanStatus | None:
    if code == treasury_pb2.PLAN_STATE_UNSPECIFIED:
        return None
    status = PLAN_STATUS_OF.get(code)
    if status is None:
        raise InvalidRequest("state", f"unknown plan state {code}")
    return status


def parse_page(page_size: int, page_token: str) -> tuple[int, int]:
    """(limit, offset). Page tokens are opaque to clients: decimal offsets here."""
    if page_size < 0:
        raise InvalidRequest("page_size", "must not be negative")
    limit = min(page_size or DEFAULT_PAGE, MAX_PAGE)
    if not page_token:
        return limit, 0
    if not _PAGE_TOKEN.match(page_token):  # ASCII only: str.isdigit() accepts '¹'
        raise InvalidRequest("page_token", "is not a token this server issued")
    return limit, int(page_token)


def parse_timestamp(ts: Timestamp, field: str) -> datetime:
    try:
        return ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest(field, "is not a valid timestamp") from exc


# ---------------------------------------------------------------- building


def amount(asset: str, value: int) -> common_pb2.Amount:
    return common_pb2.Amount(asset=asset, value=str(value))


def timestamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at.astimezone(UTC))
    return ts


def duration(delta: timedelta) -> Duration:
    d = Duration()
    d.FromTimedelta(max(delta, timedelta(0)))
    return d


def _chain_of(pool_or_hub: str, pool_chain: dict[str, str]) -> str:
    """A step's end is a pool or a chain's hub (``hub:<chain>``, see ``engine.hub``)."""
    if pool_or_hub.startswith("hub:"):
        return pool_or_hub.removeprefix("hub:")
    return pool_chain.get(pool_or_hub, "")


def plan_to_proto(plan: m.Plan, asset: str, pool_chain: dict[str, str]) -> treasury_pb2.Plan:
    steps = [
        treasury_pb2.PlanStep(
            index=s.seq,
            kind=STEP_KINDS[s.kind],
            source_chain=_chain_of(s.src_pool, pool_chain),
            source_pool_id=s.src_pool,
            destination_chain=(
                s.dst_chain or pool_chain.get(s.dst_pool or "", "")
                if s.kind is m.StepKind.TRANSFER
                else s.dst_chain or ""
            ),
            destination_id=(s.dst_pool if s.kind is m.StepKind.TRANSFER else s.vault_id) or "",
            amount=amount(asset, s.amount),
            cost=amount(asset, s.fee),
            state=STEP_STATES[s.status],
            transfer_id=s.transfer_id or "",
            route=s.route_id or "",
            detail=s.detail or "",
        )
        for s in sorted(plan.steps, key=lambda s: s.seq)
    ]
    return treasury_pb2.Plan(
        plan_id=plan.plan_id,
        state=PLAN_STATES[plan.status],
        created_at=timestamp(plan.created_at),
        created_by=plan.created_by,
        steps=steps,
        total_cost=amount(asset, plan.cost),
        total_moved=amount(asset, plan.total_amount),
        approved_by=list(plan.approvals),
        approvals_required=plan.approvals_required,
        version=plan.version,
        summary=plan.summary,
    )


def cover_to_proto(cover: m.Cover, chain: str, asset: str) -> partner_pb2.Cover:
    return partner_pb2.Cover(
        cover_id=cover.cover_id,
        quote_id=cover.quote_id or "",
        chain=chain,
        pool_id=cover.pool_id,
        cover_type=COVER_TYPE_CODES.get(cover.cover_type, common_pb2.COVER_TYPE_UNSPECIFIED),
        cover_amount=amount(asset, cover.limit_amount),
        premium=amount(asset, cover.premium),
        starts_at=timestamp(cover.starts_at),
        ends_at=timestamp(cover.ends_at),
        state=COVER_STATES.get(cover.status, partner_pb2.COVER_STATE_UNSPECIFIED),
        terms=partner_pb2.CoverTerms(
            deployment_id=cover.deployment_id or "",
            deductible=amount(asset, cover.deductible),
            per_event_max=amount(asset, cover.per_event_max or cover.limit_amount),
            insured_value=amount(asset, cover.insured_value) if cover.insured_value else None,
            position_ref=cover.position_ref,
            trigger_kinds=list(cover.trigger_kinds),
        ),
    )


def position_proto(
    v: m.PoolView, now: datetime, stale_after: timedelta
) -> treasury_pb2.PoolPosition:
    a = v.pool.asset
    pos = treasury_pb2.PoolPosition(
        chain=v.pool.chain,
        pool_id=v.pool.pool_id,
        capital=amount(a, v.capital),
        locked=amount(a, v.locked),
        in_flight=amount(a, v.in_flight),
        arriving=amount(a, v.arriving),
        active_cover=amount(a, v.active_cover),
        scr=amount(a, v.requirement.scr),
        mcr=amount(a, v.requirement.mcr),
        stale=v.stale_at(now, stale_after),
        confirmed_block=v.confirmed_block,
    )
    ratio = v.ratio_bps
    if ratio is not None:
        pos.solvency_ratio_bps = ratio
    if v.fresh_at is not None:
        pos.confirmed_at.CopyFrom(timestamp(v.fresh_at))
        pos.staleness.CopyFrom(duration(now - v.fresh_at))
    return pos


def capacity_proto(
    cap: m.PoolCapacity, pool: m.Pool, cover_type: m.CoverType | None
) -> partner_pb2.Capacity:
    out = partner_pb2.Capacity(
        chain=pool.chain,
        pool_id=pool.pool_id,
        cover_type=COVER_TYPE_CODES[cover_type.value] if cover_type else 0,
        available=amount(pool.asset, cap.available),
        limit=amount(pool.asset, cap.limit),
        in_force=amount(pool.asset, cap.in_force),
        binding_limit=CAPACITY_LIMITS[cap.binding],
    )
    if cap.frees_at is not None:
        out.frees_at.CopyFrom(timestamp(cap.frees_at))
    return out


def quote_proto(quote: m.Quote, pool: m.Pool, period_days: int) -> partner_pb2.Quote:
    return partner_pb2.Quote(
        quote_id=quote.quote_id,
        chain=pool.chain,
        pool_id=pool.pool_id,
        cover_type=COVER_TYPE_CODES[quote.cover_type],
        cover_amount=amount(pool.asset, quote.limit_amount),
        period_days=period_days,
        premium=amount(pool.asset, quote.premium),
        expires_at=timestamp(quote.expires_at),
    )


def revocation_proto(r: m.Revocation) -> treasury_pb2.Revocation:
    return treasury_pb2.Revocation(
        fingerprint=r.fingerprint,
        identity=r.identity,
        reason=r.reason,
        revoked_by=r.revoked_by,
        revoked_at=timestamp(r.revoked_at),
    )


def parse_reason(value: str) -> str:
    if not 1 <= len(value) <= 256 or not value.isprintable():
        raise InvalidRequest("reason", "must be 1-256 printable characters")
    return value


_REPORTER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}(/[a-z0-9][a-z0-9._-]{0,62})?\Z")


def parse_reporter_id(value: str) -> str:
    """A reporter's identity name: ``<chain>`` or ``<chain>/<node>``."""
    if not _REPORTER_ID.match(value):
        raise InvalidRequest(
            "reporter_id", f"must be <chain> or <chain>/<node> in [a-z0-9._-], got {value[:70]!r}"
        )
    return value


def transit_proto(t: m.Transit, asset: str) -> treasury_pb2.Transit:
    return treasury_pb2.Transit(
        plan_id=t.plan_id,
        step_index=t.seq,
        chain=t.chain,
        place=t.place,
        destination_chain=t.destination_chain,
        amount=amount(asset, t.amount),
        state=STEP_STATES[m.StepStatus(t.status)],
        detail=t.detail,
    )

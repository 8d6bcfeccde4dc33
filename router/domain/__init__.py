"""The router's domain: values, state machines and rules. No I/O.

Every definition lives in exactly one module here; the store persists these
values, the use cases in ``router.app`` apply these rules, the gRPC edge
converts them. Importing ``router.domain`` gives every public name.
"""

from router.domain.audit import AuditEntry
from router.domain.balances import ConfirmedBalance, Disagreement
from router.domain.checks import (
    MAX_AMOUNT,
    MAX_BLOCK,
    check_amount,
    check_block_hash,
    check_id,
    check_int,
    check_sha256,
    check_text,
    check_transfer_id,
    check_utc,
    utcnow,
)
from router.domain.covers import (
    COVER_RISK,
    MAX_PERIOD_DAYS,
    BindResult,
    CapacityLimit,
    CapacityRule,
    Cover,
    CoverInForce,
    CoverRequest,
    CoverStatus,
    CoverType,
    PoolCapacity,
    Quote,
    RiskProfile,
    pool_capacity,
    quote_hash,
)
from router.domain.idempotency import IdempotencyRecord
from router.domain.identity import Identity, Revocation, Role, parse_identity
from router.domain.plans import (
    PLAN_TRANSITIONS,
    Plan,
    PlanDraft,
    PlanProposal,
    PlanStatus,
    PlanStep,
    StepKind,
    StepStatus,
)
from router.domain.positions import NO_REQUIREMENT, PoolExposure, PoolView, Requirement
from router.domain.registry import Chain, Partner, Pool, Reporter, Vault
from router.domain.transfers import Cession, CessionStatus, TransferRecord, TransferState

__all__ = [
    "COVER_RISK",
    "MAX_AMOUNT",
    "MAX_BLOCK",
    "MAX_PERIOD_DAYS",
    "NO_REQUIREMENT",
    "PLAN_TRANSITIONS",
    "AuditEntry",
    "BindResult",
    "CapacityLimit",
    "CapacityRule",
    "Cession",
    "CessionStatus",
    "Chain",
    "ConfirmedBalance",
    "Cover",
    "CoverInForce",
    "CoverRequest",
    "CoverStatus",
    "CoverType",
    "Disagreement",
    "IdempotencyRecord",
    "Identity",
    "Partner",
    "Plan",
    "PlanDraft",
    "PlanProposal",
    "PlanStatus",
    "PlanStep",
    "Pool",
    "PoolCapacity",
    "PoolExposure",
    "PoolView",
    "Quote",
    "Reporter",
    "Requirement",
    "Revocation",
    "RiskProfile",
    "Role",
    "StepKind",
    "StepStatus",
    "TransferRecord",
    "TransferState",
    "Vault",
    "check_amount",
    "check_block_hash",
    "check_id",
    "check_int",
    "check_sha256",
    "check_text",
    "check_transfer_id",
    "check_utc",
    "parse_identity",
    "pool_capacity",
    "quote_hash",
    "utcnow",
]

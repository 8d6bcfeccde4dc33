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
    BindResult,
    CapacityRule,
    Cover,
    CoverRequest,
    CoverStatus,
    Quote,
)
from router.domain.plans import (
    PLAN_TRANSITIONS,
    Plan,
    PlanDraft,
    PlanStatus,
    PlanStep,
    StepKind,
    StepStatus,
)
from router.domain.positions import NO_REQUIREMENT, PoolView, Requirement
from router.domain.registry import Chain, Partner, Pool, Reporter, Vault
from router.domain.transfers import Cession, CessionStatus, TransferRecord, TransferState

__all__ = [
    "MAX_AMOUNT",
    "MAX_BLOCK",
    "NO_REQUIREMENT",
    "PLAN_TRANSITIONS",
    "AuditEntry",
    "BindResult",
    "CapacityRule",
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
    "PoolView",
    "Quote",
    "Reporter",
    "Requirement",
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
    "utcnow",
]

"""Plans and their steps: values and the plan state machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from router.domain.checks import (
    check_amount,
    check_enum,
    check_id,
    check_int,
    check_transfer_id,
)
from router.errors import InvalidRecord, PlanChanged


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
    # Back to approval: a source pool drifted beyond tolerance (router.domain.drift).
    PlanStatus.EXECUTING: frozenset(
        {PlanStatus.COMPLETED, PlanStatus.FAILED, PlanStatus.PENDING_APPROVAL}
    ),
    PlanStatus.COMPLETED: frozenset(),
    PlanStatus.FAILED: frozenset(),
    PlanStatus.CANCELLED: frozenset(),
}


class StepKind(StrEnum):
    TRANSFER = "transfer"  # move capital src_pool -> dst_pool (maybe cross-chain)
    CESSION = "cession"  # cede exposure of src_pool to vault_id for a premium


class StepStatus(StrEnum):
    """Where one step is; the executor moves it, the store refuses any other move."""

    PENDING = "pending"  # recorded, nothing signed
    SIGNED = "signed"  # its transaction is signed and recorded, not yet broadcast
    SENT = "sent"  # broadcast (or found on chain), not final
    DELIVERING = "delivering"  # bridge: final at the source, delivery under way
    DONE = "done"  # final (for a bridge: delivered and final at the destination)
    FAILED = "failed"  # the chain refused it: nothing moved
    STUCK = "stuck"  # unfinished past its deadline: in flight until an operator resolves it
    SKIPPED = "skipped"  # never executed (the plan failed before it)
    REFUNDED = "refunded"  # an operator resolved a stuck step as refunded, after checking


#: Which step status may follow which. Re-signing (DROPPED, expired) goes back
#: to SIGNED from SENT; a stuck step resumes where it was, or is refunded.
STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset(
        {
            StepStatus.SIGNED,
            StepStatus.SENT,
            StepStatus.DELIVERING,
            StepStatus.DONE,
            StepStatus.FAILED,
            StepStatus.SKIPPED,
            StepStatus.STUCK,
        }
    ),
    StepStatus.SIGNED: frozenset(
        {
            StepStatus.SIGNED,
            StepStatus.SENT,
            StepStatus.DELIVERING,
            StepStatus.DONE,
            StepStatus.FAILED,
            StepStatus.STUCK,
        }
    ),
    StepStatus.SENT: frozenset(
        {
            StepStatus.SIGNED,
            StepStatus.SENT,
            StepStatus.DELIVERING,
            StepStatus.DONE,
            StepStatus.FAILED,
            StepStatus.STUCK,
        }
    ),
    StepStatus.DELIVERING: frozenset({StepStatus.DELIVERING, StepStatus.DONE, StepStatus.STUCK}),
    StepStatus.STUCK: frozenset(
        {
            StepStatus.SIGNED,
            StepStatus.SENT,
            StepStatus.DELIVERING,
            StepStatus.DONE,
            StepStatus.FAILED,
            StepStatus.REFUNDED,
        }
    ),
    StepStatus.DONE: frozenset(),
    StepStatus.FAILED: frozenset(),
    StepStatus.SKIPPED: frozenset(),
    StepStatus.REFUNDED: frozenset(),
}
#: Steps whose capital may be between places: counted in flight, never lost.
IN_FLIGHT_STEPS = frozenset(
    {StepStatus.SIGNED, StepStatus.SENT, StepStatus.DELIVERING, StepStatus.STUCK}
)
FINAL_STEPS = frozenset(
    {StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.REFUNDED}
)


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
    #: What the executor last learnt (why it waits, why it is stuck).
    detail: str | None = None
    deadline_at: datetime | None = None
    #: A cession's quota share of the pool's retained risk, parts per million.
    share_ppm: int | None = None

    def __post_init__(self) -> None:
        check_int(self.seq, "seq", lo=0, hi=1_000_000)
        object.__setattr__(self, "kind", check_enum(StepKind, self.kind, "kind"))
        object.__setattr__(self, "status", check_enum(StepStatus, self.status, "status"))
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
        for step in self.steps:  # first: a non-step has no seq to compare
            if not isinstance(step, PlanStep):
                raise InvalidRecord("steps must be PlanStep values", field="steps")
        seqs = [s.seq for s in self.steps]
        if len(set(seqs)) != len(seqs):
            raise InvalidRecord("plan steps must have distinct seq numbers", field="steps")
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
    #: :func:`steps_hash` of the steps as proposed (None: a dry run's preview).
    steps_hash: str | None = None
    #: The steps hash each approval was given for, in ``approvals`` order.
    approval_hashes: tuple[str | None, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanProposal:
    """What the planner proposes, before it is stored as a plan.

    ``total_amount`` is the net capital leaving pools (what approvals are
    sized on: one cross-chain move counts once, not once per leg); ``cost``
    the bridge fees and premiums it pays.
    """

    steps: tuple[PlanStep, ...]
    total_amount: int
    cost: int
    shortfalls: tuple[str, ...]
    summary: str


#: Bumped if the hashed form ever changes (hashes are stored with approvals).
_STEPS_HASH_DOMAIN = "ballast.plan-steps.v1"
#: What an approval covers: every field that says what moves where, for how
#: much. Not the executor's progress (status, version, transfer id, detail,
#: deadline), which changes while the plan runs.
_HASHED_FIELDS = (
    "seq",
    "kind",
    "src_pool",
    "dst_chain",
    "dst_pool",
    "vault_id",
    "route_id",
    "amount",
    "fee",
    "share_ppm",
)


def steps_hash(steps: Iterable[PlanStep]) -> str:
    """SHA-256 (hex) of a canonical form of the steps, ordered by ``seq``: what an
    approval is bound to. Integers are decimal strings (no float rounding,
    any size), JSON with sorted keys and no spaces, under a versioned label."""
    rows = []
    for s in sorted(steps, key=lambda s: s.seq):
        row: dict[str, str | None] = {}
        for name in _HASHED_FIELDS:
            value = getattr(s, name)
            row[name] = None if value is None else str(value)
        rows.append(row)
    text = json.dumps(
        {"domain": _STEPS_HASH_DOMAIN, "steps": rows}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


def check_unchanged(plan: Plan) -> str:
    """The plan's current steps hash, if the steps are still those proposed and
    every approval was given for them; else :class:`PlanChanged` naming who
    approved what (any change voids every approval given before it)."""
    now = steps_hash(plan.steps)
    if plan.steps_hash is not None and plan.steps_hash != now:
        raise PlanChanged(
            plan.plan_id,
            f"plan {plan.plan_id}'s steps changed since it was proposed (proposed "
            f"{plan.steps_hash[:12]}, now {now[:12]}): its approvals are void; plan again",
        )
    hashes = plan.approval_hashes or (None,) * len(plan.approvals)
    void = [op for op, h in zip(plan.approvals, hashes, strict=True) if h != now]
    if void:
        seen = dict(zip(plan.approvals, hashes, strict=True))
        given = ", ".join(f"{op} approved {(seen[op] or 'nothing')[:12]}" for op in void)
        raise PlanChanged(
            plan.plan_id,
            f"plan {plan.plan_id}'s steps changed since they were approved ({given}; "
            f"now {now[:12]}): the approval is void; plan again",
        )
    return now


def approvals_for(leaving: int, tiers: Sequence[tuple[int, int]]) -> int:
    """Distinct approvals a plan moving ``leaving`` base units out of pools needs:
    the count of the highest tier whose threshold it reaches (tiers sorted by
    threshold, the first at 0)."""
    need = 1
    for threshold, count in tiers:
        if leaving >= threshold:
            need = count
    return need

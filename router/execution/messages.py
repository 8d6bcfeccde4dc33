"""What the plan saga and its activities pass each other: plain dataclasses, no I/O.

The workflow module imports only these (Temporal replays workflows in a
sandbox; activities live elsewhere and are called by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

TASK_QUEUE = "ballast-executor"
WORKFLOW = "PlanSaga"


class Act(StrEnum):
    """Activity names: one per kind of effect on the world."""

    LOAD = "load_plan"
    CHECK_BASIS = "check_basis"  # drift against the approved basis; waits out a hold
    SIGN = "sign_effect"  # prepare + record the signed transaction (nothing sent)
    BROADCAST = "broadcast_effect"
    OBSERVE = "observe_effect"  # await inclusion and finality; replace a stuck transaction
    DELIVERING = "mark_delivering"
    CREDIT = "credit_step"
    STUCK = "mark_stuck"
    RESOLVE = "resolve_step"
    FINISH = "finish_plan"


@dataclass(frozen=True)
class SagaInput:
    plan_id: str
    step_deadline_seconds: float = 900.0
    poll_seconds: float = 1.0
    observe_seconds: float = 20.0


@dataclass(frozen=True)
class SagaStep:
    seq: int
    shape: str  # router.execution.effects.Shape
    phase: int
    status: str  # the step's status when the saga (re)started
    #: The nonce sequence each leg's transaction takes (its EVM chain; "" for a
    #: chain without account nonces, or no such leg): sends that share one are
    #: made one at a time, so nonces reach the node in order.
    source_nonces: str = ""
    delivery_nonces: str = ""


@dataclass(frozen=True)
class StepRef:
    plan_id: str
    seq: int
    leg: str  # router.domain.execution.Leg


class Progress(StrEnum):
    """Where one effect is, as an activity reports it to the workflow."""

    SIGNED = "signed"  # recorded, not broadcast
    SENT = "sent"  # broadcast, not included
    INCLUDED = "included"  # in a block, not final
    FINAL = "final"  # final: the effect happened
    FAILED = "failed"  # the chain refused it: nothing moved
    DROPPED = "dropped"  # can never land: sign again
    WAITING = "waiting"  # cannot be sent or mined now (fee cap, nonce gap...): retry later


@dataclass(frozen=True)
class EffectReport:
    progress: Progress
    tx_ref: str = ""
    detail: str = ""
    block: int | None = None
    #: WAITING: when to try again, in seconds (0: the workflow's own pause).
    retry_after: float = 0.0


@dataclass(frozen=True)
class Resolution:
    """An operator's decision about a STUCK step (sent as a workflow signal)."""

    seq: int
    action: str  # "retry" (keep trying, new deadline) or "refunded" (checked on chain)
    operator: str
    reason: str = ""


@dataclass(frozen=True)
class SagaOutcome:
    status: str  # completed / failed
    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    refunded: list[int] = field(default_factory=list)

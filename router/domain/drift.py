"""Drift: has a source pool's capital moved against a plan since it was approved?

When a plan is approved, the confirmed balance of every pool its steps take
capital from is stored as the plan's *basis*. Before each step that takes
from a pool, the executor compares the pool's confirmed balance now with that
basis. The plan's own earlier steps out of the pool (signed, sent or done)
are added back, so only capital moved by something else counts. A drop
beyond the tolerance (``max(floor, basis * bps / 10_000)``) stops the plan
for re-approval instead of executing something the approvers never saw;
a rise never does (more capital only makes the step safer). Pure integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from router.domain.checks import check_amount, check_id, check_int
from router.domain.plans import IN_FLIGHT_STEPS, PlanStep, StepKind, StepStatus

_HUB = "hub:"


@dataclass(frozen=True, slots=True)
class PoolBasis:
    """A source pool's confirmed balance (at ``block``) when the plan was approved."""

    pool_id: str
    balance: int
    block: int | None = None

    def __post_init__(self) -> None:
        check_id(self.pool_id, "pool_id")
        check_amount(self.balance, "balance")


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """How far a source pool may fall below its basis before a plan stops."""

    tolerance_bps: int = 100
    floor: int = 0

    def __post_init__(self) -> None:
        check_int(self.tolerance_bps, "tolerance_bps", lo=0, hi=10_000)
        check_amount(self.floor, "floor")

    def tolerance(self, basis: int) -> int:
        return max(self.floor, basis * self.tolerance_bps // 10_000)


@dataclass(frozen=True, slots=True)
class Drift:
    """A pool that fell beyond tolerance: what was approved, what is there now."""

    pool_id: str
    basis: int
    now: int  # the confirmed balance plus the plan's own moves out of it
    tolerance: int

    def describe(self) -> str:
        drop = self.basis - self.now
        bps = drop * 10_000 // self.basis if self.basis else 10_000
        return (
            f"drift: pool {self.pool_id} has {self.now} where the approval saw {self.basis} "
            f"(down {drop}, {bps} bps; tolerance {self.tolerance}): the plan stopped before "
            "this step and needs re-approval (approve it again after review, or cancel and "
            "plan again)"
        )


def source_pools(steps: Iterable[PlanStep]) -> list[str]:
    """Pools (not hubs) the steps take capital or premium from, sorted."""
    return sorted({s.src_pool for s in steps if not s.src_pool.startswith(_HUB)})


def outflow(step: PlanStep) -> int:
    """What a step takes out of its source pool: a transfer's amount, a cession's premium."""
    return step.fee if step.kind is StepKind.CESSION else step.amount


_STARTED = IN_FLIGHT_STEPS | {StepStatus.DONE}


def check_drift(
    step: PlanStep,
    steps: Iterable[PlanStep],
    basis: Mapping[str, PoolBasis],
    confirmed: int | None,
    policy: DriftPolicy,
) -> Drift | None:
    """The drift that stops ``step``, or None when it may run.

    ``confirmed`` is the source pool's confirmed balance now (None: none known,
    which stops the step when a basis was recorded). A step out of a hub, or
    out of a pool without a basis (a plan approved before bases were kept),
    is never stopped here.
    """
    if step.src_pool.startswith(_HUB):
        return None
    b = basis.get(step.src_pool)
    if b is None:
        return None
    tol = policy.tolerance(b.balance)
    own = sum(
        outflow(s)
        for s in steps
        if s.src_pool == step.src_pool and s.seq != step.seq and s.status in _STARTED
    )
    now = (confirmed or 0) + own
    if confirmed is not None and b.balance - now <= tol:
        return None
    return Drift(step.src_pool, b.balance, now, tol)

"""The drift rule: a source pool's fall below its approved basis, its own plan's
moves added back, against max(floor, bps of the basis)."""

from __future__ import annotations

from router import domain as m
from router.domain.drift import DriftPolicy, PoolBasis, check_drift

POLICY = DriftPolicy(tolerance_bps=100, floor=50)
BASIS = {"a1": PoolBasis("a1", 100_000)}


def step(seq: int, src: str = "a1", status: m.StepStatus = m.StepStatus.PENDING) -> m.PlanStep:
    return m.PlanStep(seq, m.StepKind.TRANSFER, src, 10_000, "eth", "hub:eth", status=status)


def test_a_fall_up_to_the_tolerance_passes_one_unit_more_stops() -> None:
    s = step(0)
    assert check_drift(s, [s], BASIS, 99_000, POLICY) is None
    drift = check_drift(s, [s], BASIS, 98_999, POLICY)
    assert drift is not None and (drift.basis, drift.now, drift.tolerance) == (
        100_000,
        98_999,
        1_000,
    )
    assert "pool a1 has 98999 where the approval saw 100000" in drift.describe()


def test_the_floor_holds_for_small_pools_and_a_rise_never_stops() -> None:
    small = {"a1": PoolBasis("a1", 1_000)}
    s = step(0)
    assert check_drift(s, [s], small, 950, POLICY) is None  # 1 % is 10, the floor 50
    assert check_drift(s, [s], small, 949, POLICY) is not None
    assert check_drift(s, [s], BASIS, 10**9, POLICY) is None


def test_the_plans_own_started_moves_out_of_the_pool_are_added_back() -> None:
    done = step(0, status=m.StepStatus.DONE)
    nxt = step(1)
    # the pool shows the plan's own 10,000 gone: not drift
    assert check_drift(nxt, [done, nxt], BASIS, 90_000, POLICY) is None
    assert check_drift(nxt, [done, nxt], BASIS, 88_999, POLICY) is not None


def test_hubs_unbased_pools_pass_and_an_unknown_balance_stops() -> None:
    assert check_drift(step(0, src="hub:eth"), [], BASIS, 0, POLICY) is None
    assert check_drift(step(0, src="a2"), [], BASIS, 0, POLICY) is None
    assert check_drift(step(0), [], BASIS, None, POLICY) is not None

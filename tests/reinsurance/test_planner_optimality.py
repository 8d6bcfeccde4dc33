"""The planner is optimal on the documented model, not only on friendly inputs.

Each adversarial instance is solved twice: by the planner and by the plain
reference MIP of ``reference.py`` (written from the README, no heuristics).
The planner's plan must pass the audit, must not leave more shortfall than the
reference beyond rounding to base units and whole ppm, and, when the shortfall
is the same, must cost no more than the reference within the stated cost gap.
When the planner says ``Optimal``, its own gap figures must hold against it.
"""

from __future__ import annotations

import pytest

from reinsurance import check_plan, plan_rebalance

from .adversarial import FAMILIES, adversarial
from .reference import compare, solve_reference

SEEDS = range(150)  # 15 instances of every family


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"{FAMILIES[s % len(FAMILIES)]}-{s}")
def test_plan_is_within_the_stated_gap_of_an_independent_mip(seed: int) -> None:
    inp = adversarial(seed)
    plan = plan_rebalance(inp)
    assert check_plan(inp, plan) == []
    ref = solve_reference(inp)
    c = compare(inp, plan, ref)
    assert not c.extra_shortfall, c
    gap = inp.config.cost_rel_gap
    if c.same_shortfall:
        assert c.plan_cost <= c.ref_cost * (1 + gap) + c.cost_allowance, c
    # the whole objective too: never worse than the reference beyond the gap
    allowance = c.penalty_allowance + c.cost_allowance
    worse = c.plan_cost + c.plan_penalty - ref.objective
    assert worse <= inp.config.mip_rel_gap * (c.plan_cost + c.plan_penalty) + allowance, c


@pytest.mark.parametrize("seed", range(0, 150, 3))
def test_optimal_means_the_reported_gaps_hold(seed: int) -> None:
    inp = adversarial(seed)
    plan = plan_rebalance(inp)
    e = plan.explanation
    if e.status != "Optimal":
        assert e.status in ("Empty", "Feasible", "Time limit reached")
        return
    ref = solve_reference(inp)
    c = compare(inp, plan, ref)
    assert e.proof == "model"
    # the reported bound is a bound: the reference optimum is not below it
    slack = c.penalty_allowance + c.cost_allowance
    assert ref.objective >= e.dual_bound - slack, (ref, e)
    # and the reported penalty is the plan's own
    assert abs(e.penalty - c.plan_penalty) <= 1e-6 * max(1.0, c.plan_penalty)

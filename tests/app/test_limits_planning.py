"""The planner sees what the limits leave: a plan never moves more over a lane,
or out of a chain, than the headroom the store reports."""

from __future__ import annotations

import pytest

from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.plans import Plans
from router.config import PolicyConfig
from router.domain.limits import DailyLimit, LaneLimit, LimitsPolicy, step_scopes
from router.store import Store
from tests.app.conftest import ALICE, UNIT
from tests.app.test_planning import stressed_book


def taken(plan: m.Plan, scope: str) -> int:
    return sum(s.amount for s in plan.steps if scope in step_scopes(s))


@pytest.fixture
def policy() -> PolicyConfig:
    return PolicyConfig(rebalance_band_bps=0)


async def test_without_limits_the_plan_bridges_more_than_the_lane_will_allow(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    """The baseline the next tests cut down: the stressed book needs a big bridge."""
    await stressed_book(book, engine, policy)
    plan = (await Plans(book, engine, policy).propose(ALICE, dry_run=True)).plan
    assert taken(plan, "lane:chain-a->chain-b") > 50_000 * UNIT


@pytest.mark.parametrize("already", [0, 20_000 * UNIT, 50_000 * UNIT])
async def test_a_plan_never_exceeds_the_lane_headroom(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig, already: int
) -> None:
    await stressed_book(book, engine, policy)
    limits = LimitsPolicy(lanes=(LaneLimit("chain-a", "chain-b", 50_000 * UNIT, 0),))
    if already:  # an earlier plan's step took part of the bucket
        await book.consume_limits("plan-old", 0, already, ["lane:chain-a->chain-b"], limits)
    planned = await Plans(book, engine, policy, limits=limits).propose(ALICE, dry_run=True)
    left = 50_000 * UNIT - already
    assert taken(planned.plan, "lane:chain-a->chain-b") <= left
    if left:
        assert taken(planned.plan, "lane:chain-a->chain-b") > 0  # it uses what is there
    # b1 stays short of its target, and the plan says so
    assert any(s.startswith("b1:") for s in planned.shortfalls)


async def test_a_chains_daily_outflow_headroom_caps_its_bridges(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await stressed_book(book, engine, policy)
    limits = LimitsPolicy(daily=(DailyLimit("chain:chain-a", 30_000 * UNIT),))
    plan = (await Plans(book, engine, policy, limits=limits).propose(ALICE, dry_run=True)).plan
    assert 0 < taken(plan, "lane:chain-a->chain-b") <= 30_000 * UNIT
    assert taken(plan, "chain:chain-a") <= 30_000 * UNIT


async def test_what_the_planner_cannot_bound_is_reported(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    """A daily cap on the pool receiving capital is not a planner constraint:
    the finished plan is checked and the excess reported with the shortfalls."""
    await stressed_book(book, engine, policy)
    limits = LimitsPolicy(daily=(DailyLimit("destination:b1", 1_000 * UNIT),))
    planned = await Plans(book, engine, policy, limits=limits).propose(ALICE, dry_run=True)
    assert taken(planned.plan, "destination:b1") > 1_000 * UNIT
    assert any("limit destination:b1" in s for s in planned.shortfalls)

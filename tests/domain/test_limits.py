"""Limits arithmetic: exact integer refill, boundaries, rolling window, splitting."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.domain import PlanStep, StepKind
from router.domain.limits import (
    WINDOW,
    DailyLimit,
    Headroom,
    LaneLimit,
    LimitRefusal,
    LimitsPolicy,
    TokenBucket,
    step_scopes,
    window_take,
    window_used,
)
from router.errors import InvalidRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LANE = LaneLimit("eth", "sol", capacity=1_000, refill_per_second=3)


def ms(n: int) -> datetime:
    return T0 + timedelta(milliseconds=n)


def test_refill_is_exact_integer_arithmetic() -> None:
    empty = TokenBucket(1_000, 3, 0, T0)
    # 3 units/s: 333 ms give floor(999/1000) = 0, 334 ms give 1, 10 s give 30.
    assert empty.refilled(ms(333)).level == 0
    assert empty.refilled(ms(334)).level == 1
    assert empty.refilled(ms(10_000)).level == 30
    # capped at capacity, however long it waited
    assert empty.refilled(T0 + timedelta(days=30)).level == 1_000


def test_refill_in_slices_never_gains_and_loses_under_a_unit_each() -> None:
    # whole units per millisecond: slicing changes nothing
    b = TokenBucket(10_000, 3_000, 0, T0)
    for i in range(1, 1_001):
        b = b.refilled(ms(i))
    assert b.level == 3_000 == TokenBucket(10_000, 3_000, 0, T0).refilled(ms(1_000)).level
    # below a unit per slice: each refill floors (loses < 1 unit), never over-grants
    c = TokenBucket(1_000, 3, 0, T0)
    for i in range(0, 10_001, 500):
        c = c.refilled(ms(i))
    assert 30 - 20 <= c.level <= 30
    # microseconds below a whole millisecond carry to the next refill
    d = TokenBucket(1_000, 1_000, 0, T0).refilled(T0 + timedelta(microseconds=1_500))
    assert (d.level, d.updated_at) == (1, ms(1))


def test_take_at_capacity_and_one_above() -> None:
    full = TokenBucket.full(LANE, T0)
    took = full.take(1_000, T0, LANE.scope)
    assert isinstance(took, TokenBucket) and took.level == 0
    above = full.take(1_001, T0, LANE.scope)
    assert isinstance(above, LimitRefusal)
    assert (above.headroom, above.frees_at) == (1_000, None)  # never fits: above capacity
    assert "never fits" in above.describe() and LANE.scope in above.describe()


def test_refusal_says_when_enough_refills() -> None:
    b = TokenBucket(1_000, 3, 10, T0)
    r = b.take(13, T0, "lane:a->b")
    assert isinstance(r, LimitRefusal) and r.headroom == 10
    # 3 more units at 3/s need 1000 ms
    assert r.frees_at == ms(1_000)
    assert isinstance(b.take(13, ms(999)), LimitRefusal)
    assert isinstance(b.take(13, ms(1_000)), TokenBucket)


def test_a_bucket_that_never_refills_never_frees() -> None:
    r = TokenBucket(100, 0, 5, T0).take(6, T0 + timedelta(days=1))
    assert isinstance(r, LimitRefusal) and r.frees_at is None


def test_clock_going_back_refills_nothing() -> None:
    b = TokenBucket(1_000, 3, 10, ms(5_000))
    assert b.refilled(T0) == b


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(0, 10_000),
    rate=st.integers(0, 5_000),
    parts=st.lists(
        st.tuples(st.integers(0, 3_000), st.integers(0, 5_000)), min_size=1, max_size=40
    ),
)
def test_splitting_never_exceeds_capacity_plus_refill(
    capacity: int, rate: int, parts: list[tuple[int, int]]
) -> None:
    """Any sequence of takes (amount, ms later) consumes at most capacity plus
    what refilled over the period, and split takes consume what they take."""
    b = TokenBucket(capacity, rate, capacity, T0)
    t = 0
    taken = 0
    for amount, gap in parts:
        t += gap
        out = b.take(amount, ms(t))
        if isinstance(out, TokenBucket):
            assert out.level == b.refilled(ms(t)).level - amount  # exactly what was asked
            taken += amount
            b = out
        else:
            assert out.headroom < amount
    assert taken <= capacity + t * rate // 1000


@settings(max_examples=200, deadline=None)
@given(total=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 10_000), max_size=30))
def test_any_split_of_a_total_consumes_the_same(total: int, cuts: list[int]) -> None:
    points = sorted({min(c, total) for c in cuts} | {0, total})
    parts = [b - a for a, b in itertools.pairwise(points)]
    whole = TokenBucket(10_000, 0, 10_000, T0).take(total, T0)
    split: TokenBucket | LimitRefusal = TokenBucket(10_000, 0, 10_000, T0)
    for p in parts:
        assert isinstance(split, TokenBucket)
        split = split.take(p, T0)
    assert isinstance(whole, TokenBucket) and isinstance(split, TokenBucket)
    assert whole.level == split.level == 10_000 - total


def test_rolling_window_boundaries() -> None:
    usages = [(400, T0), (300, T0 + timedelta(hours=1))]
    assert window_used(usages, T0 + timedelta(hours=2)) == 700
    # a consumption leaves the window exactly 24 h after it was made
    assert window_used(usages, T0 + WINDOW) == 300
    assert window_take(1_000, usages, 300, T0 + timedelta(hours=2)) is None
    r = window_take(1_000, usages, 301, T0 + timedelta(hours=2), "chain:eth")
    assert r is not None and r.headroom == 300 and r.frees_at == T0 + WINDOW
    # needing both to expire: frees when the second leaves
    r2 = window_take(1_000, usages, 1_000, T0 + timedelta(hours=2))
    assert r2 is not None and r2.frees_at == T0 + timedelta(hours=1) + WINDOW
    r3 = window_take(1_000, usages, 1_001, T0 + timedelta(hours=2))
    assert r3 is not None and r3.frees_at is None


def test_step_scopes_follow_the_step_shape() -> None:
    to_hub = PlanStep(0, StepKind.TRANSFER, "p1", 5, dst_chain="eth", dst_pool="hub:eth")
    bridge = PlanStep(1, StepKind.TRANSFER, "hub:eth", 5, dst_chain="sol", dst_pool="hub:sol")
    from_hub = PlanStep(2, StepKind.TRANSFER, "hub:sol", 5, dst_chain="sol", dst_pool="s1")
    cede = PlanStep(3, StepKind.CESSION, "p1", 5, vault_id="v1")
    assert step_scopes(to_hub) == ("chain:eth",)
    assert step_scopes(bridge) == ("lane:eth->sol",)
    assert step_scopes(from_hub) == ("destination:s1",)
    assert step_scopes(cede) == ("destination:v1",)


def test_headroom_sums_a_plans_steps_per_scope() -> None:
    steps = [
        PlanStep(i, StepKind.TRANSFER, "hub:eth", 400, dst_chain="sol", dst_pool="hub:sol")
        for i in range(3)
    ]
    room = Headroom({"lane:eth->sol": 1_000})
    assert room.cap(5_000, "lane:eth->sol", "chain:eth") == 1_000
    [excess] = room.excess(steps)
    assert "lane:eth->sol" in excess and "1200" in excess
    assert Headroom({"lane:eth->sol": 1_200}).excess(steps) == []


def test_policy_refuses_bad_and_duplicate_limits() -> None:
    with pytest.raises(InvalidRecord):
        DailyLimit("pool:x", 5)
    with pytest.raises(InvalidRecord):
        DailyLimit("lane:a->b", 5)
    with pytest.raises(InvalidRecord):
        LimitsPolicy(daily=(DailyLimit("chain:a", 1), DailyLimit("chain:a", 2)))
    with pytest.raises(InvalidRecord):
        TokenBucket(10, 1, 11, T0)
    p = LimitsPolicy(lanes=(LANE,), daily=(DailyLimit("chain:eth", 5),))
    assert p.limited(["destination:x", "lane:eth->sol", "chain:eth"]) == [
        "chain:eth",
        "lane:eth->sol",
    ]


def test_a_consumption_stamped_ahead_of_the_clock_still_counts() -> None:
    """Replicas' clocks differ: a cap must not be overdrawn because another
    replica stamped its consumption a second later than our ``now``."""
    ahead = [(900, T0 + timedelta(seconds=1))]
    assert window_used(ahead, T0) == 900
    refusal = window_take(1_000, ahead, 200, T0)
    assert refusal is not None and refusal.frees_at == T0 + timedelta(seconds=1) + WINDOW

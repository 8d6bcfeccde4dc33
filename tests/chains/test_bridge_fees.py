"""The lane fee rule is the planner's, to the unit, for amounts of any size."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chains import errors
from chains.base import MAX_AMOUNT
from chains.bridge import Lane, lane_fee
from reinsurance.money import bps_fee

FEES = [0, 1, 5, 2.5, 0.1, 0.3, 1 / 3, 33.33, 9_999.99, 10_000, Fraction(1, 7), 7.000000000000001]


def planner_copy(amount: int, fee_bps: float | Fraction, fixed_fee: int) -> int:
    """The planner's formula, copied: ``bps_fee(amount, fee_bps) + fixed_fee``."""
    return math.ceil(Fraction(amount) * Fraction(fee_bps) / 10_000) + fixed_fee


def amounts() -> list[int]:
    rng = random.Random(20_240_601)
    edges = [1, 2, 3, 9_999, 10_000, 10_001, 19_999, 10**6, 10**18, 2**64 - 1, 2**64]
    edges += [2**128 + 1, MAX_AMOUNT - 1, MAX_AMOUNT]
    return edges + [rng.randrange(1, 10 ** rng.randrange(1, 78)) for _ in range(800)]


def test_the_fee_is_the_planners_on_many_amounts() -> None:
    checked = 0
    for amount in amounts():
        for fee_bps in FEES:
            for fixed in (0, 10**9 + 7):
                want = planner_copy(amount, fee_bps, fixed)
                assert lane_fee(amount, fee_bps, fixed) == want, (amount, fee_bps, fixed)
                assert Lane("a", "b", fee_bps, fixed).fee(amount) == want
                if not isinstance(fee_bps, Fraction):  # the planner takes floats
                    assert bps_fee(amount, fee_bps) + fixed == want
                checked += 1
    assert checked > 15_000


@given(
    amount=st.integers(min_value=1, max_value=MAX_AMOUNT),
    fee_bps=st.one_of(
        st.integers(min_value=0, max_value=10_000),
        st.floats(min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False),
    ),
    fixed=st.integers(min_value=0, max_value=10**30),
)
def test_the_fee_matches_the_planner_module_for_any_input(
    amount: int, fee_bps: float, fixed: int
) -> None:
    fee = lane_fee(amount, fee_bps, fixed)
    assert fee == bps_fee(amount, fee_bps) + fixed
    lane = Lane("a", "b", fee_bps, fixed)
    # The planner only routes what arrives: z > fee. The lane agrees exactly.
    if amount > fee:
        assert lane.delivered(amount) == amount - fee > 0
    else:
        with pytest.raises(errors.FeeExceedsAmount):
            lane.delivered(amount)


def test_the_fee_rounds_up_and_never_takes_a_float_shortcut() -> None:
    assert lane_fee(1, 5, 0) == 1  # 0.0005 of a unit is charged as 1
    assert lane_fee(10_000, 5, 0) == 5
    assert lane_fee(10_001, 5, 0) == 6
    # 0.1 as a float is a little above 1/10: its exact value decides, as in the planner.
    assert lane_fee(10**20, 0.1, 0) == math.ceil(Fraction(10**20) * Fraction(0.1) / 10_000)
    assert lane_fee(10**20, 0.1, 0) != 10**20 // 100_000
    assert lane_fee(MAX_AMOUNT, 10_000, 0) == MAX_AMOUNT


def test_a_send_that_cannot_cover_its_fee_is_refused() -> None:
    lane = Lane("evm", "sol", 5, 100)
    assert lane.fee(101) == 101  # 100 fixed + ceil(0.0505)
    with pytest.raises(errors.FeeExceedsAmount) as caught:
        lane.delivered(101, transfer_id="0x" + "ab" * 32)
    assert caught.value.fields["fee"] == 101 and caught.value.fields["amount"] == 101
    assert caught.value.transfer_id == "0x" + "ab" * 32
    assert lane.delivered(102) == 1
    assert Lane("a", "b", 10_000, 0).fee(5) == 5
    with pytest.raises(errors.FeeExceedsAmount):  # the whole amount is no delivery
        Lane("a", "b", 10_000, 0).delivered(5)


@pytest.mark.parametrize(
    "fee_bps", [True, "5", None, float("nan"), float("inf"), -1, -0.5, 10_000.5, 10_001]
)
def test_a_lane_refuses_a_malformed_fee(fee_bps: object) -> None:
    with pytest.raises(errors.InvalidInput):
        Lane("a", "b", fee_bps, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("fixed", [-1, 1.0, True, "1"])
def test_a_lane_refuses_a_malformed_fixed_fee(fixed: object) -> None:
    with pytest.raises(errors.InvalidInput):
        Lane("a", "b", 5, fixed)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, MAX_AMOUNT + 1])
def test_fees_are_only_computed_on_amounts(amount: object) -> None:
    with pytest.raises(errors.InvalidAmount):
        lane_fee(amount, 5, 0)  # type: ignore[arg-type]


def test_a_lane_joins_two_named_chains() -> None:
    with pytest.raises(errors.InvalidInput):
        Lane("a", "a")
    with pytest.raises(errors.InvalidInput):
        Lane("", "b")
    assert Lane("a", "b").key == ("a", "b")

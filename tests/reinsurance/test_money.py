from fractions import Fraction

import pytest

from reinsurance import InvalidInput, ReinsuranceError
from reinsurance.money import (
    bps_fee,
    check_amount,
    check_probability,
    check_ratio,
    check_real,
    mul_down,
    mul_up,
    ratio_at_least,
    round_down,
    round_up,
)


def test_rounding_directions() -> None:
    assert round_down(2.9999) == 2
    assert round_up(2.0001) == 3
    assert round_up(Fraction(7, 2)) == 4
    assert round_down(Fraction(7, 2)) == 3
    assert round_up(5) == 5 == round_down(5)


def test_fees_and_rates_round_up_exactly() -> None:
    assert bps_fee(10_000, 5) == 5
    assert bps_fee(10_001, 5) == 6  # 5.0005 -> 6: we pay fees, so ceil
    assert bps_fee(0, 5) == 0
    assert mul_up(3, 0.1) == 1  # 0.30000000000000004 on the float, ceil 1
    assert mul_down(10, 0.1) == 1  # exact binary 0.1 is a hair above 1/10
    assert mul_down(1_000_000, 0.5) == 500_000


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None])
def test_check_amount_rejects(bad: object) -> None:
    with pytest.raises(InvalidInput) as e:
        check_amount(bad, "pools[0].capital")
    assert e.value.field == "pools[0].capital"
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, ReinsuranceError)
    assert e.value.retryable is False


def test_probability_and_ratio_bounds() -> None:
    assert check_probability(0.0, "p") == 0.0
    assert check_probability(1.0, "p") == 1.0
    for bad in (-0.01, 1.01, float("nan"), float("inf")):
        with pytest.raises(InvalidInput):
            check_probability(bad, "p")
    with pytest.raises(InvalidInput, match="target"):
        check_ratio(0.99, "target")


def test_round_rejects_negative_and_nan() -> None:
    with pytest.raises(InvalidInput):
        round_up(-0.5)
    with pytest.raises(InvalidInput):
        round_down(float("nan"))


def test_ratio_at_least_is_exact() -> None:
    assert ratio_at_least(15, 10, 1.5)
    assert not ratio_at_least(14_999_999, 10_000_000, 1.5)
    assert ratio_at_least(0, 0, 2.0)  # nothing required
    # 1.1 as a float is slightly above 11/10: 11 / 10 is *not* >= float(1.1)
    assert not ratio_at_least(11, 10, 1.1)


def test_check_amount_zero_is_allowed_unless_asked() -> None:
    assert check_amount(0, "x") == 0  # the default allows zero
    assert check_amount(1, "x") == 1
    assert check_amount(7, "x", allow_zero=False) == 7
    with pytest.raises(InvalidInput, match="must be > 0, got 0"):
        check_amount(0, "x", allow_zero=False)
    with pytest.raises(InvalidInput, match="must be > 0, got -1"):
        check_amount(-1, "x", allow_zero=False)


@pytest.mark.parametrize("bad", [True, False, "0.5", None, Fraction(1, 2)])
def test_check_real_refuses_what_is_not_a_real_number(bad: object) -> None:
    with pytest.raises(InvalidInput, match="must be a number") as e:
        check_real(bad, "rate")
    assert e.value.field == "rate"


def test_check_real_bounds_are_inclusive() -> None:
    assert check_real(3, "x") == 3.0 and type(check_real(3, "x")) is float
    assert check_real(0.0, "x", lo=0.0, hi=1.0) == 0.0
    assert check_real(1.0, "x", lo=0.0, hi=1.0) == 1.0
    with pytest.raises(InvalidInput, match=r"must be >= 0\.0"):
        check_real(-1e-9, "x", lo=0.0, hi=1.0)
    with pytest.raises(InvalidInput, match=r"must be <= 1\.0"):
        check_real(1.0 + 1e-9, "x", lo=0.0, hi=1.0)
    with pytest.raises(InvalidInput, match="finite"):
        check_real(float("-inf"), "x")


def test_check_ratio_accepts_one_to_a_million() -> None:
    assert check_ratio(1.0, "t") == 1.0
    assert check_ratio(1e6, "t") == 1e6
    with pytest.raises(InvalidInput, match="target"):
        check_ratio(1.0 - 1e-9, "target")
    with pytest.raises(InvalidInput):
        check_ratio(1e6 + 0.5, "t")


def test_rounding_at_zero_and_below_one() -> None:
    assert round_down(0) == 0 == round_up(0)  # zero is money, not an error
    assert round_down(0.5) == 0 and round_up(0.5) == 1
    assert round_down(Fraction(0)) == 0
    with pytest.raises(InvalidInput, match="fee: must be >= 0"):
        round_up(Fraction(-1, 10**9), "fee")
    with pytest.raises(InvalidInput, match="finite"):
        round_up(float("inf"))


def test_ratio_at_least_with_nothing_or_little_required() -> None:
    assert ratio_at_least(-1, 0, 2.0)  # a zero requirement passes whatever is held
    assert ratio_at_least(-1, -5, 2.0)
    assert not ratio_at_least(1, 1, 2.0)  # 1/1 < 2
    assert ratio_at_least(2, 1, 2.0)

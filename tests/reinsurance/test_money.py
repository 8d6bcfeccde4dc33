from fractions import Fraction

import pytest

from reinsurance import InvalidInput, ReinsuranceError
from reinsurance.money import (
    bps_fee,
    check_amount,
    check_probability,
    check_ratio,
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

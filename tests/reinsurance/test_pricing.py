"""Cover pricing: the documented formula, and monotone in every factor."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reinsurance import CoverRequest, InsufficientCapacity, InvalidInput, PricingConfig, price_cover

from .strategies import FAST

U = 1_000_000

requests = st.builds(
    CoverRequest,
    amount=st.integers(1, 10**7).map(lambda a: a * U),
    horizon_days=st.integers(1, 730),
    incident_probability=st.floats(0.0, 1.0),
    severity_mean=st.floats(0.0, 1.0),
    tvl=st.integers(1, 10**9).map(lambda a: a * U),
    pool_capital=st.just(10**8 * U),
    pool_free=st.integers(3 * 10**7, 10**8).map(lambda a: a * U),
)


def test_formula_by_hand() -> None:
    req = CoverRequest(
        amount=1_000 * U,
        horizon_days=365,
        incident_probability=0.02,
        severity_mean=0.5,
        tvl=10_000_000 * U,
        pool_capital=10_000 * U,
        pool_free=10_000 * U,
    )
    q = price_cover(req)
    # p_h = 0.02; tvl_factor = 1 + 0.5 * 10M / 20M = 1.25; pure = 1000 * .02 * .5 * 1.25 = 12.5
    assert q.pure_premium == 12_500_000
    assert q.locked_capital == 300 * U  # capital factor 0.3
    assert q.capital_cost == 30 * U  # 300 * 10% * 1 year
    assert q.fees == 2 * U  # 20 bps
    assert q.surcharge == 0  # utilisation 3% < kink 80%
    assert q.premium == q.pure_premium + q.capital_cost + q.fees + q.surcharge


def test_surcharge_appears_as_capacity_runs_out() -> None:
    base = CoverRequest(1_000 * U, 365, 0.02, 0.5, 10**7 * U, 10_000 * U, 10_000 * U)
    tight = dataclasses.replace(base, pool_free=400 * U)  # utilisation ~ 99%
    assert price_cover(base).surcharge == 0
    assert price_cover(tight).surcharge > 0
    with pytest.raises(InsufficientCapacity):
        price_cover(dataclasses.replace(base, pool_free=299 * U))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -5),
        ("horizon_days", 0),
        ("incident_probability", 1.5),
        ("severity_mean", -0.1),
        ("tvl", 0),
        ("pool_free", 10**9 * U),
    ],
)
def test_bad_request_names_the_field(field: str, value: object) -> None:
    base = CoverRequest(1_000 * U, 365, 0.02, 0.5, 10**7 * U, 10_000 * U, 10_000 * U)
    with pytest.raises(InvalidInput) as e:
        price_cover(dataclasses.replace(base, **{field: value}))
    assert e.value.field == f"request.{field}"


def _up(field: str, by: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.tuples(requests, by).map(lambda t: (t[0], field, t[1]))


@FAST
@given(
    st.one_of(
        _up("amount", st.integers(0, 10**6 * U)),
        _up("horizon_days", st.integers(0, 365)),
        _up("incident_probability", st.floats(0.0, 1.0)),
        _up("severity_mean", st.floats(0.0, 1.0)),
    )
)
def test_premium_never_decreases_when_a_risk_factor_grows(case) -> None:  # type: ignore[no-untyped-def]
    req, field, delta = case
    bigger = getattr(req, field) + delta
    if field in ("incident_probability", "severity_mean"):
        bigger = min(bigger, 1.0)
    if field == "horizon_days":
        bigger = min(bigger, 3650)
    grown = dataclasses.replace(req, **{field: bigger})
    try:
        after = price_cover(grown).premium
    except InsufficientCapacity:
        return  # a bigger cover may no longer fit: refusing is not cheaper
    assert after >= price_cover(req).premium


@FAST
@given(requests, st.integers(0, 10**9 * U), st.integers(0, 10**7 * U))
def test_premium_never_increases_with_more_tvl_or_more_free_capital(
    req, more_tvl, more_free
) -> None:  # type: ignore[no-untyped-def]
    base = price_cover(req).premium
    assert price_cover(dataclasses.replace(req, tvl=req.tvl + more_tvl)).premium <= base
    free = min(req.pool_free + more_free, req.pool_capital)
    assert price_cover(dataclasses.replace(req, pool_free=free)).premium <= base


@FAST
@given(requests, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_premium_monotone_in_capital_factor_and_cost(req, cf, coc) -> None:  # type: ignore[no-untyped-def]
    lo = PricingConfig(capital_factor=cf * 0.3, cost_of_capital=coc * 0.1)
    hi = PricingConfig(capital_factor=cf * 0.3 + 0.001, cost_of_capital=coc * 0.1 + 0.01)
    assert price_cover(req, hi).premium >= price_cover(req, lo).premium

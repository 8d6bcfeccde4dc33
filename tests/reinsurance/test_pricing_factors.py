"""Pricing from a deployment's real factors: incident history, TVL, the pool's
free capital and the horizon; monotone in each, and a premium that explains itself."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reinsurance import (
    CoverRequest,
    InsufficientCapacity,
    InvalidInput,
    incident_probability,
    incident_severity,
    price_cover,
)

from .strategies import FAST

U = 1_000_000

#: A deployment's facts, and the pool it is priced against.
facts = st.fixed_dictionaries(
    {
        "count": st.integers(0, 50),
        "window_days": st.integers(30, 3650),
        "severity_bps": st.integers(0, 10_000),
        "tvl": st.integers(1, 10**9).map(lambda a: a * U),
        "pool_free": st.integers(3 * 10**7, 10**8).map(lambda a: a * U),
        "horizon_days": st.integers(1, 730),
        "deductible": st.integers(0, 10**5).map(lambda a: a * U),
    }
)
PRIOR_P, PRIOR_SEV = 0.04, 2 / 7


def premium(f: dict[str, int]) -> int:
    """The premium of a 1M cover, as the router prices it from the facts."""
    return price_cover(
        CoverRequest(
            amount=10**6 * U,
            horizon_days=f["horizon_days"],
            incident_probability=incident_probability(f["count"], f["window_days"], PRIOR_P),
            severity_mean=incident_severity(f["count"], f["severity_bps"] / 10_000, PRIOR_SEV),
            tvl=f["tvl"],
            pool_capital=10**8 * U,
            pool_free=f["pool_free"],
            deductible=f["deductible"],
        )
    ).premium


def test_history_moves_the_prior() -> None:
    # No incidents over a long window: below the prior, never zero.
    assert 0 < incident_probability(0, 3650, PRIOR_P) < PRIOR_P
    # One incident in a year: far above it (credibility: two prior years at 4 %).
    assert incident_probability(1, 365, PRIOR_P) == pytest.approx((1 + 0.08) / 3)
    assert incident_probability(500, 30, PRIOR_P) == 0.95  # capped
    # A mild history never makes the severity lower than the type's.
    assert incident_severity(4, 0.01, PRIOR_SEV) == PRIOR_SEV
    assert incident_severity(2, 0.8, PRIOR_SEV) == pytest.approx((1.6 + 2 * PRIOR_SEV) / 4)
    with pytest.raises(InvalidInput):
        incident_probability(-1, 365, PRIOR_P)
    with pytest.raises(InvalidInput):
        incident_severity(1, 1.5, PRIOR_SEV)


@FAST
@given(facts, st.integers(1, 10), st.integers(0, 10_000))
def test_more_or_worse_incidents_never_make_cover_cheaper(
    f: dict[str, int], more: int, worse: int
) -> None:
    base = premium(f)
    assert premium(f | {"count": f["count"] + more}) >= base
    assert premium(f | {"severity_bps": min(10_000, f["severity_bps"] + worse)}) >= base


@FAST
@given(facts, st.integers(1, 10**9), st.integers(1, 10**7), st.integers(1, 365))
def test_monotone_in_tvl_free_liquidity_and_horizon(
    f: dict[str, int], more_tvl: int, more_free: int, longer: int
) -> None:
    base = premium(f)
    assert premium(f | {"tvl": f["tvl"] + more_tvl * U}) <= base
    assert premium(f | {"pool_free": min(10**8 * U, f["pool_free"] + more_free * U)}) <= base
    assert premium(f | {"horizon_days": min(3650, f["horizon_days"] + longer)}) >= base


@FAST
@given(facts, st.integers(1, 10**5))
def test_a_higher_deductible_or_lower_event_cap_is_never_dearer(
    f: dict[str, int], more: int
) -> None:
    base = premium(f)
    assert premium(f | {"deductible": f["deductible"] + more * U}) <= base
    req = CoverRequest(10**6 * U, 365, 0.05, 0.3, 10**9 * U, 10**8 * U, 10**8 * U)
    capped = dataclasses.replace(req, per_event_max=10**5 * U)
    assert price_cover(capped).premium <= price_cover(req).premium


@FAST
@given(facts)
def test_the_parts_sum_exactly_to_the_premium(f: dict[str, int]) -> None:
    q = price_cover(
        CoverRequest(
            amount=10**6 * U,
            horizon_days=f["horizon_days"],
            incident_probability=incident_probability(f["count"], f["window_days"], PRIOR_P),
            severity_mean=PRIOR_SEV,
            tvl=f["tvl"],
            pool_capital=10**8 * U,
            pool_free=f["pool_free"],
        )
    )
    assert q.premium == q.pure_premium + q.capital_cost + q.fees + q.surcharge
    assert min(q.pure_premium, q.capital_cost, q.fees, q.surcharge) >= 0


def test_scarce_free_liquidity_shows_as_a_surcharge() -> None:
    req = CoverRequest(10**6 * U, 365, 0.05, 0.3, 10**9 * U, 10**7 * U, 10**7 * U)
    assert price_cover(req).surcharge == 0
    tight = price_cover(dataclasses.replace(req, pool_free=4 * 10**5 * U))
    assert tight.surcharge > 0 and tight.utilisation_after > 0.9
    with pytest.raises(InsufficientCapacity):
        price_cover(dataclasses.replace(req, pool_free=10**5 * U))


def test_a_bad_deductible_names_the_field() -> None:
    req = CoverRequest(10**6 * U, 365, 0.05, 0.3, 10**9 * U, 10**7 * U, 10**7 * U)
    with pytest.raises(InvalidInput) as e:
        price_cover(dataclasses.replace(req, deductible=-1))
    assert e.value.field == "request.deductible"
    with pytest.raises(InvalidInput) as e:
        price_cover(dataclasses.replace(req, per_event_max=0))
    assert e.value.field == "request.per_event_max"

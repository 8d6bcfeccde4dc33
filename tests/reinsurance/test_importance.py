"""Importance sampling of the loss model: the weights are exact likelihood
ratios (unbiased means and probabilities, closed forms and FFT agree), they
flow into solvency, and the sample stays seeded and reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reinsurance import (
    Correlation,
    InvalidInput,
    PoolCapital,
    QuotaShare,
    Risk,
    StopLoss,
    assess,
    exact_aggregate,
    simulate,
)
from reinsurance.solvency import var, weighted_mean

from .strategies import FAST
from .test_losses import risks

CORRELATIONS = [Correlation(), Correlation(0.5, 0.0), Correlation(0.3, 0.3, 0.1)]


def within(estimate: np.ndarray, truth: float, sigmas: float = 5.0) -> bool:
    """Mean of per-scenario ``estimate`` is within ``sigmas`` standard errors of ``truth``."""
    se = float(estimate.std()) / math.sqrt(estimate.size)
    return abs(float(estimate.mean()) - truth) <= sigmas * se


@pytest.mark.parametrize("corr", CORRELATIONS)
def test_weighted_pool_mean_loss_matches_the_closed_form(corr: Correlation) -> None:
    rs = risks(n=60, pools=3)
    s = simulate(rs, 40_000, seed=21, correlation=corr)
    assert s.importance is not None and s.importance.theta > 0
    for j, pool in enumerate(s.pool_ids):
        exact = sum(r.exposure * r.probability * r.severity_mean for r in rs if r.pool_id == pool)
        for w in (s.pool_weights(j), s.weights):  # pool's own ratio, and the full one
            est = s.pool_losses(j) * w
            assert within(est, exact)
            se = float(est.std()) / math.sqrt(est.size)
            assert se < 0.03 * exact  # and informative
            # assess's estimator (weights as control variate) is no further off
            assert abs(weighted_mean(s.pool_losses(j), w) - exact) <= 5 * se
    assert weighted_mean(np.array([1.0, 2.0, 6.0]), None) == 3.0
    assert weighted_mean(np.array([1.0, 2.0, 6.0]), np.ones(3)) == 3.0


@pytest.mark.parametrize("corr", CORRELATIONS)
def test_weights_are_positive_and_average_one(corr: Correlation) -> None:
    s = simulate(risks(n=60, pools=3), 40_000, seed=22, correlation=corr)
    for w in [s.weights] + [s.pool_weights(j) for j in range(len(s.pool_ids))]:
        assert np.all(w > 0) and np.all(np.isfinite(w))
        assert within(w, 1.0)


def test_weighted_joint_probability_under_a_protocol_shock_is_exact() -> None:
    # two deployments of one protocol: P(both fail) = q + (1 - q) * p_idio^2
    p, wgt = 0.04, 0.6
    rs = [Risk(f"r{k}", "aave", f"c{k}", f"pool{k}", 10**9, p, 2.0, 5.0) for k in range(2)]
    s = simulate(rs, 60_000, seed=5, correlation=Correlation(protocol_weight=wgt))
    q = wgt * p
    p_idio = 1 - (1 - p) / (1 - q)
    both = (s.pool_losses(0) > 0) & (s.pool_losses(1) > 0)
    assert within(both * s.weights, q + (1 - q) * p_idio**2)
    # each pool alone: its own ratio gives the marginal probability
    for j in range(2):
        assert within((s.pool_losses(j) > 0) * s.pool_weights(j), p)


def test_var_matches_the_exact_fft_aggregate() -> None:
    rs = risks(n=200, pools=1, seed=3)
    exact = exact_aggregate(rs, grid=1 << 14).quantile(0.995)
    s = simulate(rs, 20_000, seed=4)
    assert var(s.pool_losses(0), 0.995, s.pool_weights(0)) == pytest.approx(exact, rel=0.02)


def test_same_seed_same_sample_and_chunks_do_not_matter() -> None:
    rs = risks()
    corr = Correlation(0.2, 0.5, 0.1)
    a = simulate(rs, 4_000, seed=3, correlation=corr, chunk=100_000)
    b = simulate(rs, 4_000, seed=3, correlation=corr, chunk=7)
    c = simulate(rs, 4_000, seed=4, correlation=corr)
    assert np.array_equal(a.losses, b.losses) and np.array_equal(a.weights, b.weights)
    assert np.array_equal(a.pool_weights(1), b.pool_weights(1))
    assert not np.array_equal(a.weights, c.weights)


def test_plain_monte_carlo_has_uniform_weights() -> None:
    s = simulate(risks(), 2_000, seed=1, importance=None)
    assert s.importance is None
    assert np.array_equal(s.weights, np.ones(2_000))
    assert np.array_equal(s.pool_weights(0), np.ones(2_000))


@pytest.mark.parametrize("bad", [True, 0.3, 1.0, float("nan")])
def test_bad_importance_quantile_is_rejected(bad: object) -> None:
    with pytest.raises(InvalidInput) as e:
        simulate(risks(n=3), 10, seed=0, importance=bad)  # type: ignore[arg-type]
    assert e.value.field == "importance"


@FAST
@given(st.lists(st.integers(0, 20), min_size=1, max_size=300), st.floats(0.5, 0.999))
def test_unit_weights_give_the_plain_empirical_var(values: list[int], q: float) -> None:
    losses = np.array(values, dtype=float)  # small integers: many ties
    assert var(losses, q, np.ones(losses.size)) == var(losses, q)


def test_weighted_var_reads_the_tail_weight() -> None:
    losses = np.array([0.0, 1.0, 2.0, 3.0])
    weights = np.array([3.7, 0.2, 0.08, 0.02])  # P(>2) = 0.005, P(>1) = 0.025
    assert var(losses, 0.995, weights) == 2.0
    assert var(losses, 0.99, weights) == 2.0
    assert var(losses, 0.97, weights) == 1.0


def test_assess_weighs_every_figure_and_agrees_with_plain_monte_carlo() -> None:
    rs = risks(n=60, pools=3)
    corr = Correlation(0.3, 0.2, 0.05)
    pools = [
        PoolCapital("pool0", 10**12, 10**12, treaties=(QuotaShare(0.3),)),
        PoolCapital("pool1", 10**12, 10**12, treaties=(StopLoss(10**11, 10**11),)),
        PoolCapital("pool2", 10**12, 10**12),
    ]
    imp = assess(simulate(rs, 60_000, seed=8, correlation=corr), pools)
    plain = assess(simulate(rs, 60_000, seed=9, correlation=corr, importance=None), pools)
    for a, b in zip(imp.pools, plain.pools, strict=True):
        assert a.scr == pytest.approx(b.scr, rel=0.05)
        assert a.gross_var == pytest.approx(b.gross_var, rel=0.05)
        assert a.expected_net_loss == pytest.approx(b.expected_net_loss, rel=0.05)
    assert imp.group.group_scr == pytest.approx(plain.group.group_scr, rel=0.05)
    assert imp.group.diversification_benefit > 0
    # the quota share scales the weighted VaR exactly (treaties act per scenario)
    s = simulate(rs, 60_000, seed=8, correlation=corr)
    j = s.pool_index("pool0")
    gross = var(s.pool_losses(j), 0.995, s.pool_weights(j))
    assert imp.pools[0].scr == pytest.approx(0.7 * gross, abs=2)


@pytest.mark.parametrize("corr", [Correlation(), Correlation(0.3, 0.3, 0.6)])
def test_certain_impossible_and_dominant_risks_keep_finite_exact_weights(
    corr: Correlation,
) -> None:
    rs = [
        Risk("sure", "p", "c", "pool0", 10**6, 1.0, 2.0, 2.0),
        Risk("never", "p", "c", "pool1", 10**6, 0.0, 2.0, 2.0),  # a pool with no incident
        Risk("often", "q", "c", "pool2", 10**6, 0.5, 2.0, 2.0),
        Risk("big", "z", "c", "pool2", 10**9, 0.01, 2.0, 2.0),  # dominates the total
    ]
    s = simulate(rs, 20_000, seed=1, correlation=corr)
    assert np.all(s.pool_losses(0) > 0) and not np.any(s.pool_losses(1))
    for j in range(3):  # shocks may be tilted even where the risk is certain or impossible
        assert np.all(np.isfinite(s.pool_weights(j))) and within(s.pool_weights(j), 1.0)
    w = s.pool_weights(2)
    exact = 0.5 * 10**6 * 0.5 + 0.01 * 10**9 * 0.5
    assert within(s.pool_losses(2) * w, exact)
    rep = assess(s, [PoolCapital(p, 10**9, 10**9) for p in s.pool_ids])
    assert rep.pools[1].scr == 0 and rep.pools[2].scr > 0

"""Loss model: reproducibility, marginals kept under correlation, and the
simulation checked against the exact FFT aggregate. Tests of the model itself
use plain Monte Carlo (``importance=None``); the importance sampler has its own
tests in ``test_importance.py``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reinsurance import Correlation, InvalidInput, Risk, exact_aggregate, simulate
from reinsurance.losses import beta_cdf
from reinsurance.solvency import var


def risks(n: int = 60, pools: int = 3, protocols: int = 10, seed: int = 0) -> list[Risk]:
    rng = np.random.default_rng(seed)
    return [
        Risk(
            risk_id=f"r{i}",
            protocol=f"proto{i % protocols}",
            chain=f"chain{i % 4}",
            pool_id=f"pool{i % pools}",
            exposure=int(rng.integers(1, 100)) * 10**9,
            probability=float(rng.uniform(0.01, 0.06)),
            severity_alpha=float(rng.choice([1.0, 2.0, 0.7])),
            severity_beta=float(rng.choice([3.0, 5.0])),
        )
        for i in range(n)
    ]


def test_same_seed_same_losses_other_seed_other_losses() -> None:
    rs = risks()
    a = simulate(rs, 5_000, seed=7, correlation=Correlation(0.3, 0.2))
    b = simulate(rs, 5_000, seed=7, correlation=Correlation(0.3, 0.2))
    c = simulate(rs, 5_000, seed=8, correlation=Correlation(0.3, 0.2))
    assert np.array_equal(a.losses, b.losses)
    assert not np.array_equal(a.losses, c.losses)


def test_chunking_does_not_change_the_result() -> None:
    rs = risks()
    corr = Correlation(0.2, 0.5, 0.1)  # ~400 market shocks, drawn in chunks of 7 vs all at once
    a = simulate(rs, 4_000, seed=3, correlation=corr, chunk=100_000)
    b = simulate(rs, 4_000, seed=3, correlation=corr, chunk=7)
    assert np.array_equal(a.losses, b.losses)


def test_sparse_pool_losses_match_the_dense_matrix() -> None:
    s = simulate(risks(), 3_000, seed=4, correlation=Correlation(0.3, 0.2))
    dense = s.losses
    for j in range(len(s.pool_ids)):
        assert np.allclose(s.pool_losses(j), dense[:, j])
    assert np.isclose(dense.sum(), s.event_loss.sum())


@pytest.mark.parametrize("corr", [Correlation(), Correlation(0.5, 0.0), Correlation(0.2, 0.5, 0.1)])
def test_marginal_incident_probability_is_kept(corr: Correlation) -> None:
    rs = [Risk(f"r{k}", f"p{k % 2}", f"c{k}", "pool", 10**9, 0.05, 2.0, 2.0) for k in range(8)]
    n = 60_000
    s = simulate(rs, n, seed=11, correlation=corr, importance=None)
    # at most one incident per risk-year, one event each: frequency = events / (n * risks)
    freq = s.event_scenario.size / (n * len(rs))
    assert freq == pytest.approx(0.05, abs=4 * math.sqrt(0.05 * 0.95 / (n * len(rs))) + 0.002)


def test_protocol_shock_makes_deployments_fail_together() -> None:
    # one protocol on 5 chains, all backing one pool: the tail fattens with correlation
    rs = [Risk(f"r{k}", "aave", f"c{k}", "pool", 10**9, 0.03, 2.0, 5.0) for k in range(5)]
    ind = simulate(rs, 40_000, seed=1, importance=None)
    cor = simulate(
        rs, 40_000, seed=1, correlation=Correlation(protocol_weight=0.8), importance=None
    )
    assert ind.losses.mean() == pytest.approx(cor.losses.mean(), rel=0.08)
    assert var(cor.losses[:, 0], 0.995) > 1.5 * var(ind.losses[:, 0], 0.995)


def test_beta_cdf_matches_closed_forms() -> None:
    x = np.linspace(0, 1, 101)
    assert np.allclose(beta_cdf(x, 1.0, 1.0), x, atol=1e-12)
    assert np.allclose(beta_cdf(x, 2.0, 2.0), 3 * x**2 - 2 * x**3, atol=1e-10)
    assert np.allclose(beta_cdf(x, 1.0, 3.0), 1 - (1 - x) ** 3, atol=1e-10)


def test_fft_mean_is_exact_and_simulation_matches_it() -> None:
    rs = risks(n=120, pools=1)
    exact = exact_aggregate(rs, grid=1 << 14)
    mean = sum(r.exposure * r.probability * r.severity_mean for r in rs)
    assert exact.mean() == pytest.approx(mean, rel=1e-3)
    s = simulate(rs, 100_000, seed=5, importance=None)
    assert s.losses[:, 0].mean() == pytest.approx(mean, rel=0.02)
    assert var(s.losses[:, 0], 0.995) == pytest.approx(exact.quantile(0.995), rel=0.03)
    assert var(s.losses[:, 0], 0.9) == pytest.approx(exact.quantile(0.9), rel=0.03)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (dict(probability=1.2), "risks[0].probability"),
        (dict(probability=-0.1), "risks[0].probability"),
        (dict(exposure=-5), "risks[0].exposure"),
        (dict(severity_alpha=0.0), "risks[0].severity_alpha"),
        (dict(pool_id=""), "risks[0].pool_id"),
    ],
)
def test_bad_risk_names_the_field(bad: dict[str, object], field: str) -> None:
    base = dict(risk_id="r", protocol="p", chain="c", pool_id="pool", exposure=1, probability=0.1)
    base.update(bad)
    with pytest.raises(InvalidInput) as e:
        simulate([Risk(**base)], 10, seed=0)  # type: ignore[arg-type]
    assert e.value.field == field


def test_bad_correlation_is_rejected() -> None:
    rs = risks(n=3)
    with pytest.raises(InvalidInput, match="protocol_weight"):
        simulate(rs, 10, seed=0, correlation=Correlation(0.7, 0.6))
    with pytest.raises(InvalidInput) as e:
        simulate(rs, 10, seed=0, correlation=Correlation(0.0, 1.0, 0.001))
    assert e.value.field == "correlation.market_probability"


def test_certain_and_impossible_and_frequent_risks() -> None:
    rs = [
        Risk("sure", "p", "c", "pool", 10**6, 1.0, 2.0, 2.0),
        Risk("never", "p", "c", "pool2", 10**6, 0.0, 2.0, 2.0),
        Risk("often", "q", "c", "pool3", 10**6, 0.5, 2.0, 2.0),
    ]
    s = simulate(rs, 20_000, seed=1, importance=None)
    assert np.all(s.pool_losses(s.pool_index("pool")) > 0)
    assert not np.any(s.pool_losses(s.pool_index("pool2")))
    hit = np.count_nonzero(s.pool_losses(s.pool_index("pool3")))
    assert abs(hit / 20_000 - 0.5) < 4 * math.sqrt(0.25 / 20_000)

"""Solvency on hand-built samples: VaR (plain and weighted), the control-variate
mean, MCR, ratios, the group view and the input checks, each by hand or
against a brute-force reference written in the test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reinsurance import InvalidInput, LossSample, PoolCapital, QuotaShare, SolvencyConfig, assess
from reinsurance.solvency import GroupSolvency, SolvencyReport, var, weighted_mean
from reinsurance.treaties import ExcessOfLoss, apply_treaties

from .strategies import FAST


def sample(*pools: list[list[float]]) -> LossSample:
    """``pools[j][s]`` lists pool j's incident losses in scenario s."""
    n = max(len(p) for p in pools)
    scen, pool, loss, start = [], [], [], [0]
    for j, scenarios in enumerate(pools):
        for s, losses in enumerate(scenarios):
            for x in losses:
                scen.append(s)
                pool.append(j)
                loss.append(x)
        start.append(len(loss))
    return LossSample(
        pool_ids=tuple(f"p{j}" for j in range(len(pools))),
        event_scenario=np.array(scen, dtype=np.int64),
        event_pool=np.array(pool, dtype=np.int64),
        event_loss=np.array(loss, dtype=float),
        pool_start=np.array(start),
        n_scenarios=n,
        seed=0,
    )


def brute_var(losses: np.ndarray, q: float, weights: np.ndarray) -> float:
    """The definition: the smallest loss x with sum(weights[loss > x]) / n <= 1 - q."""
    n = len(losses)
    for x in sorted(losses):
        if weights[losses > x].sum() <= (1 - q) * n * (1 + 1e-12):
            return float(x)
    raise AssertionError("unreachable: the largest loss always qualifies")


LOSSES = np.arange(1.0, 11.0)  # 1..10


@pytest.mark.parametrize(
    ("q", "expected"), [(0.5, 5.0), (0.9, 9.0), (0.91, 10.0), (0.95, 10.0), (0.0, 1.0), (1.0, 10.0)]
)
def test_plain_var_is_the_ceil_q_n_th_smallest(q: float, expected: float) -> None:
    assert var(LOSSES[::-1].copy(), q) == expected
    assert var(np.array([7.0]), q) == 7.0


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_unit_weights_give_the_plain_var(q: float) -> None:
    rng = np.random.default_rng(3)
    for n in (10, 300, 5_000):
        losses = rng.exponential(size=n)
        assert var(losses, q, np.ones(n)) == var(losses, q) == brute_var(losses, q, np.ones(n))


def test_weighted_var_counts_only_the_weight_above_it() -> None:
    losses = np.array([1.0, 2.0, 3.0, 4.0])
    assert var(losses, 0.75, np.ones(4)) == 3.0  # one scenario's weight may lie above
    assert var(losses, 0.75, np.array([0.5, 0.5, 0.5, 2.5])) == 4.0  # the top alone is too heavy
    assert var(losses, 0.75, np.array([1.0, 1.0, 0.5, 0.5])) == 2.0  # two light ones fit
    assert var(losses, 0.5, np.full(4, 1e-3)) == 1.0  # everything fits: the smallest loss


def test_weighted_var_looks_past_the_first_scenarios_it_sorts() -> None:
    n = 1_000
    losses = np.arange(float(n))
    w = np.ones(n)
    w[-256:] = 0.01  # the 256 largest weigh little: the tail reaches further down
    got = var(losses, 0.99, w)
    assert got == brute_var(losses, 0.99, w) == 736.0


@FAST
@given(
    n=st.integers(1, 700),
    q=st.floats(0.5, 0.999),
    seed=st.integers(0, 2**32 - 1),
    spread=st.floats(0.0, 3.0),
)
def test_weighted_var_matches_its_definition(n: int, q: float, seed: int, spread: float) -> None:
    rng = np.random.default_rng(seed)
    losses = np.round(rng.exponential(size=n), 2)  # ties included
    weights = np.exp(rng.normal(0.0, spread, size=n))
    assert var(losses, q, weights) == brute_var(losses, q, weights)


def test_weighted_mean_uses_the_weights_as_a_control_variate() -> None:
    x = np.array([1.0, 2.0, 3.0, 10.0])
    assert weighted_mean(x, None) == 4.0
    assert weighted_mean(x, np.ones(4)) == 4.0  # no spread in the weights: plain mean
    w = np.array([0.5, 0.5, 1.5, 1.5])  # mean exactly 1: the correction vanishes
    assert weighted_mean(x, w) == pytest.approx(float((x * w).mean()))
    w2 = np.array([0.2, 0.4, 1.0, 3.0])  # mean 1.15
    y = x * w2
    beta = np.cov(y, w2, bias=True)[0, 1] / np.var(w2)
    assert weighted_mean(x, w2) == pytest.approx(y.mean() - beta * (w2.mean() - 1.0))
    assert weighted_mean(x, w2) != pytest.approx(y.mean())
    assert weighted_mean(x, np.full(4, 2.0)) == 8.0  # equal weights: no spread, no correction
    w3 = np.array([0.9, 1.0, 1.1, 1.2])  # a small spread still gets its correction
    y3 = x * w3
    beta3 = np.cov(y3, w3, bias=True)[0, 1] / np.var(w3)
    assert weighted_mean(x, w3) == pytest.approx(y3.mean() - beta3 * (w3.mean() - 1.0))


def test_pool_figures_by_hand() -> None:
    # 10 scenarios of pool p0: losses 1..10 (one incident each); q = 0.9 -> SCR 9
    s = sample([[float(k)] for k in range(1, 11)])
    cfg = SolvencyConfig(quantile=0.9, mcr_share=0.25)
    pools = [
        PoolCapital("p0", capital=20, active_cover=100, arriving_final=7, arriving_pending=5),
        PoolCapital("ghost", capital=3, active_cover=0),
    ]
    rep = assess(s, pools, cfg)
    p0, ghost = rep.pools
    assert (p0.gross_var, p0.scr, p0.mcr, p0.required) == (9, 9, 25, 25)
    assert (p0.available, p0.pending) == (27, 5)
    assert p0.ratio == pytest.approx(27 / 25)
    assert p0.expected_net_loss == 6  # mean 5.5, rounded up
    # a pool with no simulated risk and no cover requires nothing
    assert (ghost.scr, ghost.mcr, ghost.required, ghost.ratio) == (0, 0, 0, None)
    assert rep.quantile == 0.9
    g = rep.group
    assert (g.sum_scr, g.group_scr, g.diversification_benefit) == (9, 9, 0)
    assert (g.available, g.required_sum) == (30, 25)
    assert g.ratio_standalone == pytest.approx(30 / 25)


def test_treaties_and_mcr_rounding() -> None:
    s = sample([[float(k)] for k in range(1, 11)])
    cfg = SolvencyConfig(quantile=0.9, mcr_share=0.25)
    half = PoolCapital("p0", capital=0, active_cover=100, treaties=(QuotaShare(0.5),))
    (p,) = assess(s, [half], cfg).pools
    assert (p.gross_var, p.scr, p.mcr) == (9, 5, 13)  # 4.5 -> 5; 12.5 -> 13: both ceil
    exact = PoolCapital("p0", capital=0, active_cover=1_000_000, treaties=(QuotaShare(0.1),))
    assert assess(s, [exact], SolvencyConfig(0.9, 0.3)).pools[0].mcr == 270_000  # no float dust
    small = PoolCapital("p0", capital=0, active_cover=3)
    assert assess(s, [small], cfg).pools[0].mcr == 1  # 0.75 -> 1
    assert assess(s, [small], SolvencyConfig(0.9, 0.0)).pools[0].mcr == 0


def test_group_scr_is_the_var_of_the_summed_net_loss() -> None:
    # two pools losing in different scenarios: together they diversify
    a = [[10.0] if k == 0 else [] for k in range(10)]
    b = [[10.0] if k == 1 else [] for k in range(10)]
    s = sample(a, b)
    rep = assess(s, [PoolCapital("p0", 4, 0), PoolCapital("p1", 6, 0)], SolvencyConfig(0.95))
    assert [p.scr for p in rep.pools] == [10, 10]  # each: its one bad year in ten
    g = rep.group
    assert (g.sum_scr, g.group_scr, g.diversification_benefit) == (20, 10, 10)
    assert g.ratio_standalone == pytest.approx(10 / 20)  # shown; each pool still stands alone


def test_empty_group() -> None:
    s = sample([[1.0]])
    g = assess(s, []).group
    assert (g.sum_scr, g.group_scr, g.available, g.required_sum) == (0, 0, 0, 0)
    assert g.ratio_standalone is None


def test_defaults() -> None:
    cfg = SolvencyConfig()
    assert (cfg.quantile, cfg.mcr_share) == (0.995, 0.25)
    p = PoolCapital("p", 1, 2)
    assert (p.arriving_final, p.arriving_pending, p.treaties) == (0, 0, ())


@pytest.mark.parametrize(("q", "ok"), [(0.5, True), (0.99999, True), (0.4999, False), (1.0, False)])
def test_quantile_bounds(q: float, ok: bool) -> None:
    s = sample([[1.0]])
    if ok:
        assert assess(s, [], SolvencyConfig(quantile=q)).quantile == q
    else:
        with pytest.raises(InvalidInput) as e:
            assess(s, [], SolvencyConfig(quantile=q))
        assert e.value.field == "config.quantile"


@pytest.mark.parametrize(("share", "ok"), [(0.0, True), (1.0, True), (-0.01, False), (1.01, False)])
def test_mcr_share_bounds(share: float, ok: bool) -> None:
    s = sample([[1.0]])
    if ok:
        assess(s, [], SolvencyConfig(mcr_share=share))
    else:
        with pytest.raises(InvalidInput) as e:
            assess(s, [], SolvencyConfig(mcr_share=share))
        assert e.value.field == "config.mcr_share"


@pytest.mark.parametrize(
    ("pools", "field"),
    [
        ([PoolCapital("", 0, 0)], "pools[0].pool_id"),
        ([PoolCapital("a", 0, 0), PoolCapital("a", 0, 0)], "pools[1].pool_id"),
        ([PoolCapital("a", 0, -1)], "pools[0].active_cover"),
        ([PoolCapital("a", 0, 0, arriving_final=-1)], "pools[0].arriving_final"),
        ([PoolCapital("a", 0, 0, arriving_pending=-1)], "pools[0].arriving_pending"),
    ],
)
def test_bad_pools_name_the_field(pools: list[PoolCapital], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        assess(sample([[1.0]]), pools)
    assert e.value.field == field


def test_zero_requirement_has_no_ratio() -> None:
    s = sample([[0.0]] * 4)
    (p,) = assess(s, [PoolCapital("p0", 5, 0)]).pools
    assert (p.required, p.ratio) == (0, None)
    assert math.isclose(assess(s, [PoolCapital("p0", 5, 4)]).pools[0].ratio or 0, 5)


def test_float_dust_below_zero_is_no_loss() -> None:
    # QS then a layer taking all the rest: the net loss comes out as -1e-16
    # in floating point; the requirement and expected loss must read 0, not fail
    s = sample([[0.453, 0.134, 0.403]])
    program = (QuotaShare(0.3), ExcessOfLoss(0, 10**6, 0.0))
    assert apply_treaties(s, "p0", program).net[0] < 0
    rep = assess(s, [PoolCapital("p0", 1, 0, treaties=program)])
    (p,) = rep.pools
    assert (p.scr, p.required, p.expected_net_loss, rep.group.group_scr) == (0, 0, 0, 0)
    assert p.gross_var == 1  # 0.99 rounded up


def test_no_risk_reads_zero_everywhere() -> None:
    s = sample([[0.0]] * 3)
    (p,) = assess(s, [PoolCapital("ghost", 2, 0)]).pools
    assert (p.gross_var, p.scr, p.expected_net_loss) == (0, 0, 0)


def test_report_default_quantile() -> None:
    g = GroupSolvency(0, 0, 0, 0, 0, None)
    assert SolvencyReport(pools=(), group=g).quantile == 0.995

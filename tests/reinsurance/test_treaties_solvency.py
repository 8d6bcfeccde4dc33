"""Treaties on simulated losses, and the solvency figures built on them."""

from __future__ import annotations

import numpy as np
import pytest

from reinsurance import (
    Correlation,
    ExcessOfLoss,
    InvalidInput,
    PoolCapital,
    QuotaShare,
    Risk,
    SolvencyConfig,
    StopLoss,
    apply_treaties,
    assess,
    simulate,
)
from reinsurance.solvency import var

G = 10**9


def sample(correlated: bool = False):  # type: ignore[no-untyped-def]
    rs = [
        Risk(f"r{k}", f"proto{k % 4}", f"chain{k % 3}", f"pool{k % 2}", (5 + k) * G, 0.04, 2.0, 3.0)
        for k in range(24)
    ]
    corr = Correlation(0.5, 0.2) if correlated else Correlation()
    return simulate(rs, 20_000, seed=2, correlation=corr)


def test_quota_share_scales_every_scenario() -> None:
    s = sample()
    nl = apply_treaties(s, "pool0", (QuotaShare(0.3),))
    assert np.allclose(nl.net, 0.7 * nl.gross)
    assert np.allclose(nl.recoveries, 0.3 * nl.gross)


def test_xol_is_per_event_and_capped_by_reinstatements() -> None:
    s = sample()
    layer = ExcessOfLoss(attachment=1 * G, limit=2 * G, rate_on_line=0.1, reinstatements=1)
    nl = apply_treaties(s, "pool0", (layer,))
    # per event: at most the limit per event, at most 2 limits a year
    assert nl.recoveries.max() <= 4 * G + 1e-3
    assert np.all(nl.recoveries <= nl.gross + 1e-6)
    j = s.pool_index("pool0")
    sel = s.event_pool == j
    per_event = np.clip(s.event_loss[sel] - 1 * G, 0, 2 * G)
    expected = np.minimum(np.bincount(s.event_scenario[sel], per_event, s.n_scenarios), 4 * G)
    assert np.allclose(nl.recoveries, expected)
    # reinstatement premium: pro rata of the limit used beyond the first, at rate on line
    assert np.allclose(nl.reinstatement_premiums, np.minimum(expected, 2 * G) * 0.1)


def test_stop_loss_caps_retained_aggregate() -> None:
    s = sample()
    nl = apply_treaties(s, "pool1", (StopLoss(attachment=3 * G, limit=5 * G),))
    assert np.all(nl.net <= np.maximum(nl.gross - 5 * G, 3 * G) + 1e-6)
    assert np.all(nl.net <= nl.gross + 1e-6)


def test_net_loss_is_non_decreasing_in_gross_loss() -> None:
    s = sample()
    program = (QuotaShare(0.2), StopLoss(attachment=2 * G, limit=3 * G))
    nl = apply_treaties(s, "pool0", program)
    order = np.argsort(nl.gross, kind="stable")
    assert np.all(np.diff(nl.net[order]) >= -1e-6)


@pytest.mark.parametrize(
    ("treaties", "field"),
    [
        ((QuotaShare(1.5),), "treaties[0].share"),
        ((QuotaShare(0.6), QuotaShare(0.6)), "treaties"),
        ((ExcessOfLoss(-1, 1, 0.1),), "treaties[0].attachment"),
        ((ExcessOfLoss(1, 1, 0.1, reinstatements=-1),), "treaties[0].reinstatements"),
        ((StopLoss(1, -3),), "treaties[0].limit"),
    ],
)
def test_bad_treaty_names_the_field(treaties: tuple, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as e:
        apply_treaties(sample(), "pool0", treaties)
    assert e.value.field == field


def test_scr_is_var_of_net_loss_and_required_is_the_max() -> None:
    s = sample()
    pools = [
        PoolCapital("pool0", capital=50 * G, active_cover=100 * G, treaties=(QuotaShare(0.5),)),
        PoolCapital("pool1", capital=5 * G, active_cover=400 * G),
    ]
    rep = assess(s, pools, SolvencyConfig(quantile=0.995, mcr_share=0.1))
    p0, p1 = rep.pools
    j = s.pool_index("pool0")
    gross0, w0 = s.losses[:, j], s.pool_weights(j)  # importance-sampled: weighted VaR
    assert p0.gross_var == pytest.approx(var(gross0, 0.995, w0), abs=1)
    assert p0.scr == pytest.approx(0.5 * var(gross0, 0.995, w0), abs=2)  # quota share halves VaR
    assert p0.mcr == 5 * G  # 10% of retained cover (half of 100)
    assert p0.required == max(p0.scr, p0.mcr)
    assert p1.mcr == 40 * G and p1.required == max(p1.scr, 40 * G)
    assert p0.ratio == pytest.approx(p0.available / p0.required)
    assert isinstance(p0.scr, int) and isinstance(p0.required, int)


def test_pending_arrivals_never_count_final_ones_do() -> None:
    s = sample()
    rep = assess(
        s,
        [
            PoolCapital(
                "pool0",
                capital=10 * G,
                active_cover=0,
                arriving_final=2 * G,
                arriving_pending=7 * G,
            )
        ],
    )
    assert rep.pools[0].available == 12 * G
    assert rep.pools[0].pending == 7 * G


def test_group_view_shows_diversification_but_pools_stand_alone() -> None:
    s = sample()
    pools = [PoolCapital("pool0", 10 * G, 0), PoolCapital("pool1", 10 * G, 0)]
    rep = assess(s, pools)
    g = rep.group
    assert g.sum_scr == sum(p.scr for p in rep.pools)
    assert g.group_scr < g.sum_scr  # independent pools diversify
    assert g.diversification_benefit == g.sum_scr - g.group_scr > 0
    assert g.required_sum == sum(p.required for p in rep.pools)  # the group figure is not used


def test_correlation_shrinks_the_diversification_benefit() -> None:
    pools = [PoolCapital("pool0", 10 * G, 0), PoolCapital("pool1", 10 * G, 0)]
    ind = assess(sample(False), pools).group
    cor = assess(sample(True), pools).group
    assert cor.diversification_benefit / cor.sum_scr < ind.diversification_benefit / ind.sum_scr


def test_bad_solvency_input() -> None:
    with pytest.raises(InvalidInput) as e:
        assess(sample(), [PoolCapital("pool0", capital=-1, active_cover=0)])
    assert e.value.field == "pools[0].capital"
    with pytest.raises(InvalidInput) as e:
        assess(sample(), [], SolvencyConfig(quantile=1.5))
    assert e.value.field == "config.quantile"


def test_quota_share_premium_and_commission_round_our_way() -> None:
    qs = QuotaShare(0.3, ceding_commission=0.25)
    assert qs.ceded_premium(1_000_001) == 300_001  # 300,000.3 ceded: we pay, ceil
    assert qs.commission(1_000_001) == 75_000  # 75,000.25 back: we receive, floor
    assert qs.net_cost(1_000_001) == 225_001
    layer = ExcessOfLoss(attachment=5 * G, limit=10 * G, rate_on_line=0.0625)
    assert layer.premium == 625_000_000  # rates are taken as their exact binary value

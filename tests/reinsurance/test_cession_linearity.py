"""The planner's cessions, placed as treaties, relieve what the planner said.

The planner treats a cession as linear in its share: a quota share ``s``
leaves ``(1 - s) * SCR``; a fraction ``f`` of a layer (attachment ``a*SCR``,
limit ``m*SCR``) relieves ``f * min(max(1 - a, 0), m) * SCR``. That holds
because VaR passes through a non-decreasing net loss. Here the planner is
asked for a plan (its public API), its cessions are written as the treaties
they are (quota share, then a stop loss on what is retained), and the pool's
SCR is computed again on simulated losses, correlated ones included: the
requirement the planner promised must be the one the simulation gives.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reinsurance import (
    Cession,
    CessionKind,
    Correlation,
    Plan,
    PlanInput,
    PoolCapital,
    PoolState,
    QuotaShare,
    Risk,
    StopLoss,
    Vault,
    assess,
    check_plan,
    plan_rebalance,
    simulate,
)
from reinsurance.treaties import Treaty

from .strategies import FAST

RISKS = [
    Risk(f"r{k}", f"proto{k % 5}", f"chain{k % 3}", "pool", (3 + k % 7) * 10**9, 0.03, 2.0, 4.0)
    for k in range(40)
]
SAMPLE = simulate(RISKS, 20_000, seed=9, correlation=Correlation(0.4, 0.2))


def scr_with(treaties: tuple[Treaty, ...]) -> int:
    pool = PoolCapital("pool", capital=0, active_cover=0, treaties=treaties)
    return assess(SAMPLE, [pool]).pools[0].scr


SCR = scr_with(())


def treaties_of(plan_cessions: tuple[Cession, ...], vault: Vault) -> tuple[Treaty, ...]:
    """The treaties a plan's cessions place: the quota share first, then the
    bought fraction of the layer on the gross loss, written as a stop loss on
    the retained loss (the layer's bounds scaled by what the quota share kept)."""
    s = sum(c.share_ppm for c in plan_cessions if c.kind is CessionKind.QUOTA_SHARE) / 1e6
    f = sum(c.share_ppm for c in plan_cessions if c.kind is CessionKind.LAYER) / 1e6
    out: list[Treaty] = [QuotaShare(s)] if s else []
    if f:
        assert vault.layer_attachment is not None and vault.layer_limit is not None
        keep = 1.0 - s
        out.append(
            StopLoss(
                attachment=round(vault.layer_attachment * SCR * keep),
                limit=round(vault.layer_limit * SCR * keep),
                share=f / keep,
            )
        )
    return tuple(out)


def plan_for(capital: int, vault: Vault) -> Plan:
    state = PoolState(
        pool_id="pool",
        chain="eth",
        capital=capital,
        locked=0,
        scr=SCR,
        mcr=0,
        target_ratio=1.5,
        min_ratio=1.0,
    )
    inp = PlanInput(pools=(state,), vaults=(vault,))
    plan = plan_rebalance(inp)
    assert check_plan(inp, plan) == []
    return plan


@FAST
@given(
    short=st.floats(0.02, 0.4),
    qs_rate=st.floats(0.01, 0.2),
    attachment=st.floats(0.0, 0.9),
    limit=st.floats(0.05, 1.0),
    rol=st.floats(0.001, 0.2),
    max_share=st.floats(0.3, 1.0),
)
def test_planned_relief_is_the_simulated_relief(
    short: float, qs_rate: float, attachment: float, limit: float, rol: float, max_share: float
) -> None:
    vault = Vault(
        "v",
        capacity=10 * SCR,
        qs_rate=qs_rate,
        max_share=max_share,
        layer_attachment=attachment,
        layer_limit=limit,
        layer_rate_on_line=rol,
    )
    plan = plan_for(int(1.5 * SCR * (1 - short)), vault)
    assert plan.cessions, "a pool short of its target with a vault and no route must cede"
    (after,) = plan.pools
    simulated = scr_with(treaties_of(plan.cessions, vault))
    # the plan rounds each relief to base units; the layer bounds are rounded too
    assert after.required_after == pytest.approx(simulated, rel=1e-6, abs=8)
    assert sum(c.scr_relief for c in plan.cessions) == pytest.approx(SCR - simulated, abs=8)


def test_quota_share_alone_scales_the_scr() -> None:
    vault = Vault("v", capacity=10 * SCR, qs_rate=0.05)
    plan = plan_for(SCR, vault)
    (c,) = plan.cessions
    assert c.kind is CessionKind.QUOTA_SHARE and 0 < c.share_ppm < 1_000_000
    simulated = scr_with((QuotaShare(c.share_ppm / 1e6),))
    assert plan.pools[0].required_after == pytest.approx(simulated, abs=2)
    assert simulated == pytest.approx(SCR * (1 - c.share_ppm / 1e6), abs=2)


def test_layer_alone_relieves_what_it_covers_of_the_scr() -> None:
    vault = Vault(
        "v",
        capacity=10 * SCR,
        qs_rate=5.0,  # dear: the layer wins
        layer_attachment=0.5,
        layer_limit=0.3,
        layer_rate_on_line=0.02,
    )
    plan = plan_for(int(1.5 * SCR * 0.8), vault)
    (c,) = plan.cessions
    assert c.kind is CessionKind.LAYER
    f = c.share_ppm / 1e6
    simulated = scr_with(treaties_of(plan.cessions, vault))
    assert simulated == pytest.approx(SCR - f * 0.3 * SCR, abs=4)
    assert plan.pools[0].required_after == pytest.approx(simulated, abs=4)

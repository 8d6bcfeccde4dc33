"""Shared hypothesis settings and strategies for the engine's property tests.

Settings are applied per test; the seed comes from the profile (tests/conftest.py):
fixed under "ci" so CI sees the same examples every run, random under "deep".
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from reinsurance import (
    BridgeRoute,
    InFlightTransfer,
    PlanInput,
    PlannerConfig,
    PoolState,
    Vault,
)
from tests.conftest import examples

FAST = settings(
    deadline=None,
    max_examples=examples(80),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PLANNER = settings(FAST, max_examples=examples(300))

UNIT = 1_000_000  # one USDC


@st.composite
def plan_inputs(
    draw: st.DrawFn, max_pools: int = 10, max_chains: int = 3, max_vaults: int = 3
) -> PlanInput:
    """Random but plausible planner states: a few chains, pools of all kinds
    (rich, poor, heavily locked, zero requirement), sparse routes with fixed
    fees and minimum sizes (some "unlimited"), vaults with and without layers
    and chain restrictions, in-flight transfers."""
    n_chains = draw(st.integers(1, max_chains))
    chains = [f"c{k}" for k in range(n_chains)]
    n_pools = draw(st.integers(1, max_pools))
    pools = []
    for k in range(n_pools):
        scr = draw(st.integers(0, 5_000)) * UNIT
        mcr = draw(st.integers(0, 3_000)) * UNIT
        capital = draw(st.integers(0, 12_000)) * UNIT + draw(st.integers(0, UNIT))
        locked = draw(st.integers(0, capital))
        target = draw(st.sampled_from([1.0, 1.2, 1.5, 2.0]))
        pools.append(
            PoolState(
                pool_id=f"p{k}",
                chain=draw(st.sampled_from(chains)),
                capital=capital,
                locked=locked,
                scr=scr,
                mcr=mcr,
                target_ratio=target,
                min_ratio=draw(st.sampled_from([1.0, target])),
                band=draw(st.sampled_from([0.0, 0.05, 0.2])),
            )
        )
    routes = []
    for a in chains:
        for b in chains:
            if a != b and draw(st.booleans()):
                routes.append(
                    BridgeRoute(
                        route_id=f"{a}-{b}",
                        src_chain=a,
                        dst_chain=b,
                        fee_bps=draw(st.sampled_from([0.0, 3.0, 25.0, 150.0])),
                        fixed_fee=draw(st.integers(0, 50)) * UNIT,
                        latency_s=draw(st.sampled_from([0.0, 60.0, 3_600.0])),
                        capacity=draw(
                            st.one_of(
                                st.integers(0, 20_000).map(lambda c: c * UNIT),
                                st.sampled_from([2**256 - 1, 2**64 - 1, 2**63 - 1]),
                            )
                        ),
                        min_transfer=draw(st.integers(0, 500)) * UNIT,
                    )
                )
    vaults = []
    for v in range(draw(st.integers(0, max_vaults))):
        layer = draw(st.booleans())
        vaults.append(
            Vault(
                vault_id=f"v{v}",
                capacity=draw(st.integers(0, 8_000)) * UNIT,
                qs_rate=draw(st.sampled_from([0.01, 0.05, 0.2, 0.9])),
                qs_commission=draw(st.sampled_from([0.0, 0.25])),
                max_share=draw(st.sampled_from([0.0, 0.2, 0.5, 1.0])),
                layer_attachment=draw(st.sampled_from([0.2, 0.6])) if layer else None,
                layer_limit=draw(st.sampled_from([0.1, 0.5])) if layer else None,
                layer_rate_on_line=draw(st.sampled_from([0.02, 0.3])) if layer else None,
                accepts_from=draw(
                    st.one_of(st.none(), st.frozensets(st.sampled_from(chains), max_size=2))
                ),
            )
        )
    in_flight = []
    for t in range(draw(st.integers(0, 2))):
        in_flight.append(
            InFlightTransfer(
                transfer_id=f"t{t}",
                dst_pool_id=f"p{draw(st.integers(0, n_pools - 1))}",
                amount=draw(st.integers(1, 2_000)) * UNIT,
                final=draw(st.booleans()),
            )
        )
    return PlanInput(
        pools=tuple(pools),
        routes=tuple(routes),
        vaults=tuple(vaults),
        in_flight=tuple(in_flight),
        config=PlannerConfig(time_limit_s=5.0),
        chains=tuple(chains),
    )

"""Adversarial but valid planner inputs, small enough for an exact reference MIP.

``adversarial(seed)`` draws one instance from a family chosen by ``seed`` (the
families the optimality check must cover) with random extras from the others.
Plain numpy (no hypothesis), so the benchmark can use the same generator.
"""

from __future__ import annotations

import numpy as np

from reinsurance import BridgeRoute, InFlightTransfer, PlanInput, PlannerConfig, PoolState, Vault

U = 1_000_000
UINT256 = 2**256 - 1
UINT64 = 2**64 - 1
INT64 = 2**63 - 1

FAMILIES = (
    "uint_lanes",  # lanes "without limit": uint256 / uint64 / int64 capacities
    "cap_is_min",  # lanes that can carry exactly their minimum
    "empty_pools",  # zero-capital and fully locked pools
    "underwater",  # every pool below its requirement
    "no_routes",
    "full_cession",  # cheap 100 % quota shares
    "tiny",  # amounts of a few base units
    "huge",  # amounts near 1e30 with uint256 lanes and vaults
    "many_vaults",  # binding counterparty caps and capacities
    "vault_chains",  # vaults accepting only some chains
)


def adversarial(seed: int) -> PlanInput:
    rng = np.random.default_rng(seed)
    fam = FAMILIES[seed % len(FAMILIES)]
    scale = {"tiny": 1, "huge": 10**24}.get(fam, U)
    n_chains = int(rng.integers(2, 4))
    chains = [f"c{k}" for k in range(n_chains)]
    n_pools = int(rng.integers(2, 7))
    pools = []
    for k in range(n_pools):
        req = int(rng.integers(0, 5_000)) * scale // (1 if fam != "tiny" else 500)
        scr = req
        mcr = int(req * rng.choice([0.0, 0.25, 0.9, 1.3]))
        ratio = rng.choice([0.0, 0.3, 0.9, 1.1, 1.4, 2.0, 3.5])
        if fam == "underwater":
            ratio = min(ratio, 0.9)
        capital = int(max(scr, mcr) * ratio) + int(rng.integers(0, 3))
        locked = int(capital * rng.choice([0.0, 0.3, 1.0]))
        if fam == "empty_pools" and k % 2 == 0:
            capital, locked = (0, 0) if k % 4 == 0 else (capital, capital)
        target = float(rng.choice([1.0, 1.2, 1.5, 2.0]))
        pools.append(
            PoolState(
                pool_id=f"p{k}",
                chain=chains[int(rng.integers(n_chains))],
                capital=capital,
                locked=locked,
                scr=scr,
                mcr=mcr,
                target_ratio=target,
                min_ratio=float(rng.choice([1.0, target])),
                band=float(rng.choice([0.0, 0.0, 0.05, 0.2])),
            )
        )
    routes = []
    if fam != "no_routes":
        for a in chains:
            for b in chains:
                if a == b or rng.random() < 0.3:
                    continue
                fixed = int(rng.choice([0, 0, 1, 7, 50])) * scale // (U if fam == "tiny" else 1)
                mn = int(rng.choice([0, 0, 10, 300])) * (scale if fam != "tiny" else 1)
                cap = int(rng.choice([0, 200, 2_000, 20_000])) * (scale if fam != "tiny" else 1)
                if fam == "uint_lanes" or (fam == "huge" and rng.random() < 0.7):
                    cap = int(rng.choice([UINT256, UINT64, INT64]))
                if fam == "cap_is_min" or rng.random() < 0.1:
                    mn = max(mn, fixed + 1, int(rng.integers(1, 400)) * scale)
                    cap = mn
                if fam == "huge" and cap < UINT64:
                    cap = UINT256
                routes.append(
                    BridgeRoute(
                        route_id=f"{a}-{b}",
                        src_chain=a,
                        dst_chain=b,
                        fee_bps=float(rng.choice([0.0, 3.0, 25.0, 150.0])),
                        fixed_fee=fixed,
                        latency_s=float(rng.choice([0.0, 60.0, 3_600.0])),
                        capacity=cap,
                        min_transfer=mn,
                    )
                )
    n_vaults = int(rng.integers(0, 4))
    if fam in ("many_vaults", "full_cession", "vault_chains"):
        n_vaults = int(rng.integers(3, 9))
    vaults = []
    total_req = sum(p.required for p in pools) or 1
    for v in range(n_vaults):
        layer = rng.random() < 0.4
        cap = int(total_req * rng.choice([0.0, 0.05, 0.2, 1.0]))
        if fam == "huge" and rng.random() < 0.5:
            cap = UINT256
        max_share = float(rng.choice([0.0, 0.05, 0.13, 0.5, 1.0]))
        if fam == "many_vaults":
            max_share = float(rng.choice([0.03, 0.07, 0.11]))
        if fam == "full_cession":
            max_share, cap = 1.0, int(total_req * 2)
        accepts = None
        if fam == "vault_chains" or rng.random() < 0.2:
            pick = [c for c in chains if rng.random() < 0.5]
            accepts = frozenset(pick) if pick else None
        vaults.append(
            Vault(
                vault_id=f"v{v}",
                capacity=cap,
                qs_rate=float(rng.choice([0.01, 0.05, 0.2, 0.9])),
                qs_commission=float(rng.choice([0.0, 0.25])),
                max_share=max_share,
                layer_attachment=float(rng.choice([0.2, 0.6])) if layer else None,
                layer_limit=float(rng.choice([0.1, 0.5])) if layer else None,
                layer_rate_on_line=float(rng.choice([0.02, 0.3])) if layer else None,
                accepts_from=accepts,
            )
        )
    in_flight = []
    for t in range(int(rng.integers(0, 3))):
        dst = pools[int(rng.integers(n_pools))]
        in_flight.append(
            InFlightTransfer(
                transfer_id=f"t{t}",
                dst_pool_id=dst.pool_id,
                amount=int(dst.required * rng.uniform(0.0, 0.3)) + 1,
                final=bool(rng.integers(2)),
            )
        )
    return PlanInput(
        pools=tuple(pools),
        routes=tuple(routes),
        vaults=tuple(vaults),
        in_flight=tuple(in_flight),
        config=PlannerConfig(time_limit_s=20.0),
        chains=tuple(chains),
    )

"""Deployments of one protocol on several chains are one risk source: a
same-protocol incident on two chains is one shock, so they need more capital
than independent deployments with the same marginal risk."""

from __future__ import annotations

import pytest

from reinsurance import (
    Correlation,
    DeploymentExposure,
    InvalidInput,
    PoolCapital,
    assess,
    deployment_risks,
    simulate,
)

U = 1_000_000
CORR = Correlation(protocol_weight=0.6, market_weight=0.0)


def exposures(eth_protocol: str, sol_protocol: str, *, one_pool: bool) -> list[DeploymentExposure]:
    return [
        DeploymentExposure("pool-a", "amm-ethereum", eth_protocol, "ethereum", 10**6 * U, 0.05),
        DeploymentExposure(
            "pool-a" if one_pool else "pool-b",
            "amm-solana",
            sol_protocol,
            "solana",
            10**6 * U,
            0.05,
        ),
    ]


def report(exp: list[DeploymentExposure]):  # type: ignore[no-untyped-def]
    sample = simulate(deployment_risks(exp), 100_000, seed=7, correlation=CORR)
    pools = sorted({e.pool_id for e in exp})
    return assess(sample, [PoolCapital(p, 10**7 * U, 10**6 * U) for p in pools])


def test_risks_carry_the_protocol_as_their_common_shock() -> None:
    risks = deployment_risks(exposures("amm", "amm", one_pool=False))
    assert [(r.risk_id, r.protocol, r.chain) for r in risks] == [
        ("pool-a:amm-ethereum", "amm", "ethereum"),
        ("pool-b:amm-solana", "amm", "solana"),
    ]


def test_linked_deployments_in_two_pools_need_more_group_capital() -> None:
    linked = report(exposures("amm", "amm", one_pool=False))
    apart = report(exposures("amm", "other-amm", one_pool=False))
    # Each pool alone sees the same marginal risk either way ...
    for a, b in zip(linked.pools, apart.pools, strict=True):
        assert a.scr == pytest.approx(b.scr, rel=0.15)
    # ... but together the shared shock removes most of the diversification.
    assert linked.group.group_scr > 1.3 * apart.group.group_scr
    assert linked.group.diversification_benefit < apart.group.diversification_benefit


def test_linked_deployments_in_one_pool_raise_its_scr() -> None:
    linked = report(exposures("amm", "amm", one_pool=True)).pools[0]
    apart = report(exposures("amm", "other-amm", one_pool=True)).pools[0]
    assert linked.scr > 1.3 * apart.scr


def test_a_deployment_is_one_risk_per_pool_and_kind() -> None:
    dup = exposures("amm", "amm", one_pool=True)
    dup[1] = DeploymentExposure("pool-a", "amm-ethereum", "amm", "ethereum", U, 0.05)
    with pytest.raises(InvalidInput, match="duplicate"):
        deployment_risks(dup)
    kinds = [
        DeploymentExposure("pool-a", "amm-ethereum", "amm", "ethereum", U, 0.05, kind=k)
        for k in ("protocol", "oracle")
    ]
    assert len(deployment_risks(kinds)) == 2

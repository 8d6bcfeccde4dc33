"""Covered deployments for tests: one protocol ("amm") on two chains, registered
through the store, and the wire terms that name them."""

from __future__ import annotations

from datetime import UTC, datetime

from ballast.v1 import common_pb2, partner_pb2

from router import domain as m
from router.app.ports import DeploymentBook

AMM_ETH = "amm-ethereum"
AMM_SOL = "amm-solana"
TVL = 10**9 * 10**6  # 1bn USDC: caps stay far above what the tests bind
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def deployment(
    deployment_id: str = AMM_ETH,
    *,
    protocol_id: str = "amm",
    chain: str = "ethereum",
    tvl: int = TVL,
    asset: str = "USDC",
    incidents: m.IncidentHistory | None = None,
    governance_assets: int | None = None,  # None: half the TVL
) -> m.Deployment:
    return m.Deployment(
        deployment_id=deployment_id,
        protocol_id=protocol_id,
        chain=chain,
        addresses=("0x" + deployment_id.encode().hex()[:40].ljust(40, "0"),),
        asset=asset,
        tvl=tvl,
        tvl_source="test",
        tvl_as_of=AS_OF,
        incidents=incidents or m.IncidentHistory(),
        governance_assets=tvl // 2 if governance_assets is None else governance_assets,
    )


def cover_terms(
    ctype: m.CoverType, deployment_id: str, amount: int, period_days: int = 365
) -> m.CoverTerms:
    """Valid terms of any type for ``amount``: position and liquidity cover get an
    insured value that allows it (and position cover a position)."""
    extra: dict[str, object] = {}
    if ctype is m.CoverType.POSITION:
        extra = {"insured_value": amount, "position_ref": "position-1"}
    elif ctype is m.CoverType.LIQUIDITY:
        extra = {"insured_value": amount * 5}
    return m.CoverTerms(ctype, deployment_id, amount, period_days, **extra)  # type: ignore[arg-type]


async def register(store: DeploymentBook, *deployments: m.Deployment) -> None:
    """Register ``deployments`` (default: the amm protocol on ethereum and solana)."""
    for d in deployments or (deployment(), deployment(AMM_SOL, chain="solana")):
        await store.put_deployment(d)


def terms_pb(deployment_id: str = AMM_ETH, **kw: object) -> partner_pb2.CoverTerms:
    """Wire terms; amounts as ints in USDC base units."""
    fields: dict[str, object] = {"deployment_id": deployment_id}
    for name in ("deductible", "per_event_max", "insured_value"):
        if name in kw:
            fields[name] = common_pb2.Amount(asset="USDC", value=str(kw.pop(name)))
    fields.update(kw)
    return partner_pb2.CoverTerms(**fields)  # type: ignore[arg-type]

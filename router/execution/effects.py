"""What a plan step is on chain: the effects of its legs, from the plan and the registry.

Pure: given where each pool, hub and vault lives, a step becomes the chain
effect of its source leg (and, for a bridge, the delivery the bridge must
make), with the ids of :func:`router.domain.execution.effect_id`. Nothing
here signs or sends.

Step shapes (the planner's, see ``router.app.engine``):

- pool -> hub:<chain>    a transfer out of the pool to its chain's hub;
- hub:<a> -> hub:<b>     a bridge send from hub a to hub b, then its delivery
                         of ``amount - fee`` on chain b;
- hub:<chain> -> pool    a transfer out of the hub to the pool;
- cession                ``RiskPool.cede`` of the pool to the vault (premium = fee).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from chains.base import Cession, ChainFamily, PoolRef, Transfer
from router import domain as m
from router.domain.execution import Leg, effect_id
from router.errors import PreconditionFailed

HUB = "hub:"


class Shape(StrEnum):
    TO_HUB = "to_hub"  # pool -> its chain's hub
    BRIDGE = "bridge"  # hub -> hub across chains
    FROM_HUB = "from_hub"  # hub -> pool
    CESSION = "cession"


#: The order the saga runs them in: capital gathers at hubs, crosses, spreads out.
PHASES: dict[Shape, int] = {Shape.TO_HUB: 0, Shape.CESSION: 0, Shape.BRIDGE: 1, Shape.FROM_HUB: 2}


@dataclass(frozen=True, slots=True)
class ChainPlace:
    """One chain as the executor sees it: its family, settlement asset and hub."""

    name: str
    family: ChainFamily
    settlement_asset: str
    hub: str | None  # RiskPool contract (EVM) / token account (Solana); None: no hub

    def hub_ref(self) -> PoolRef:
        if self.hub is None:
            raise PreconditionFailed(f"chain {self.name} has no hub configured: set chains.hub")
        return PoolRef(self.name, f"{HUB}{self.name}", self.hub, self.settlement_asset)


@dataclass(frozen=True, slots=True)
class Places:
    """Where every chain, pool and vault is (from the registry and the config)."""

    chains: Mapping[str, ChainPlace]
    pools: Mapping[str, m.Pool]
    vaults: Mapping[str, m.Vault]

    def chain(self, name: str) -> ChainPlace:
        place = self.chains.get(name)
        if place is None:
            raise PreconditionFailed(f"chain {name} is not configured for execution")
        return place

    def ref(self, pool_or_hub: str) -> PoolRef:
        if pool_or_hub.startswith(HUB):
            return self.chain(pool_or_hub.removeprefix(HUB)).hub_ref()
        pool = self.pools.get(pool_or_hub)
        if pool is None:
            raise PreconditionFailed(f"pool {pool_or_hub} is not registered")
        place = self.chain(pool.chain)
        return PoolRef(pool.chain, pool.pool_id, pool.address, place.settlement_asset)


def shape_of(step: m.PlanStep) -> Shape:
    if step.kind is m.StepKind.CESSION:
        return Shape.CESSION
    src_hub = step.src_pool.startswith(HUB)
    dst_hub = (step.dst_pool or "").startswith(HUB)
    if src_hub and dst_hub:
        return Shape.BRIDGE
    if dst_hub:
        return Shape.TO_HUB
    if src_hub:
        return Shape.FROM_HUB
    raise PreconditionFailed(
        f"step {step.seq} moves pool to pool ({step.src_pool} -> {step.dst_pool}): "
        "plans route capital through hubs"
    )


def source_chain(step: m.PlanStep, places: Places) -> str:
    return places.ref(step.src_pool).chain


def delivered(step: m.PlanStep) -> int:
    """What a bridge step delivers on its destination: sent less the lane fee."""
    return step.amount - step.fee


def source_effect(plan_id: str, step: m.PlanStep, places: Places) -> Transfer | Cession:
    """The effect of a step's source leg, with its chain-enforced id."""
    eid = effect_id(plan_id, step.seq, Leg.SOURCE)
    shape = shape_of(step)
    src = places.ref(step.src_pool)
    if shape is Shape.CESSION:
        vault = places.vaults.get(step.vault_id or "")
        if vault is None:
            raise PreconditionFailed(f"vault {step.vault_id} is not registered")
        if vault.chain != src.chain:
            raise PreconditionFailed(
                f"vault {vault.vault_id} is on {vault.chain}, pool {src.pool_id} on {src.chain}: "
                "a cession is made on the pool's own chain"
            )
        return Cession(eid, src, vault.address, step.amount, step.fee)
    if step.dst_pool is None:
        raise PreconditionFailed(f"step {step.seq} has no destination")
    dst = places.ref(step.dst_pool)
    return Transfer(eid, src, dst.chain, dst.address, step.amount)


def delivery_recipient(step: m.PlanStep, places: Places) -> PoolRef:
    if step.dst_pool is None:
        raise PreconditionFailed(f"step {step.seq} has no destination")
    return places.ref(step.dst_pool)

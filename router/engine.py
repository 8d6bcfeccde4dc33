"""The router's one doorway into ``reinsurance/``: requirements, prices, plans.

Servicers depend on the narrow :class:`Engine` protocol; :class:`ReinsuranceEngine`
adapts the pure reinsurance package to it, turning store values into planner
inputs and planner output into plan steps the store can hold. Everything is
integer base units; the planner's floats never cross this module.

Plan steps: the planner moves capital pool -> its chain's hub -> bridge -> the
other chain's hub -> pool. Hubs appear in steps as ``hub:<chain>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from reinsurance import planner_types as rt
from reinsurance.planner import plan_rebalance
from router.config import PolicyConfig, RouteConfig
from router.store import models as m


@dataclass(frozen=True, slots=True)
class Requirement:
    scr: int
    mcr: int


@dataclass(frozen=True, slots=True)
class PoolView:
    """A pool as positions and plans see it (store values combined)."""

    pool: m.Pool
    capital: int  # last confirmed balance, 0 if none
    in_flight: int  # outgoing transfers not final
    active_cover: int
    requirement: Requirement
    stale: bool


@dataclass(frozen=True, slots=True)
class PlanResult:
    steps: tuple[m.PlanStep, ...]
    total_amount: int
    cost: int
    shortfalls: tuple[str, ...]
    summary: str


class Engine(Protocol):
    def requirement(self, pool: m.Pool, active_cover: int) -> Requirement: ...

    def premium(
        self, pool: m.Pool, cover_type: str, cover_amount: int, period_days: int
    ) -> int: ...

    def plan(
        self, pools: Sequence[PoolView], vaults: Sequence[m.Vault], target_ratio_bps: int
    ) -> PlanResult: ...


#: Annual premium rate per cover type, basis points of the sum insured.
ANNUAL_RATE_BPS = {"smart_contract": 250, "depeg": 150, "custody": 200, "slashing": 100}
#: Share of cover in force held as SCR, and MCR as a share of SCR (bps).
SCR_OF_COVER_BPS = 2_000
MCR_OF_SCR_BPS = 4_500


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def hub(chain: str) -> str:
    return f"hub:{chain}"


class ReinsuranceEngine:
    def __init__(self, policy: PolicyConfig, routes: Sequence[RouteConfig] = ()) -> None:
        self._policy = policy
        self._routes = tuple(routes)

    def requirement(self, pool: m.Pool, active_cover: int) -> Requirement:
        scr = _ceil_div(active_cover * SCR_OF_COVER_BPS, 10_000)
        return Requirement(scr=scr, mcr=_ceil_div(scr * MCR_OF_SCR_BPS, 10_000))

    def premium(self, pool: m.Pool, cover_type: str, cover_amount: int, period_days: int) -> int:
        rate = ANNUAL_RATE_BPS[cover_type]
        return max(1, _ceil_div(cover_amount * rate * period_days, 10_000 * 365))

    def plan(
        self, pools: Sequence[PoolView], vaults: Sequence[m.Vault], target_ratio_bps: int
    ) -> PlanResult:
        usable = [p for p in pools if not p.stale]
        chains = {p.pool.chain for p in usable}
        inp = rt.PlanInput(
            pools=tuple(
                rt.PoolState(
                    pool_id=p.pool.pool_id,
                    chain=p.pool.chain,
                    capital=p.capital,
                    locked=min(p.pool.locked_capital, p.capital),
                    scr=p.requirement.scr,
                    mcr=p.requirement.mcr,
                    target_ratio=max(target_ratio_bps, p.pool.min_ratio_bps) / 10_000,
                    min_ratio=p.pool.min_ratio_bps / 10_000,
                )
                for p in usable
            ),
            routes=tuple(
                rt.BridgeRoute(
                    route_id=r.route_id,
                    src_chain=r.src_chain,
                    dst_chain=r.dst_chain,
                    fee_bps=r.fee_bps,
                    fixed_fee=r.fixed_fee,
                    latency_s=r.latency_s,
                    capacity=r.capacity,
                    min_transfer=r.min_transfer,
                )
                for r in self._routes
                if r.src_chain in chains and r.dst_chain in chains
            ),
            vaults=tuple(
                rt.Vault(vault_id=v.vault_id, capacity=v.capacity, qs_rate=v.premium_bps / 10_000)
                for v in vaults
            ),
        )
        out = rt_plan(inp)
        return _steps_of(out, stale=[p.pool.pool_id for p in pools if p.stale])


def rt_plan(inp: rt.PlanInput) -> rt.Plan:
    return plan_rebalance(inp)


def _steps_of(plan: rt.Plan, *, stale: Sequence[str]) -> PlanResult:
    steps: list[m.PlanStep] = []

    def add(**kw: object) -> None:
        steps.append(m.PlanStep(seq=len(steps), **kw))  # type: ignore[arg-type]

    for mv in plan.moves:
        if mv.amount < 0:
            add(
                kind=m.StepKind.TRANSFER,
                src_pool=mv.pool_id,
                amount=-mv.amount,
                dst_chain=mv.chain,
                dst_pool=hub(mv.chain),
            )
    for b in plan.bridges:
        add(
            kind=m.StepKind.TRANSFER,
            src_pool=hub(b.src_chain),
            amount=b.sent,
            dst_chain=b.dst_chain,
            dst_pool=hub(b.dst_chain),
            fee=b.fee,
        )
    for mv in plan.moves:
        if mv.amount > 0:
            add(
                kind=m.StepKind.TRANSFER,
                src_pool=hub(mv.chain),
                amount=mv.amount,
                dst_chain=mv.chain,
                dst_pool=mv.pool_id,
            )
    for c in plan.cessions:
        add(
            kind=m.StepKind.CESSION,
            src_pool=c.pool_id,
            amount=c.capacity_used,
            vault_id=c.vault_id,
            fee=c.premium,
        )
    shortfalls = [f"{pid}: {amt} base units below target" for pid, amt in plan.shortfalls.items()]
    shortfalls += [f"{pid}: last confirmed report is stale; not planned" for pid in stale]
    moved = sum(b.sent for b in plan.bridges) + sum(abs(mv.amount) for mv in plan.moves)
    cost = plan.costs.bridge_fees + plan.costs.premiums
    summary = (
        f"{len(plan.bridges)} bridge transfers, {len(plan.moves)} pool moves, "
        f"{len(plan.cessions)} cessions; fees {plan.costs.bridge_fees}, "
        f"premiums {plan.costs.premiums}; solver {plan.explanation.status}"
    )
    return PlanResult(tuple(steps), moved, cost, tuple(shortfalls), summary)


def inputs_hash(*parts: object) -> str:
    """SHA-256 hex of the canonical inputs a quote is bound to."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()

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

from reinsurance import (
    CoverRequest,
    PoolCapital,
    PricingConfig,
    Risk,
    SolvencyConfig,
    assess,
    plan_rebalance,
    price_cover,
    simulate,
)
from reinsurance import planner_types as rt
from router import domain as m
from router.config import PolicyConfig, RouteConfig
from router.domain import PoolView, Requirement


@dataclass(frozen=True, slots=True)
class PlanResult:
    steps: tuple[m.PlanStep, ...]
    total_amount: int
    cost: int
    shortfalls: tuple[str, ...]
    summary: str


class Engine(Protocol):
    def requirements(self, pools: Sequence[tuple[m.Pool, int, int]]) -> dict[str, Requirement]:
        """SCR and MCR of every (pool, capital, active cover)."""
        ...

    def premium(
        self,
        pool: m.Pool,
        cover_type: str,
        cover_amount: int,
        period_days: int,
        *,
        capital: int,
        free: int,
    ) -> int: ...

    def plan(
        self, pools: Sequence[PoolView], vaults: Sequence[m.Vault], target_ratio_bps: int
    ) -> PlanResult: ...


@dataclass(frozen=True, slots=True)
class RiskProfile:
    """Annual incident probability and Beta(alpha, beta) severity of a cover type."""

    probability: float
    alpha: float
    beta: float

    @property
    def severity_mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


COVER_RISK = {
    "smart_contract": RiskProfile(0.04, 2.0, 5.0),
    "depeg": RiskProfile(0.02, 1.5, 8.0),
    "custody": RiskProfile(0.01, 2.0, 3.0),
    "slashing": RiskProfile(0.03, 1.0, 20.0),
}
#: The store keeps active cover per pool, not per type: a pool's cover in force
#: is simulated as one risk with this blended profile.
BLENDED_RISK = RiskProfile(0.03, 2.0, 5.0)


def hub(chain: str) -> str:
    return f"hub:{chain}"


class ReinsuranceEngine:
    """SCR/MCR by simulation (``reinsurance.simulate`` + ``assess``), premiums by
    ``price_cover``, plans by ``plan_rebalance``; seeded, so repeatable."""

    def __init__(
        self,
        policy: PolicyConfig,
        routes: Sequence[RouteConfig] = (),
        *,
        scenarios: int = 10_000,
        seed: int = 2026,
        solvency: SolvencyConfig | None = None,
        pricing: PricingConfig | None = None,
    ) -> None:
        self._policy = policy
        self._routes = tuple(routes)
        self._scenarios = scenarios
        self._seed = seed
        self._solvency = solvency or SolvencyConfig()
        self._pricing = pricing or PricingConfig()

    def requirements(self, pools: Sequence[tuple[m.Pool, int, int]]) -> dict[str, Requirement]:
        risks = [
            Risk(
                risk_id=f"cover:{p.pool_id}",
                protocol=p.pool_id,
                chain=p.chain,
                pool_id=p.pool_id,
                exposure=cover,
                probability=BLENDED_RISK.probability,
                severity_alpha=BLENDED_RISK.alpha,
                severity_beta=BLENDED_RISK.beta,
            )
            for p, _capital, cover in pools
            if cover > 0
        ]
        if not risks:
            return {p.pool_id: Requirement(0, 0) for p, _, _ in pools}
        sample = simulate(risks, self._scenarios, seed=self._seed)
        report = assess(
            sample,
            [PoolCapital(p.pool_id, capital, cover) for p, capital, cover in pools],
            self._solvency,
        )
        return {ps.pool_id: Requirement(scr=ps.scr, mcr=ps.mcr) for ps in report.pools}

    def premium(
        self,
        pool: m.Pool,
        cover_type: str,
        cover_amount: int,
        period_days: int,
        *,
        capital: int,
        free: int,
    ) -> int:
        risk = COVER_RISK[cover_type]
        quote = price_cover(
            CoverRequest(
                amount=cover_amount,
                horizon_days=period_days,
                incident_probability=risk.probability,
                severity_mean=risk.severity_mean,
                tvl=self._pricing.tvl_reference,
                pool_capital=capital,
                pool_free=free,
            ),
            self._pricing,
        )
        return quote.premium

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
            route_id=b.route_id,
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

"""The router's one doorway into ``reinsurance/``: requirements, prices, plans.

:class:`ReinsuranceEngine` fits the :class:`router.app.ports.Engine` port: it
turns domain values into the pure engine's inputs and its output into plan
steps the store can hold. Everything crossing this module is integer base
units; the planner's floats never leave it.

What the solvency model is told (and why):

- one risk per (pool, covered deployment, cover type), its probability and
  severity from the deployment's incident history over the type's prior
  (``reinsurance.incident_probability``/``incident_severity``), its exposure
  the cover in force; linked by the deployment's **protocol id**
  (``reinsurance.deployment_risks``): a same-protocol incident on two chains
  is one shock hitting both, so pools covering one protocol on several chains
  are correlated as the book really is; plus a market-wide shock;
- cover bound before the registry (no deployment) stays one risk per (pool,
  cover type) with the type's prior, its common shock per cover type.
  Weights come from :class:`router.config.PolicyConfig`.

Plan steps: capital moves pool -> its chain's hub -> bridge -> the other
chain's hub -> pool. Hubs appear in steps as ``hub:<chain>``.

Limits (:mod:`router.domain.limits`): the planner sees what is left of them
as capacity. A route's capacity is capped by its lane's bucket and its source
chain's daily outflow headroom, each shared evenly (floor) among the routes
it bounds, so the routes together never exceed it; a vault's by its daily
destination headroom. What the planner cannot see (outflow of moves within a
chain, daily caps on pools) is checked on the finished plan, summed per
scope: an excess is reported with the shortfalls (those steps wait at
execution until the limit frees).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from reinsurance import (
    Correlation,
    CoverRequest,
    DeploymentExposure,
    PoolCapital,
    PricingConfig,
    QuotaShare,
    Risk,
    SolvencyConfig,
    assess,
    deployment_risks,
    incident_probability,
    incident_severity,
    plan_rebalance,
    price_cover,
    simulate,
)
from reinsurance import planner_types as rt
from router import domain as m
from router.config import PolicyConfig, RouteConfig
from router.domain.limits import Headroom, chain_scope, destination_scope, lane_scope


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
        self._correlation = Correlation(
            protocol_weight=policy.cover_type_correlation,
            market_weight=policy.market_correlation,
        )

    def requirements(self, pools: Sequence[m.PoolExposure]) -> dict[str, m.Requirement]:
        risks = deployment_risks(
            [
                DeploymentExposure(
                    pool_id=p.pool.pool_id,
                    deployment_id=dc.deployment.deployment_id,
                    protocol_id=dc.deployment.protocol_id,
                    chain=dc.deployment.chain,
                    exposure=dc.amount,
                    probability=_probability(dc.cover_type, dc.deployment),
                    severity_alpha=m.COVER_RISK[m.CoverType(dc.cover_type)].alpha,
                    severity_beta=m.COVER_RISK[m.CoverType(dc.cover_type)].beta,
                    kind=dc.cover_type,
                )
                for p in pools
                for dc in p.by_deployment
                if dc.amount > 0
            ]
        )
        for p in pools:
            on_deployments: dict[str, int] = {}
            for dc in p.by_deployment:
                on_deployments[dc.cover_type] = on_deployments.get(dc.cover_type, 0) + dc.amount
            for ctype, total in sorted(p.cover_by_type.items()):
                exposure = total - on_deployments.get(ctype, 0)
                if exposure <= 0:
                    continue
                risk = m.COVER_RISK[m.CoverType(ctype)]
                risks.append(
                    Risk(
                        risk_id=f"cover:{p.pool.pool_id}:{ctype}",
                        protocol=f"type:{ctype}",
                        chain=p.pool.chain,
                        pool_id=p.pool.pool_id,
                        exposure=exposure,
                        probability=risk.probability,
                        severity_alpha=risk.alpha,
                        severity_beta=risk.beta,
                    )
                )
        if not risks:
            return {p.pool.pool_id: m.NO_REQUIREMENT for p in pools}
        # The market shock must be at least as likely as the share of the riskiest
        # deployment's probability it carries (a history can make that high).
        corr = self._correlation
        top = max(r.probability for r in risks) * corr.market_weight
        if top > corr.market_probability:
            corr = dataclasses.replace(corr, market_probability=min(1.0, top))
        sample = simulate(risks, self._scenarios, seed=self._seed, correlation=corr)
        report = assess(
            sample,
            [
                PoolCapital(
                    p.pool.pool_id,
                    p.capital,
                    p.active_cover,
                    treaties=(QuotaShare(p.ceded_ppm / 1_000_000),) if p.ceded_ppm else (),
                )
                for p in pools
            ],
            self._solvency,
        )
        return {ps.pool_id: m.Requirement(scr=ps.scr, mcr=ps.mcr) for ps in report.pools}

    def premium(
        self,
        pool: m.Pool,
        terms: m.CoverTerms,
        deployment: m.Deployment,
        *,
        capital: int,
        free: int,
    ) -> m.Premium:
        prior = terms.definition.risk
        history = deployment.incidents
        probability = _probability(terms.cover_type.value, deployment)
        quote = price_cover(
            CoverRequest(
                amount=terms.limit,
                horizon_days=terms.period_days,
                incident_probability=probability,
                severity_mean=incident_severity(
                    history.count, history.severity_bps / 10_000, prior.severity_mean
                ),
                tvl=max(deployment.tvl, 1),
                pool_capital=capital,
                pool_free=free,
                deductible=terms.deductible,
                per_event_max=terms.per_event_max,
            ),
            self._pricing,
        )
        return m.Premium(
            pure=quote.pure_premium,
            cost_of_capital=quote.capital_cost,
            fees=quote.fees,
            surcharge=quote.surcharge,
            incident_probability_ppm=round(probability * 1_000_000),
            utilisation_bps=min(10_000, max(0, round(quote.utilisation_after * 10_000))),
        )

    def plan(
        self,
        pools: Sequence[m.PoolView],
        vaults: Sequence[m.Vault],
        target_ratio_bps: int,
        band_bps: int = 0,
        headroom: Headroom | None = None,
    ) -> m.PlanProposal:
        usable = [p for p in pools if not p.stale]
        chains = {p.pool.chain for p in usable}
        band = band_bps / 10_000
        room = headroom or Headroom()
        routes = [r for r in self._routes if r.src_chain in chains and r.dst_chain in chains]
        inp = rt.PlanInput(
            pools=tuple(
                rt.PoolState(
                    pool_id=p.pool.pool_id,
                    chain=p.pool.chain,
                    capital=p.spendable,
                    locked=min(p.locked, p.spendable),
                    scr=p.requirement.scr,
                    mcr=p.requirement.mcr,
                    target_ratio=max(target_ratio_bps, p.pool.min_ratio_bps) / 10_000,
                    min_ratio=p.pool.min_ratio_bps / 10_000,
                    band=band,
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
                    capacity=capacity,
                    min_transfer=r.min_transfer,
                )
                for r, capacity in zip(routes, _route_capacities(routes, room), strict=True)
            ),
            vaults=tuple(
                rt.Vault(
                    vault_id=v.vault_id,
                    capacity=room.cap(v.usable_capacity, destination_scope(v.vault_id)),
                    qs_rate=v.premium_bps / 10_000,
                    accepts_from=frozenset({v.chain}),  # a vault takes cessions on its chain
                )
                for v in vaults
            ),
            # Capital already on its way to a pool counts towards its target, so
            # a second plan never sends it again (final arrivals are in ``spendable``).
            in_flight=tuple(
                rt.InFlightTransfer(f"arriving:{p.pool.pool_id}", p.pool.pool_id, p.arriving, False)
                for p in usable
                if p.arriving > 0
            ),
        )
        out = plan_rebalance(inp)
        return _proposal(out, stale=[p.pool.pool_id for p in pools if p.stale], room=room)


def _probability(cover_type: str, deployment: m.Deployment) -> float:
    """The deployment's annual incident probability: its history over the type's prior."""
    h = deployment.incidents
    prior = m.COVER_RISK[m.CoverType(cover_type)].probability
    return incident_probability(h.count, h.window_days, prior)


def _route_capacities(routes: Sequence[RouteConfig], room: Headroom) -> list[int]:
    """Each route's capacity under the limits: its lane's and its source chain's
    headroom, shared evenly among the routes that scope bounds."""
    share: dict[str, int] = {}
    for r in routes:
        for scope in (lane_scope(r.src_chain, r.dst_chain), chain_scope(r.src_chain)):
            share[scope] = share.get(scope, 0) + 1
    out = []
    for r in routes:
        capacity = r.capacity
        for scope in (lane_scope(r.src_chain, r.dst_chain), chain_scope(r.src_chain)):
            left = room.of(scope)
            if left is not None:
                capacity = min(capacity, left // share[scope])
        out.append(capacity)
    return out


def _proposal(plan: rt.Plan, *, stale: Sequence[str], room: Headroom) -> m.PlanProposal:
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
            share_ppm=c.share_ppm,
        )
    shortfalls = [f"{pid}: {amt} base units below target" for pid, amt in plan.shortfalls.items()]
    shortfalls += [f"{pid}: last confirmed report is stale; not planned" for pid in stale]
    shortfalls += room.excess(steps)
    # Net capital leaving pools: each unit moved counts once, however many legs
    # (pool -> hub -> bridge -> hub -> pool) it travels.
    leaving = sum(-mv.amount for mv in plan.moves if mv.amount < 0)
    cost = plan.costs.bridge_fees + plan.costs.premiums
    summary = (
        f"{len(plan.bridges)} bridge transfers, {len(plan.moves)} pool moves, "
        f"{len(plan.cessions)} cessions; fees {plan.costs.bridge_fees}, "
        f"premiums {plan.costs.premiums} (base units); solver {plan.explanation.status}"
    )
    return m.PlanProposal(tuple(steps), leaving, cost, tuple(shortfalls), summary)

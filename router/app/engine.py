"""The router's one doorway into ``reinsurance/``: requirements, prices, plans.

:class:`ReinsuranceEngine` fits the :class:`router.app.ports.Engine` port: it
turns domain values into the pure engine's inputs and its output into plan
steps the store can hold. Everything crossing this module is integer base
units; the planner's floats never leave it.

What the solvency model is told (and why):

- one risk per (pool, cover type) with that type's profile from
  :data:`router.domain.COVER_RISK` and the cover in force of that type as its
  exposure;
- a common shock per cover type (``protocol`` in the loss model): a depeg or
  a custody failure hits every pool holding that cover type at once, so
  pools' losses are correlated as the book really is; plus a market-wide
  shock. Weights come from :class:`router.config.PolicyConfig`.

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

from collections.abc import Sequence

from reinsurance import (
    Correlation,
    CoverRequest,
    PoolCapital,
    PricingConfig,
    QuotaShare,
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
        risks = [
            Risk(
                risk_id=f"cover:{p.pool.pool_id}:{ctype}",
                protocol=ctype,
                chain=p.pool.chain,
                pool_id=p.pool.pool_id,
                exposure=exposure,
                probability=m.COVER_RISK[m.CoverType(ctype)].probability,
                severity_alpha=m.COVER_RISK[m.CoverType(ctype)].alpha,
                severity_beta=m.COVER_RISK[m.CoverType(ctype)].beta,
            )
            for p in pools
            for ctype, exposure in sorted(p.cover_by_type.items())
            if exposure > 0
        ]
        if not risks:
            return {p.pool.pool_id: m.NO_REQUIREMENT for p in pools}
        sample = simulate(risks, self._scenarios, seed=self._seed, correlation=self._correlation)
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
        cover_type: str,
        cover_amount: int,
        period_days: int,
        *,
        capital: int,
        free: int,
    ) -> int:
        risk = m.COVER_RISK[m.CoverType(cover_type)]
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

"""Integer side of the planner: turn decisions into a :class:`Plan`, and check
every safety property of a plan exactly.

``check_plan`` is independent of how the plan was found: it recomputes fees,
reliefs, premiums and every pool's capital and requirement from the plan's
primitive decisions (amounts sent, shares ceded, pool moves) and the input, in
integers, and lists what is violated. The planner refuses to return a plan for
which it is not empty; tests call it on every plan they see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from reinsurance.money import bps_fee
from reinsurance.planner_types import (
    BridgeTransfer,
    Cession,
    CessionKind,
    CostBreakdown,
    Explanation,
    Plan,
    PlanInput,
    PoolMove,
    PoolOutcome,
    PoolState,
    Vault,
)

PPM = 1_000_000
_YEAR_S = 365 * 86_400


@dataclass(slots=True)
class Decisions:
    """Primitive integer decisions: ``sent`` per route index, net ``moves`` per
    pool index, ``shares`` (ppm) per (pool index, vault index, "qs"|"layer")."""

    sent: dict[int, int]
    moves: list[int]
    shares: dict[tuple[int, int, str], int]


@lru_cache(maxsize=4096)
def exact(x: float) -> Fraction:
    """A float's exact binary value (cached: the same few rates recur everywhere)."""
    return Fraction(x)


@lru_cache(maxsize=4096)
def band_floor(target: float, band: float, min_ratio: float) -> Fraction:
    """The ratio a plan must reach for a pool not to count as short."""
    return max(exact(target) - exact(band), exact(min_ratio))


@lru_cache(maxsize=1024)
def _vault_terms(v: Vault) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """(qs net rate, layer limit, layer relief per unit of SCR, layer premium per unit of SCR)."""
    rate = exact(v.qs_rate) * (1 - exact(v.qs_commission))
    if not v.has_layer:
        return rate, Fraction(0), Fraction(0), Fraction(0)
    assert v.layer_attachment is not None and v.layer_limit is not None
    assert v.layer_rate_on_line is not None
    lim = exact(v.layer_limit)
    kappa = min(max(1 - exact(v.layer_attachment), Fraction(0)), lim)
    return rate, lim, kappa, lim * exact(v.layer_rate_on_line)


def _up(a: int, f: Fraction) -> int:
    return -(-a * f.numerator // (f.denominator * PPM))


def _down(a: int, f: Fraction) -> int:
    return a * f.numerator // (f.denominator * PPM)


@lru_cache(maxsize=1 << 16)
def cession_terms(scr: int, mcr: int, v: Vault, kind: CessionKind, ppm: int) -> Cession:
    """Integer terms of ceding ``ppm`` (relief floored, premium/capacity ceiled)."""
    rate, lim, kappa, lim_rol = _vault_terms(v)
    if kind is CessionKind.QUOTA_SHARE:
        prem = -(-scr * ppm * rate.numerator // (rate.denominator * PPM))
        return Cession(
            pool_id="",
            vault_id=v.vault_id,
            kind=kind,
            share_ppm=ppm,
            scr_relief=scr * ppm // PPM,
            mcr_relief=mcr * ppm // PPM,
            capacity_used=-(-scr * ppm // PPM),
            premium=prem,
        )
    return Cession(
        pool_id="",
        vault_id=v.vault_id,
        kind=kind,
        share_ppm=ppm,
        scr_relief=_down(scr * ppm, kappa),
        mcr_relief=0,
        capacity_used=_up(scr * ppm, lim),
        premium=_up(scr * ppm, lim_rol),
    )


def _ratio(a: int, r: int) -> float | None:
    return None if r <= 0 else a / r


def assemble_plan(
    inp: PlanInput,
    dec: Decisions,
    *,
    status: str,
    mip_gap: float,
    objective: float,
    dual_bound: float,
    binding: tuple[str, ...],
    solve_time_s: float,
    build_time_s: float,
    scale: float,
    n_cols: int,
    n_rows: int,
    n_binaries: int,
) -> Plan:
    pools = inp.pools
    bridges = []
    transit = Fraction(0)
    for k in sorted(dec.sent):
        r = inp.routes[k]
        z = dec.sent[k]
        fee = bps_fee(z, r.fee_bps) + r.fixed_fee
        bridges.append(BridgeTransfer(r.route_id, r.src_chain, r.dst_chain, z, fee, z - fee))
        coc = Fraction(inp.config.cost_of_capital)
        transit += Fraction(z) * coc * Fraction(r.latency_s) / _YEAR_S
    cessions = []
    prem = [0] * len(pools)
    scr_rel = [0] * len(pools)
    mcr_rel = [0] * len(pools)
    for (kp, kv, kind), ppm in sorted(dec.shares.items()):
        p = pools[kp]
        ck = CessionKind.QUOTA_SHARE if kind == "qs" else CessionKind.LAYER
        c = cession_terms(p.scr, p.mcr, inp.vaults[kv], ck, ppm)
        c = Cession(
            p.pool_id,
            c.vault_id,
            c.kind,
            c.share_ppm,
            c.scr_relief,
            c.mcr_relief,
            c.capacity_used,
            c.premium,
        )
        cessions.append(c)
        prem[kp] += c.premium
        scr_rel[kp] += c.scr_relief
        mcr_rel[kp] += c.mcr_relief
    final_in = [0] * len(pools)
    pending = [0] * len(pools)
    index = {p.pool_id: k for k, p in enumerate(pools)}
    for t in inp.in_flight:
        if t.final:
            final_in[index[t.dst_pool_id]] += t.amount
        else:
            pending[index[t.dst_pool_id]] += t.amount
    outcomes = []
    moves = []
    for k, p in enumerate(pools):
        before = p.capital + final_in[k]
        after = before + dec.moves[k] - prem[k]
        req_after = max(p.scr - scr_rel[k], p.mcr - mcr_rel[k], 0)
        f = band_floor(p.target_ratio, p.band, p.min_ratio)
        need = -(-f.numerator * req_after // f.denominator)
        shortfall = max(0, need - after - pending[k])
        outcomes.append(
            PoolOutcome(
                pool_id=p.pool_id,
                chain=p.chain,
                capital_before=before,
                capital_after=after,
                required_before=p.required,
                required_after=req_after,
                ratio_before=_ratio(before, p.required),
                ratio_after=_ratio(after, req_after),
                premium_paid=prem[k],
                shortfall=shortfall,
            )
        )
        if dec.moves[k]:
            moves.append(PoolMove(p.pool_id, p.chain, dec.moves[k]))
    fees = sum(b.fee for b in bridges)
    premiums = sum(prem)
    transit_cost = math.ceil(transit)
    return Plan(
        bridges=tuple(bridges),
        moves=tuple(moves),
        cessions=tuple(cessions),
        pools=tuple(outcomes),
        costs=CostBreakdown(fees, premiums, transit_cost, fees + premiums + transit_cost),
        explanation=Explanation(
            status=status,
            mip_gap=mip_gap,
            objective=objective,
            dual_bound=dual_bound,
            binding=binding,
            solve_time_s=solve_time_s,
            build_time_s=build_time_s,
            repaired=scale < 1.0,
            scale=scale,
            n_cols=n_cols,
            n_rows=n_rows,
            n_binaries=n_binaries,
        ),
    )


def pool_violations(
    p: PoolState, before: int, move: int, premium: int, scr_relief: int, mcr_relief: int
) -> list[str]:
    """The pool-level safety properties, exactly: locked capital untouched and
    ratio after >= min(ratio before, target)."""
    out: list[str] = []
    after = before + move - premium
    # moves are net per pool: premiums may be paid from capital received, so
    # locked capital is untouched iff the pool ends with at least ``locked``
    if after < p.locked:
        out.append("locked_capital")
    req_a = max(p.scr - scr_relief, p.mcr - mcr_relief, 0)
    if req_a > 0:
        f = exact(p.target_ratio)
        req_b = p.required
        ok_target = after * f.denominator >= f.numerator * req_a
        ok_before = req_b > 0 and after * req_b >= before * req_a
        if not (ok_target or ok_before):
            out.append("ratio_below_floor")
    return out


def check_plan(inp: PlanInput, plan: Plan) -> list[str]:
    """Every documented property violated by ``plan``, recomputed in integers (empty = safe):
    lanes (known, once each, capacity, minimum, fee), hubs balanced, no transit,
    cessions (known vault, its layer, accepted chain, terms, counterparty cap, at
    most 100 % per pool), vault capacity, locked capital, ratio floors, outcomes,
    conservation and costs."""
    bad: list[str] = []
    pools = inp.pools
    index = {p.pool_id: k for k, p in enumerate(pools)}
    routes = {r.route_id: r for r in inp.routes}
    vaults = {v.vault_id: v for v in inp.vaults}
    hub: dict[str, int] = {}
    sent_from: dict[str, int] = {}
    fees = 0
    seen_routes: set[str] = set()
    for b in plan.bridges:
        r = routes.get(b.route_id)
        if r is None or b.route_id in seen_routes:
            bad.append(f"route:{b.route_id}:unknown_or_repeated")
            continue
        seen_routes.add(b.route_id)
        if b.sent > r.capacity:
            bad.append(f"route:{b.route_id}:capacity")
        if b.sent < max(r.min_transfer, 1):
            bad.append(f"route:{b.route_id}:min_transfer")
        fee = bps_fee(b.sent, r.fee_bps) + r.fixed_fee
        if b.fee != fee or b.received != b.sent - fee or b.received < 0:
            bad.append(f"route:{b.route_id}:fee")
        hub[r.src_chain] = hub.get(r.src_chain, 0) - b.sent
        sent_from[r.src_chain] = sent_from.get(r.src_chain, 0) + b.sent
        hub[r.dst_chain] = hub.get(r.dst_chain, 0) + b.sent - fee
        fees += fee
    moves = [0] * len(pools)
    for m in plan.moves:
        k = index.get(m.pool_id)
        if k is None or pools[k].chain != m.chain:
            bad.append(f"pool:{m.pool_id}:unknown_move")
            continue
        moves[k] += m.amount
        hub[m.chain] = hub.get(m.chain, 0) - m.amount
    for chain, left in sorted(hub.items()):
        if left != 0:
            bad.append(f"hub:{chain}:unbalanced:{left}")
    # no transit: what a chain sends out, its pools gave (not what it received)
    gave: dict[str, int] = {}
    for k, p in enumerate(pools):
        if moves[k] < 0:
            gave[p.chain] = gave.get(p.chain, 0) - moves[k]
    for chain, out in sorted(sent_from.items()):
        if out > gave.get(chain, 0):
            bad.append(f"chain:{chain}:transit")
    prem = [0] * len(pools)
    scr_rel = [0] * len(pools)
    mcr_rel = [0] * len(pools)
    total_ppm = [0] * len(pools)
    used: dict[str, int] = {}
    premiums = 0
    for c in plan.cessions:
        k = index.get(c.pool_id)
        v = vaults.get(c.vault_id)
        if k is None or v is None or c.share_ppm <= 0:
            bad.append(f"cession:{c.pool_id}:{c.vault_id}:unknown")
            continue
        if c.kind is CessionKind.LAYER and not v.has_layer:
            bad.append(f"cession:{c.pool_id}:{c.vault_id}:no_layer")
            continue
        if not v.accepts(pools[k].chain):
            bad.append(f"cession:{c.pool_id}:{c.vault_id}:chain")
        ref = cession_terms(pools[k].scr, pools[k].mcr, v, c.kind, c.share_ppm)
        if (c.scr_relief, c.mcr_relief, c.capacity_used, c.premium) != (
            ref.scr_relief,
            ref.mcr_relief,
            ref.capacity_used,
            ref.premium,
        ):
            bad.append(f"cession:{c.pool_id}:{c.vault_id}:terms")
        lim = Fraction(1) if c.kind is CessionKind.QUOTA_SHARE else exact(v.layer_limit or 0.0)
        cap = exact(v.max_share)
        if c.share_ppm * lim.numerator * cap.denominator > cap.numerator * lim.denominator * PPM:
            bad.append(f"pool:{c.pool_id}:counterparty:{c.vault_id}")
        used[c.vault_id] = used.get(c.vault_id, 0) + ref.capacity_used
        prem[k] += ref.premium
        premiums += ref.premium
        scr_rel[k] += ref.scr_relief
        mcr_rel[k] += ref.mcr_relief
        total_ppm[k] += c.share_ppm
    for vid, amount in sorted(used.items()):
        if amount > vaults[vid].capacity:
            bad.append(f"vault:{vid}:capacity")
    final_in = [0] * len(pools)
    for t in inp.in_flight:
        if t.final:
            final_in[index[t.dst_pool_id]] += t.amount
    before_total = 0
    after_total = 0
    for k, p in enumerate(pools):
        before = p.capital + final_in[k]
        after = before + moves[k] - prem[k]
        before_total += before
        after_total += after
        if total_ppm[k] > PPM:
            bad.append(f"pool:{p.pool_id}:ceded_over_100pct")
        bad.extend(
            f"pool:{p.pool_id}:{what}"
            for what in pool_violations(p, before, moves[k], prem[k], scr_rel[k], mcr_rel[k])
        )
        req_a = max(p.scr - scr_rel[k], p.mcr - mcr_rel[k], 0)
        if k < len(plan.pools):
            o = plan.pools[k]
            if o.pool_id != p.pool_id or o.capital_after != after or o.required_after != req_a:
                bad.append(f"pool:{p.pool_id}:outcome_mismatch")
        else:
            bad.append(f"pool:{p.pool_id}:outcome_missing")
    if before_total != after_total + fees + premiums:
        bad.append("conservation")
    if plan.costs.bridge_fees != fees or plan.costs.premiums != premiums:
        bad.append("costs_mismatch")
    return bad

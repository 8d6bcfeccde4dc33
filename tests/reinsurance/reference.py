"""An independent, deliberately plain MIP of the planner model the README documents.

Written from the README, not from ``reinsurance/planner_model.py``: no scaling, no
row dropping, no fixing heuristics, no rounding margins, amounts continuous in
base units, one binary per route that has a fixed fee or minimum size. HiGHS
solves it to a zero gap. Its optimum is a lower bound of what any integer plan
can reach on the documented objective (up to HiGHS's own tolerances), so the
planner's plan must be within the stated gap of it, plus rounding to base units.

Used by the optimality tests and by ``benchmarks/bench_planner.py``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction

import highspy
from highspy._core import _Highs

from reinsurance import Plan, PlanInput, PoolState

PPM = 1_000_000
YEAR_S = 365 * 86_400
TIE_BREAK = 1e-7  # per base unit moved between a pool and its hub (documented)


@dataclass(frozen=True)
class Reference:
    objective: float  # cost + penalty + tie-break
    cost: float  # bridge fees + premiums + cost of capital in transit
    penalty: float  # shortfall penalties
    receivers: tuple[int, ...]  # pool indices whose shortfall is penalised
    status: str


def _quiet() -> highspy.Highs:
    """``highspy.Highs`` prints a banner from its constructor: swallow it."""
    fd = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        h = highspy.Highs()
    finally:
        os.dup2(fd, 1)
        os.close(fd)
        os.close(null)
    h.silent()
    return h


def _need(ratio: float, req: int) -> int:
    f = Fraction(ratio)
    return -(-f.numerator * req // f.denominator)


def classify(inp: PlanInput) -> tuple[list[int], list[int], list[int], list[int]]:
    """README "Band": receivers below ``max(target - band, min_ratio)`` counting
    pending arrivals; donors above ``target + band`` (keeping target and locked).
    Returns (donors, receivers, available capital, pending arrivals)."""
    idx = {p.pool_id: k for k, p in enumerate(inp.pools)}
    avail = [p.capital for p in inp.pools]
    pend = [0] * len(inp.pools)
    for t in inp.in_flight:
        if t.final:
            avail[idx[t.dst_pool_id]] += t.amount
        else:
            pend[idx[t.dst_pool_id]] += t.amount
    donors, receivers = [], []
    for k, p in enumerate(inp.pools):
        req = p.required
        if req == 0:
            if avail[k] > p.locked:
                donors.append(k)
        elif (avail[k] + pend[k]) / req < max(p.target_ratio - p.band, p.min_ratio):
            receivers.append(k)
        elif avail[k] / req > p.target_ratio + p.band and max_out(p, avail[k]) > 0:
            donors.append(k)
    return donors, receivers, avail, pend


def max_out(p: PoolState, a: int) -> int:
    return max(0, min(a - p.locked, a - _need(p.target_ratio, p.required)))


def solve_reference(inp: PlanInput, time_limit_s: float = 60.0) -> Reference:
    cfg = inp.config
    pools = inp.pools
    donors, receivers, avail, pend = classify(inp)
    # one power of ten for every amount so HiGHS sees numbers below ~1e7
    biggest = max([1, *avail, *(p.scr for p in pools), *(p.mcr for p in pools)])
    unit = 10 ** max(0, len(str(biggest)) - 7)

    def amt(x: int) -> float:
        return x / unit

    one = amt(1) if amt(1) >= 1e-6 else 0.0  # a base unit, when it is not negligible

    def coef(x: int) -> float:
        """An amount as a coefficient; below HiGHS's smallest, it is nothing."""
        return amt(x) if amt(x) >= 1e-9 else 0.0

    h = _quiet()
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("mip_abs_gap", 1e-6)
    h.setOptionValue("time_limit", time_limit_s)
    h.setOptionValue("random_seed", 0)
    chains = sorted({p.chain for p in pools} | set(inp.chains))
    inflow: dict[str, list] = {c: [] for c in chains}  # expressions into each hub
    outflow: dict[str, list] = {c: [] for c in chains}
    gave: dict[str, list] = {c: [] for c in chains}
    sent_from: dict[str, list] = {c: [] for c in chains}
    short_t, short_m, moved = [], [], []
    total_give = sum(max_out(pools[k], avail[k]) for k in donors)
    for r in inp.routes:
        if r.src_chain not in chains or r.dst_chain not in chains:
            continue
        cap = min(r.capacity, total_give)
        if cap <= 0:
            continue
        b = r.fee_bps / 10_000
        transit = cfg.cost_of_capital * r.latency_s / YEAR_S
        z = h.addVariable(lb=0.0, ub=amt(cap), obj=b + transit)
        delivered = (1 - b) * z
        if r.fixed_fee > 0 or r.min_transfer > 0:
            y = h.addBinary(obj=coef(r.fixed_fee))
            _row(h, z - amt(cap) * y <= 0)
            if coef(max(r.min_transfer, 1)):
                _row(h, z - coef(max(r.min_transfer, 1)) * y >= 0)
            if coef(r.fixed_fee):
                delivered = delivered - coef(r.fixed_fee) * y
        _row(h, delivered >= 0)  # a transfer never delivers less than nothing
        inflow[r.dst_chain].append(delivered)
        outflow[r.src_chain].append(z)
        sent_from[r.src_chain].append(z)
    for k in donors:
        o = h.addVariable(lb=0.0, ub=amt(max_out(pools[k], avail[k])), obj=TIE_BREAK)
        inflow[pools[k].chain].append(o)
        gave[pools[k].chain].append(o)
        moved.append(o)
    use: dict[int, list] = {kv: [] for kv in range(len(inp.vaults))}
    for k in receivers:
        p = pools[k]
        i = h.addVariable(lb=0.0, obj=TIE_BREAK)
        outflow[p.chain].append(i)
        s_short = h.addVariable(lb=0.0, obj=cfg.shortfall_penalty)
        m_short = h.addVariable(lb=0.0, obj=cfg.min_shortfall_penalty)
        moved.append(i)
        short_t.append(s_short)
        short_m.append(m_short)
        S, M = amt(p.scr), amt(p.mcr)
        premium = 0.0 * i
        qs_sum = 0.0 * i
        shares = 0.0 * i
        layer_relief = 0.0 * i
        qs_round = 0.0 * i  # units lost to rounding by the quota shares placed
        n_pairs = 0
        for kv, v in enumerate(inp.vaults):
            if v.max_share <= 0 or (v.accepts_from and p.chain not in v.accepts_from):
                continue
            if v.capacity <= 0 and p.scr > 0:
                continue
            n_pairs += 1
            rho = v.qs_rate * (1 - v.qs_commission)
            cap_q = math.floor(Fraction(v.max_share) * PPM) / PPM
            q = h.addVariable(lb=0.0, ub=cap_q, obj=rho * S)
            premium = premium + rho * S * q
            qs_sum = qs_sum + q
            shares = shares + q
            use[kv].append(S * q)
            if one:
                # a cession placed costs up to a unit more (premium rounded up) and
                # relieves up to a unit less (relief rounded down) in integers
                y = h.addBinary(obj=one)
                _row(h, q - cap_q * y <= 0)
                premium = premium + one * y
                qs_round = qs_round + one * y
                use[kv].append(one * y)
            if v.has_layer and p.scr > 0:
                lim = float(v.layer_limit or 0.0)
                att = float(v.layer_attachment or 0.0)
                kappa = min(max(1 - att, 0.0), lim)
                rol = float(v.layer_rate_on_line or 0.0)
                cap_f = min(PPM, math.floor(Fraction(v.max_share) / Fraction(lim) * PPM)) / PPM
                f = h.addVariable(lb=0.0, ub=cap_f, obj=rol * lim * S)
                premium = premium + rol * lim * S * f
                shares = shares + f
                layer_relief = layer_relief + kappa * S * f
                use[kv].append(S * lim * f)
                if one:
                    y = h.addBinary(obj=one)
                    _row(h, f - cap_f * y <= 0)
                    premium = premium + one * y
                    layer_relief = layer_relief - one * y
                    use[kv].append(one * y)
        if n_pairs:
            _row(h, shares <= 1)
        a = amt(avail[k])
        after = a + i - premium
        scr_after = S - S * qs_sum - layer_relief + qs_round
        mcr_after = M - M * qs_sum + (qs_round if M else 0.0)
        _row(h, after >= amt(p.locked))
        req = p.required
        floor = min(Fraction(avail[k], req), Fraction(p.target_ratio)) if req else None
        if floor is not None:
            fl = float(floor) * (1 - 1e-12)  # never above the true floor
            _row(h, after - fl * scr_after >= 0)
            _row(h, after - fl * mcr_after >= 0)
        t, mn, pe = p.target_ratio, p.min_ratio, amt(pend[k])
        _row(h, s_short + after + pe - t * scr_after >= 0)
        _row(h, s_short + after + pe - t * mcr_after >= 0)
        _row(h, m_short + after + pe - mn * scr_after >= 0)
        _row(h, m_short + after + pe - mn * mcr_after >= 0)
    for kv, v in enumerate(inp.vaults):
        if use[kv] and v.capacity < sum(p.scr for p in pools):  # else it never binds
            total = use[kv][0]
            for e in use[kv][1:]:
                total = total + e
            _row(h, total <= amt(v.capacity))
    for c in chains:
        if inflow[c] or outflow[c]:
            _row(h, _sum(inflow[c]) - _sum(outflow[c]) == 0)  # the hub balances
        if sent_from[c]:
            # no transit: what a chain sends over bridges, its pools gave
            _row(h, _sum(sent_from[c]) - _sum(gave[c]) <= 0)
    if h.getNumCol() == 0:
        return Reference(0.0, 0.0, 0.0, tuple(receivers), "Empty")
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise AssertionError(f"reference MIP not solved: {status}")
    obj = h.getInfo().objective_function_value * unit
    pen = sum(cfg.shortfall_penalty * h.val(v) for v in short_t)
    pen += sum(cfg.min_shortfall_penalty * h.val(v) for v in short_m)
    tie = sum(TIE_BREAK * h.val(v) for v in moved)
    pen, tie = pen * unit, tie * unit
    return Reference(obj, obj - pen - tie, pen, tuple(receivers), status)


def _row(h: highspy.Highs, expr: object) -> None:
    """Add ``expr`` (a bounded linear expression) as a row, dropping the float
    noise (|coefficient| < 1e-12) that HiGHS would reject with a warning."""
    idx, val = expr.unique_elements()  # type: ignore[attr-defined]
    keep = [k for k, v in enumerate(val) if abs(v) >= 1e-12]
    lo, hi = expr.bounds  # type: ignore[attr-defined]
    st = _Highs.addRow(h, lo, hi, len(keep), [idx[k] for k in keep], [val[k] for k in keep])
    assert st != highspy.HighsStatus.kError


def _sum(xs: list) -> object:  # type: ignore[type-arg]
    total = 0.0
    for e in xs:
        total = e + total
    return total


def plan_penalty(inp: PlanInput, plan: Plan, receivers: tuple[int, ...]) -> Fraction:
    """The documented penalties of an integer plan (receivers only), exactly."""
    _, _, _, pend = classify(inp)
    cfg = inp.config
    total = Fraction(0)
    for k in receivers:
        p, o = inp.pools[k], plan.pools[k]
        have = o.capital_after + pend[k]
        total += Fraction(cfg.shortfall_penalty) * max(
            Fraction(0), Fraction(p.target_ratio) * o.required_after - have
        )
        total += Fraction(cfg.min_shortfall_penalty) * max(
            Fraction(0), Fraction(p.min_ratio) * o.required_after - have
        )
    return total


@dataclass(frozen=True)
class Comparison:
    """The planner's plan against the reference optimum, on the documented objective."""

    plan_cost: float  # CostBreakdown.total
    plan_penalty: float
    ref_cost: float
    ref_penalty: float
    penalty_allowance: float  # rounding to base units and whole ppm
    cost_allowance: float
    extra_shortfall: bool  # more penalty than the reference beyond rounding
    same_shortfall: bool  # penalties equal up to rounding
    cost_ratio: float  # plan cost / reference cost (1.0 when both ~0)
    objective_excess: float  # (plan objective - reference) / plan objective


def compare(inp: PlanInput, plan: Plan, ref: Reference) -> Comparison:
    """Rounding allowances: per receiver (1 + t) units per transfer leg, ceiled
    premium and floored relief, and 2 ppm of its requirement per cession it
    places (shares are whole ppm); per plan one unit per fee, premium and the
    transit cost, and the cost of the rounding margins (<= 0.2 per unit, generously)."""
    cfg = inp.config
    pen = float(plan_penalty(inp, plan, ref.receivers))
    per_pool: dict[str, int] = {}
    for c in plan.cessions:
        per_pool[c.pool_id] = per_pool.get(c.pool_id, 0) + 1
    units = 0.0
    for k in ref.receivers:
        p = inp.pools[k]
        n = per_pool.get(p.pool_id, 0)
        units += (1 + p.target_ratio) * (3 + 2 * n) + 2e-6 * p.target_ratio * p.required * n
    scale = 1e-9 * max(abs(ref.objective), pen + plan.costs.total)  # float precision
    pen_allow = max(cfg.shortfall_penalty, cfg.min_shortfall_penalty) * units + scale
    cost_allow = 2 + len(plan.bridges) + 2 * len(plan.cessions) + 0.2 * units + scale
    cost = float(plan.costs.total)
    extra = pen > ref.penalty + pen_allow
    same = abs(pen - ref.penalty) <= pen_allow
    ratio = 1.0 if max(cost, ref.cost) <= cost_allow else cost / max(ref.cost, 1e-9)
    obj = cost + pen
    excess = (obj - ref.objective) / obj if obj > 0 else 0.0
    return Comparison(
        cost, pen, ref.cost, ref.penalty, pen_allow, cost_allow, extra, same, ratio, excess
    )

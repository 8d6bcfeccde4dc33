"""The rebalancing + placement planner: one HiGHS model, bulk-built, repaired in integers.

``plan_rebalance(PlanInput) -> Plan`` is a pure function: same input, same plan.

The model (:mod:`reinsurance.planner_model`) is the one the README documents:
receivers / donors by band, a hub per chain with a no-transit row, a flow and
(with a fixed fee or minimum size) a binary per route, soft target and
minimum-ratio rows, hard floor / locked rows, one share per eligible (pool,
vault) pair. :mod:`reinsurance.planner_solve` solves it.

Post-solve, every value becomes an integer the safe way, and every property
the rounding can break is repaired *locally and exactly*:

* values within the solver's tolerance of a bound are snapped to it (a route
  at its minimum stays open, a share at its cap stays at its cap);
* a chain whose pools cannot give what it sends has that route cut (never a
  receiver, so capital never transits a chain); each hub then balances to the
  unit by adjusting that chain's donors and receivers;
* a vault over capacity has its own cessions reduced, to the largest share
  that fits (binary search: the share is an integer, the search exact);
* a pool whose rounded cessions break its floor or locked capital has one
  cession reduced to the largest share that is safe (with none it is safe).

``check_plan`` must then pass; if it ever did not, the empty plan (always safe)
would be returned with ``scale == 0``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from reinsurance.errors import SolverError
from reinsurance.money import bps_fee
from reinsurance.planner_check import (
    Decisions,
    assemble_plan,
    cession_terms,
    check_plan,
    exact,
    pool_violations,
)
from reinsurance.planner_model import (
    EPS_MOVE,
    Model,
    build,
    donor_max_out,
    layer_cap_ppm,
    qs_cap_ppm,
    route_ok,
)
from reinsurance.planner_solve import Solved, solve
from reinsurance.planner_types import CessionKind, Plan, PlanInput

__all__ = ["donor_max_out", "plan_rebalance"]

PPM = 1_000_000
_KIND = {"qs": CessionKind.QUOTA_SHARE, "layer": CessionKind.LAYER}


def plan_rebalance(inp: PlanInput) -> Plan:
    """Cheapest plan bringing every pool to its target; never raises on infeasible targets."""
    inp.validate()
    t0 = time.perf_counter()
    avail, pending = _available(inp)
    model, arrays = build(inp, avail, pending)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    sol = solve(inp, arrays, model)
    solve_s = time.perf_counter() - t1
    dec, repaired = _integerise(inp, model, sol.x, avail)
    binding = _binding(inp, model, sol.x, avail)
    for attempt in (dec, Decisions(sent={}, moves=[0] * len(inp.pools), shares={})):
        plan = assemble_plan(
            inp,
            attempt,
            status=sol.status,
            mip_gap=0.0,
            objective=0.0,
            dual_bound=0.0,
            binding=binding,
            solve_time_s=solve_s,
            build_time_s=build_s,
            scale=1.0 if attempt is dec else 0.0,
            n_cols=model.n_cols,
            n_rows=model.n_rows,
            n_binaries=len(model.binaried),
        )
        if not check_plan(inp, plan):
            return _with_gaps(inp, model, sol, plan, avail, pending, repaired or attempt is not dec)
    raise SolverError("even the empty plan failed the safety check", status=sol.status)


def _available(inp: PlanInput) -> tuple[list[int], list[int]]:
    """Capital counting final in-flight arrivals; pending arrivals separately."""
    index = {p.pool_id: k for k, p in enumerate(inp.pools)}
    avail = [p.capital for p in inp.pools]
    pending = [0] * len(inp.pools)
    for t in inp.in_flight:
        if t.final:
            avail[index[t.dst_pool_id]] += t.amount
        else:
            pending[index[t.dst_pool_id]] += t.amount
    return avail, pending


def _with_gaps(
    inp: PlanInput,
    model: Model,
    sol: Solved,
    plan: Plan,
    avail: list[int],
    pending: list[int],
    repaired: bool,
) -> Plan:
    """Measure the returned plan itself against the documented model's bound,
    and call it ``Optimal`` only when both gaps are proven for it."""
    cfg = inp.config
    pen = Fraction(0)
    pt, pm = exact(cfg.shortfall_penalty), exact(cfg.min_shortfall_penalty)
    for k in model.receivers:
        p, o = inp.pools[k], plan.pools[k]
        have = o.capital_after + pending[k]
        for rate, ratio in ((pt, exact(p.target_ratio)), (pm, exact(p.min_ratio))):
            d = ratio.numerator * o.required_after - have * ratio.denominator
            if d > 0:
                pen += rate * Fraction(d, ratio.denominator)
    moved = sum(abs(m.amount) for m in plan.moves)
    cost = plan.costs.total + EPS_MOVE * moved
    penalty = float(pen)
    obj = cost + penalty
    e = plan.explanation
    if model.n_cols == 0:
        bound, proof = 0.0, "model"
    elif math.isfinite(sol.bound):
        bound, proof = sol.bound * model.unit - model.margin_cost, sol.proof
    else:
        bound, proof = -math.inf, "none"
    gap = max(0.0, obj - bound) if math.isfinite(bound) else math.inf
    # rounding to base units (the allowance the README documents): a unit per
    # transfer, move and cession (and, for a pool left short, that unit's
    # penalty) plus the soft rounding margins' cost
    per_unit = 1.0 + (max(cfg.shortfall_penalty, cfg.min_shortfall_penalty) if penalty else 0.0)
    allow = model.margin_cost + per_unit * (
        2 + len(plan.bridges) + len(plan.moves) + 2 * len(plan.cessions)
    )
    if penalty:  # and for a pool left short, a share a ppm short of the solver's
        index = {p.pool_id: p for p in inp.pools}
        allow += per_unit * sum(
            1e-6 * index[c.pool_id].target_ratio * index[c.pool_id].required for c in plan.cessions
        )
    status = sol.status
    if model.n_cols and math.isfinite(bound):
        ok = gap <= cfg.mip_rel_gap * obj + allow and gap <= cfg.cost_rel_gap * cost + allow
        if ok and proof != "none":
            status, proof = "Optimal", "model"
        elif sol.limited:
            status = "Time limit reached"
        else:
            status = "Feasible"
    if plan.explanation.scale == 0.0 and model.n_cols:
        status = "Repair failed"
    return dataclasses.replace(
        plan,
        explanation=dataclasses.replace(
            e,
            status=status,
            mip_gap=gap / obj if obj > 0 else (0.0 if gap == 0 else math.inf),
            cost_gap=gap / cost if cost > 0 else (0.0 if gap == 0 else math.inf),
            objective=obj,
            dual_bound=bound,
            penalty=penalty,
            proof=proof,
            repaired=repaired,
        ),
    )


def _snap_floor(v: float, lo: int, hi: int, tol: float) -> int:
    """``floor(v)`` clamped to ``[lo, hi]``, snapped to a bound within ``tol`` of it."""
    if v >= hi - tol:
        return hi
    z = max(0, math.floor(v))
    if z < lo and v >= lo - tol:
        return lo
    return min(z, hi)


def _integerise(
    inp: PlanInput, model: Model, x: np.ndarray, avail: list[int]
) -> tuple[Decisions, bool]:
    """Integer decisions from the solution; every broken property repaired locally."""
    pools = inp.pools
    u = model.unit
    repaired = False
    if x.size == 0:
        return Decisions(sent={}, moves=[0] * len(pools), shares={}), False
    tol_u = 1e-6 * u + 1.0  # the solver's tolerance, in base units
    # routes
    sent: dict[int, int] = {}
    for j, k in enumerate(model.routes):
        r = inp.routes[k]
        v = float(x[model.col_z + j]) * u
        if v <= tol_u * 0.5:
            continue
        z = _snap_floor(v, max(r.min_transfer, 1), model.route_cap[j], tol_u + 1e-9 * v)
        if route_ok(r, z):
            sent[k] = z
    # pool moves: donors give, receivers receive (floored, snapped to max_out)
    moves = [0] * len(pools)
    max_out: dict[int, int] = {}
    lp_out: dict[int, float] = {}
    for jd, k in enumerate(model.donors):
        mo = model.max_out[k]
        max_out[k] = mo
        v = float(x[model.col_o + jd]) * u
        lp_out[k] = v
        moves[k] = -_snap_floor(v, 0, mo, tol_u + 1e-9 * v)
    lp_in: dict[int, float] = {}
    for jr, k in enumerate(model.receivers):
        v = float(x[model.col_i + jr]) * u
        lp_in[k] = v
        moves[k] = max(0, math.floor(v))
    by_chain: dict[str, list[int]] = {}
    for k, p in enumerate(pools):
        by_chain.setdefault(p.chain, []).append(k)
    donors_of = {
        c: sorted((k for k in ks if k in max_out), key=lambda k: (-lp_out[k], k))
        for c, ks in by_chain.items()
    }
    receivers_of = {
        c: sorted((k for k in ks if k in lp_in), key=lambda k: (-lp_in[k], k))
        for c, ks in by_chain.items()
    }

    def flows(chain: str) -> tuple[int, int]:
        out = sum(z for k, z in sent.items() if inp.routes[k].src_chain == chain)
        got = 0
        for k, z in sent.items():
            r = inp.routes[k]
            if r.dst_chain == chain:
                got += z - bps_fee(z, r.fee_bps) - r.fixed_fee
        return out, got

    def raise_donors(chain: str, need: int) -> int:
        for k in donors_of[chain]:
            if need <= 0:
                break
            extra = min(need, max_out[k] + moves[k])
            moves[k] -= extra
            need -= extra
        return need

    # no transit: what a chain sends, its donors give; else that chain's routes are cut
    changed = True
    while changed:
        changed = False
        for chain in sorted(by_chain):
            out, _ = flows(chain)
            need = raise_donors(chain, out + sum(moves[k] for k in donors_of[chain]))
            if need <= 0:
                continue
            repaired = changed = True
            for k in sorted((k for k in sent if inp.routes[k].src_chain == chain), reverse=True):
                if need <= 0:
                    break
                r = inp.routes[k]
                new = sent[k] - need
                if route_ok(r, new):
                    sent[k], need = new, 0
                else:
                    need -= sent.pop(k)
    # each hub balances to the unit, within its own chain
    for chain in sorted(by_chain):
        out, got = flows(chain)
        gave = -sum(moves[k] for k in donors_of[chain])
        excess = gave + got - out - sum(moves[k] for k in receivers_of[chain])
        if excess > 0:  # hand back to donors first (they gave more than needed), then receivers
            for k in reversed(donors_of[chain]):
                back = min(excess, -moves[k], gave - out)
                if back > 0:
                    moves[k] += back
                    gave -= back
                    excess -= back
            if excess > 0:
                takers = receivers_of[chain] or by_chain[chain]
                moves[takers[0]] += excess
        elif excess < 0:
            short = raise_donors(chain, -excess)
            for k in receivers_of[chain]:
                if short <= 0:
                    break
                cut = min(short, moves[k])
                moves[k] -= cut
                short -= cut
                repaired = True
            assert short <= 0, "a hub cannot be short once its pools gave what it sends"
    shares, fixed = _shares(inp, model, x, avail, moves)
    return Decisions(sent=sent, moves=moves, shares=shares), repaired or fixed


def _shares(
    inp: PlanInput, model: Model, x: np.ndarray, avail: list[int], moves: list[int]
) -> tuple[dict[tuple[int, int, str], int], bool]:
    """Shares in whole ppm, rounded up (more relief for a premium we pay anyway),
    then vaults and pools repaired exactly."""
    pools, vaults = inp.pools, inp.vaults
    repaired = False
    shares: dict[tuple[int, int, str], int] = {}
    lp_floor: dict[tuple[int, int, str], int] = {}
    lp_val: dict[tuple[int, int, str], float] = {}
    total: dict[int, int] = {}
    for kind, col0, jr_arr, kv_arr in (
        ("qs", model.col_q, model.qs_pool, model.qs_vault),
        ("layer", model.col_l, model.ly_pool, model.ly_vault),
    ):
        if not jr_arr.size:
            continue
        vals = x[col0 : col0 + jr_arr.size] * PPM
        for n in np.flatnonzero(vals > 0.5):
            kp, kv = model.receivers[int(jr_arr[n])], int(kv_arr[n])
            v = vaults[kv]
            cap = layer_cap_ppm(v) if kind == "layer" else qs_cap_ppm(v)
            ppm = min(math.ceil(float(vals[n]) - 0.2), cap)
            room = PPM - total.get(kp, 0)
            ppm = min(ppm, room)
            if ppm > 0:
                shares[(kp, kv, kind)] = ppm
                lp_floor[(kp, kv, kind)] = min(ppm, math.floor(float(vals[n]) + 0.2))
                lp_val[(kp, kv, kind)] = float(vals[n])
                total[kp] = total.get(kp, 0) + ppm

    def terms(key: tuple[int, int, str], ppm: int) -> tuple[int, int, int, int]:
        p = pools[key[0]]
        c = cession_terms(p.scr, p.mcr, vaults[key[1]], _KIND[key[2]], ppm)
        return c.capacity_used, c.premium, c.scr_relief, c.mcr_relief

    # vault capacity: that vault's cessions are cut to the largest share that fits
    used: dict[int, int] = {}
    for key, ppm in shares.items():
        used[key[1]] = used.get(key[1], 0) + terms(key, ppm)[0]
    for kv in sorted(used):
        over = used[kv] - vaults[kv].capacity
        if over <= 0:
            continue
        repaired = True
        # first round this vault's shares down, as the solver had them, those that
        # lose least first (largest remainder: the rest stay rounded up)
        frac = {k: lp_val[k] - math.floor(lp_val[k]) for k in shares if k[1] == kv}
        for key in sorted(frac, key=lambda k: (frac[k], k)):
            if over > 0 and lp_floor[key] < shares[key]:
                over -= terms(key, shares[key])[0] - terms(key, lp_floor[key])[0]
                _set(shares, key, lp_floor[key])
        for key in sorted((k for k in shares if k[1] == kv), key=lambda k: (-shares[k], k)):
            if over <= 0:
                break
            now = terms(key, shares[key])[0]

            def fits(q: int, key: tuple[int, int, str] = key, allowed: int = now - over) -> bool:
                return terms(key, q)[0] <= allowed

            new = _largest(shares[key], fits)
            over -= now - terms(key, new)[0]
            _set(shares, key, new)
    # pools: a pool whose cessions break its floor or locked capital is repaired alone
    by_pool: dict[int, list[tuple[int, int, str]]] = {}
    for key in shares:
        by_pool.setdefault(key[0], []).append(key)
    for kp in sorted(by_pool):
        if _repair_pool(inp, kp, sorted(by_pool[kp]), shares, lp_floor, avail[kp], moves[kp]):
            repaired = True
    return shares, repaired


def _repair_pool(
    inp: PlanInput,
    kp: int,
    keys: list[tuple[int, int, str]],
    shares: dict[tuple[int, int, str], int],
    lp_floor: dict[tuple[int, int, str], int],
    before: int,
    move: int,
) -> bool:
    """Make pool ``kp`` safe by changing its own cessions only: first back to the
    solver's shares rounded down, then the dearest cession (premium per unit of
    relief) cut to the largest safe share (exact bisection), then the next; with
    no cession the pool is always safe. True if anything changed."""
    p = inp.pools[kp]
    f = exact(p.target_ratio)

    def deficit(cur: dict[tuple[int, int, str], int]) -> int:
        """0 when safe; else how far from it (locked first, then the ratio floor)."""
        prem = srel = mrel = 0
        for key in keys:
            if cur.get(key, 0) > 0:
                c = cession_terms(p.scr, p.mcr, inp.vaults[key[1]], _KIND[key[2]], cur[key])
                prem += c.premium
                srel += c.scr_relief
                mrel += c.mcr_relief
        if not pool_violations(p, before, move, prem, srel, mrel):
            return 0
        after = before + move - prem
        req_a = max(p.scr - srel, p.mcr - mrel, 0)
        locked = max(0, p.locked - after)
        floor = max(
            0, min(f.numerator * req_a - after * f.denominator, before * req_a - after * p.required)
        )
        return locked * (p.required + f.denominator + 1) + floor

    if deficit(shares) == 0:
        return False
    for key in keys:
        _set(shares, key, min(shares.get(key, 0), lp_floor.get(key, 0)))
    if deficit(shares) == 0:
        return True

    def harm(key: tuple[int, int, str]) -> tuple[Fraction, tuple[int, int, str]]:
        c = cession_terms(p.scr, p.mcr, inp.vaults[key[1]], _KIND[key[2]], shares[key])
        return Fraction(c.premium, max(c.scr_relief, c.mcr_relief) + 1), key

    for key in sorted((k for k in keys if k in shares), key=harm, reverse=True):
        trial = dict(shares)
        trial[key] = 0
        d0 = deficit(trial)
        if d0 == 0:

            def ok(q: int, key: tuple[int, int, str] = key) -> bool:
                t2 = dict(shares)
                t2[key] = q
                return deficit(t2) == 0

            _set(shares, key, _largest(shares[key], ok))
            return True
        if d0 < deficit(shares):
            _set(shares, key, 0)
    for key in keys:
        shares.pop(key, None)  # nothing ceded: the pool only received, always safe
    return True


def _largest(hi: int, ok: Callable[[int], bool]) -> int:
    """Largest ``q`` in ``[0, hi]`` with ``ok(q)``, assuming ``ok(0)`` (exact bisection;
    0 when nothing above it is ok)."""
    if ok(hi):
        return hi
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _set(shares: dict[tuple[int, int, str], int], key: tuple[int, int, str], ppm: int) -> None:
    if ppm > 0:
        shares[key] = ppm
    else:
        shares.pop(key, None)


def _binding(inp: PlanInput, model: Model, x: np.ndarray, avail: list[int]) -> tuple[str, ...]:
    if x.size == 0:
        return ()
    out: list[str] = []
    u = model.unit
    tol = 1e-6
    for j, k in enumerate(model.routes):
        r = inp.routes[k]
        if r.capacity > 0 and x[model.col_z + j] >= r.capacity / u * (1 - tol):
            out.append(f"route:{r.route_id}:capacity")
    for jd, k in enumerate(model.donors):
        p = inp.pools[k]
        xo = x[model.col_o + jd]
        if xo > tol and xo >= model.max_out[k] / u * (1 - tol):
            out.append(f"pool:{p.pool_id}:donor_limit")
    nrc = len(model.receivers)
    shortf = x[model.col_s : model.col_s + nrc]
    for jr in np.flatnonzero(shortf > tol):
        out.append(f"pool:{inp.pools[model.receivers[jr]].pool_id}:shortfall")
    if model.qs_pool.size:
        scr = np.array([inp.pools[k].scr for k in model.receivers], dtype=float) / u
        q = x[model.col_q : model.col_q + model.qs_pool.size]
        use = np.bincount(model.qs_vault, weights=scr[model.qs_pool] * q, minlength=len(inp.vaults))
        if model.ly_pool.size:
            lay = x[model.col_l : model.col_l + model.ly_pool.size]
            lim = np.array([inp.vaults[kv].layer_limit or 0.0 for kv in model.ly_vault])
            use += np.bincount(
                model.ly_vault, weights=scr[model.ly_pool] * lay * lim, minlength=len(inp.vaults)
            )
        for kv in sorted(set(model.qs_vault.tolist())):
            v = inp.vaults[kv]
            if use[kv] > tol and use[kv] >= v.capacity / u * (1 - tol):
                out.append(f"vault:{v.vault_id}:capacity")
        cap = np.array([inp.vaults[kv].max_share for kv in model.qs_vault])
        for n in np.flatnonzero((q >= cap * (1 - tol)) & (cap > 0)):
            pid = inp.pools[model.receivers[int(model.qs_pool[n])]].pool_id
            out.append(f"pool:{pid}:counterparty:{inp.vaults[int(model.qs_vault[n])].vault_id}")
    return tuple(out)

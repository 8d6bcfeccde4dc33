"""The rebalancing + placement planner: one HiGHS model, bulk-built.

``plan_rebalance(PlanInput) -> Plan`` is a pure function: same input, same plan.

Model (amounts scaled by a power of ten so HiGHS sees numbers near 1..1e6):

* Pools are classified with their band: *receivers* (ratio, counting pending
  arrivals, below ``target - band``) may receive capital and cede exposure;
  *donors* (ratio above ``target + band``) may give capital down to their
  target and never below ``capital - locked``; the rest are left alone. This
  keeps in-band pools out of the model (no churn) and the model small.
* Per chain a hub balance (capital in = capital out, to the unit after
  rounding) and a no-transit row; per route a flow, and a binary when it has a
  fixed fee or a minimum size (so the MIP has at most one binary per route).
* Per receiver: soft target rows (shortfall variables, heavily penalised, more
  below the minimum ratio), hard floor rows (never below the ratio it had), a
  locked-capital row, and per vault a quota-share and a layer variable.
  ``max(scr, mcr)`` is handled as two rows each: ``A >= r*max(S, M)`` iff
  ``A >= r*S`` and ``A >= r*M``. VaR is comonotone-additive, so quota share and
  layers on one pool's loss reduce its SCR linearly (see README).
* Objective: bridge fees + premiums + cost of capital in transit + penalties.

Post-solve, every float is rounded the safe way (see :mod:`reinsurance.money`),
hubs are re-balanced to the unit, and :func:`check_plan` re-checks every safety
property in integers. If rounding broke one, the whole plan is scaled down
(``scale`` < 1, down to the empty plan, which is always safe) rather than
returning a violating plan.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
from highspy._core import _Highs
from numpy.typing import ArrayLike

from reinsurance.errors import SolverError
from reinsurance.money import BPS, bps_fee
from reinsurance.planner_check import (
    Decisions,
    assemble_plan,
    cession_terms,
    check_plan,
    exact,
    pool_violations,
)
from reinsurance.planner_types import BridgeRoute, CessionKind, Plan, PlanInput, PoolState, Vault

PPM = 1_000_000
_EPS_MOVE = 1e-7  # tiny cost per unit moved between a pool and its hub: no gratuitous moves
_YEAR_S = 365.0 * 86_400.0
_ROUNDING_MARGIN = 8.0  # base units
_SCALES = (1.0, 1 - 1e-6, 1 - 1e-4, 0.999, 0.99, 0.95, 0.9, 0.75, 0.5, 0.25, 0.0)


@dataclass(slots=True)
class _Model:
    """Index maps between the HiGHS columns and the domain objects."""

    unit: int
    routes: list[int]  # indices into inp.routes
    binaried: list[int]  # positions in ``routes`` that carry a binary
    donors: list[int]  # pool indices
    receivers: list[int]  # pool indices
    qs_vaults: list[int]  # vault indices (all vaults)
    layer_vaults: list[int]  # vault indices with a layer
    col_z: int
    col_u: int
    col_o: int
    col_i: int
    col_s: int
    col_m: int
    col_q: int
    col_l: int
    n_cols: int
    n_rows: int
    vault_row0: int


@dataclass(slots=True)
class _Arrays:
    """The whole model in CSC form (built in bulk, passed to HiGHS at once)."""

    cost: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    rlo: np.ndarray
    rhi: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    value: np.ndarray
    col_of_nz: np.ndarray

    def pass_to(self, h: _Highs, n_rows: int, integer_cols: np.ndarray) -> None:
        """Hand the whole model to HiGHS in one call, straight from the arrays."""
        n = int(self.cost.size)
        integrality = np.zeros(n, dtype=np.int32)
        integrality[integer_cols] = 1
        h.passModel(
            n,
            n_rows,
            int(self.index.size),
            int(highspy.MatrixFormat.kColwise.value),
            int(highspy.ObjSense.kMinimize.value),
            0.0,
            self.cost,
            self.lo,
            self.hi,
            self.rlo,
            self.rhi,
            self.starts[:-1].astype(np.int32),
            self.index,
            self.value,
            integrality,
        )


def plan_rebalance(inp: PlanInput) -> Plan:
    """Cheapest plan bringing every pool to its target; never raises on infeasible targets."""
    inp.validate()
    t0 = time.perf_counter()
    avail, pending = _available(inp)
    model, arrays = _build(inp, avail, pending)
    build_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    x, status, gap, obj, bound = _solve(inp, arrays, model)
    solve_s = time.perf_counter() - t1

    binding = _binding(inp, model, x, avail)
    for scale in _SCALES:
        dec = _integerise(inp, model, x, scale, avail)
        if dec is None:
            continue
        plan = assemble_plan(
            inp,
            dec,
            status=status,
            mip_gap=gap,
            objective=obj * model.unit,
            dual_bound=bound * model.unit,
            binding=binding,
            solve_time_s=solve_s,
            build_time_s=build_s,
            scale=scale,
            n_cols=model.n_cols,
            n_rows=model.n_rows,
            n_binaries=len(model.binaried),
        )
        if not check_plan(inp, plan):
            return plan
    raise SolverError("even the empty plan failed the safety check", status=status)  # unreachable


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


def _route_ok(r: BridgeRoute, z: int) -> bool:
    """A transfer of ``z`` is worth making and allowed on ``r`` (delivers > 0)."""
    return z >= max(r.min_transfer, 1) and z > bps_fee(z, r.fee_bps) + r.fixed_fee


def _ratio_pair(r: float) -> tuple[int, int]:
    f = exact(r)
    return f.numerator, f.denominator


def donor_max_out(p: PoolState, available: int) -> int:
    """Most a donor may give: keep ``locked`` and its target ratio, in integers."""
    num, den = _ratio_pair(p.target_ratio)
    need = -(-num * p.required // den)
    return max(0, min(available - p.locked, available - need))


def _classify(inp: PlanInput, avail: list[int], pending: list[int]) -> tuple[list[int], list[int]]:
    donors: list[int] = []
    receivers: list[int] = []
    for k, p in enumerate(inp.pools):
        req = p.required
        if req <= 0:
            if avail[k] > p.locked:
                donors.append(k)
            continue
        ratio = (avail[k] + pending[k]) / req
        if ratio < max(p.target_ratio - p.band, p.min_ratio):  # never idle below the minimum
            receivers.append(k)
        elif avail[k] / req > p.target_ratio + p.band and donor_max_out(p, avail[k]) > 0:
            donors.append(k)
    return donors, receivers


def _layer_kappa(v: Vault) -> float:
    assert v.layer_attachment is not None and v.layer_limit is not None
    return min(max(1.0 - v.layer_attachment, 0.0), v.layer_limit)


def _build(inp: PlanInput, avail: list[int], pending: list[int]) -> tuple[_Model, _Arrays]:
    pools = inp.pools
    cfg = inp.config
    donors, receivers = _classify(inp, avail, pending)
    chains = sorted({p.chain for p in pools})
    chain_ix = {c: k for k, c in enumerate(chains)}
    donor_chains = {pools[k].chain for k in donors}
    recv_chains = {pools[k].chain for k in receivers}
    routes = [
        k
        for k, r in enumerate(inp.routes)
        if r.src_chain in donor_chains
        and r.dst_chain in recv_chains
        and r.capacity > max(r.min_transfer, r.fixed_fee)
        and r.fee_bps < BPS
    ]
    binaried = [
        j
        for j, k in enumerate(routes)
        if inp.routes[k].fixed_fee > 0 or inp.routes[k].min_transfer > 0
    ]
    vaults = list(inp.vaults)
    qs_v = [k for k, v in enumerate(vaults) if v.capacity > 0] if receivers else []
    ly_v = [k for k in qs_v if vaults[k].has_layer]

    big = max([1, *avail, *(p.scr for p in pools), *(p.mcr for p in pools)])
    unit = 10 ** max(0, int(math.log10(big)) - 6)

    nr, nb, nd, nrc = len(routes), len(binaried), len(donors), len(receivers)
    nq, nl = len(qs_v), len(ly_v)
    col_z = 0
    col_u = col_z + nr
    col_o = col_u + nb
    col_i = col_o + nd
    col_s = col_i + nrc
    col_m = col_s + nrc
    col_q = col_m + nrc
    col_l = col_q + nrc * nq
    n_cols = col_l + nrc * nl

    nch = len(chains)
    row_hub = 0
    row_transit = nch
    row_rub = 2 * nch
    row_rlb = row_rub + nb
    row_recv = row_rlb + nb
    per_recv = 8 if nq else 4
    vault_row0 = row_recv + per_recv * nrc
    n_rows = vault_row0 + nq

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def add(r: ArrayLike, c: ArrayLike, v: ArrayLike) -> None:
        r_a, c_a, v_a = np.broadcast_arrays(
            np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64), np.asarray(v, dtype=float)
        )
        rows.append(r_a.ravel())
        cols.append(c_a.ravel())
        vals.append(v_a.ravel())

    cost = np.zeros(n_cols)
    lo = np.zeros(n_cols)
    hi = np.full(n_cols, highspy.kHighsInf)
    rlo = np.full(n_rows, -highspy.kHighsInf)
    rhi = np.full(n_rows, highspy.kHighsInf)
    rlo[:nch] = 0.0
    rhi[:nch] = 0.0
    rhi[row_transit : row_transit + nch] = 0.0
    row_keep = np.ones(n_rows, dtype=bool)

    # routes
    for j, k in enumerate(routes):
        r = inp.routes[k]
        c = col_z + j
        b = r.fee_bps / BPS
        hi[c] = r.capacity / unit
        cost[c] = b + cfg.cost_of_capital * r.latency_s / _YEAR_S
        add([row_hub + chain_ix[r.src_chain], row_hub + chain_ix[r.dst_chain]], c, [-1.0, 1.0 - b])
        add(row_transit + chain_ix[r.src_chain], c, 1.0)
    for jb, j in enumerate(binaried):
        r = inp.routes[routes[j]]
        cu = col_u + jb
        hi[cu] = 1.0
        cost[cu] = r.fixed_fee / unit
        add(row_hub + chain_ix[r.dst_chain], cu, -r.fixed_fee / unit)
        add([row_rub + jb, row_rlb + jb], col_z + j, [1.0, 1.0])
        add([row_rub + jb, row_rlb + jb], cu, [-r.capacity / unit, -max(r.min_transfer, 1) / unit])
        rhi[row_rub + jb] = 0.0
        rlo[row_rlb + jb] = 0.0

    # donors
    if nd:
        d_cols = col_o + np.arange(nd)
        d_chain = np.array([chain_ix[pools[k].chain] for k in donors])
        hi[d_cols] = [donor_max_out(pools[k], avail[k]) / unit for k in donors]
        cost[d_cols] = _EPS_MOVE
        add(row_hub + d_chain, d_cols, 1.0)
        add(row_transit + d_chain, d_cols, -1.0)

    # receivers
    if nrc:
        ridx = np.array(receivers)
        a = np.array([avail[k] for k in receivers], dtype=float) / unit
        pend = np.array([pending[k] for k in receivers], dtype=float) / unit
        s_ = np.array([pools[k].scr for k in receivers], dtype=float) / unit
        m_ = np.array([pools[k].mcr for k in receivers], dtype=float) / unit
        locked = np.array([pools[k].locked for k in receivers], dtype=float) / unit
        t = np.array([pools[k].target_ratio for k in receivers])
        mn = np.array([pools[k].min_ratio for k in receivers])
        req = np.maximum(s_, m_)
        fl = np.where(req > 0, np.minimum(a / np.where(req > 0, req, 1.0), t), t)
        base = row_recv + per_recv * np.arange(nrc)
        r_ts, r_tm, r_ms, r_mm = base, base + 1, base + 2, base + 3
        i_cols = col_i + np.arange(nrc)
        r_chain = np.array([chain_ix[pools[k].chain] for k in receivers])
        cost[i_cols] = _EPS_MOVE
        add(row_hub + r_chain, i_cols, -1.0)
        for rr in (r_ts, r_tm, r_ms, r_mm):
            add(rr, i_cols, 1.0)
        s_cols = col_s + np.arange(nrc)
        m_cols = col_m + np.arange(nrc)
        cost[s_cols] = cfg.shortfall_penalty
        cost[m_cols] = cfg.min_shortfall_penalty
        add(np.concatenate([r_ts, r_tm]), np.concatenate([s_cols, s_cols]), 1.0)
        add(np.concatenate([r_ms, r_mm]), np.concatenate([m_cols, m_cols]), 1.0)
        # a few base units of margin so that flooring transfers and reliefs
        # does not leave a met target short by a unit
        # (and cession shares are floored to whole ppm: up to 1 ppm of SCR each)
        margin = (_ROUNDING_MARGIN + (1e-9 + 1.01e-6 * (nq + nl)) * t * req * unit) / unit
        rlo[r_ts] = t * s_ - a - pend + margin
        rlo[r_tm] = t * m_ - a - pend + margin
        rlo[r_ms] = mn * s_ - a - pend
        rlo[r_mm] = mn * m_ - a - pend
        if nq:
            r_fs, r_fm, r_lk, r_c = base + 4, base + 5, base + 6, base + 7
            add(np.concatenate([r_fs, r_fm, r_lk]), np.tile(i_cols, 3), 1.0)
            rlo[r_fs] = fl * s_ - a
            rlo[r_fm] = fl * m_ - a
            rlo[r_lk] = locked - a
            rhi[r_c] = 1.0
            # worst drop of each hard row over {cessions >= 0, sum <= 1}: the row
            # is redundant (dropped) when its slack at zero covers it
            worst_fs = np.zeros(nrc)
            worst_fm = np.zeros(nrc)
            worst_lk = np.zeros(nrc)
            for jv, kv in enumerate(qs_v):
                v = vaults[kv]
                rho = v.qs_rate * (1.0 - v.qs_commission)
                qc = col_q + np.arange(nrc) * nq + jv
                hi[qc] = v.max_share
                p_coef = s_ * rho
                cost[qc] = p_coef
                add(r_ts, qc, t * s_ - p_coef)
                add(r_tm, qc, t * m_ - p_coef)
                add(r_ms, qc, mn * s_ - p_coef)
                add(r_mm, qc, mn * m_ - p_coef)
                add(r_fs, qc, fl * s_ - p_coef)
                add(r_fm, qc, fl * m_ - p_coef)
                add(r_lk, qc, -p_coef)
                worst_fs = np.maximum(worst_fs, p_coef - fl * s_)
                worst_fm = np.maximum(worst_fm, p_coef - fl * m_)
                worst_lk = np.maximum(worst_lk, p_coef)
                add(r_c, qc, 1.0)
                add(vault_row0 + jv, qc, s_)
                rhi[vault_row0 + jv] = v.capacity / unit
            for jl, kv in enumerate(ly_v):
                v = vaults[kv]
                assert v.layer_limit is not None and v.layer_rate_on_line is not None
                lim, kap = v.layer_limit, _layer_kappa(v)
                lc = col_l + np.arange(nrc) * nl + jl
                hi[lc] = min(1.0, v.max_share / lim)
                p_coef = s_ * v.layer_rate_on_line * lim
                cost[lc] = p_coef
                add(r_ts, lc, t * s_ * kap - p_coef)
                add(r_tm, lc, -p_coef)
                add(r_ms, lc, mn * s_ * kap - p_coef)
                add(r_mm, lc, -p_coef)
                add(r_fs, lc, fl * s_ * kap - p_coef)
                add(r_fm, lc, -p_coef)
                add(r_lk, lc, -p_coef)
                worst_fs = np.maximum(worst_fs, p_coef - fl * s_ * kap)
                worst_fm = np.maximum(worst_fm, p_coef)
                worst_lk = np.maximum(worst_lk, p_coef)
                add(r_c, lc, 1.0)
                add(vault_row0 + qs_v.index(kv), lc, s_ * lim)
            for rr, worst in ((r_fs, worst_fs), (r_fm, worst_fm), (r_lk, worst_lk)):
                row_keep[rr] = -rlo[rr] < worst * (1 + 1e-9) + 1e-9
        # one requirement component implies the other when it is larger whatever
        # is ceded: with Q = sum qs, K = layer relief <= kappa_max * (1 - Q),
        # M <= S * (1 - kappa_max) gives M(1-Q) <= S(1-Q-K), and S <= M gives
        # S(1-Q-K) <= M(1-Q); the same holds for the target, min and floor rows
        kappa_max = max((_layer_kappa(vaults[kv]) for kv in ly_v), default=0.0)
        mcr_implied = m_ <= s_ * (1.0 - kappa_max) * (1 - 1e-12)
        scr_implied = ~mcr_implied & (s_ <= m_ * (1 - 1e-12))
        row_keep[r_tm[mcr_implied]] = False
        row_keep[r_mm[mcr_implied]] = False
        row_keep[r_ts[scr_implied]] = False
        row_keep[r_ms[scr_implied]] = False
        if nq:
            row_keep[r_fm[mcr_implied]] = False
            row_keep[r_fs[scr_implied]] = False
        del ridx

    # drop the redundant hard rows and renumber the rest
    new_index = np.cumsum(row_keep) - 1
    n_rows = int(row_keep.sum())
    vault_row0 = int(new_index[vault_row0]) if nq else n_rows
    rlo, rhi = rlo[row_keep], rhi[row_keep]
    if rows:
        r_all = np.concatenate(rows)
        c_all = np.concatenate(cols)
        v_all = np.concatenate(vals)
    else:
        r_all = c_all = np.zeros(0, dtype=np.int64)
        v_all = np.zeros(0)
    keep = (v_all != 0.0) & row_keep[r_all]
    r_all, c_all, v_all = new_index[r_all[keep]], c_all[keep], v_all[keep]
    order = np.lexsort((r_all, c_all))
    starts = np.zeros(n_cols + 1, dtype=np.int64)
    np.cumsum(np.bincount(c_all, minlength=n_cols), out=starts[1:])
    arrays = _Arrays(
        cost=cost,
        lo=lo,
        hi=hi,
        rlo=rlo,
        rhi=rhi,
        starts=starts,
        index=r_all[order].astype(np.int32),
        value=v_all[order],
        col_of_nz=c_all[order],
    )
    model = _Model(
        unit=unit,
        routes=routes,
        binaried=binaried,
        donors=donors,
        receivers=receivers,
        qs_vaults=qs_v,
        layer_vaults=ly_v,
        col_z=col_z,
        col_u=col_u,
        col_o=col_o,
        col_i=col_i,
        col_s=col_s,
        col_m=col_m,
        col_q=col_q,
        col_l=col_l,
        n_cols=n_cols,
        n_rows=n_rows,
        vault_row0=vault_row0,
    )
    return model, arrays


def _highs(cfg_threads: int, time_left: float) -> _Highs:
    """A silent solver. The bare binding, not ``highspy.Highs``: the wrapper
    enables callbacks in its constructor, which prints HiGHS's banner before
    ``output_flag`` can be turned off (the engine does no I/O)."""
    h = _Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(time_left, 1e-3))
    h.setOptionValue("threads", int(cfg_threads))
    h.setOptionValue("random_seed", 0)
    return h


def _solve(
    inp: PlanInput, arrays: _Arrays, model: _Model
) -> tuple[np.ndarray, str, float, float, float]:
    """LP relaxation first (fast, and often integral); then fix the used routes'
    binaries and re-solve (warm) for an incumbent; the full MIP only if that
    incumbent is not within ``mip_rel_gap`` of the relaxation bound."""
    if model.n_cols == 0:
        return np.zeros(0), "Empty", 0.0, 0.0, 0.0
    cfg = inp.config
    deadline = time.perf_counter() + cfg.time_limit_s
    h = _highs(cfg.threads, cfg.time_limit_s)
    h.setOptionValue("presolve", "off")
    arrays.pass_to(h, model.n_rows, np.zeros(0, dtype=np.int64))
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        # no usable relaxation in time: the empty plan is always feasible
        return np.zeros(model.n_cols), status, math.inf, 0.0, 0.0

    x = np.asarray(h.getSolution().col_value, dtype=float)
    bound = float(h.getInfo().objective_function_value)
    nb = len(model.binaried)
    if nb == 0:
        return _finite(x, status), status, 0.0, bound, bound
    ucols = np.arange(model.col_u, model.col_u + nb)
    uval = x[ucols]
    if np.all((uval < 1e-9) | (uval > 1 - 1e-9)):
        return _finite(x, status), status, 0.0, bound, bound
    # incumbent: routes the relaxation uses are opened, the others closed
    fix = (uval > 1e-9).astype(float)
    h.changeColsBounds(nb, ucols.astype(np.int32), fix, fix)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 1e-3))
    h.run()
    best_x, best_obj = x, math.inf  # no incumbent: the relaxation, rounded and checked
    if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        best_x = np.asarray(h.getSolution().col_value, dtype=float)
        best_obj = float(h.getInfo().objective_function_value)
    gap = _gap(best_obj, bound)
    if gap <= cfg.mip_rel_gap or time.perf_counter() >= deadline:
        st = "Optimal" if gap <= cfg.mip_rel_gap else "Time limit reached"
        return _finite(best_x, st), st, gap, best_obj, bound
    # the full MIP, warm-started from the incumbent
    m = _highs(cfg.threads, deadline - time.perf_counter())
    m.setOptionValue("mip_rel_gap", float(cfg.mip_rel_gap))
    arrays.pass_to(m, model.n_rows, ucols)
    if math.isfinite(best_obj):
        start = highspy.HighsSolution()
        start.col_value = best_x.tolist()
        m.setSolution(start)
    m.run()
    msol = m.getSolution()
    info = m.getInfo()
    status = m.modelStatusToString(m.getModelStatus())
    if msol.value_valid and float(info.objective_function_value) < best_obj:
        best_x = np.asarray(msol.col_value, dtype=float)
        best_obj = float(info.objective_function_value)
    if math.isfinite(info.mip_dual_bound):
        bound = max(bound, float(info.mip_dual_bound))
    return _finite(best_x, status), status, _gap(best_obj, bound), best_obj, bound


def _gap(obj: float, bound: float) -> float:
    if not math.isfinite(obj):
        return math.inf
    return max(0.0, obj - bound) / max(abs(obj), 1e-9)


def _finite(x: np.ndarray, status: str) -> np.ndarray:
    if not np.isfinite(x).all():
        raise SolverError(f"HiGHS returned a non-finite solution ({status})", status=status)
    return x


def _binding(inp: PlanInput, model: _Model, x: np.ndarray, avail: list[int]) -> tuple[str, ...]:
    if x.size == 0:
        return ()
    out: list[str] = []
    u = model.unit
    tol = 1e-6
    for j, k in enumerate(model.routes):
        r = inp.routes[k]
        if x[model.col_z + j] >= r.capacity / u * (1 - tol) and r.capacity > 0:
            out.append(f"route:{r.route_id}:capacity")
    for jd, k in enumerate(model.donors):
        p = inp.pools[k]
        xo = x[model.col_o + jd]
        if xo > tol and xo >= donor_max_out(p, avail[k]) / u * (1 - tol):
            out.append(f"pool:{p.pool_id}:donor_limit")
    nrc = len(model.receivers)
    nq, nl = len(model.qs_vaults), len(model.layer_vaults)
    shortf = x[model.col_s : model.col_s + nrc]
    for jr in np.flatnonzero(shortf > tol):
        out.append(f"pool:{inp.pools[model.receivers[jr]].pool_id}:shortfall")
    if nq and nrc:
        q = x[model.col_q : model.col_q + nrc * nq].reshape(nrc, nq)
        scr = np.array([inp.pools[k].scr for k in model.receivers], dtype=float) / u
        use = scr @ q
        if nl:
            lay = x[model.col_l : model.col_l + nrc * nl].reshape(nrc, nl)
        for jv, kv in enumerate(model.qs_vaults):
            v = inp.vaults[kv]
            total = use[jv]
            if nl and kv in model.layer_vaults:
                jl = model.layer_vaults.index(kv)
                total += float(scr @ lay[:, jl]) * (v.layer_limit or 0.0)
            if total >= v.capacity / u * (1 - tol):
                out.append(f"vault:{v.vault_id}:capacity")
            for jr in np.flatnonzero(q[:, jv] >= v.max_share * (1 - tol)):
                if v.max_share > 0:
                    out.append(
                        f"pool:{inp.pools[model.receivers[jr]].pool_id}:counterparty:{v.vault_id}"
                    )
    return tuple(out)


def _integerise(
    inp: PlanInput, model: _Model, x: np.ndarray, scale: float, avail: list[int]
) -> Decisions | None:
    """Round the solution the safe way and balance every hub to the unit."""
    pools = inp.pools
    u = model.unit
    sent: dict[int, int] = {}
    for j, k in enumerate(model.routes):
        r = inp.routes[k]
        z = _floor_pos(scale * float(x[model.col_z + j]) * u) if x.size else 0
        z = min(z, r.capacity)
        if not _route_ok(r, z):
            continue
        sent[k] = z
    shares: dict[tuple[int, int, str], int] = {}
    nrc, nq, nl = len(model.receivers), len(model.qs_vaults), len(model.layer_vaults)
    if nq and nrc and x.size:
        q = x[model.col_q : model.col_q + nrc * nq].reshape(nrc, nq)
        for jr, jv in zip(*np.nonzero(q > 0.5 / PPM), strict=True):
            ppm = _floor_pos(scale * float(q[jr, jv]) * PPM)
            v = inp.vaults[model.qs_vaults[jv]]
            ppm = min(ppm, math.floor(exact(v.max_share) * PPM))
            if ppm > 0:
                shares[(model.receivers[jr], model.qs_vaults[jv], "qs")] = ppm
        if nl:
            lay = x[model.col_l : model.col_l + nrc * nl].reshape(nrc, nl)
            for jr, jl in zip(*np.nonzero(lay > 0.5 / PPM), strict=True):
                v = inp.vaults[model.layer_vaults[jl]]
                assert v.layer_limit is not None
                ppm = _floor_pos(scale * float(lay[jr, jl]) * PPM)
                cap = math.floor(exact(v.max_share) / exact(v.layer_limit) * PPM)
                ppm = min(ppm, cap, PPM)
                if ppm > 0:
                    shares[(model.receivers[jr], model.layer_vaults[jl], "layer")] = ppm
    moves = [0] * len(pools)
    max_out: dict[int, int] = {}
    for jd, k in enumerate(model.donors):
        mo = donor_max_out(pools[k], avail[k])
        max_out[k] = mo
        moves[k] = -min(mo, _floor_pos(scale * float(x[model.col_o + jd]) * u)) if x.size else 0
    for jr, k in enumerate(model.receivers):
        moves[k] = _floor_pos(scale * float(x[model.col_i + jr]) * u) if x.size else 0
    by_chain: dict[str, list[int]] = {}
    for k, p in enumerate(pools):
        by_chain.setdefault(p.chain, []).append(k)
    recv_set = set(model.receivers)
    for _ in range(4):
        changed = False
        for chain in sorted(by_chain):
            members = by_chain[chain]
            inflow = 0
            outflow = 0
            for k, z in sent.items():
                r = inp.routes[k]
                if r.dst_chain == chain:
                    inflow += z - bps_fee(z, r.fee_bps) - r.fixed_fee
                if r.src_chain == chain:
                    outflow += z
            imbalance = inflow - outflow - sum(moves[k] for k in members)
            if imbalance > 0:  # capital left at the hub: give it to pools (always safe)
                takers = [k for k in members if k in recv_set] or members
                moves[takers[0]] += imbalance
                changed = True
            elif imbalance < 0:
                need = -imbalance
                for k in members:
                    if k in max_out and need:
                        extra = min(need, max_out[k] + moves[k])
                        moves[k] -= extra
                        need -= extra
                for k in sorted(members, key=lambda k: -moves[k]):
                    if k in recv_set and need and moves[k] > 0:
                        cut = min(need, moves[k])
                        moves[k] -= cut
                        need -= cut
                for k in sorted(sent):
                    r = inp.routes[k]
                    if r.src_chain == chain and need:
                        new = sent[k] - need
                        if not _route_ok(r, new):
                            need = max(0, need - sent[k])
                            del sent[k]
                        else:
                            sent[k] = new
                            need = 0
                if need:
                    return None
                changed = True
        if not changed:
            _repair_cessions(inp, model, avail, moves, shares)
            return Decisions(sent=sent, moves=moves, shares=shares)
    return None


def _repair_cessions(
    inp: PlanInput,
    model: _Model,
    avail: list[int],
    moves: list[int],
    shares: dict[tuple[int, int, str], int],
) -> None:
    """Premiums round up and reliefs down: a receiver whose constraint was
    binding in the LP can end a unit short. Shrink that pool's cessions until
    it is safe again (with none it is: it only received capital)."""
    by_pool: dict[int, list[tuple[int, int, str]]] = {}
    for key in shares:
        by_pool.setdefault(key[0], []).append(key)
    for k, keys in sorted(by_pool.items()):
        p = inp.pools[k]
        for _ in range(60):
            prem = srel = mrel = 0
            for key in keys:
                ck = CessionKind.QUOTA_SHARE if key[2] == "qs" else CessionKind.LAYER
                c = cession_terms(p.scr, p.mcr, inp.vaults[key[1]], ck, shares[key])
                prem += c.premium
                srel += c.scr_relief
                mrel += c.mcr_relief
            if not pool_violations(p, avail[k], moves[k], prem, srel, mrel):
                break
            for key in keys:
                shares[key] = shares[key] * 15 // 16
        for key in keys:
            if shares[key] <= 0:
                del shares[key]


def _floor_pos(v: float) -> int:
    """Floor of a solver value that may be a hair below zero."""
    return max(0, math.floor(v))

"""The planner's model: the documented model as one sparse HiGHS problem, built in bulk.

Amounts are scaled by a power of ten (``unit``) so HiGHS sees numbers near
1..1e7. Every coefficient is bounded by what can actually flow: a route's
big-M is the smaller of its capacity and what the donors of its source chain
can give (capital never transits a chain), a vault's capacity row is dropped
when it exceeds every SCR it could take, so a lane or a vault "without limit"
(``2**256 - 1``) never puts a huge number in the matrix.

Columns: route flows ``z``, one binary per route with a fixed fee or minimum
size, donor outflows, receiver inflows, target / minimum-ratio shortfalls, and
one share per *eligible* (receiver, vault) pair (quota share; layer when the
vault has one). A pair is eligible when the vault accepts the pool's chain,
its ``max_share`` is > 0 and it has capacity for the SCR ceded (none needed
when the pool's SCR is 0).

Target rows carry a rounding margin of a few base units for the retained
part of the requirement only (a pool ceded 100 % needs none), so flooring
transfers and ceiling premiums do not leave a met target short. The margin is
*soft*: a slack ``e <= margin`` at ``MARGIN_COST`` per unit, far below the
shortfall penalty and any fixed fee, so it never opens a route or buys a
cession by itself. Hence the solved objective exceeds the documented model's by
at most ``margin_cost`` (``MARGIN_COST * sum(margin)``), and the solver's bound
minus that is a bound of the documented model. Hard rows (floor, locked,
capacity) carry no margin: the integer step repairs them exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import highspy
import numpy as np
from highspy._core import _Highs
from numpy.typing import ArrayLike

from reinsurance.errors import SolverError
from reinsurance.money import BPS, bps_fee
from reinsurance.planner_check import exact
from reinsurance.planner_types import BridgeRoute, PlanInput, PoolState, Vault

PPM = 1_000_000
EPS_MOVE = 1e-7  # tie-break per base unit moved between a pool and its hub: no circles
YEAR_S = 365.0 * 86_400.0
MARGIN_COST = 0.05  # per base unit of rounding margin left unmet (penalties are >= 1)


@dataclass(slots=True)
class Model:
    """Index maps between the HiGHS columns and the domain objects."""

    unit: int
    routes: list[int]  # indices into inp.routes
    route_cap: list[int]  # effective capacity of each (<= capacity, <= what can flow)
    binaried: list[int]  # positions in ``routes`` that carry a binary
    donors: list[int]  # pool indices
    max_out: dict[int, int]  # most each donor may give
    receivers: list[int]  # pool indices
    qs_pool: np.ndarray  # receiver position of each quota-share pair
    qs_vault: np.ndarray  # vault index of each quota-share pair
    ly_pool: np.ndarray  # receiver position of each layer pair
    ly_vault: np.ndarray  # vault index of each layer pair
    col_z: int
    col_u: int
    col_o: int
    col_i: int
    col_s: int
    col_m: int
    col_q: int
    col_l: int
    col_e: int
    n_cols: int
    n_rows: int
    margin_cost: float  # base units: most the soft margins add to the objective


@dataclass(slots=True)
class Arrays:
    """The whole model in CSC form (built in bulk, passed to HiGHS at once)."""

    cost: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    rlo: np.ndarray
    rhi: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    value: np.ndarray

    def pass_to(self, h: _Highs, n_rows: int, integer_cols: np.ndarray) -> None:
        """Hand the whole model to HiGHS in one call; a refusal is an error, not an empty plan."""
        n = int(self.cost.size)
        integrality = np.zeros(n, dtype=np.int32)
        integrality[integer_cols] = 1
        st = h.passModel(
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
        if st == highspy.HighsStatus.kError:
            raise SolverError("HiGHS refused the model", status="model error")


def route_ok(r: BridgeRoute, z: int) -> bool:
    """A transfer of ``z`` is allowed on ``r`` and delivers something."""
    return z >= max(r.min_transfer, 1) and z > bps_fee(z, r.fee_bps) + r.fixed_fee


def donor_max_out(p: PoolState, available: int) -> int:
    """Most a donor may give: keep ``locked`` and its target ratio, in integers."""
    f = exact(p.target_ratio)
    need = -(-f.numerator * p.required // f.denominator)
    return max(0, min(available - p.locked, available - need))


def classify(
    inp: PlanInput, avail: list[int], pending: list[int]
) -> tuple[dict[int, int], list[int]]:
    """Receivers (below their band, or below the minimum ratio) and donors (above
    it), the donors with the most each may give."""
    donors: dict[int, int] = {}
    receivers: list[int] = []
    for k, p in enumerate(inp.pools):
        req = p.required
        if req <= 0:
            if avail[k] > p.locked:
                donors[k] = donor_max_out(p, avail[k])
            continue
        ratio = (avail[k] + pending[k]) / req
        if ratio < max(p.target_ratio - p.band, p.min_ratio):  # never idle below the minimum
            receivers.append(k)
        elif avail[k] / req > p.target_ratio + p.band:
            mo = donor_max_out(p, avail[k])
            if mo > 0:
                donors[k] = mo
    return donors, receivers


@lru_cache(maxsize=4096)
def qs_cap_ppm(v: Vault) -> int:
    """The largest quota share (ppm) the counterparty cap allows."""
    return math.floor(exact(v.max_share) * PPM)


@lru_cache(maxsize=4096)
def layer_cap_ppm(v: Vault) -> int:
    """The largest fraction (ppm) of the vault's layer the counterparty cap allows."""
    return min(PPM, math.floor(exact(v.max_share) / exact(v.layer_limit or 1.0) * PPM))


def layer_kappa(v: Vault) -> float:
    assert v.layer_attachment is not None and v.layer_limit is not None
    return min(max(1.0 - v.layer_attachment, 0.0), v.layer_limit)


def _pairs(inp: PlanInput, receivers: list[int], layer: bool) -> tuple[np.ndarray, np.ndarray]:
    """Eligible (receiver position, vault index) pairs, receiver-major."""
    pools = inp.pools
    jr_out: list[np.ndarray] = []
    kv_out: list[np.ndarray] = []
    if not receivers:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    scr = np.array([pools[k].scr for k in receivers], dtype=float)
    chains = np.array([pools[k].chain for k in receivers], dtype=object)
    for kv, v in enumerate(inp.vaults):
        if v.max_share <= 0 or (layer and not v.has_layer):
            continue
        ok = np.ones(len(receivers), dtype=bool)
        if v.accepts_from:
            ok &= np.array([c in v.accepts_from for c in chains], dtype=bool)
        if layer:
            ok &= scr > 0  # a layer on a zero SCR relieves nothing
        if v.capacity <= 0:
            ok &= scr == 0  # capacity is used in SCR ceded only
        jr = np.flatnonzero(ok)
        jr_out.append(jr)
        kv_out.append(np.full(jr.size, kv, dtype=np.int64))
    if not jr_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    jr_all = np.concatenate(jr_out)
    kv_all = np.concatenate(kv_out)
    order = np.lexsort((kv_all, jr_all))
    return jr_all[order], kv_all[order]


def build(inp: PlanInput, avail: list[int], pending: list[int]) -> tuple[Model, Arrays]:
    pools = inp.pools
    cfg = inp.config
    max_out, receivers = classify(inp, avail, pending)
    donors = list(max_out)
    chains = sorted({p.chain for p in pools})
    chain_ix = {c: k for k, c in enumerate(chains)}
    recv_chains = {pools[k].chain for k in receivers}
    can_give: dict[str, int] = {}
    for k in donors:
        can_give[pools[k].chain] = can_give.get(pools[k].chain, 0) + max_out[k]
    routes: list[int] = []
    route_cap: list[int] = []
    for k, r in enumerate(inp.routes):
        if r.dst_chain not in recv_chains or r.fee_bps >= BPS:
            continue
        cap = min(r.capacity, can_give.get(r.src_chain, 0))  # no transit: a bounded big-M
        if route_ok(r, cap):  # >=: a lane that can carry exactly its minimum is kept
            routes.append(k)
            route_cap.append(cap)
    binaried = [
        j
        for j, k in enumerate(routes)
        if inp.routes[k].fixed_fee > 0 or inp.routes[k].min_transfer > 0
    ]
    vaults = inp.vaults
    qs_pool, qs_vault = _pairs(inp, receivers, layer=False)
    ly_pool, ly_vault = _pairs(inp, receivers, layer=True)

    big = max([1, *avail, *(p.scr for p in pools), *(p.mcr for p in pools)])
    unit = 10 ** max(0, int(math.log10(big)) - 6)

    nr, nb, nd, nrc = len(routes), len(binaried), len(donors), len(receivers)
    nqp, nlp = int(qs_pool.size), int(ly_pool.size)
    col_z = 0
    col_u = col_z + nr
    col_o = col_u + nb
    col_i = col_o + nd
    col_s = col_i + nrc
    col_m = col_s + nrc
    col_q = col_m + nrc
    col_l = col_q + nqp
    col_e = col_l + nlp
    n_cols = col_e + nrc

    nch = len(chains)
    row_hub = 0
    row_transit = nch
    row_rub = 2 * nch
    row_rlb = row_rub + nb
    row_recv = row_rlb + nb
    per_recv = 8
    vault_row0 = row_recv + per_recv * nrc
    n_rows = vault_row0 + len(vaults)

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

    inf = highspy.kHighsInf
    cost = np.zeros(n_cols)
    lo = np.zeros(n_cols)
    hi = np.full(n_cols, inf)
    rlo = np.full(n_rows, -inf)
    rhi = np.full(n_rows, inf)
    rlo[:nch] = 0.0
    rhi[:nch] = 0.0
    rhi[row_transit : row_transit + nch] = 0.0
    row_keep = np.ones(n_rows, dtype=bool)
    margin_cost = 0.0

    # routes
    for j, k in enumerate(routes):
        r = inp.routes[k]
        c = col_z + j
        b = r.fee_bps / BPS
        hi[c] = route_cap[j] / unit
        cost[c] = b + cfg.cost_of_capital * r.latency_s / YEAR_S
        add([row_hub + chain_ix[r.src_chain], row_hub + chain_ix[r.dst_chain]], c, [-1.0, 1.0 - b])
        add(row_transit + chain_ix[r.src_chain], c, 1.0)
    for jb, j in enumerate(binaried):
        r = inp.routes[routes[j]]
        cu = col_u + jb
        hi[cu] = 1.0
        cost[cu] = r.fixed_fee / unit
        add(row_hub + chain_ix[r.dst_chain], cu, -r.fixed_fee / unit)
        add([row_rub + jb, row_rlb + jb], col_z + j, [1.0, 1.0])
        add(
            [row_rub + jb, row_rlb + jb],
            cu,
            [-route_cap[j] / unit, -max(r.min_transfer, 1) / unit],
        )
        rhi[row_rub + jb] = 0.0
        rlo[row_rlb + jb] = 0.0

    # donors
    if nd:
        d_cols = col_o + np.arange(nd)
        d_chain = np.array([chain_ix[pools[k].chain] for k in donors])
        hi[d_cols] = [max_out[k] / unit for k in donors]
        cost[d_cols] = EPS_MOVE
        add(row_hub + d_chain, d_cols, 1.0)
        add(row_transit + d_chain, d_cols, -1.0)

    # receivers
    if nrc:
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
        r_fs, r_fm, r_lk, r_c = base + 4, base + 5, base + 6, base + 7
        i_cols = col_i + np.arange(nrc)
        r_chain = np.array([chain_ix[pools[k].chain] for k in receivers])
        cost[i_cols] = EPS_MOVE
        add(row_hub + r_chain, i_cols, -1.0)
        for rr in (r_ts, r_tm, r_ms, r_mm, r_fs, r_fm, r_lk):
            add(rr, i_cols, 1.0)
        s_cols = col_s + np.arange(nrc)
        m_cols = col_m + np.arange(nrc)
        cost[s_cols] = cfg.shortfall_penalty
        cost[m_cols] = cfg.min_shortfall_penalty
        add(np.concatenate([r_ts, r_tm]), np.concatenate([s_cols, s_cols]), 1.0)
        add(np.concatenate([r_ms, r_mm]), np.concatenate([m_cols, m_cols]), 1.0)
        n_pairs = np.bincount(qs_pool, minlength=nrc) + np.bincount(ly_pool, minlength=nrc)
        # rounding margin (base units): the floored inflow, then per cession a
        # ceiled premium and a floored relief (shares are rounded up, not down),
        # a share trimmed by a ppm or two where a vault's capacity binds, and the
        # solver's tolerance
        units = 2.0 + (1.0 + t) * np.minimum(n_pairs, 8)
        margin_u = units + (1e-9 + 2.02e-6 * (n_pairs > 0)) * t * req * unit
        margin = margin_u / unit + 1e-7
        retained = units / unit  # the part a 100 % quota share makes moot
        e_cols = col_e + np.arange(nrc)
        hi[e_cols] = margin
        cost[e_cols] = MARGIN_COST
        add(np.concatenate([r_ts, r_tm]), np.concatenate([e_cols, e_cols]), 1.0)
        margin_cost = MARGIN_COST * float(margin.sum()) * unit
        rlo[r_ts] = t * s_ - a - pend + margin
        rlo[r_tm] = t * m_ - a - pend + margin
        rlo[r_ms] = mn * s_ - a - pend
        rlo[r_mm] = mn * m_ - a - pend
        rlo[r_fs] = fl * s_ - a
        rlo[r_fm] = fl * m_ - a
        rlo[r_lk] = locked - a
        rhi[r_c] = 1.0
        # worst drop of each hard row over {shares >= 0, sum <= 1}: the row is
        # redundant (dropped) when its slack at zero covers it
        worst_fs = np.zeros(nrc)
        worst_fm = np.zeros(nrc)
        worst_lk = np.zeros(nrc)
        has_pair = n_pairs > 0
        if nqp:
            jr = qs_pool
            rho_v = np.array([v.qs_rate * (1.0 - v.qs_commission) for v in vaults])
            cap_v = np.array([qs_cap_ppm(v) / PPM for v in vaults])  # shares are whole ppm
            rho = rho_v[qs_vault]
            qc = col_q + np.arange(nqp)
            hi[qc] = cap_v[qs_vault]
            p_coef = s_[jr] * rho
            cost[qc] = p_coef
            # the margin is for the retained requirement: ceding share q frees q of it
            add(r_ts[jr], qc, t[jr] * s_[jr] - p_coef + retained[jr])
            add(r_tm[jr], qc, t[jr] * m_[jr] - p_coef + retained[jr])
            add(r_ms[jr], qc, mn[jr] * s_[jr] - p_coef)
            add(r_mm[jr], qc, mn[jr] * m_[jr] - p_coef)
            add(r_fs[jr], qc, fl[jr] * s_[jr] - p_coef)
            add(r_fm[jr], qc, fl[jr] * m_[jr] - p_coef)
            add(r_lk[jr], qc, -p_coef)
            np.maximum.at(worst_fs, jr, p_coef - fl[jr] * s_[jr])
            np.maximum.at(worst_fm, jr, p_coef - fl[jr] * m_[jr])
            np.maximum.at(worst_lk, jr, p_coef)
            add(r_c[jr], qc, 1.0)
            add(vault_row0 + qs_vault, qc, s_[jr])
        if nlp:
            jr = ly_pool
            lv = [v if v.has_layer else None for v in vaults]
            lim = np.array([float(v.layer_limit or 0.0) if v else 0.0 for v in lv])[ly_vault]
            kap = np.array([layer_kappa(v) if v else 0.0 for v in lv])[ly_vault]
            rol = np.array([float(v.layer_rate_on_line or 0.0) if v else 0.0 for v in lv])
            rol = rol[ly_vault]
            lc = col_l + np.arange(nlp)
            hi[lc] = np.array([layer_cap_ppm(v) / PPM if v else 0.0 for v in lv])[ly_vault]
            p_coef = s_[jr] * rol * lim
            cost[lc] = p_coef
            add(r_ts[jr], lc, t[jr] * s_[jr] * kap - p_coef)
            add(r_tm[jr], lc, -p_coef)
            add(r_ms[jr], lc, mn[jr] * s_[jr] * kap - p_coef)
            add(r_mm[jr], lc, -p_coef)
            add(r_fs[jr], lc, fl[jr] * s_[jr] * kap - p_coef)
            add(r_fm[jr], lc, -p_coef)
            add(r_lk[jr], lc, -p_coef)
            np.maximum.at(worst_fs, jr, p_coef - fl[jr] * s_[jr] * kap)
            np.maximum.at(worst_fm, jr, p_coef)
            np.maximum.at(worst_lk, jr, p_coef)
            add(r_c[jr], lc, 1.0)
            add(vault_row0 + ly_vault, lc, s_[jr] * lim)
        for rr, worst in ((r_fs, worst_fs), (r_fm, worst_fm), (r_lk, worst_lk)):
            row_keep[rr] = has_pair & (-rlo[rr] < worst * (1 + 1e-9) + 1e-9)
        row_keep[r_c] = has_pair
        # one requirement component implies the other when it is larger whatever
        # is ceded: with Q = sum qs, K = layer relief <= kappa_max * (1 - Q),
        # M <= S * (1 - kappa_max) gives M(1-Q) <= S(1-Q-K), and S <= M gives
        # S(1-Q-K) <= M(1-Q); the same holds for the target, min and floor rows
        kmax = np.zeros(nrc)
        if nlp:
            np.maximum.at(kmax, ly_pool, kap)
        mcr_implied = m_ <= s_ * (1.0 - kmax) * (1 - 1e-12)
        scr_implied = ~mcr_implied & (s_ <= m_ * (1 - 1e-12))
        row_keep[r_tm[mcr_implied]] = False
        row_keep[r_mm[mcr_implied]] = False
        row_keep[r_ts[scr_implied]] = False
        row_keep[r_ms[scr_implied]] = False
        row_keep[r_fm[mcr_implied]] = False
        row_keep[r_fs[scr_implied]] = False

    # vault capacity rows: dropped when the vault can take every SCR it could be
    # offered (a pool cedes at most its whole SCR to one vault)
    offered: np.ndarray = np.zeros(len(vaults))
    if nqp:
        scr_r = np.array([pools[k].scr for k in receivers], dtype=float)
        offered = np.bincount(qs_vault, weights=scr_r[qs_pool], minlength=len(vaults))
    for kv, v in enumerate(vaults):
        if v.capacity >= offered[kv] * (1 + 1e-9) + 1:
            row_keep[vault_row0 + kv] = False
        else:
            rhi[vault_row0 + kv] = v.capacity / unit

    # drop the redundant rows and renumber the rest
    new_index = np.cumsum(row_keep) - 1
    n_rows = int(row_keep.sum())
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
    arrays = Arrays(
        cost=cost,
        lo=lo,
        hi=hi,
        rlo=rlo,
        rhi=rhi,
        starts=starts,
        index=r_all[order].astype(np.int32),
        value=v_all[order],
    )
    model = Model(
        unit=unit,
        routes=routes,
        route_cap=route_cap,
        binaried=binaried,
        donors=donors,
        max_out=max_out,
        receivers=receivers,
        qs_pool=qs_pool,
        qs_vault=qs_vault,
        ly_pool=ly_pool,
        ly_vault=ly_vault,
        col_z=col_z,
        col_u=col_u,
        col_o=col_o,
        col_i=col_i,
        col_s=col_s,
        col_m=col_m,
        col_q=col_q,
        col_l=col_l,
        col_e=col_e,
        n_cols=n_cols,
        n_rows=n_rows,
        margin_cost=margin_cost,
    )
    return model, arrays

"""Solving the planner's model with HiGHS, every status checked.

The LP relaxation comes first (often integral: then it is the MIP optimum);
otherwise the routes it uses are opened, the others closed, and the LP
re-solved warm for an incumbent; the full MIP (warm started) runs only when
that incumbent is not proven within both gaps of the relaxation's bound:
``mip_rel_gap`` on the whole objective and ``cost_rel_gap`` on its costs
(objective minus penalties). The bound returned is always a bound of the whole
model (the relaxation's, or the MIP's dual bound), never of the narrowed one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
from highspy._core import _Highs

from reinsurance.errors import SolverError
from reinsurance.planner_model import Arrays, Model
from reinsurance.planner_types import PlanInput

_OK = highspy.HighsModelStatus.kOptimal
_LIMITS = {
    highspy.HighsModelStatus.kTimeLimit,
    highspy.HighsModelStatus.kIterationLimit,
    highspy.HighsModelStatus.kInterrupt,
    highspy.HighsModelStatus.kSolutionLimit,
}


@dataclass(slots=True)
class Solved:
    """A solution of the scaled model. ``bound`` is in scaled objective units;
    ``proof``: ``model`` (bound of the whole model), ``fixed_routes`` (only the
    model with the chosen routes was solved), ``none``."""

    x: np.ndarray
    status: str
    bound: float
    proof: str
    limited: bool  # a time/iteration limit stopped a solve


def highs(threads: int, time_left: float) -> _Highs:
    """A silent solver. The bare binding, not ``highspy.Highs``: the wrapper
    enables callbacks in its constructor, which prints HiGHS's banner before
    ``output_flag`` can be turned off (the engine does no I/O)."""
    h = _Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(time_left, 1e-3))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", 0)
    return h


def _run(h: _Highs) -> highspy.HighsModelStatus:
    if h.run() == highspy.HighsStatus.kError:
        raise SolverError("HiGHS failed to run", status=h.modelStatusToString(h.getModelStatus()))
    return h.getModelStatus()


def _penalty(model: Model, cost: np.ndarray, x: np.ndarray) -> float:
    n = len(model.receivers)
    sl = slice(model.col_s, model.col_m + n)
    return float(cost[sl] @ x[sl])


_HEADROOM = 0.8  # of each gap, left for rounding to base units


def within(obj: float, bound: float, pen: float, rel: float, cost_rel: float) -> bool:
    """Both gaps proven, with headroom for rounding (the margins' cost is part of
    the rounding allowance, see README)."""
    gap = max(0.0, obj - bound)
    cost_part = max(obj - pen, 0.0)
    return gap <= _HEADROOM * min(rel * abs(obj), cost_rel * cost_part) + 1e-9


def solve(inp: PlanInput, arrays: Arrays, model: Model) -> Solved:
    if model.n_cols == 0:
        return Solved(np.zeros(0), "Empty", 0.0, "model", False)
    cfg = inp.config
    deadline = time.perf_counter() + cfg.time_limit_s
    h = highs(cfg.threads, cfg.time_limit_s)
    h.setOptionValue("presolve", "off")
    arrays.pass_to(h, model.n_rows, np.zeros(0, dtype=np.int64))
    st = _run(h)
    if st not in _LIMITS and st != _OK:
        # the model is feasible (doing nothing is) and bounded (costs >= 0): a
        # simplex run without presolve can still misjudge it; retry with presolve
        h = highs(cfg.threads, max(deadline - time.perf_counter(), 1e-3))
        arrays.pass_to(h, model.n_rows, np.zeros(0, dtype=np.int64))
        st = _run(h)
    if st != _OK:
        if st in _LIMITS:
            # no relaxation in time: the empty plan is always safe
            return Solved(np.zeros(model.n_cols), "Time limit reached", -math.inf, "none", True)
        raise SolverError("HiGHS found no LP optimum", status=h.modelStatusToString(st))
    x = _finite(np.asarray(h.getSolution().col_value, dtype=float))
    bound = float(h.getInfo().objective_function_value)
    nb = len(model.binaried)
    ucols = np.arange(model.col_u, model.col_u + nb)
    uval = x[ucols]
    if nb == 0 or np.all((uval < 1e-9) | (uval > 1 - 1e-9)):
        return Solved(x, "Optimal", bound, "model", False)
    # incumbent: the routes the relaxation uses are opened, the others closed
    fix = (uval > 1e-9).astype(float)
    h.changeColsBounds(nb, ucols.astype(np.int32), fix, fix)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 1e-3))
    st = _run(h)
    best_x, best_obj, proof = x, math.inf, "none"
    if st == _OK:
        best_x = _finite(np.asarray(h.getSolution().col_value, dtype=float))
        best_obj = float(h.getInfo().objective_function_value)
        proof = "fixed_routes"
    if math.isfinite(best_obj) and within(
        best_obj,
        bound,
        _penalty(model, arrays.cost, best_x),
        cfg.mip_rel_gap,
        cfg.cost_rel_gap,
    ):
        return Solved(best_x, "Optimal", bound, "model", False)
    if time.perf_counter() >= deadline:
        return Solved(best_x, "Time limit reached", bound, proof, True)
    # the full MIP, warm-started, stopped only when both gaps are proven
    m = highs(cfg.threads, deadline - time.perf_counter())
    if math.isfinite(best_obj):
        # HiGHS stops on either gap; ours needs both: one absolute gap, the smaller
        cost_part = best_obj - _penalty(model, arrays.cost, best_x)
        abs_gap = _HEADROOM * min(
            cfg.mip_rel_gap * abs(best_obj), cfg.cost_rel_gap * max(cost_part, 0.0)
        )
        m.setOptionValue("mip_rel_gap", 0.0)
        m.setOptionValue("mip_abs_gap", float(abs_gap))
    else:
        m.setOptionValue("mip_rel_gap", float(min(cfg.mip_rel_gap, cfg.cost_rel_gap)))
    arrays.pass_to(m, model.n_rows, ucols)
    if math.isfinite(best_obj):
        start = highspy.HighsSolution()
        start.col_value = best_x.tolist()
        m.setSolution(start)
    st = _run(m)
    msol = m.getSolution()
    info = m.getInfo()
    if msol.value_valid and float(info.objective_function_value) < best_obj:
        best_x = _finite(np.asarray(msol.col_value, dtype=float))
        best_obj = float(info.objective_function_value)
    if math.isfinite(info.mip_dual_bound):
        bound = max(bound, float(info.mip_dual_bound))
    if st == _OK:
        return Solved(best_x, "Optimal", bound, "model", False)
    if st in _LIMITS:
        return Solved(best_x, "Time limit reached", bound, "model", True)
    raise SolverError("HiGHS found no MIP solution", status=m.modelStatusToString(st))


def _finite(x: np.ndarray) -> np.ndarray:
    if not np.isfinite(x).all():
        raise SolverError("HiGHS returned a non-finite solution", status="non-finite")
    return x

"""Solvency: SCR, MCR, required capital and the capital ratio, per pool and as a group.

* ``scr`` = the 99.5 % one-year VaR of the pool's loss **net of reinsurance**
  (empirical quantile: the smallest simulated loss with at least 99.5 % of
  scenarios at or below it), rounded up.
* ``mcr`` = ``mcr_share`` x active cover retained (after quota shares), rounded up.
* ``required`` = ``max(scr, mcr)``; ``ratio`` = ``available / required``.
* ``available`` = final balance + in-flight arrivals that are final; pending
  arrivals are reported (``pending``) but never counted.

The group view sums the pools' net losses scenario by scenario: its SCR is
below the sum of the pools' SCRs by the ``diversification_benefit``. It is
shown, never used: each pool must stand on its own because capital on another
chain cannot pay a claim here today.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reinsurance.errors import InvalidInput
from reinsurance.losses import LossSample
from reinsurance.money import check_amount, check_real, round_up
from reinsurance.treaties import Treaty, apply_treaties, retained_share


@dataclass(frozen=True, slots=True)
class SolvencyConfig:
    quantile: float = 0.995
    mcr_share: float = 0.25  # MCR floor as a share of retained active cover


@dataclass(frozen=True, slots=True)
class PoolCapital:
    """What a pool holds. ``arriving_final``/``arriving_pending``: in-flight
    transfers towards it, final or not on the destination chain."""

    pool_id: str
    capital: int
    active_cover: int
    arriving_final: int = 0
    arriving_pending: int = 0
    treaties: tuple[Treaty, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolSolvency:
    pool_id: str
    gross_var: int
    scr: int
    mcr: int
    required: int
    available: int
    pending: int
    ratio: float | None  # None when nothing is required
    expected_net_loss: int


@dataclass(frozen=True, slots=True)
class GroupSolvency:
    sum_scr: int
    group_scr: int
    diversification_benefit: int  # sum_scr - group_scr (>= 0 for VaR in practice, not by law)
    available: int
    required_sum: int
    ratio_standalone: float | None  # available / sum of pools' requirements


@dataclass(frozen=True, slots=True)
class SolvencyReport:
    pools: tuple[PoolSolvency, ...]
    group: GroupSolvency
    quantile: float = field(default=0.995)


def var(losses: np.ndarray, q: float, weights: np.ndarray | None = None) -> float:
    """Empirical VaR: the smallest loss ``x`` with estimated ``P(loss > x) <= 1 - q``.

    Unweighted, that is the ceil(q*n)-th smallest loss. With likelihood-ratio
    ``weights`` (importance sampling) the tail probability is estimated as
    ``sum(weights[loss > x]) / n``: the tail form, which only uses the weights
    of the scenarios beyond the quantile, where the sampler put them."""
    n = losses.shape[0]
    if weights is None:
        k = min(max(math.ceil(q * n) - 1, 0), n - 1)
        return float(np.partition(losses, k)[k])
    tail = (1.0 - q) * n * (1.0 + 1e-12)  # weight allowed strictly above the VaR
    m = min(n, max(256, 8 * math.ceil((1.0 - q) * n)))
    while True:  # sort only the top m scenarios, enough to hold the tail weight
        idx = np.arange(n) if m >= n else np.argpartition(losses, n - m)[n - m :]
        order = idx[np.argsort(losses[idx], kind="stable")[::-1]]
        above = np.cumsum(weights[order])  # weight of the k largest, k = 1..m
        k = int(np.searchsorted(above, tail, side="right"))  # how many fit in the tail
        if k < m:
            return float(losses[order[k]])
        if m >= n:
            return float(losses[order[-1]])
        m = min(n, 4 * m)


def weighted_mean(x: np.ndarray, weights: np.ndarray | None) -> float:
    """Mean of ``x`` under likelihood-ratio ``weights``: ``mean(x * w)`` with
    the weights' own mean (exactly 1 in expectation) as a control variate,
    which removes most of the noise tail-tuned weights add to a mean (sd of a
    1,000-risk pool's mean loss 0.6 % -> 0.2 % at 100k scenarios). The
    estimated coefficient leaves an O(1/n) bias."""
    if weights is None:
        return float(x.mean())
    y = x * weights
    dw = weights - weights.mean()
    var_w = float((dw * dw).sum())
    beta = float(((y - y.mean()) * dw).sum()) / var_w if var_w > 0 else 0.0
    return float(y.mean()) - beta * (float(weights.mean()) - 1.0)


def _check(pools: Sequence[PoolCapital], config: SolvencyConfig) -> None:
    check_real(config.quantile, "config.quantile", lo=0.5, hi=0.99999)
    check_real(config.mcr_share, "config.mcr_share", lo=0.0, hi=1.0)
    seen: set[str] = set()
    for i, p in enumerate(pools):
        f = f"pools[{i}]"
        if not p.pool_id or p.pool_id in seen:
            raise InvalidInput(f"{f}.pool_id", f"empty or duplicate pool id {p.pool_id!r}")
        seen.add(p.pool_id)
        check_amount(p.capital, f"{f}.capital")
        check_amount(p.active_cover, f"{f}.active_cover")
        check_amount(p.arriving_final, f"{f}.arriving_final")
        check_amount(p.arriving_pending, f"{f}.arriving_pending")


def assess(
    sample: LossSample,
    pools: Sequence[PoolCapital],
    config: SolvencyConfig | None = None,
) -> SolvencyReport:
    """Every pool's requirement and ratio from one loss sample, plus the group view.

    A pool with no simulated risk has zero SCR (only its MCR)."""
    cfg = config or SolvencyConfig()
    _check(pools, cfg)
    total = np.zeros(sample.n_scenarios)  # group net loss, accumulated pool by pool
    weighted = sample.importance is not None
    out: list[PoolSolvency] = []
    for p in pools:
        w: np.ndarray | None = None
        if p.pool_id in sample.pool_ids:
            nl = apply_treaties(sample, p.pool_id, p.treaties)
            net, gross = nl.net, nl.gross
            # treaties act scenario by scenario: the pool's weights carry through
            w = sample.pool_weights(sample.pool_index(p.pool_id)) if weighted else None
        else:
            net = gross = np.zeros(sample.n_scenarios)
        total += net
        mean_net = weighted_mean(net, w)
        scr = round_up(max(var(net, cfg.quantile, w), 0.0), f"pools[{p.pool_id}].scr")
        mcr = math.ceil(p.active_cover * cfg.mcr_share * retained_share(p.treaties) - 1e-9)
        mcr = max(mcr, 0)
        required = max(scr, mcr)
        available = p.capital + p.arriving_final
        out.append(
            PoolSolvency(
                pool_id=p.pool_id,
                gross_var=round_up(max(var(gross, cfg.quantile, w), 0.0)),
                scr=scr,
                mcr=mcr,
                required=required,
                available=available,
                pending=p.arriving_pending,
                ratio=None if required == 0 else available / required,
                expected_net_loss=round_up(max(mean_net, 0.0)),
            )
        )
    group_w = sample.weights if weighted else None  # all pools: the full ratio
    group_scr = round_up(max(var(total, cfg.quantile, group_w), 0.0))
    sum_scr = sum(p.scr for p in out)
    available = sum(p.available for p in out)
    req_sum = sum(p.required for p in out)
    return SolvencyReport(
        pools=tuple(out),
        group=GroupSolvency(
            sum_scr=sum_scr,
            group_scr=group_scr,
            diversification_benefit=sum_scr - group_scr,
            available=available,
            required_sum=req_sum,
            ratio_standalone=None if req_sum == 0 else available / req_sum,
        ),
        quantile=cfg.quantile,
    )

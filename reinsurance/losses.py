"""Risk and loss model: correlated annual incidents per protocol deployment.

A :class:`Risk` is a covered protocol deployment (protocol x chain) backing one
pool, with an annual incident probability and a Beta severity (fraction of the
exposure lost). At most one incident per risk per year.

Correlation is a Bernoulli mixture of three independent incident sources
(common-shock model), chosen because it keeps each risk's marginal probability
exactly and simulates sparsely (cost ~ number of incidents, not risks x
scenarios):

* a **protocol shock** per protocol, probability ``protocol_weight * min p`` over
  its deployments, hitting every deployment of that protocol (same code, same
  bug, on every chain);
* a **market shock** with probability ``market_probability``, hitting each risk
  independently with probability ``market_weight * p / market_probability``;
* an **idiosyncratic** incident whose probability is solved so that the
  marginal probability of "at least one source fires" is exactly ``p``.

``protocol_weight = market_weight = 0`` is the independent case, for which
:func:`exact_aggregate` computes the aggregate distribution by FFT on a grid.
Simulation is seeded (``numpy`` PCG64) and reproducible. Incidents are kept
sparse (memory ~ number of incidents); per-pool loss vectors are built one at a
time on demand, and the dense market-shock draw is done in chunks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reinsurance.errors import InvalidInput
from reinsurance.money import check_amount, check_probability, check_real


@dataclass(frozen=True, slots=True)
class Risk:
    """One covered deployment. ``exposure``: active cover on it (base units)."""

    risk_id: str
    protocol: str
    chain: str
    pool_id: str
    exposure: int
    probability: float
    severity_alpha: float = 2.0
    severity_beta: float = 5.0

    @property
    def severity_mean(self) -> float:
        return self.severity_alpha / (self.severity_alpha + self.severity_beta)


@dataclass(frozen=True, slots=True)
class Correlation:
    """Share of each risk's probability coming from common shocks (see module doc)."""

    protocol_weight: float = 0.0
    market_weight: float = 0.0
    market_probability: float = 0.02

    @property
    def independent(self) -> bool:
        return self.protocol_weight == 0.0 and self.market_weight == 0.0


@dataclass(frozen=True, slots=True)
class LossSample:
    """Simulated one-year incidents, stored sparsely (memory ~ incidents, not
    scenarios x pools).

    ``event_*``: every incident (scenario, pool index, loss), sorted by pool
    then scenario; ``pool_start[j]:pool_start[j+1]`` are pool ``j``'s. Per-pool
    annual losses are built on demand (:meth:`pool_losses`, one ``n_scenarios``
    vector at a time); :attr:`losses` materialises them all (small cases)."""

    pool_ids: tuple[str, ...]
    event_scenario: np.ndarray
    event_pool: np.ndarray
    event_loss: np.ndarray
    pool_start: np.ndarray
    n_scenarios: int
    seed: int

    def pool_index(self, pool_id: str) -> int:
        try:
            return self.pool_ids.index(pool_id)
        except ValueError:
            raise InvalidInput("pool_id", f"unknown pool {pool_id!r}") from None

    def pool_events(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(scenario, loss) of every incident of pool ``j``."""
        a, b = int(self.pool_start[j]), int(self.pool_start[j + 1])
        return self.event_scenario[a:b], self.event_loss[a:b]

    def pool_losses(self, j: int) -> np.ndarray:
        """Annual aggregate loss of pool ``j`` in every scenario."""
        scen, loss = self.pool_events(j)
        return np.bincount(scen, weights=loss, minlength=self.n_scenarios)

    @property
    def losses(self) -> np.ndarray:
        """``losses[s, j]``: pool ``j``'s annual loss in scenario ``s`` (dense)."""
        flat = self.event_scenario * len(self.pool_ids) + self.event_pool
        size = self.n_scenarios * len(self.pool_ids)
        out = np.bincount(flat, weights=self.event_loss, minlength=size)
        return out.reshape(self.n_scenarios, len(self.pool_ids))


def validate_risks(risks: Sequence[Risk], corr: Correlation) -> None:
    ids: set[str] = set()
    for i, r in enumerate(risks):
        f = f"risks[{i}]"
        if not r.risk_id or r.risk_id in ids:
            raise InvalidInput(f"{f}.risk_id", f"empty or duplicate risk id {r.risk_id!r}")
        ids.add(r.risk_id)
        for name in ("protocol", "chain", "pool_id"):
            if not getattr(r, name):
                raise InvalidInput(f"{f}.{name}", "must be non-empty")
        check_amount(r.exposure, f"{f}.exposure")
        check_probability(r.probability, f"{f}.probability")
        check_real(r.severity_alpha, f"{f}.severity_alpha", lo=1e-3, hi=1e6)
        check_real(r.severity_beta, f"{f}.severity_beta", lo=1e-3, hi=1e6)
        if r.severity_alpha <= 0 or r.severity_beta <= 0:
            raise InvalidInput(f"{f}.severity_alpha", "Beta parameters must be > 0")
    check_probability(corr.protocol_weight, "correlation.protocol_weight")
    check_probability(corr.market_weight, "correlation.market_weight")
    check_real(corr.market_probability, "correlation.market_probability", lo=1e-9, hi=1.0)
    if corr.protocol_weight + corr.market_weight > 1.0:
        raise InvalidInput("correlation.market_weight", "protocol_weight + market_weight > 1")
    if risks and corr.market_weight > 0:
        top = max(r.probability for r in risks) * corr.market_weight
        if top > corr.market_probability:
            raise InvalidInput(
                "correlation.market_probability",
                f"must be >= market_weight * max probability = {top}",
            )


def _bernoulli_indices(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    """Sorted indices in [0, n) each drawn independently with probability ``p``."""
    if p <= 0.0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    if p >= 1.0:
        return np.arange(n, dtype=np.int64)
    out: list[np.ndarray] = []
    start = -1
    while True:
        size = int(n * p + 6 * math.sqrt(n * p) + 16)
        pos = start + np.cumsum(rng.geometric(p, size=size), dtype=np.int64)
        if pos[-1] >= n:
            out.append(pos[pos < n])
            break
        out.append(pos)
        start = int(pos[-1])
    return np.concatenate(out)


_FINE = np.linspace(0.0, 1.0, (1 << 16) + 1)  # grid of the Beta CDF tables
_FINE.setflags(write=False)


@lru_cache(maxsize=64)
def _beta_table(a: float, b: float) -> np.ndarray:
    """CDF of Beta(a, b) on ``_FINE`` (read-only, cached: a few shapes recur)."""
    table = beta_cdf(_FINE, a, b)
    table.setflags(write=False)
    return table


def _many_bernoulli(
    rng: np.random.Generator, p: np.ndarray, n: int, stride: int, budget: int
) -> list[np.ndarray]:
    """``_bernoulli_indices`` for every row ``i`` of ``p`` at once, as keys
    ``index * stride + i``: geometric gaps for a block of rows in one matrix
    (at most ``budget * 64`` cells per block), rows whose gaps fell short of
    ``n`` completed one by one (rare), frequent rows by a dense draw."""
    out: list[np.ndarray] = []
    rows = np.flatnonzero((p > 0) & (p <= 0.2))
    for i in np.flatnonzero(p > 0.2):
        out.append(np.flatnonzero(rng.random(n) < p[i]).astype(np.int64) * stride + i)
    if rows.size == 0:
        return out
    width = int(n * p[rows].max() + 6 * math.sqrt(n * p[rows].max()) + 16)
    per_block = max(1, (budget * 64) // width)
    for b0 in range(0, rows.size, per_block):
        blk = rows[b0 : b0 + per_block]
        gaps = rng.geometric(p[blk][:, None], size=(blk.size, width))
        pos = np.cumsum(gaps, axis=1, dtype=np.int64) - 1
        r_i, c_i = np.nonzero(pos < n)
        out.append(pos[r_i, c_i] * stride + blk[r_i])
        for j in np.flatnonzero(pos[:, -1] < n):  # ran out of gaps: continue that row
            start = int(pos[j, -1])
            more = _bernoulli_indices(rng, float(p[blk[j]]), n - start - 1) + start + 1
            out.append(more * stride + blk[j])
    return out


def simulate(
    risks: Sequence[Risk],
    n_scenarios: int,
    *,
    seed: int,
    correlation: Correlation | None = None,
    chunk: int = 20_000,
) -> LossSample:
    """Seeded one-year loss scenarios for every pool the risks back."""
    corr = correlation or Correlation()
    validate_risks(risks, corr)
    if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, int) or n_scenarios < 1:
        raise InvalidInput("n_scenarios", "must be an int >= 1")
    if not isinstance(chunk, int) or chunk < 1:
        raise InvalidInput("chunk", "must be an int >= 1")
    rng = np.random.default_rng(seed)
    pool_ids = tuple(sorted({r.pool_id for r in risks}))
    pix = {p: k for k, p in enumerate(pool_ids)}
    n_r = len(risks)
    p = np.array([r.probability for r in risks], dtype=float)
    protocols = sorted({r.protocol for r in risks})
    prot_of = np.array([protocols.index(r.protocol) for r in risks], dtype=np.int64)
    q_prot = np.zeros(len(protocols))
    for k in range(len(protocols)):
        q_prot[k] = corr.protocol_weight * p[prot_of == k].min()
    h_mkt = corr.market_weight * p / corr.market_probability
    q_mkt = corr.market_probability if corr.market_weight > 0 else 0.0
    denom = (1.0 - q_prot[prot_of]) * (1.0 - q_mkt * h_mkt)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_idio = np.where(denom > 0, 1.0 - (1.0 - p) / np.where(denom > 0, denom, 1.0), 0.0)
    p_idio = np.clip(p_idio, 0.0, 1.0)

    keys: list[np.ndarray] = _many_bernoulli(rng, p_idio, n_scenarios, n_r, chunk)
    for k in range(len(protocols)):
        shocks = _bernoulli_indices(rng, float(q_prot[k]), n_scenarios)
        if shocks.size:
            members = np.flatnonzero(prot_of == k)
            keys.append((shocks[:, None] * n_r + members[None, :]).ravel())
    if q_mkt > 0:
        shocks = _bernoulli_indices(rng, q_mkt, n_scenarios)
        for c0 in range(0, shocks.size, chunk):  # bounded dense draw per chunk of shocks
            rows = shocks[c0 : c0 + chunk]
            hit = rng.random((rows.size, n_r)) < h_mkt[None, :]
            s_i, r_i = np.nonzero(hit)
            keys.append(rows[s_i] * n_r + r_i)
    key = np.sort(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    if key.size:
        key = key[np.concatenate(([True], key[1:] != key[:-1]))]  # one incident per risk-year
    scen = key // n_r
    risk = key % n_r
    alpha = np.array([r.severity_alpha for r in risks], dtype=float)
    beta = np.array([r.severity_beta for r in risks], dtype=float)
    expo = np.array([r.exposure for r in risks], dtype=float)
    sev = rng.beta(alpha[risk], beta[risk]) if key.size else np.zeros(0)
    loss = sev * expo[risk]
    pool_of_risk = np.array([pix[r.pool_id] for r in risks], dtype=np.int64)
    ev_pool = pool_of_risk[risk] if key.size else np.zeros(0, dtype=np.int64)
    n_p = len(pool_ids)
    # events were by scenario: now by pool, then scenario (a stable sort on
    # 16-bit keys is a linear-time radix sort in numpy)
    keys16 = ev_pool.astype(np.uint16) if n_p <= 0xFFFF else ev_pool
    order = np.argsort(keys16, kind="stable")
    ev_pool, scen, loss = ev_pool[order], scen[order], loss[order]
    pool_start = np.searchsorted(ev_pool, np.arange(n_p + 1))
    return LossSample(
        pool_ids=pool_ids,
        event_scenario=scen,
        event_pool=ev_pool,
        event_loss=loss,
        pool_start=pool_start,
        n_scenarios=n_scenarios,
        seed=seed,
    )


def _betacf(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """Continued fraction of the incomplete beta (modified Lentz), vectorised."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = d * c
        h *= delta
        if np.all(np.abs(delta - 1.0) < 1e-14):
            break
    return h


def beta_cdf(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """Regularised incomplete beta I_x(a, b) (numpy has none and we take no scipy)."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    out = np.where(x >= 1.0, 1.0, 0.0)
    inner = (x > 0.0) & (x < 1.0)
    xi = x[inner]
    if xi.size:
        lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        front = np.exp(lbeta + a * np.log(xi) + b * np.log1p(-xi))
        lower = xi < (a + 1.0) / (a + b + 2.0)
        res = np.empty_like(xi)
        if lower.any():
            res[lower] = front[lower] * _betacf(a, b, xi[lower]) / a
        if (~lower).any():
            up = ~lower
            res[up] = 1.0 - front[up] * _betacf(b, a, 1.0 - xi[up]) / b
        out[inner] = res
    return out


@dataclass(frozen=True, slots=True)
class AggregateDistribution:
    """Aggregate loss on a grid: ``pmf[k]`` is P(loss ~ k * step)."""

    step: float
    pmf: np.ndarray

    def quantile(self, q: float) -> float:
        """Smallest grid loss whose CDF reaches ``q``."""
        cdf = np.cumsum(self.pmf)
        return float(np.searchsorted(cdf, q - 1e-12) * self.step)

    def mean(self) -> float:
        return float(np.dot(np.arange(self.pmf.size), self.pmf) * self.step)


def exact_aggregate(risks: Sequence[Risk], *, grid: int = 1 << 15) -> AggregateDistribution:
    """Aggregate loss of independent risks by FFT on ``grid`` cells.

    Each risk's loss is discretised to the nearest grid point (severity masses
    from the exact Beta CDF); convolution is the product of the transforms,
    padded so nothing wraps around."""
    validate_risks(risks, Correlation())
    if not risks:
        return AggregateDistribution(1.0, np.ones(1))
    # the grid spans the largest single loss plus mean + 12 sd of the total,
    # not the total exposure: far finer cells, and what wraps around is a
    # negligible tail mass
    p = np.array([r.probability for r in risks])
    e = np.array([float(r.exposure) for r in risks])
    a = np.array([r.severity_alpha for r in risks])
    b = np.array([r.severity_beta for r in risks])
    m = a / (a + b)
    v = a * b / ((a + b) ** 2 * (a + b + 1.0))
    mean = float(np.sum(p * e * m))
    var = float(np.sum(p * e**2 * (m**2 + v) - (p * e * m) ** 2))
    span = min(float(e.sum()), float(e.max()) + mean + 12.0 * math.sqrt(var))
    step = max(span / grid, 1e-12)
    n = 1 << math.ceil(math.log2(grid + 2))
    # one fine CDF table per distinct Beta, interpolated per risk
    prod = np.ones(n // 2 + 1, dtype=complex)
    for r in risks:
        cells = min(math.floor(r.exposure / step + 0.5), n - 1)
        edges = (np.arange(cells + 1) + 0.5) * step / max(r.exposure, 1)
        table = _beta_table(r.severity_alpha, r.severity_beta)
        cdf = np.interp(np.minimum(edges, 1.0), _FINE, table)
        sev = np.diff(np.concatenate(([0.0], cdf)))
        sev[-1] += 1.0 - cdf[-1]
        pmf = np.zeros(n)
        pmf[: cells + 1] = r.probability * sev
        pmf[0] += 1.0 - r.probability
        prod *= np.fft.rfft(pmf)
    agg = np.fft.irfft(prod, n)
    agg = np.clip(agg, 0.0, None)
    return AggregateDistribution(step, agg / agg.sum())

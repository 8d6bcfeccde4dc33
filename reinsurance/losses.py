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

**Importance sampling** (``simulate(importance=0.995)``, the default): plain
Monte Carlo at 100k scenarios leaves ~0.4 % noise on a 99.5 % quantile, since
only 500 scenarios land in the tail. Every source above is instead drawn with
an exponentially tilted probability (frequencies only; severities are not
tilted), the tilt chosen by a saddlepoint estimate so that the total loss's
tilted mean sits near the target quantile, and every scenario carries its
exact likelihood ratio. The market shock is tilted at most to
``20 * (1 - quantile)``: it is drawn densely and reaches every pool, so a full
tilt makes every pool's weights noisy and the draw slow. Scenarios are then
not equally likely and every estimate must weigh them:
:attr:`LossSample.weights` (full ratio: for anything mixing pools) or
:meth:`LossSample.pool_weights` (only the draws that reach the pool: unbiased
for anything computed from that pool alone, and much less noisy). Unweighted
statistics of ``losses``/``pool_losses`` are then biased towards the tail.
Means get noisier than plain (the weights are tuned for the tail), and the tilt
is chosen for the total of all pools, so a pool that is a small share of it
gains less. ``importance=None`` is plain Monte Carlo (weights all ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

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
class ImportanceWeights:
    """Likelihood ratios of an importance-sampled :class:`LossSample`.

    ``theta``: the exponential tilt used (in units of 1 / ``scale``, the sd of
    the total loss). ``log_weight``: log of the full likelihood ratio per
    scenario. Per pool ``j``, log ratio of only the draws its loss depends on
    = ``pool_base[j]`` + ``event_delta`` summed over its incidents (aligned
    with ``LossSample.event_*``: the idiosyncratic and market-hit draws behind
    each) + ``shock_delta`` over its protocol-shock entries
    (``shock_start[j]:shock_start[j+1]``, in scenarios ``shock_scenario``) +
    ``pool_market[j]`` in every scenario of ``market_scenario``."""

    theta: float
    scale: float
    log_weight: np.ndarray
    pool_base: np.ndarray
    event_delta: np.ndarray
    shock_scenario: np.ndarray
    shock_delta: np.ndarray
    shock_start: np.ndarray
    pool_market: np.ndarray
    market_scenario: np.ndarray


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
    importance: ImportanceWeights | None = None

    @property
    def weights(self) -> np.ndarray:
        """Likelihood ratio of every scenario (all pools together); ones for
        plain Monte Carlo. Estimate ``E[f]`` as ``mean(f * weights)``."""
        if self.importance is None:
            return np.ones(self.n_scenarios)
        return np.exp(self.importance.log_weight)

    def pool_weights(self, j: int) -> np.ndarray:
        """Likelihood ratio of the draws pool ``j``'s loss depends on (its risks'
        incidents, the shocks that reach it): unbiased for anything computed
        from that pool alone, and far less noisy than :attr:`weights`, whose
        other factors (other pools' draws) only add variance."""
        imp = self.importance
        if imp is None:
            return np.ones(self.n_scenarios)
        a, b = int(self.pool_start[j]), int(self.pool_start[j + 1])
        n = self.n_scenarios
        # (bincount of nothing is an int array: hence the float conversion)
        logw = np.bincount(self.event_scenario[a:b], weights=imp.event_delta[a:b], minlength=n)
        logw = logw.astype(float)
        a, b = int(imp.shock_start[j]), int(imp.shock_start[j + 1])
        if b > a:
            logw += np.bincount(imp.shock_scenario[a:b], weights=imp.shock_delta[a:b], minlength=n)
        logw += imp.pool_base[j]
        if imp.market_scenario.size:
            logw[imp.market_scenario] += imp.pool_market[j]
        return np.exp(logw)

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
    rng: np.random.Generator, p: np.ndarray, n: int, stride: int, budget: int, offset: np.ndarray
) -> list[np.ndarray]:
    """``_bernoulli_indices`` for every row ``i`` of ``p`` at once, as keys
    ``index * stride + i + offset[i]``: geometric gaps for a block of rows in one matrix
    (at most ``budget * 64`` cells per block), rows whose gaps fell short of
    ``n`` completed one by one (rare), frequent rows by a dense draw."""
    out: list[np.ndarray] = []
    rows = np.flatnonzero((p > 0) & (p <= 0.2))
    for i in np.flatnonzero(p > 0.2):
        out.append(np.flatnonzero(rng.random(n) < p[i]).astype(np.int64) * stride + i + offset[i])
    if rows.size == 0:
        return out
    # rows by rising probability, each with a width of gaps that fits it,
    # rounded up to a power of 1.25 so rows share widths: a block holds rows
    # of one width, and the stream each row consumes does not depend on the
    # block size (same result whatever ``budget``)
    rows = rows[np.argsort(p[rows], kind="stable")]
    need = n * p[rows] + 6 * np.sqrt(n * p[rows]) + 16
    width_of = (16 * 1.25 ** np.ceil(np.log(need / 16) / math.log(1.25))).astype(np.int64)
    b0 = 0
    while b0 < rows.size:
        width = int(width_of[b0])
        same = int(np.searchsorted(width_of, width, side="right")) - b0
        take = min(same, max(1, (budget * 64) // width))
        blk = rows[b0 : b0 + take]
        b0 += take
        gaps = rng.geometric(p[blk][:, None], size=(blk.size, width))
        pos = np.cumsum(gaps, axis=1, dtype=np.int64) - 1
        r_i, c_i = np.nonzero(pos < n)
        row = blk[r_i]
        out.append(pos[r_i, c_i] * stride + row + offset[row])
        for j in np.flatnonzero(pos[:, -1] < n):  # ran out of gaps: continue that row
            start = int(pos[j, -1])
            more = _bernoulli_indices(rng, float(p[blk[j]]), n - start - 1) + start + 1
            out.append(more * stride + blk[j] + offset[blk[j]])
    return out


_SEV_CELLS = 48  # severity grid of the tilt's moment generating functions


def _tilted(p: np.ndarray, log_mgf: np.ndarray) -> np.ndarray:
    """``p * M / (1 - p + p * M)`` computed in logs; 0 and 1 stay put, and
    nothing below 1 is tilted above ``max(p, 0.999)`` (the weight of a miss
    stays finite)."""
    with np.errstate(divide="ignore", over="ignore"):
        logit = np.log(p) - np.log1p(-p) + log_mgf
        t = 1.0 / (1.0 + np.exp(-logit))
    t = np.where(p <= 0.0, 0.0, np.where(p >= 1.0, 1.0, t))
    return np.where(p < 1.0, np.minimum(t, np.maximum(p, 0.999)), t)


def _log_mix(p: np.ndarray, log_mgf: np.ndarray) -> np.ndarray:
    """``log(1 - p + p * exp(log_mgf))`` (cumulant of a Bernoulli-gated loss)."""
    with np.errstate(divide="ignore"):
        return np.logaddexp(np.log1p(-p), np.log(p) + log_mgf)


def _likelihood(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log likelihood ratio of a Bernoulli(p) drawn as Bernoulli(t): ``miss``
    if it did not fire, ``miss + delta`` if it did."""
    with np.errstate(divide="ignore", invalid="ignore"):
        miss = np.where(p < 1.0, np.log1p(-p) - np.log1p(-np.minimum(t, 1.0 - 1e-300)), 0.0)
        hit = np.where(p > 0.0, np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(t, 1e-300)), 0.0)
    return miss, hit - miss


@dataclass(frozen=True, slots=True)
class _Model:
    """The common-shock model's Bernoulli sources, plus what tilting needs."""

    p_idio: np.ndarray
    q_prot: np.ndarray
    prot_of: np.ndarray
    q_mkt: float
    h_mkt: np.ndarray
    scaled: np.ndarray  # exposure / scale
    log_mass: np.ndarray  # (risks, cells): log severity mass per grid cell
    cells: np.ndarray  # cell midpoints (severity fraction)

    def tilt(self, theta: float) -> tuple[float, float, np.ndarray, np.ndarray, float, np.ndarray]:
        """Cumulant K(theta), its slope (the tilted mean, in scale units) and
        the exponentially tilted source probabilities (idio, protocol, market,
        market hit). Severities stay untilted; the overlap of sources is
        ignored (the tilt need only be close: the weights are exact)."""
        x = theta * self.scaled[:, None] * self.cells[None, :] + self.log_mass
        top = x.max(axis=1)
        e = np.exp(x - top[:, None])
        tot = e.sum(axis=1)
        lm = top + np.log(tot)  # log E[exp(theta * loss)] per risk given an incident
        mu = (e * self.cells[None, :]).sum(axis=1) / tot * self.scaled  # tilted mean severity
        n_prot = self.q_prot.size
        p_t = _tilted(self.p_idio, lm)
        k = float(_log_mix(self.p_idio, lm).sum())
        dk = float(np.dot(p_t, mu))
        lm_prot = np.bincount(self.prot_of, weights=lm, minlength=n_prot)
        mu_prot = np.bincount(self.prot_of, weights=mu, minlength=n_prot)
        q_t = _tilted(self.q_prot, lm_prot)
        k += float(_log_mix(self.q_prot, lm_prot).sum())
        dk += float(np.dot(q_t, mu_prot))
        h_t = _tilted(self.h_mkt, lm)
        m_t = 0.0
        if self.q_mkt > 0:
            a = np.array([float(_log_mix(self.h_mkt, lm).sum())])
            q = np.array([self.q_mkt])
            m_t = float(_tilted(q, a)[0])
            k += float(_log_mix(q, a)[0])
            dk += m_t * float(np.dot(h_t, mu))
        return k, dk, p_t, q_t, m_t, h_t


def _choose_theta(model: _Model, quantile: float) -> float:
    """The tilt whose saddlepoint tail estimate (Daniels) of ``P(loss > K'(theta))``
    is ``1 - quantile``: the tilted mean then sits near the target quantile,
    where the sample is most needed. Geometric bisection, 16 steps (theta to
    ~0.1 %: the tilt need only be close, the weights are exact either way)."""

    def excess(theta: float) -> float:
        k, dk, *_ = model.tilt(theta)
        _, dk2, *_ = model.tilt(theta * 1.001)
        curv = max((dk2 - dk) / (theta * 0.001), 1e-12)
        if k > 500.0:  # weights would overflow: treat as too far
            return -math.inf
        tail = k - theta * dk - math.log(theta * math.sqrt(2.0 * math.pi * curv))
        return tail - math.log1p(-quantile)

    lo, hi = 1e-3, 50.0
    if excess(hi) >= 0.0:
        return hi
    if excess(lo) <= 0.0:
        return lo
    for _ in range(16):
        mid = math.sqrt(lo * hi)
        if excess(mid) > 0.0:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def simulate(
    risks: Sequence[Risk],
    n_scenarios: int,
    *,
    seed: int,
    correlation: Correlation | None = None,
    chunk: int = 20_000,
    importance: float | None = 0.995,
) -> LossSample:
    """Seeded one-year loss scenarios for every pool the risks back.

    ``importance``: the quantile the sampler concentrates on (importance
    sampling: every incident source is drawn with an exponentially tilted
    probability so that the total loss's tilted mean sits near that quantile,
    and each scenario carries its exact likelihood ratio in
    ``sample.importance``); ``None`` is plain Monte Carlo (uniform weights).
    Estimates must then weigh scenarios (:attr:`LossSample.weights`,
    :meth:`LossSample.pool_weights`), as ``assess`` does."""
    corr = correlation or Correlation()
    validate_risks(risks, corr)
    if isinstance(n_scenarios, bool) or not isinstance(n_scenarios, int) or n_scenarios < 1:
        raise InvalidInput("n_scenarios", "must be an int >= 1")
    if not isinstance(chunk, int) or chunk < 1:
        raise InvalidInput("chunk", "must be an int >= 1")
    if importance is not None:
        if isinstance(importance, bool):
            raise InvalidInput("importance", "must be a quantile in [0.5, 0.99999] or None")
        check_real(importance, "importance", lo=0.5, hi=0.99999)
    rng = np.random.default_rng(seed)
    pool_ids = tuple(sorted({r.pool_id for r in risks}))
    if 4 * max(len(pool_ids), 1) * n_scenarios * max(len(risks), 1) >= 1 << 62:
        raise InvalidInput("n_scenarios", "pools x scenarios x risks too large for one sample")
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
    alpha = np.array([r.severity_alpha for r in risks], dtype=float)
    beta = np.array([r.severity_beta for r in risks], dtype=float)
    expo = np.array([r.exposure for r in risks], dtype=float)
    pool_of_risk = np.array([pix[r.pool_id] for r in risks], dtype=np.int64)

    # sampling probabilities: the model's, or tilted towards the tail
    s_idio, s_prot, s_mkt, s_hit = p_idio, q_prot, q_mkt, h_mkt
    theta = scale = 0.0
    if importance is not None and n_r:
        m = alpha / (alpha + beta)
        second = m * (alpha + 1.0) / (alpha + beta + 1.0)
        scale = math.sqrt(float(np.sum(p * expo**2 * second - (p * expo * m) ** 2)))
    if scale > 0.0:
        cells = (np.arange(_SEV_CELLS) + 0.5) / _SEV_CELLS
        log_pdf = (alpha[:, None] - 1.0) * np.log(cells) + (beta[:, None] - 1.0) * np.log1p(-cells)
        top = log_pdf.max(axis=1, keepdims=True)
        log_mass = log_pdf - top - np.log(np.exp(log_pdf - top).sum(axis=1, keepdims=True))
        model = _Model(p_idio, q_prot, prot_of, q_mkt, h_mkt, expo / scale, log_mass, cells)
        theta = _choose_theta(model, float(importance))  # type: ignore[arg-type]
        _, _, s_idio, s_prot, s_mkt, s_hit = model.tilt(theta)
        # the market shock is drawn densely (risks x shocks) and reaches every
        # pool: tilting it all the way makes each pool's weights noisy and the
        # draw slow, so it is tilted at most to 20 x the tail probability
        s_mkt = min(s_mkt, max(q_mkt, 20.0 * (1.0 - float(importance))))  # type: ignore[arg-type]

    # keys (pool, scenario, risk) in one int: sorted, they are pool-major, so
    # the incidents come out grouped by pool with no gather afterwards
    cell = n_scenarios * n_r
    offset = pool_of_risk * cell
    idio = _many_bernoulli(rng, s_idio, n_scenarios, n_r, chunk, offset)
    # with weights, keys are tagged by source (key * 4 + tag) so each
    # incident knows which of its draws fired: 0 idiosyncratic, 1 market hit,
    # 2 protocol shock
    # (independent risks have one source: every incident is an idio draw)
    tagged = scale > 0.0 and (corr.protocol_weight > 0 or q_mkt > 0)
    keys: list[np.ndarray] = [k * 4 for k in idio] if tagged else list(idio)
    prot_shocks: list[np.ndarray] = []
    for k in range(len(protocols)):
        shocks = _bernoulli_indices(rng, float(s_prot[k]), n_scenarios)
        prot_shocks.append(shocks)
        if shocks.size:
            members = np.flatnonzero(prot_of == k)
            both = (shocks[:, None] * n_r + (members + offset[members])[None, :]).ravel()
            keys.append(both * 4 + 2 if tagged else both)
    mkt_shocks = np.zeros(0, dtype=np.int64)
    hits: list[np.ndarray] = []
    if q_mkt > 0:
        mkt_shocks = _bernoulli_indices(rng, s_mkt, n_scenarios)
        for c0 in range(0, mkt_shocks.size, chunk):  # bounded dense draw per chunk of shocks
            rows = mkt_shocks[c0 : c0 + chunk]
            hit = rng.random((rows.size, n_r)) < s_hit[None, :]
            s_i, r_i = np.nonzero(hit)
            hits.append(rows[s_i] * n_r + r_i + offset[r_i])
        keys.extend([k * 4 + 1 for k in hits] if tagged else hits)
    key = np.sort(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    tag = np.zeros(0, dtype=np.int64)
    if tagged:
        key, tag = key >> 2, key & 3
    if key.size:
        first = np.concatenate(([True], key[1:] != key[:-1]))  # one incident per risk-year
        if tagged:
            group = np.cumsum(first) - 1
            by_idio = tag[first] == 0  # tags sort within a key: an idio draw comes first
            by_hit = np.bincount(group, weights=tag == 1, minlength=int(first.sum())) > 0
        key = key[first]
    ev_pool, rest = np.divmod(key, cell)
    scen, risk = np.divmod(rest, n_r)
    sev = rng.beta(alpha[risk], beta[risk]) if key.size else np.zeros(0)
    loss = sev * expo[risk]
    n_p = len(pool_ids)
    pool_start = np.searchsorted(ev_pool, np.arange(n_p + 1))
    weights = None
    if scale > 0.0:
        miss_i, d_i = _likelihood(p_idio, s_idio)
        miss_h, d_h = _likelihood(h_mkt, s_hit)
        delta = np.zeros(0)
        if key.size and tagged:
            delta = np.where(by_idio, d_i[risk], 0.0) + np.where(by_hit, d_h[risk], 0.0)
        elif key.size:
            delta = d_i[risk]
        parts = _weights(
            (p_idio, q_prot, q_mkt, h_mkt, s_idio, s_prot, s_mkt, s_hit),
            (prot_shocks, mkt_shocks),
            (scen, delta, miss_i, miss_h),
            prot_of,
            pool_of_risk,
            n_p,
            n_scenarios,
        )
        weights = ImportanceWeights(theta, scale, *parts)
    return LossSample(
        pool_ids=pool_ids,
        event_scenario=scen,
        event_pool=ev_pool,
        event_loss=loss,
        pool_start=pool_start,
        n_scenarios=n_scenarios,
        seed=seed,
        importance=weights,
    )


def _by_pool(pool: np.ndarray, n_p: int) -> np.ndarray:
    """Stable order by pool (on 16-bit keys numpy's stable sort is a radix sort)."""
    keys16 = pool.astype(np.uint16) if n_p <= 0xFFFF else pool
    return np.argsort(keys16, kind="stable")


def _weights(
    sources: tuple[Any, ...],
    draws: tuple[Any, ...],
    events: tuple[np.ndarray, ...],
    prot_of: np.ndarray,
    pool_of_risk: np.ndarray,
    n_p: int,
    n: int,
) -> tuple[Any, ...]:
    """Exact log likelihood ratios of the tilted draws: per scenario for all
    sources, and per pool for the sources that reach it. Idiosyncratic and
    market-hit draws that fired are carried by the incidents (``events``:
    scenario and log-ratio delta per incident, plus each risk's log ratio of a
    miss); protocol shocks become sparse per-pool entries."""
    _, q_prot, q_mkt, _, _, s_prot, s_mkt, _ = sources
    prot_shocks, mkt_shocks = draws
    scen, delta, miss_i, miss_h = events
    miss_k, d_k = _likelihood(q_prot, s_prot)
    log_w: np.ndarray = np.bincount(scen, weights=delta, minlength=n).astype(float)
    base = np.bincount(pool_of_risk, weights=miss_i, minlength=n_p)
    total = float(miss_i.sum() + miss_k.sum())
    ent_s: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    ent_p: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    ent_d: list[np.ndarray] = [np.zeros(0)]
    for k, shocks in enumerate(prot_shocks):
        pools_k = np.unique(pool_of_risk[prot_of == k])
        base[pools_k] += miss_k[k]
        if shocks.size:
            log_w[shocks] += float(d_k[k])
            ent_s.append(np.repeat(shocks, pools_k.size))
            ent_p.append(np.tile(pools_k, shocks.size))
            ent_d.append(np.full(shocks.size * pools_k.size, d_k[k]))
    pool_market = np.zeros(n_p)
    if q_mkt > 0:
        miss_q, d_q = _likelihood(np.array([q_mkt]), np.array([s_mkt]))
        base += miss_q[0]
        total += float(miss_q[0])
        pool_market = d_q[0] + np.bincount(pool_of_risk, weights=miss_h, minlength=n_p)
        log_w[mkt_shocks] += d_q[0] + float(miss_h.sum())
    log_w += total
    e_p = np.concatenate(ent_p)
    order = _by_pool(e_p, n_p)
    e_s, e_d = np.concatenate(ent_s)[order], np.concatenate(ent_d)[order]
    start = np.searchsorted(e_p[order], np.arange(n_p + 1))
    return log_w, base, delta, e_s, e_d, start, pool_market, mkt_shocks


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

"""Pricing of a cover: pure premium + cost of locked capital + fees + utilisation surcharge.

The incident probability and severity come from the covered deployment's own
history (:func:`incident_probability`, :func:`incident_severity`):
credibility-weighted against the cover type's prior, so a young deployment
with no incidents is not priced as risk-free, and every incident raises the
price. With ``tau = horizon_days / 365``::

    p_h        = 1 - (1 - p) ** tau                       incident within the horizon
    tvl_factor = 1 + tvl_loading * tvl_ref / (tvl_ref + tvl)   young/small contracts cost more
    payable    = max(0, min(amount, per_event_max) * severity_mean - deductible)
    pure       = payable * p_h * tvl_factor
    locked     = amount * capital_factor                   capital the cover ties up
    capital    = locked * cost_of_capital * tau
    fees       = amount * fee_bps / 10_000 + fixed_fee
    u          = (pool_capital - pool_free + locked) / pool_capital   utilisation after binding
    surcharge  = (pure + capital) * slope * max(0, (u - kink) / (1 - kink)) ** 2
    premium    = pure + capital + fees + surcharge         (each part rounded up)

Monotone: the premium never decreases when ``amount``, ``horizon_days``,
``incident_probability``, ``severity_mean``, ``per_event_max`` or
``capital_factor`` grow, nor when ``tvl``, ``pool_free`` or ``deductible``
shrink, nor (through :func:`incident_probability` and
:func:`incident_severity`) when the incident count or severity grows
(property-tested). The deductible enters at the mean severity (an
approximation below the Beta's exact layer price, documented as such). A cover that would lock
more than the pool's free capital is refused with :class:`InsufficientCapacity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reinsurance.errors import InsufficientCapacity, InvalidInput
from reinsurance.money import check_amount, check_probability, check_real, round_up


@dataclass(frozen=True, slots=True)
class CoverRequest:
    amount: int  # cover limit, base units
    horizon_days: int
    incident_probability: float  # annual, historical frequency of the covered contract
    severity_mean: float  # expected share of the cover lost given an incident
    tvl: int  # total value locked in the covered contract, base units
    pool_capital: int  # the pool's capital
    pool_free: int  # the pool's capital not yet locked by covers
    deductible: int = 0  # taken off every loss
    per_event_max: int | None = None  # most paid per incident; None: the amount


@dataclass(frozen=True, slots=True)
class PricingConfig:
    capital_factor: float = 0.3
    cost_of_capital: float = 0.10
    fee_bps: float = 20.0
    fixed_fee: int = 0
    tvl_reference: int = 10_000_000_000_000  # 10M with 6 decimals
    tvl_loading: float = 0.5
    utilisation_kink: float = 0.8
    utilisation_slope: float = 1.0


@dataclass(frozen=True, slots=True)
class CoverQuote:
    premium: int
    pure_premium: int
    capital_cost: int
    fees: int
    surcharge: int
    locked_capital: int
    utilisation_after: float


def _check(req: CoverRequest, cfg: PricingConfig) -> None:
    check_amount(req.amount, "request.amount", allow_zero=False)
    if isinstance(req.horizon_days, bool) or not isinstance(req.horizon_days, int):
        raise InvalidInput("request.horizon_days", "must be an int")
    if not 1 <= req.horizon_days <= 3650:
        raise InvalidInput("request.horizon_days", "must be within 1..3650")
    check_probability(req.incident_probability, "request.incident_probability")
    check_probability(req.severity_mean, "request.severity_mean")
    check_amount(req.tvl, "request.tvl", allow_zero=False)
    check_amount(req.pool_capital, "request.pool_capital", allow_zero=False)
    check_amount(req.pool_free, "request.pool_free")
    if req.pool_free > req.pool_capital:
        raise InvalidInput("request.pool_free", "exceeds pool_capital")
    check_amount(req.deductible, "request.deductible")
    if req.per_event_max is not None:
        check_amount(req.per_event_max, "request.per_event_max", allow_zero=False)
    check_probability(cfg.capital_factor, "config.capital_factor")
    check_real(cfg.cost_of_capital, "config.cost_of_capital", lo=0.0, hi=10.0)
    check_real(cfg.fee_bps, "config.fee_bps", lo=0.0, hi=10_000.0)
    check_amount(cfg.fixed_fee, "config.fixed_fee")
    check_amount(cfg.tvl_reference, "config.tvl_reference", allow_zero=False)
    check_real(cfg.tvl_loading, "config.tvl_loading", lo=0.0, hi=100.0)
    check_real(cfg.utilisation_kink, "config.utilisation_kink", lo=0.0, hi=0.999)
    check_real(cfg.utilisation_slope, "config.utilisation_slope", lo=0.0, hi=1000.0)


def price_cover(req: CoverRequest, config: PricingConfig | None = None) -> CoverQuote:
    """Premium for one cover (formula in the module docstring)."""
    cfg = config or PricingConfig()
    _check(req, cfg)
    tau = req.horizon_days / 365.0
    p_h = (
        -math.expm1(tau * math.log1p(-req.incident_probability))
        if req.incident_probability < 1
        else 1.0
    )
    tvl_factor = 1.0 + cfg.tvl_loading * cfg.tvl_reference / (cfg.tvl_reference + req.tvl)
    per_event = req.amount if req.per_event_max is None else min(req.amount, req.per_event_max)
    payable = max(0.0, per_event * req.severity_mean - req.deductible)
    pure = payable * p_h * tvl_factor
    locked = round_up(req.amount * cfg.capital_factor)
    if locked > req.pool_free:
        raise InsufficientCapacity(
            f"cover locks {locked} but the pool has {req.pool_free} free",
            locked=locked,
            free=req.pool_free,
        )
    capital = locked * cfg.cost_of_capital * tau
    fees = req.amount * cfg.fee_bps / 10_000.0
    u = (req.pool_capital - req.pool_free + locked) / req.pool_capital
    over = max(0.0, (u - cfg.utilisation_kink) / (1.0 - cfg.utilisation_kink))
    surcharge = (pure + capital) * cfg.utilisation_slope * over * over
    parts = (round_up(pure), round_up(capital), round_up(fees) + cfg.fixed_fee, round_up(surcharge))
    return CoverQuote(
        premium=sum(parts),
        pure_premium=parts[0],
        capital_cost=parts[1],
        fees=parts[2],
        surcharge=parts[3],
        locked_capital=locked,
        utilisation_after=u,
    )


@dataclass(frozen=True, slots=True)
class Credibility:
    """How much a deployment's own history weighs against the cover type's prior:
    the prior counts as ``prior_years`` of observation at its probability and
    as ``prior_incidents`` incidents at its severity."""

    prior_years: float = 2.0
    prior_incidents: float = 2.0
    max_probability: float = 0.95


def incident_probability(
    count: int, window_days: int, prior: float, credibility: Credibility | None = None
) -> float:
    """Annual incident probability of a deployment with ``count`` incidents over
    ``window_days``: ``(count + prior * y0) / (window_years + y0)``, at most
    ``max_probability``. Non-decreasing in ``count`` and in ``prior``."""
    c = credibility or Credibility()
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidInput("count", "must be a non-negative int")
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise InvalidInput("window_days", "must be a positive int")
    check_probability(prior, "prior")
    years = window_days / 365.0
    p = (count + prior * c.prior_years) / (years + c.prior_years)
    return min(p, c.max_probability)


def incident_severity(
    count: int, severity: float, prior: float, credibility: Credibility | None = None
) -> float:
    """Mean share lost per incident: the history's mean severity blended with the
    prior by weight ``count : prior_incidents``, never below the prior (a mild
    history does not make a cover cheaper than its type). Non-decreasing in
    ``count`` and ``severity``."""
    c = credibility or Credibility()
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidInput("count", "must be a non-negative int")
    check_probability(severity, "severity")
    check_probability(prior, "prior")
    blended = (count * severity + c.prior_incidents * prior) / (count + c.prior_incidents)
    return max(prior, blended)

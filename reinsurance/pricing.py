"""Pricing of a cover: pure premium + cost of locked capital + fees + utilisation surcharge.

With ``tau = horizon_days / 365``::

    p_h        = 1 - (1 - p) ** tau                       incident within the horizon
    tvl_factor = 1 + tvl_loading * tvl_ref / (tvl_ref + tvl)   young/small contracts cost more
    pure       = amount * p_h * severity_mean * tvl_factor
    locked     = amount * capital_factor                   capital the cover ties up
    capital    = locked * cost_of_capital * tau
    fees       = amount * fee_bps / 10_000 + fixed_fee
    u          = (pool_capital - pool_free + locked) / pool_capital   utilisation after binding
    surcharge  = (pure + capital) * slope * max(0, (u - kink) / (1 - kink)) ** 2
    premium    = pure + capital + fees + surcharge         (each part rounded up)

Monotone: the premium never decreases when ``amount``, ``horizon_days``,
``incident_probability``, ``severity_mean`` or ``capital_factor`` grow, nor
when ``tvl`` or ``pool_free`` shrink (property-tested). A cover that would lock
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
    pure = req.amount * p_h * req.severity_mean * tvl_factor
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

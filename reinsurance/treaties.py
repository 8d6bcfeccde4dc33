"""Reinsurance treaties applied to simulated losses.

Order of application (the usual one): quota shares on the gross loss (per
event, which equals per year since they are proportional), then
excess-of-loss layers on each retained *event* loss with an annual aggregate
cap of ``limit * (1 + reinstatements)``, then a stop loss on the retained
*annual* aggregate. Every recovery is a non-decreasing function of the pool's
loss with slope <= 1, so net loss stays non-decreasing in gross loss and VaR
passes through the treaties (comonotone additivity): the planner relies on
this to treat cessions linearly.

Reinstatement premiums (``reinstatement_rate`` x rate on line x limit x
share of the limit used, pro rata) are a cost of the scenario and are added to
the net loss, as a loss-dependent outgo must be capitalised too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reinsurance.errors import InvalidInput
from reinsurance.losses import LossSample
from reinsurance.money import check_amount, check_probability, check_real, mul_down, mul_up


@dataclass(frozen=True, slots=True)
class QuotaShare:
    """Cede ``share`` of every loss; the reinsurer pays back ``ceding_commission``
    of the ceded premium (used by pricing, not by losses)."""

    share: float
    ceding_commission: float = 0.0

    def ceded_premium(self, gross_premium: int) -> int:
        """Premium passed to the reinsurer for ``gross_premium`` written (ceil: we pay it)."""
        return mul_up(gross_premium, self.share)

    def commission(self, gross_premium: int) -> int:
        """Ceding commission received back on it (floor: we receive it)."""
        return mul_down(self.ceded_premium(gross_premium), self.ceding_commission)

    def net_cost(self, gross_premium: int) -> int:
        """What the quota share costs in premium: ceded minus commission."""
        return self.ceded_premium(gross_premium) - self.commission(gross_premium)


@dataclass(frozen=True, slots=True)
class ExcessOfLoss:
    """Per-event layer ``limit xs attachment`` (base units)."""

    attachment: int
    limit: int
    rate_on_line: float
    reinstatements: int = 0
    reinstatement_rate: float = 1.0

    @property
    def premium(self) -> int:
        return mul_up(self.limit, self.rate_on_line)


@dataclass(frozen=True, slots=True)
class StopLoss:
    """Annual aggregate cover ``limit xs attachment`` on the retained loss, of
    which ``share`` is placed."""

    attachment: int
    limit: int
    premium: int = 0
    share: float = 1.0


Treaty = QuotaShare | ExcessOfLoss | StopLoss


@dataclass(frozen=True, slots=True)
class NetLoss:
    """Per-scenario gross, recovered and net loss of one pool (floats)."""

    gross: np.ndarray
    recoveries: np.ndarray
    reinstatement_premiums: np.ndarray
    net: np.ndarray


def validate_treaties(treaties: Sequence[Treaty], field: str = "treaties") -> None:
    total_share = 0.0
    for i, t in enumerate(treaties):
        f = f"{field}[{i}]"
        if isinstance(t, QuotaShare):
            check_probability(t.share, f"{f}.share")
            check_probability(t.ceding_commission, f"{f}.ceding_commission")
            total_share += t.share
        elif isinstance(t, ExcessOfLoss):
            check_amount(t.attachment, f"{f}.attachment")
            check_amount(t.limit, f"{f}.limit")
            check_real(t.rate_on_line, f"{f}.rate_on_line", lo=0.0, hi=1.0)
            if isinstance(t.reinstatements, bool) or not isinstance(t.reinstatements, int):
                raise InvalidInput(f"{f}.reinstatements", "must be an int")
            if t.reinstatements < 0:
                raise InvalidInput(f"{f}.reinstatements", "must be >= 0")
            check_real(t.reinstatement_rate, f"{f}.reinstatement_rate", lo=0.0, hi=10.0)
        elif isinstance(t, StopLoss):
            check_amount(t.attachment, f"{f}.attachment")
            check_amount(t.limit, f"{f}.limit")
            check_amount(t.premium, f"{f}.premium")
            check_probability(t.share, f"{f}.share")
        else:
            raise InvalidInput(f, f"unknown treaty type {type(t).__name__}")
    if total_share > 1.0:
        raise InvalidInput(field, f"quota shares add up to {total_share} > 1")


def retained_share(treaties: Sequence[Treaty]) -> float:
    return 1.0 - sum(t.share for t in treaties if isinstance(t, QuotaShare))


def apply_treaties(sample: LossSample, pool_id: str, treaties: Sequence[Treaty]) -> NetLoss:
    """Net loss of one pool per scenario after its treaties (order in module doc)."""
    validate_treaties(treaties)
    j = sample.pool_index(pool_id)
    gross = sample.pool_losses(j)
    keep = retained_share(treaties)
    layers = [t for t in treaties if isinstance(t, ExcessOfLoss)]
    stops = [t for t in treaties if isinstance(t, StopLoss)]
    recov = gross * (1.0 - keep)
    reinst = np.zeros_like(gross)
    if layers:
        scen, ev_loss = sample.pool_events(j)
        ev = ev_loss * keep
        for t in layers:
            per_event = np.clip(ev - t.attachment, 0.0, float(t.limit))
            annual = np.bincount(scen, weights=per_event, minlength=sample.n_scenarios)
            cap = float(t.limit) * (1 + t.reinstatements)
            paid = np.minimum(annual, cap)
            recov = recov + paid
            if t.limit > 0 and t.reinstatements > 0:
                reinstated = np.minimum(paid, float(t.limit) * t.reinstatements)
                reinst += reinstated / t.limit * t.rate_on_line * t.limit * t.reinstatement_rate
    retained = gross - recov
    for sl in stops:
        paid = sl.share * np.clip(retained - sl.attachment, 0.0, float(sl.limit))
        recov = recov + paid
        retained = retained - paid
    return NetLoss(
        gross=gross, recoveries=recov, reinstatement_premiums=reinst, net=retained + reinst
    )

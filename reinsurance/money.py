"""Money: integer base units and the rounding rules, in one place.

Amounts are ``int`` base units of the settlement asset (USDC: 6 decimals)
everywhere; floats appear only inside the simulation and the solver, and every
float that becomes money passes through one of the functions below, so the
direction of rounding is always the one that is safe for us:

* ``round_down`` (floor) — what we **receive or pay out**: amounts a transfer
  delivers, capital relief credited, recoveries, transfer sizes we send.
* ``round_up`` (ceil) — what we **require or charge**: capital requirements,
  fees, premiums, costs.

Both reject NaN/inf and negative values (money is never negative here).
``ratio_at_least`` compares ``a / b >= r`` exactly (``r`` as a binary
``Fraction``), so safety checks never depend on float rounding.
"""

from __future__ import annotations

import math
from fractions import Fraction

from reinsurance.errors import InvalidInput

BPS = 10_000
# The largest amount the engine accepts anywhere (a uint256, what a token
# balance or an "unlimited" lane can hold): floats of it stay finite, so no
# amount can overflow inside the solver.
MAX_AMOUNT = 2**256 - 1


def check_amount(value: object, field: str, *, allow_zero: bool = True) -> int:
    """An ``int`` (not bool) base-unit amount, >= 0 (or > 0) and <= ``MAX_AMOUNT``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"must be an int in base units, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(field, f"must be {'>=' if allow_zero else '>'} 0, got {value}")
    if value > MAX_AMOUNT:
        raise InvalidInput(field, "must be <= 2**256 - 1 (the largest amount accepted)")
    return value


def check_real(
    value: object, field: str, *, lo: float | None = None, hi: float | None = None
) -> float:
    """A finite real in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"must be a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise InvalidInput(field, f"must be finite, got {v}")
    if lo is not None and v < lo:
        raise InvalidInput(field, f"must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise InvalidInput(field, f"must be <= {hi}, got {v}")
    return v


def check_probability(value: object, field: str) -> float:
    return check_real(value, field, lo=0.0, hi=1.0)


def check_ratio(value: object, field: str) -> float:
    """A capital ratio target: >= 1 (a target below 1 means planned insolvency)."""
    return check_real(value, field, lo=1.0, hi=1e6)


def _finite_nonneg(x: float | Fraction | int, what: str) -> None:
    if isinstance(x, float) and not math.isfinite(x):
        raise InvalidInput(what, f"must be finite, got {x}")
    if x < 0:
        raise InvalidInput(what, f"must be >= 0, got {x}")


def round_down(x: float | Fraction | int, what: str = "amount") -> int:
    """Floor to base units: for anything we receive, deliver or are credited."""
    _finite_nonneg(x, what)
    return math.floor(x)


def round_up(x: float | Fraction | int, what: str = "amount") -> int:
    """Ceil to base units: for requirements, fees, premiums and costs."""
    _finite_nonneg(x, what)
    return math.ceil(x)


def bps_fee(amount: int, fee_bps: float) -> int:
    """A fee of ``fee_bps`` basis points on ``amount``, rounded up (we pay it)."""
    return math.ceil(Fraction(amount) * Fraction(fee_bps) / BPS)


def mul_up(amount: int, rate: float) -> int:
    """``ceil(amount * rate)`` computed exactly (rate taken as its binary value)."""
    return math.ceil(Fraction(amount) * Fraction(rate))


def mul_down(amount: int, rate: float) -> int:
    """``floor(amount * rate)`` computed exactly."""
    return math.floor(Fraction(amount) * Fraction(rate))


def ratio_at_least(available: int, required: int, ratio: float | Fraction) -> bool:
    """Exactly ``available / required >= ratio``; a zero requirement always passes."""
    if required <= 0:
        return True
    return Fraction(available) >= Fraction(ratio) * required

"""The lane fee rule, in exact integers, identical to the planner's.

The planner (``reinsurance``) prices a bridge lane as ``bps_fee(amount,
fee_bps) + fixed_fee`` where ``bps_fee = ceil(amount * Fraction(fee_bps) /
10_000)``; ``chains`` may not import it, so the same formula is written here
and a test holds the two together on many amounts. ``fee_bps`` is taken at
its exact value (a float at its binary value, as ``Fraction(float)`` does):
a float the planner was given and the same float given here give the same fee
to the unit, for amounts of any size.

The destination receives ``amount - fee``. A send that cannot cover its fee
(``fee >= amount``: nothing or less would arrive) is refused with
:class:`~chains.errors.FeeExceedsAmount`, never delivered as zero or negative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from chains.base import check_amount
from chains.errors import FeeExceedsAmount, InvalidInput

BPS = 10_000

FeeBps = int | float | Fraction


def check_fee_bps(fee_bps: object) -> Fraction:
    """``fee_bps`` as an exact fraction in ``[0, 10_000]`` (int, float or Fraction)."""
    if isinstance(fee_bps, bool) or not isinstance(fee_bps, int | float | Fraction):
        raise InvalidInput(
            f"fee_bps must be an int, float or Fraction, got {type(fee_bps).__name__}"
        )
    if isinstance(fee_bps, float) and not math.isfinite(fee_bps):
        raise InvalidInput(f"fee_bps must be finite, got {fee_bps}")
    exact = Fraction(fee_bps)
    if not 0 <= exact <= BPS:
        raise InvalidInput(f"fee_bps must be within [0, {BPS}], got {fee_bps}")
    return exact


def check_fixed_fee(fixed_fee: object) -> int:
    if isinstance(fixed_fee, bool) or not isinstance(fixed_fee, int) or fixed_fee < 0:
        raise InvalidInput(f"fixed_fee must be a non-negative int in base units, got {fixed_fee!r}")
    return fixed_fee


def lane_fee(amount: int, fee_bps: FeeBps, fixed_fee: int) -> int:
    """``ceil(amount * fee_bps / 10_000) + fixed_fee``, exactly (the planner's rule)."""
    check_amount(amount)
    bps = check_fee_bps(fee_bps)
    return math.ceil(Fraction(amount) * bps / BPS) + check_fixed_fee(fixed_fee)


@dataclass(frozen=True, slots=True)
class Lane:
    """One direction between two chains, priced as the planner prices its route.

    ``fee_bps`` of the amount sent (rounded up) plus ``fixed_fee`` stay with the
    bridge; the destination receives the rest.
    """

    src_chain: str
    dst_chain: str
    fee_bps: FeeBps = 0
    fixed_fee: int = 0

    def __post_init__(self) -> None:
        for what, name in (("src_chain", self.src_chain), ("dst_chain", self.dst_chain)):
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"a lane needs a {what} name, got {name!r}")
        if self.src_chain == self.dst_chain:
            raise InvalidInput(f"a lane joins two chains, not {self.src_chain!r} to itself")
        check_fee_bps(self.fee_bps)
        check_fixed_fee(self.fixed_fee)

    @property
    def key(self) -> tuple[str, str]:
        return (self.src_chain, self.dst_chain)

    def fee(self, amount: int) -> int:
        return lane_fee(amount, self.fee_bps, self.fixed_fee)

    def delivered(self, amount: int, *, transfer_id: str | None = None) -> int:
        """What arrives of ``amount`` sent; :class:`FeeExceedsAmount` if nothing would."""
        fee = self.fee(amount)
        if fee >= amount:
            raise FeeExceedsAmount(
                f"lane {self.src_chain}->{self.dst_chain} charges {fee} on {amount} sent: "
                "nothing would arrive",
                chain=self.src_chain,
                transfer_id=transfer_id,
                amount=amount,
                fee=fee,
            )
        return amount - fee

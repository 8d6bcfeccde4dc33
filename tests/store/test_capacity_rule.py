"""The capacity rule on its own: at each limit, one below and one above."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.domain import CapacityRule
from router.domain.covers import CapacityLimit, pool_capacity
from router.errors import InvalidRecord

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MAX = timedelta(minutes=10)
US = timedelta(microseconds=1)
RULE = CapacityRule(capacity_bps=5_000, max_staleness=MAX)


@pytest.mark.parametrize("bps", [0, 1, 9_999, 10_000])
def test_capacity_bps_from_zero_to_all(bps: int) -> None:
    assert CapacityRule(bps, MAX).limit(10_000, NOW, 0, NOW) == bps


@pytest.mark.parametrize("bps", [-1, 10_001])
def test_capacity_bps_outside_zero_to_all_is_refused(bps: int) -> None:
    with pytest.raises(InvalidRecord, match="0-10000") as e:
        CapacityRule(bps, MAX)
    assert e.value.field == "capacity_bps"


@pytest.mark.parametrize("bps", [True, 50.0, "50", None])
def test_capacity_bps_must_be_an_int(bps: object) -> None:
    with pytest.raises(InvalidRecord, match="must be an integer"):
        CapacityRule(bps, MAX)  # type: ignore[arg-type]


@pytest.mark.parametrize("staleness", [timedelta(0), -US, 600, None])
def test_max_staleness_must_be_a_positive_timedelta(staleness: object) -> None:
    with pytest.raises(InvalidRecord, match="positive timedelta") as e:
        CapacityRule(5_000, staleness)  # type: ignore[arg-type]
    assert e.value.field == "max_staleness"
    CapacityRule(5_000, US)


def test_a_balance_is_fresh_up_to_and_at_the_staleness_limit() -> None:
    assert RULE.limit(1_000, NOW - MAX + US, 0, NOW) == 500
    assert RULE.limit(1_000, NOW - MAX, 0, NOW) == 500  # at the limit: still fresh
    assert RULE.limit(1_000, NOW - MAX - US, 0, NOW) == 0  # one tick past: counts as zero
    assert RULE.limit(1_000, NOW + US, 0, NOW) == 500


def test_free_capital_is_balance_less_locked_rounded_down() -> None:
    assert RULE.limit(10_001, NOW, 0, NOW) == 5_000  # 5000.5 floors: we never overstate
    assert RULE.limit(10_000, NOW, 3_000, NOW) == 3_500
    assert RULE.limit(10_000, NOW, 10_000, NOW) == 0
    assert RULE.limit(10_000, NOW, 10_001, NOW) == 0  # never negative
    assert RULE.limit(None, NOW, 0, NOW) == 0
    assert RULE.limit(10_000, None, 0, NOW) == 0


def test_pool_capacity_binding_at_the_staleness_limit() -> None:
    def binding(fresh_at: datetime | None, balance: int | None = 1_000) -> CapacityLimit:
        cap = pool_capacity(
            RULE, "p", balance=balance, fresh_at=fresh_at, reserved=0, covers=(), now=NOW
        )
        return cap.binding

    assert binding(NOW - MAX + US) is CapacityLimit.SHARE
    assert binding(NOW - MAX) is CapacityLimit.SHARE
    assert binding(NOW - MAX - US) is CapacityLimit.STALE
    assert binding(None) is CapacityLimit.NO_BALANCE
    assert binding(NOW, balance=None) is CapacityLimit.NO_BALANCE


def test_pool_capacity_counts_only_covers_still_in_force() -> None:
    covers = [(100, NOW + US), (200, NOW), (300, NOW - US), (50, NOW + timedelta(days=2))]
    cap = pool_capacity(
        RULE, "p", balance=1_000, fresh_at=NOW, reserved=200, covers=covers, now=NOW
    )
    assert (cap.pool_id, cap.limit, cap.in_force, cap.available) == ("p", 400, 150, 250)
    assert cap.frees_at == NOW + US  # the earliest expiry of what is in force
    assert cap.explain() == f"limit 400, in force 150; more frees up at {(NOW + US).isoformat()}"
    full = pool_capacity(
        RULE, "p", balance=1_000, fresh_at=NOW, reserved=0, covers=[(600, NOW + US)], now=NOW
    )
    assert (full.limit, full.in_force, full.available) == (500, 600, 0)  # never negative
    exact = pool_capacity(
        RULE, "p", balance=1_000, fresh_at=NOW, reserved=0, covers=[(500, NOW + US)], now=NOW
    )
    assert exact.available == 0
    none = pool_capacity(RULE, "p", balance=1_000, fresh_at=NOW, reserved=0, covers=[], now=NOW)
    assert (none.frees_at, none.available, none.explain()) == (None, 500, "limit 500, in force 0")


def test_stale_and_missing_balances_explain_themselves() -> None:
    stale = pool_capacity(
        RULE, "p", balance=1_000, fresh_at=NOW - MAX - US, reserved=0, covers=(), now=NOW
    )
    assert (stale.limit, stale.available) == (0, 0)
    assert "stale" in stale.explain()
    missing = pool_capacity(RULE, "p", balance=None, fresh_at=None, reserved=0, covers=(), now=NOW)
    assert "was ever confirmed" in missing.explain()


def test_all_of_nothing_is_nothing() -> None:
    everything = CapacityRule(10_000, MAX)
    assert everything.limit(1_000, NOW, 0, NOW) == 1_000
    assert everything.limit(1_000, NOW, 1_000, NOW) == 0  # all locked: no free capital
    assert everything.limit(1_000, NOW - MAX - US, 0, NOW) == 0  # stale counts as zero
    assert everything.limit(None, None, 0, NOW) == 0

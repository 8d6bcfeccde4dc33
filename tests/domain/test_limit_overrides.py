"""Limits set through changes replace the configured limit of their scope."""

from __future__ import annotations

import pytest

from router.domain.limits import (
    DailyLimit,
    LaneLimit,
    LimitOverride,
    LimitsPolicy,
    with_overrides,
)
from router.errors import InvalidRecord

BASE = LimitsPolicy(lanes=(LaneLimit("a", "b", 1_000, 1),), daily=(DailyLimit("chain:a", 500),))


def test_an_override_replaces_its_scope_and_adds_new_ones() -> None:
    got = with_overrides(
        BASE,
        [LimitOverride("lane:a->b", 2_000, 5), LimitOverride("destination:p1", 70)],
    )
    assert got.lane("lane:a->b") == LaneLimit("a", "b", 2_000, 5)
    assert got.daily_cap("chain:a") == DailyLimit("chain:a", 500)
    assert got.daily_cap("destination:p1") == DailyLimit("destination:p1", 70)
    assert with_overrides(BASE, []) is BASE


def test_an_override_says_what_kind_of_limit_it_is() -> None:
    with pytest.raises(InvalidRecord, match="refill_per_second"):
        LimitOverride("lane:a->b", 10)
    with pytest.raises(InvalidRecord, match="no refill"):
        LimitOverride("chain:a", 10, 1)
    with pytest.raises(InvalidRecord, match="lane:<src>-><dst>"):
        LimitOverride("lane:ab", 10, 1)

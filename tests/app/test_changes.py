"""Change control over a real store (SQLite and PostgreSQL): an allow-list change
takes two distinct operators and the delay, every step is in the audit log, and
the plans refuse a destination off the list before anything is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router import domain as m
from router.app.changes import ChangePolicy, Changes
from router.app.engine import ReinsuranceEngine
from router.app.limit_changes import EffectiveLimits
from router.app.plans import Plans
from router.config import PolicyConfig
from router.domain.changes import ChangeKind, ChangeStatus
from router.domain.limits import DailyLimit, LimitsPolicy
from router.errors import (
    Conflict,
    DestinationNotAllowed,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
)
from router.store import Store
from tests.app.conftest import ALICE, BOB, UNIT, fund
from tests.app.test_planning import bind

CAROL = m.Identity(m.Role.OPERATOR, "carol")
NEW = "0x" + "5e" * 20
T0 = datetime(2026, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def changes_of(book: Store, clock: Clock, required: int = 1) -> Changes:
    policy = ChangePolicy(approvals_required=required, delay=timedelta(hours=1))
    return Changes(book, policy, clock=clock)


async def test_an_allowlist_change_needs_another_operator_and_the_delay(book: Store) -> None:
    clock = Clock()
    changes = changes_of(book, clock)
    payload = {"chain": "chain-a", "address": NEW.upper().replace("0X", "0x"), "label": "new"}
    change = await changes.propose(ALICE, "allowlist.add", payload, "a new pool on chain-a")
    assert change.status is ChangeStatus.PROPOSED and change.kind is ChangeKind.ALLOWLIST_ADD
    assert change.diff == f"+ allow-list chain-a {NEW} (new)"  # EVM addresses compared lower-case
    assert change.not_before == T0 + timedelta(hours=1)
    with pytest.raises(Conflict, match="cannot approve"):
        await changes.approve(ALICE, change.change_id)
    with pytest.raises(PreconditionFailed, match="0 of 1"):
        await changes.apply(BOB, change.change_id)
    approved = await changes.approve(BOB, change.change_id)
    assert approved.status is ChangeStatus.APPROVED and approved.approvals == ("bob",)
    # approving again counts once; applying before the delay is refused, saying when
    assert (await changes.approve(BOB, change.change_id)).approvals == ("bob",)
    with pytest.raises(PreconditionFailed, match="may not be applied before"):
        await changes.apply(BOB, change.change_id)
    assert not await book.destination_allowed("chain-a", NEW)
    clock.now = T0 + timedelta(hours=1)
    applied = await changes.apply(CAROL, change.change_id)
    assert applied.status is ChangeStatus.APPLIED and applied.decided_by == "carol"
    assert await book.destination_allowed("chain-a", NEW)
    with pytest.raises(PreconditionFailed, match="applied"):
        await changes.apply(CAROL, change.change_id)
    actions = [(e.action, e.actor) for e in await book.list_audit(change.change_id)]
    assert sorted(actions) == sorted(
        [
            ("change_proposed", ALICE.uri),
            ("change_approved", BOB.uri),
            ("change_applied", CAROL.uri),
        ]
    )


async def test_approval_applies_a_due_change_and_removal_works(book: Store) -> None:
    clock = Clock()
    changes = Changes(book, ChangePolicy(approvals_required=2, delay=timedelta(0)), clock=clock)
    a1 = "0x" + b"a1".hex().ljust(40, "0")
    change = await changes.propose(
        ALICE, "allowlist.remove", {"chain": "chain-a", "address": a1}, "pool retired"
    )
    assert change.diff == f"- allow-list chain-a {a1}"
    once = await changes.approve(BOB, change.change_id)
    assert once.status is ChangeStatus.PROPOSED  # 1 of 2
    done = await changes.approve(CAROL, change.change_id)
    assert done.status is ChangeStatus.APPLIED
    assert not await book.destination_allowed("chain-a", a1)


async def test_bad_proposals_and_forged_ids_are_refused_and_change_nothing(book: Store) -> None:
    changes = changes_of(book, Clock())
    with pytest.raises(InvalidRequest, match="unknown change kind"):
        await changes.propose(ALICE, "routes.delete_all", {}, "x")
    with pytest.raises(InvalidRequest, match="not registered"):
        await changes.propose(ALICE, "allowlist.add", {"chain": "nope", "address": NEW}, "x")
    with pytest.raises(InvalidRequest, match="address"):
        await changes.propose(ALICE, "allowlist.add", {"chain": "chain-a", "address": "x"}, "x")
    a1 = "0x" + b"a1".hex().ljust(40, "0")
    with pytest.raises(PreconditionFailed, match="already"):
        await changes.propose(ALICE, "allowlist.add", {"chain": "chain-a", "address": a1}, "x")
    for forged in ("chg-00000000000000000000", "plan-1", "'; drop table"):
        with pytest.raises(NotFound):
            await changes.approve(BOB, forged)
    assert await changes.list_changes() == []


async def test_an_undecided_change_expires(book: Store) -> None:
    clock = Clock()
    changes = changes_of(book, clock)
    change = await changes.propose(
        ALICE, "allowlist.add", {"chain": "chain-a", "address": NEW}, "later"
    )
    clock.now = T0 + timedelta(days=8)
    assert (await changes.get(change.change_id)).status is ChangeStatus.EXPIRED
    with pytest.raises(PreconditionFailed, match="expired"):
        await changes.approve(BOB, change.change_id)
    assert "change_expired" in [e.action for e in await book.list_audit(change.change_id)]


async def test_a_plan_paying_to_a_pool_off_the_list_is_refused_when_planned(
    book: Store, engine: ReinsuranceEngine
) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    await fund(book, {"a1": 1_000_000 * UNIT, "a2": 10 * UNIT, "b1": 400_000 * UNIT})
    await fund(book, {"b2": 10 * UNIT})
    await bind(book, engine, policy, "b1", "chain-b", 300_000 * UNIT, "chg-stress-01")
    await fund(book, {"b1": 10_000 * UNIT})
    b1 = "0x" + b"b1".hex().ljust(40, "0")
    assert await book.remove_destination("chain-b", b1)
    with pytest.raises(DestinationNotAllowed, match="pool b1") as err:
        await Plans(book, engine, policy).propose(ALICE)
    assert err.value.chain == "chain-b"
    assert await book.list_plans() == []


async def test_a_limit_is_set_through_an_approved_change_and_planning_sees_it(
    book: Store, engine: ReinsuranceEngine
) -> None:
    base = LimitsPolicy(daily=(DailyLimit("chain:chain-a", 5_000 * UNIT),))
    limits = EffectiveLimits(book, base)
    clock = Clock()
    changes = Changes(
        book, ChangePolicy(approvals_required=1, delay=timedelta(0)), clock=clock, limits=limits
    )
    lane = {"scope": "lane:chain-a->chain-b", "capacity": 1_000 * UNIT, "refill_per_second": 10}
    change = await changes.propose(ALICE, "limits.set", lane, "cap the new lane")
    assert change.diff == (
        f"limit lane:chain-a->chain-b: unlimited -> capacity {1_000 * UNIT}, refill 10/s"
    )
    lower = {"scope": "chain:chain-a", "capacity": str(2_000 * UNIT)}
    cap = await changes.propose(ALICE, "limits.set", lower, "tighter")
    assert (
        cap.diff == f"limit chain:chain-a: 24-hour cap {5_000 * UNIT} -> 24-hour cap {2_000 * UNIT}"
    )
    for bad in (
        {"scope": "lane:chain-a->chain-b", "capacity": 5},  # a lane needs its refill
        {"scope": "chain:chain-a", "capacity": 5, "refill_per_second": 1},
        {"scope": "chain:chain-a", "capacity": -5},
        {"scope": "nowhere", "capacity": 5},
        {"scope": "chain:chain-a", "capacity": 5, "colour": "red"},
    ):
        with pytest.raises(InvalidRequest):
            await changes.propose(ALICE, "limits.set", bad, "bad")
    assert await limits() == base  # nothing applied yet
    await changes.approve(BOB, change.change_id)
    await changes.approve(BOB, cap.change_id)
    now = await limits()
    assert [(x.scope, x.capacity, x.refill_per_second) for x in now.lanes] == [
        ("lane:chain-a->chain-b", 1_000 * UNIT, 10)
    ]
    assert [(d.scope, d.cap) for d in now.daily] == [("chain:chain-a", 2_000 * UNIT)]
    plans = Plans(book, engine, PolicyConfig(), limits=base, limits_source=limits)
    sizes = {s.scope: s.capacity for s in await plans.limits()}
    assert sizes == {"chain:chain-a": 2_000 * UNIT, "lane:chain-a->chain-b": 1_000 * UNIT}
    with pytest.raises(PreconditionFailed, match="already"):
        await changes.propose(ALICE, "limits.set", lower, "again")


async def test_a_rejected_change_is_never_applied(book: Store) -> None:
    clock = Clock()
    changes = changes_of(book, clock)
    change = await changes.propose(
        ALICE, "allowlist.add", {"chain": "chain-a", "address": NEW}, "typo?"
    )
    with pytest.raises(InvalidRequest, match="reason"):
        await changes.reject(BOB, change.change_id, "")
    rejected = await changes.reject(BOB, change.change_id, "wrong address")
    assert rejected.status is ChangeStatus.REJECTED and rejected.decided_by == "bob"
    clock.now = T0 + timedelta(hours=2)
    with pytest.raises(PreconditionFailed, match="rejected"):
        await changes.approve(CAROL, change.change_id)
    with pytest.raises(PreconditionFailed, match="rejected"):
        await changes.apply(CAROL, change.change_id)
    assert not await book.destination_allowed("chain-a", NEW)
    assert "change_rejected" in [e.action for e in await book.list_audit(change.change_id)]

"""Treasury controls' state on SQLite and PostgreSQL: a plan's basis is replaced
by a re-approval, a held plan's approvals are void, the allow-list is seeded
once, change approvals are added under optimistic concurrency."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.domain import PlanStatus
from router.domain.changes import ChangeKind, ChangeProposal, ChangeStatus, Destination
from router.domain.drift import PoolBasis
from router.errors import InvalidTransition, StaleVersion
from router.store import Store
from tests.store.conftest import T0
from tests.store.test_plans import draft

EVM = "0x" + "11" * 20


async def test_a_held_plan_loses_its_approvals_and_its_basis_is_replaced(world: Store) -> None:
    await world.create_plan(draft("plan-h", approvals=1))
    plan = await world.approve_plan("plan-h", "bob")
    await world.record_basis("plan-h", [PoolBasis("p1", 1_000, 7)])
    plan = await world.update_plan_status(
        "plan-h", PlanStatus.EXECUTING, expected_version=plan.version
    )
    with pytest.raises(StaleVersion):
        await world.hold_plan("plan-h", expected_version=plan.version - 1)
    held = await world.hold_plan("plan-h", expected_version=plan.version)
    assert held.status is PlanStatus.PENDING_APPROVAL and held.approvals == ()
    assert held.approvals_required == 1
    with pytest.raises(InvalidTransition):
        await world.hold_plan("plan-h", expected_version=held.version)
    # bob may approve again (a fresh review); the basis is what he saw then
    again = await world.approve_plan("plan-h", "bob")
    assert again.status is PlanStatus.APPROVED
    await world.record_basis("plan-h", [PoolBasis("p1", 900, 9), PoolBasis("p2", 5, None)])
    basis = await world.plan_basis("plan-h")
    assert basis == {"p1": PoolBasis("p1", 900, 9), "p2": PoolBasis("p2", 5, None)}


async def test_the_allowlist_adds_once_removes_and_remembers_it_was_set(world: Store) -> None:
    assert not await world.allowlist_touched()
    dest = Destination("evm", EVM, "p1")
    assert await world.add_destination(dest, "ballast://config")
    assert not await world.add_destination(Destination("evm", EVM, "other"), "x")
    assert await world.list_destinations() == [dest]
    assert await world.destination_allowed("evm", EVM)
    assert not await world.destination_allowed("sol", EVM)
    assert await world.allowlist_touched()
    assert await world.remove_destination("evm", EVM)
    assert not await world.remove_destination("evm", EVM)
    assert not await world.destination_allowed("evm", EVM)


async def test_change_approvals_are_kept_and_a_stale_write_is_refused(world: Store) -> None:
    change = ChangeProposal(
        change_id="chg-store-1",
        kind=ChangeKind.ALLOWLIST_ADD,
        payload="{}",
        diff="+",
        proposed_by="alice",
        reason="test",
        required=2,
        status=ChangeStatus.PROPOSED,
        proposed_at=T0,
        not_before=T0 + timedelta(hours=1),
        expires_at=T0 + timedelta(days=1),
    )
    await world.create_change(change)
    one = await world.save_change(change.approved_by("bob", T0), expected_version=1)
    assert one.approvals == ("bob",) and one.version == 2
    with pytest.raises(StaleVersion):
        await world.save_change(change.approved_by("carol", T0), expected_version=1)
    two = await world.save_change(one.approved_by("carol", T0), expected_version=2)
    assert two.approvals == ("bob", "carol") and two.status is ChangeStatus.APPROVED
    assert [c.change_id for c in await world.list_changes(ChangeStatus.APPROVED)] == ["chg-store-1"]
    assert await world.get_change("chg-store-1") == two

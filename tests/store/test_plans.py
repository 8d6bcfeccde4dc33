"""Plans, steps, approvals, transfers, cessions, audit: versions and idempotency."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from router.domain import (
    MAX_AMOUNT,
    Cession,
    PlanDraft,
    PlanStatus,
    PlanStep,
    StepKind,
    StepStatus,
    TransferRecord,
    TransferState,
    Vault,
)
from router.store import (
    Conflict,
    DuplicateApproval,
    IdempotencyMismatch,
    InvalidRecord,
    InvalidTransition,
    NotFound,
    StaleVersion,
    Store,
)

TID = "0x" + "ab" * 32


def draft(plan_id: str = "plan-1", approvals: int = 2) -> PlanDraft:
    return PlanDraft(
        plan_id=plan_id,
        created_by="op-a",
        steps=(
            PlanStep(0, StepKind.TRANSFER, "p1", amount=MAX_AMOUNT, dst_chain="evm", dst_pool="p2"),
            PlanStep(1, StepKind.CESSION, "s1", amount=10, vault_id="v1", fee=1),
        ),
        total_amount=MAX_AMOUNT,
        cost=1,
        summary="move and cede",
        approvals_required=approvals,
    )


async def test_create_get_list(world: Store) -> None:
    plan = await world.create_plan(draft())
    assert (plan.status, plan.version, plan.approvals) == (PlanStatus.PENDING_APPROVAL, 1, ())
    assert [s.seq for s in plan.steps] == [0, 1]
    assert plan.steps[0].amount == MAX_AMOUNT and plan.total_amount == MAX_AMOUNT
    assert await world.get_plan("plan-1") == plan
    await world.create_plan(draft("plan-2"))
    assert {p.plan_id for p in await world.list_plans()} == {"plan-1", "plan-2"}
    assert await world.list_plans(PlanStatus.APPROVED) == []
    with pytest.raises(Conflict, match="already exists"):
        await world.create_plan(draft())
    with pytest.raises(NotFound):
        await world.get_plan("nope")


def test_plan_validation() -> None:
    step = PlanStep(0, StepKind.TRANSFER, "p1", amount=1, dst_pool="p2")
    with pytest.raises(InvalidRecord, match="distinct seq"):
        PlanDraft("p", "op", (step, step), total_amount=1, cost=0)
    with pytest.raises(InvalidRecord) as info:
        PlanStep(0, StepKind.CESSION, "p1", amount=1)
    assert info.value.field == "vault_id"
    with pytest.raises(InvalidRecord) as info:
        PlanStep(0, "teleport", "p1", amount=1)  # type: ignore[arg-type]
    assert info.value.field == "kind"


async def test_approvals_need_distinct_operators(world: Store) -> None:
    await world.create_plan(draft(approvals=2))
    with pytest.raises(Conflict, match="cannot approve"):
        await world.approve_plan("plan-1", "op-a")  # the creator
    one = await world.approve_plan("plan-1", "op-b")
    assert one.status is PlanStatus.PENDING_APPROVAL and one.approvals == ("op-b",)
    with pytest.raises(DuplicateApproval):
        await world.approve_plan("plan-1", "op-b")
    two = await world.approve_plan("plan-1", "op-c")
    assert two.status is PlanStatus.APPROVED and two.version == 2
    assert two.approvals == ("op-b", "op-c")
    with pytest.raises(InvalidTransition, match="only pending plans"):
        await world.approve_plan("plan-1", "op-d")


async def test_status_changes_use_optimistic_versions(world: Store) -> None:
    await world.create_plan(draft(approvals=0))
    with pytest.raises(InvalidTransition, match="pending_approval to executing"):
        await world.update_plan_status("plan-1", PlanStatus.EXECUTING, expected_version=1)
    approved = await world.update_plan_status("plan-1", PlanStatus.APPROVED, expected_version=1)
    assert approved.version == 2
    with pytest.raises(StaleVersion) as info:
        await world.update_plan_status("plan-1", PlanStatus.EXECUTING, expected_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert info.value.retryable


async def test_approved_needs_enough_approvals(world: Store) -> None:
    await world.create_plan(draft(approvals=1))
    with pytest.raises(InvalidTransition, match="0 of 1 required approvals"):
        await world.update_plan_status("plan-1", PlanStatus.APPROVED, expected_version=1)


async def test_concurrent_status_changes_one_wins(world: Store) -> None:
    await world.create_plan(draft(approvals=0))
    results = await asyncio.gather(
        *(
            world.update_plan_status("plan-1", s, expected_version=1)
            for s in (PlanStatus.APPROVED, PlanStatus.CANCELLED, PlanStatus.APPROVED)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, StaleVersion) for r in results if isinstance(r, BaseException))
    assert (await world.get_plan("plan-1")).version == 2


async def test_step_updates_are_versioned(world: Store) -> None:
    await world.create_plan(draft())
    step = await world.update_step(
        "plan-1", 0, status=StepStatus.SENT, expected_version=1, transfer_id=TID
    )
    assert (step.status, step.version, step.transfer_id) == (StepStatus.SENT, 2, TID)
    with pytest.raises(StaleVersion):
        await world.update_step("plan-1", 0, status=StepStatus.DONE, expected_version=1)
    with pytest.raises(NotFound):
        await world.update_step("plan-1", 9, status=StepStatus.DONE, expected_version=1)
    with pytest.raises(InvalidRecord):
        await world.update_step(
            "plan-1", 1, status=StepStatus.SENT, expected_version=1, transfer_id="0x12"
        )


def transfer(**kw: object) -> TransferRecord:
    base = TransferRecord(TID, "evm", "p1", "sol", "Recipient111", amount=MAX_AMOUNT)
    return replace(base, **kw)  # type: ignore[arg-type]


async def test_transfers_idempotent_and_forward_only(world: Store) -> None:
    t = await world.record_transfer(transfer())
    assert t.status is TransferState.RECORDED and t.amount == MAX_AMOUNT
    assert await world.record_transfer(transfer()) == t
    with pytest.raises(IdempotencyMismatch) as info:
        await world.record_transfer(transfer(amount=5, recipient="Other"))
    assert info.value.mismatch == ("recipient", "amount")
    sent = await world.update_transfer(TID, TransferState.PENDING, tx_ref="0xtx")
    assert (sent.status, sent.tx_ref) == (TransferState.PENDING, "0xtx")
    assert (await world.update_transfer(TID, TransferState.PENDING, tx_ref="0xtx")) == sent
    # Before inclusion a fee bump or a re-sign may replace the transaction.
    resigned = await world.update_transfer(TID, TransferState.RECORDED, tx_ref="0xtx2")
    assert (resigned.status, resigned.tx_ref) == (TransferState.RECORDED, "0xtx2")
    landed = await world.update_transfer(
        TID, TransferState.CONFIRMED, tx_ref="0xtx2", block_number=9
    )
    assert (landed.status, landed.block_number) == (TransferState.CONFIRMED, 9)
    # Once included, the transaction that moved it is fixed.
    with pytest.raises(Conflict, match="already has tx_ref"):
        await world.update_transfer(TID, TransferState.FINALIZED, tx_ref="0xother")
    with pytest.raises(InvalidTransition, match="confirmed to recorded"):
        await world.update_transfer(TID, TransferState.RECORDED)
    await world.update_transfer(TID, TransferState.FINALIZED)
    with pytest.raises(InvalidTransition):
        await world.update_transfer(TID, TransferState.FAILED)
    assert [x.transfer_id for x in await world.list_transfers(TransferState.FINALIZED)] == [TID]
    assert await world.list_transfers(TransferState.PENDING) == []
    assert (await world.get_transfer(TID)).status is TransferState.FINALIZED
    with pytest.raises(NotFound):
        await world.get_transfer("0x" + "00" * 32)


async def test_cessions_idempotent(world: Store) -> None:
    await world.upsert_vault(Vault("v1", "evm", "0xv", "0xa", capacity=10**30, premium_bps=100))
    c = Cession("c1", "v1", "p1", amount=MAX_AMOUNT, premium=7, plan_id="plan-1")
    stored = await world.record_cession(c)
    assert stored.amount == MAX_AMOUNT and stored.created_at is not None
    assert await world.record_cession(c) == stored
    with pytest.raises(IdempotencyMismatch, match="premium"):
        await world.record_cession(replace(c, premium=8))
    with pytest.raises(NotFound, match="vault 'v9'"):
        await world.record_cession(replace(c, cession_id="c2", vault_id="v9"))
    assert [x.cession_id for x in await world.list_cessions("p1")] == ["c1"]
    assert await world.list_cessions("p2") == []


async def test_audit_log_appends_in_order(world: Store) -> None:
    a = await world.append_audit(
        "op-a", "plan.create", "plan-1", {"amount": MAX_AMOUNT, "ok": True}
    )
    b = await world.append_audit("op-b", "plan.approve", "plan-1", None)
    await world.append_audit("op-b", "pool.update", "p1", {"x": None})
    assert b.seq > a.seq
    entries = await world.list_audit("plan-1")
    assert [e.action for e in entries] == ["plan.approve", "plan.create"]
    assert f'"amount": "{MAX_AMOUNT}"' in entries[1].detail  # big ints kept exact as text
    with pytest.raises(InvalidRecord):
        await world.append_audit("op-a", "x", "s", {"bad": 1.5})  # type: ignore[dict-item]
    assert len(await world.list_audit()) == 3

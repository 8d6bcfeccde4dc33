"""The executor's state machines and the plan/transfer values, as specified.

The tables below are the specification written out move by move (why each
move exists is in ``router/domain/plans.py`` and ``transfers.py``); the
store tests show the store refuses whatever is not in them. Value checks
are tested at each limit, one below and one above.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from router.domain.plans import (
    FINAL_STEPS,
    IN_FLIGHT_STEPS,
    PLAN_TRANSITIONS,
    STEP_TRANSITIONS,
    PlanDraft,
    PlanStep,
    StepKind,
    StepStatus,
)
from router.domain.transfers import (
    MOVING,
    TRANSFER_TRANSITIONS,
    Cession,
    CessionStatus,
    TransferRecord,
    TransferState,
)
from router.errors import InvalidRecord

TID = "0x" + "ab" * 32


def moves(table: Mapping[Any, frozenset[Any]], spec: str) -> None:
    """``spec``: one line per state, ``state: next next ...`` ("-" for none)."""
    expected = {}
    for line in spec.strip().splitlines():
        state, _, nxt = line.partition(":")
        expected[state.strip()] = {n for n in nxt.split() if n != "-"}
    assert {s.value: {n.value for n in allowed} for s, allowed in table.items()} == expected


def test_plan_moves() -> None:
    moves(
        PLAN_TRANSITIONS,
        """
        pending_approval: approved cancelled
        approved: executing cancelled
        executing: completed failed pending_approval
        completed: -
        failed: -
        cancelled: -
        """,
    )


def test_step_moves() -> None:
    moves(
        STEP_TRANSITIONS,
        """
        pending: signed sent delivering done failed skipped stuck
        signed: signed sent delivering done failed stuck
        sent: signed sent delivering done failed stuck
        delivering: delivering done stuck
        stuck: signed sent delivering done failed refunded
        done: -
        failed: -
        skipped: -
        refunded: -
        """,
    )


def test_transfer_moves() -> None:
    moves(
        TRANSFER_TRANSITIONS,
        """
        recorded: pending confirmed finalized delivered failed
        pending: recorded confirmed finalized delivered failed
        confirmed: finalized delivered failed pending
        finalized: delivered refunded
        delivered: -
        failed: -
        refunded: -
        """,
    )


def test_in_flight_and_final_steps_split_every_started_step() -> None:
    assert {s.value for s in IN_FLIGHT_STEPS} == {"signed", "sent", "delivering", "stuck"}
    assert {s.value for s in FINAL_STEPS} == {"done", "failed", "skipped", "refunded"}
    assert IN_FLIGHT_STEPS | FINAL_STEPS | {StepStatus.PENDING} == set(StepStatus)
    assert all(not STEP_TRANSITIONS[s] for s in FINAL_STEPS)  # final means final
    moving = {s.value for s in MOVING}
    assert moving == {"recorded", "pending", "confirmed", "finalized"}


def step(**kw: object) -> PlanStep:
    base: dict[str, object] = {
        "seq": 0,
        "kind": StepKind.TRANSFER,
        "src_pool": "p1",
        "amount": 1,
        "dst_pool": "p2",
    }
    return PlanStep(**{**base, **kw})  # type: ignore[arg-type]


def refused(field: str, make: object) -> None:
    with pytest.raises(InvalidRecord) as e:
        make()  # type: ignore[operator]
    assert e.value.field == field


def test_plan_step_limits() -> None:
    assert step(seq=1_000_000).seq == 1_000_000
    refused("seq", lambda: step(seq=1_000_001))
    refused("seq", lambda: step(seq=-1))
    assert step(amount=0, fee=0).amount == 0
    refused("amount", lambda: step(amount=-1))
    refused("fee", lambda: step(fee=-1))
    assert step(kind="cession", vault_id="v1", dst_pool=None).kind is StepKind.CESSION
    assert step(status="sent").status is StepStatus.SENT
    refused("status", lambda: step(status="lost"))
    refused("kind", lambda: step(kind="swap"))
    refused("dst_pool", lambda: step(dst_pool=None))
    refused("vault_id", lambda: step(kind=StepKind.CESSION))
    refused("src_pool", lambda: step(src_pool=""))
    for name in ("dst_chain", "dst_pool", "vault_id", "route_id"):
        refused(name, lambda name=name: step(**{name: "-bad"}))
    refused("transfer_id", lambda: step(transfer_id="0x" + "a" * 63))
    assert step(transfer_id=TID).transfer_id == TID


def draft(**kw: object) -> PlanDraft:
    base: dict[str, object] = {
        "plan_id": "plan-1",
        "created_by": "alice",
        "steps": (step(seq=0), step(seq=1)),
        "total_amount": 2,
        "cost": 0,
    }
    return PlanDraft(**{**base, **kw})  # type: ignore[arg-type]


def test_plan_draft_limits() -> None:
    assert draft(approvals_required=16).approvals_required == 16
    assert draft(approvals_required=0).approvals_required == 0
    refused("approvals_required", lambda: draft(approvals_required=17))
    refused("approvals_required", lambda: draft(approvals_required=-1))
    assert len(draft(summary="s" * 4096).summary) == 4096
    refused("summary", lambda: draft(summary="s" * 4097))
    refused("summary", lambda: draft(summary=None))
    refused("steps", lambda: draft(steps=(step(seq=3), step(seq=3))))
    refused("steps", lambda: draft(steps=(step(), "a step")))
    assert draft(steps=[step()]).steps == (step(),)  # any sequence, kept as a tuple
    refused("total_amount", lambda: draft(total_amount=-1))
    refused("cost", lambda: draft(cost=-1))
    refused("plan_id", lambda: draft(plan_id=""))
    refused("created_by", lambda: draft(created_by=""))
    assert draft(steps=()).steps == ()


def cession(**kw: object) -> Cession:
    base: dict[str, object] = {
        "cession_id": "c1",
        "vault_id": "v1",
        "pool_id": "p1",
        "amount": 10,
        "premium": 1,
    }
    return Cession(**{**base, **kw})  # type: ignore[arg-type]


def test_cession_limits() -> None:
    assert cession().status is CessionStatus.PLACED
    assert cession(share_ppm=1_000_000, step_seq=1_000_000).share_ppm == 1_000_000
    assert cession(share_ppm=0, step_seq=0, block_number=0).block_number == 0
    assert cession(block_number=2**63 - 1).block_number == 2**63 - 1
    refused("share_ppm", lambda: cession(share_ppm=1_000_001))
    refused("share_ppm", lambda: cession(share_ppm=-1))
    refused("step_seq", lambda: cession(step_seq=1_000_001))
    refused("block_number", lambda: cession(block_number=2**63))
    refused("block_number", lambda: cession(block_number=-1))
    assert len(cession(tx_ref="t" * 128).tx_ref or "") == 128
    refused("tx_ref", lambda: cession(tx_ref="t" * 129))
    refused("plan_id", lambda: cession(plan_id="-"))
    refused("status", lambda: cession(status="lost"))
    refused("amount", lambda: cession(amount=-1))
    refused("premium", lambda: cession(premium=-1))
    refused("created_at", lambda: cession(created_at=datetime(2026, 1, 1)))
    assert cession(created_at=datetime(2026, 1, 1, tzinfo=UTC)).created_at is not None


def record(**kw: object) -> TransferRecord:
    base: dict[str, object] = {
        "transfer_id": TID,
        "src_chain": "ethereum",
        "src_pool": "p1",
        "dst_chain": "base",
        "recipient": "0x" + "33" * 20,
        "amount": 1,
    }
    return TransferRecord(**{**base, **kw})  # type: ignore[arg-type]


def test_transfer_record_limits() -> None:
    assert record().status is TransferState.RECORDED
    refused("amount", lambda: record(amount=0))  # a transfer moves something
    refused("amount", lambda: record(amount=-1))
    refused("transfer_id", lambda: record(transfer_id="0x" + "a" * 63))
    assert record(step_seq=1_000_000, plan_id="plan-1").step_seq == 1_000_000
    refused("step_seq", lambda: record(step_seq=1_000_001))
    refused("step_seq", lambda: record(step_seq=-1))
    refused("plan_id", lambda: record(plan_id=""))
    refused("dst_pool", lambda: record(dst_pool=""))
    refused("recipient", lambda: record(recipient=""))
    refused("tx_ref", lambda: record(tx_ref="t" * 129))
    refused("status", lambda: record(status="lost"))
    refused("updated_at", lambda: record(updated_at=datetime(2026, 1, 1)))
    assert record(status="finalized", tx_ref="t" * 128).status is TransferState.FINALIZED


def test_defaults() -> None:
    s = step()
    assert (s.fee, s.version, s.status, s.transfer_id) == (0, 1, StepStatus.PENDING, None)
    assert draft().approvals_required == 1 and draft().summary == ""
    assert record(recipient="r" * 128).recipient == "r" * 128
    refused("recipient", lambda: record(recipient="r" * 129))
    assert record(step_seq=0).step_seq == 0
    refused("step_seq", lambda: cession(step_seq=-1))

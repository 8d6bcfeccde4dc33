"""Plan use cases: one transaction per change, idempotent execution requests, no-op re-approvals."""

from __future__ import annotations

import asyncio
import json

import pytest

from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.plans import EXECUTE_SCOPE, Plans
from router.config import PolicyConfig
from router.errors import IdempotencyMismatch, PreconditionFailed
from router.store import Store
from tests.app.conftest import ALICE, BOB, UNIT, Faulty

CAROL = m.Identity(m.Role.OPERATOR, "carol")


async def approved_plan(store: Store, plan_id: str = "plan-approved-1") -> m.Plan:
    """A stored plan approved by bob (created by carol), ready to execute."""
    draft = m.PlanDraft(
        plan_id=plan_id,
        created_by=CAROL.name,
        steps=(
            m.PlanStep(
                seq=0,
                kind=m.StepKind.TRANSFER,
                src_pool="a1",
                amount=5 * UNIT,
                dst_chain="chain-a",
                dst_pool="hub:chain-a",
            ),
        ),
        total_amount=5 * UNIT,
        cost=0,
    )
    await store.create_plan(draft)
    return await store.approve_plan(plan_id, BOB.name)


async def audit_of(store: Store, subject: str, action: str) -> list[m.AuditEntry]:
    return [e for e in await store.list_audit(subject, limit=50) if e.action == action]


async def test_concurrent_requests_with_one_key_execute_once_and_agree(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    plan = await approved_plan(book)
    plans = Plans(book, engine, policy)
    answers = await asyncio.gather(
        *(plans.request_execution(ALICE, plan.plan_id, "exec-key-0001") for _ in range(6))
    )
    assert [a.first for a in answers].count(True) == 1
    assert {a.plan.plan_id for a in answers} == {plan.plan_id}
    assert {a.plan.status for a in answers} == {m.PlanStatus.EXECUTING}
    # One state change: the plan moved once (version +1), one audit entry, one key.
    stored = await book.get_plan(plan.plan_id)
    assert stored.version == plan.version + 1
    assert len(await audit_of(book, plan.plan_id, "execution_requested")) == 1
    record = await book.find_key(EXECUTE_SCOPE, "exec-key-0001")
    assert record is not None and record.subject == plan.plan_id
    assert record.actor == ALICE.uri


@pytest.mark.parametrize("crash_in", ["record_key", "append_audit"])
async def test_a_crash_before_commit_leaves_nothing_and_a_retry_answers_once(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig, crash_in: str
) -> None:
    """The state change, the key record and the audit entry commit together:
    a crash between them leaves the plan approved, no key, no audit entry."""
    plan = await approved_plan(book)
    crashing = Faulty(book, crash_in)
    with pytest.raises(RuntimeError, match="injected crash"):
        await Plans(crashing, engine, policy).request_execution(  # type: ignore[arg-type]
            ALICE, plan.plan_id, "exec-key-0002"
        )
    assert crashing.calls == 1
    after = await book.get_plan(plan.plan_id)
    assert (after.status, after.version) == (m.PlanStatus.APPROVED, plan.version)
    assert await book.find_key(EXECUTE_SCOPE, "exec-key-0002") is None
    assert await audit_of(book, plan.plan_id, "execution_requested") == []

    plans = Plans(book, engine, policy)
    first = await plans.request_execution(ALICE, plan.plan_id, "exec-key-0002")
    again = await plans.request_execution(BOB, plan.plan_id, "exec-key-0002")
    assert first.first and not again.first
    assert first.plan.status is again.plan.status is m.PlanStatus.EXECUTING
    assert len(await audit_of(book, plan.plan_id, "execution_requested")) == 1


async def test_one_key_for_another_plan_is_refused_and_changes_nothing(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    one = await approved_plan(book, "plan-one")
    two = await approved_plan(book, "plan-two")
    plans = Plans(book, engine, policy)
    await plans.request_execution(ALICE, one.plan_id, "shared-key-01")
    with pytest.raises(IdempotencyMismatch) as err:
        await plans.request_execution(ALICE, two.plan_id, "shared-key-01")
    assert err.value.mismatch == ("plan_id",)
    assert (await book.get_plan(two.plan_id)).status is m.PlanStatus.APPROVED


async def test_a_plan_not_approved_cannot_execute(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    draft = m.PlanDraft("plan-pending", CAROL.name, (), 0, 0)
    await book.create_plan(draft)
    with pytest.raises(PreconditionFailed, match="not approved"):
        await Plans(book, engine, policy).request_execution(ALICE, "plan-pending", "key-pending")
    assert await book.find_key(EXECUTE_SCOPE, "key-pending") is None


async def test_approving_again_is_a_no_op_even_after_the_plan_moved_on(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await book.create_plan(m.PlanDraft("plan-twice", CAROL.name, (), 0, 0, approvals_required=1))
    plans = Plans(book, engine, policy)
    first = await plans.approve(BOB, "plan-twice")
    assert first.status is m.PlanStatus.APPROVED
    again = await plans.approve(BOB, "plan-twice")
    assert again == first
    assert len(await audit_of(book, "plan-twice", "plan_approved")) == 1
    # Someone who has not approved still gets a precise refusal.
    with pytest.raises(PreconditionFailed, match="only pending plans take approvals"):
        await plans.approve(ALICE, "plan-twice")


async def test_a_plan_and_its_audit_entry_commit_together(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    crashing = Faulty(book, "append_audit")
    with pytest.raises(RuntimeError):
        await Plans(crashing, engine, policy).propose(ALICE)  # type: ignore[arg-type]
    assert await book.list_plans() == []
    planned = await Plans(book, engine, policy).propose(ALICE)
    entry = (await audit_of(book, planned.plan.plan_id, "plan_created"))[0]
    assert json.loads(entry.detail)["steps"] == str(len(planned.plan.steps))

"""Approvals are bound to the plan's steps; their number scales with net capital moved."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.plans import EXECUTE_SCOPE, Plans
from router.config import PolicyConfig
from router.errors import Conflict, PlanChanged
from router.store import Store
from router.store._base import PLANS, STEPS
from tests.app.conftest import ALICE, BOB, UNIT

CAROL = m.Identity(m.Role.OPERATOR, "carol")
DAVE = m.Identity(m.Role.OPERATOR, "dave")
TIERS = ((0, 1), (1_000_000_000_000, 2), (10_000_000_000_000, 3))


def step(seq: int = 0, amount: int = 5 * UNIT, **kw: object) -> m.PlanStep:
    fields: dict[str, object] = {
        "seq": seq,
        "kind": m.StepKind.TRANSFER,
        "src_pool": "a1",
        "amount": amount,
        "dst_chain": "chain-a",
        "dst_pool": "hub:chain-a",
    }
    return m.PlanStep(**(fields | kw))  # type: ignore[arg-type]


async def carols_plan(store: Store, plan_id: str = "plan-bound-1", required: int = 1) -> m.Plan:
    draft = m.PlanDraft(
        plan_id, CAROL.name, (step(0), step(1, 7 * UNIT)), 12 * UNIT, 0, approvals_required=required
    )
    return await store.create_plan(draft)


async def set_amount(store: Store, plan_id: str, seq: int, amount: int) -> None:
    """A change made behind the use cases' back, straight in the database."""
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.update(STEPS)
            .where(STEPS.c.plan_id == plan_id, STEPS.c.seq == seq)
            .values(amount=amount)
        )


# -- the hash -----------------------------------------------------------------


def test_the_steps_hash_covers_what_moves_and_not_the_executors_progress() -> None:
    steps = (step(0), step(1, 7 * UNIT, route_id="a-b", fee=3))
    digest = m.steps_hash(steps)
    assert len(digest) == 64 and digest == m.steps_hash(tuple(reversed(steps)))
    for change in (
        {"amount": 5 * UNIT + 1},
        {"src_pool": "a2"},
        {"dst_pool": "hub:chain-b"},
        {"dst_chain": "chain-b"},
        {"route_id": "b-a"},
        {"fee": 4},
        {"seq": 2},
    ):
        changed = (steps[0], dataclasses.replace(steps[1], **change))  # type: ignore[arg-type]
        assert m.steps_hash(changed) != digest, change
    progressed = (
        steps[0],
        dataclasses.replace(
            steps[1], status=m.StepStatus.SENT, version=3, transfer_id="0x" + "ab" * 32, detail="x"
        ),
    )
    assert m.steps_hash(progressed) == digest
    cession = m.PlanStep(0, m.StepKind.CESSION, "a1", 9, vault_id="v1", share_ppm=10)
    assert m.steps_hash((cession,)) != m.steps_hash((dataclasses.replace(cession, share_ppm=11),))


# -- bound approvals ------------------------------------------------------------


async def test_the_initiator_cannot_approve_its_own_plan(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    plan = await carols_plan(book)
    with pytest.raises(Conflict, match="created plan 'plan-bound-1' and cannot approve it"):
        await Plans(book, engine, policy).approve(CAROL, plan.plan_id)
    after = await book.get_plan(plan.plan_id)
    assert after.approvals == () and after.status is m.PlanStatus.PENDING_APPROVAL


async def test_an_approval_is_stored_with_the_hash_of_the_steps(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    plan = await carols_plan(book)
    assert plan.steps_hash == m.steps_hash(plan.steps)
    approved = await Plans(book, engine, policy).approve(BOB, plan.plan_id)
    assert approved.approvals == ("bob",) and approved.approval_hashes == (plan.steps_hash,)
    assert m.check_unchanged(approved) == plan.steps_hash


async def test_a_step_changed_after_approval_voids_it_and_execution_is_refused(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    plan = await carols_plan(book)
    plans = Plans(book, engine, policy)
    approved = await plans.approve(BOB, plan.plan_id)
    assert approved.status is m.PlanStatus.APPROVED
    await set_amount(book, plan.plan_id, 1, 70 * UNIT)
    with pytest.raises(PlanChanged, match="steps changed since it was proposed") as err:
        await plans.request_execution(ALICE, plan.plan_id, "bound-key-0001")
    assert err.value.plan_id == plan.plan_id
    assert f"proposed {plan.steps_hash[:12]}" in str(err.value)  # type: ignore[index]
    after = await book.get_plan(plan.plan_id)
    assert (after.status, after.version) == (m.PlanStatus.APPROVED, approved.version)
    assert await book.find_key(EXECUTE_SCOPE, "bound-key-0001") is None


async def test_rewriting_the_plans_hash_too_still_leaves_the_approval_void(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    plan = await carols_plan(book)
    plans = Plans(book, engine, policy)
    await plans.approve(BOB, plan.plan_id)
    await set_amount(book, plan.plan_id, 0, 50 * UNIT)
    forged = m.steps_hash((step(0, 50 * UNIT), step(1, 7 * UNIT)))
    async with book.engine.begin() as conn:
        await conn.execute(
            sa.update(PLANS).where(PLANS.c.plan_id == plan.plan_id).values(steps_hash=forged)
        )
    with pytest.raises(PlanChanged, match=r"since they were approved \(bob approved") as err:
        await plans.request_execution(ALICE, plan.plan_id, "bound-key-0002")
    assert "the approval is void" in str(err.value)
    assert (await book.get_plan(plan.plan_id)).status is m.PlanStatus.APPROVED


async def test_a_plan_changed_before_approval_cannot_be_approved(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    plan = await carols_plan(book)
    await set_amount(book, plan.plan_id, 0, 1)
    with pytest.raises(PlanChanged, match="changed since it was proposed"):
        await Plans(book, engine, policy).approve(BOB, plan.plan_id)
    assert (await book.get_plan(plan.plan_id)).approvals == ()


async def test_an_approval_names_the_hash_it_reviewed(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    plan = await carols_plan(book)
    plans = Plans(book, engine, policy)
    with pytest.raises(PlanChanged, match="read the plan again"):
        await plans.approve(BOB, plan.plan_id, reviewed_hash="0" * 64)
    approved = await plans.approve(BOB, plan.plan_id, reviewed_hash=plan.steps_hash)
    assert approved.status is m.PlanStatus.APPROVED
    done = await plans.request_execution(ALICE, plan.plan_id, "bound-key-0003")
    assert done.plan.status is m.PlanStatus.EXECUTING


# -- tiers ----------------------------------------------------------------------


def test_tiers_count_from_each_threshold_on() -> None:
    assert [m.approvals_for(n, TIERS) for n in (0, 10**12 - 1, 10**12, 10**13 - 1, 10**13)] == [
        1,
        1,
        2,
        2,
        3,
    ]
    policy = PolicyConfig(approval_tiers=TIERS)
    assert policy.tiers() == TIERS
    # The shorthand: more than dual_approval_above needs two.
    dual = PolicyConfig(dual_approval_above=500)
    assert [m.approvals_for(n, dual.tiers()) for n in (500, 501)] == [1, 2]


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"approval_tiers": ((1, 1),)}, "start with a tier at 0"),
        ({"approval_tiers": ((0, 2), (10, 1))}, "must not fall"),
        ({"approval_tiers": ((0, 1), (10, 2), (10, 3))}, "thresholds must rise"),
        ({"approval_tiers": ((0, 0),)}, "1-16 approvals"),
        ({"approval_tiers": ((0, 1),), "dual_approval_above": 5}, "not both"),
    ],
)
def test_bad_tiers_are_refused(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        PolicyConfig(**settings)  # type: ignore[arg-type]


async def test_a_plan_in_the_top_tier_needs_three_distinct_operators(
    book: Store, engine: ReinsuranceEngine
) -> None:
    plans = Plans(book, engine, PolicyConfig(approval_tiers=TIERS))
    assert [plans.approvals_needed(n) for n in (UNIT, 10**12, 2 * 10**13)] == [1, 2, 3]
    plan = await carols_plan(book, required=plans.approvals_needed(2 * 10**13))
    for who, status in ((BOB, "pending_approval"), (ALICE, "pending_approval")):
        assert (await plans.approve(who, plan.plan_id)).status.value == status
    assert (await plans.approve(BOB, plan.plan_id)).approvals == ("bob", "alice")  # no-op
    with pytest.raises(Exception, match="not approved: it needs 3 approval"):
        await plans.request_execution(ALICE, plan.plan_id, "tier-key-0001")
    third = await plans.approve(DAVE, plan.plan_id)
    assert third.status is m.PlanStatus.APPROVED and len(third.approval_hashes) == 3
    done = await plans.request_execution(ALICE, plan.plan_id, "tier-key-0001")
    assert done.plan.status is m.PlanStatus.EXECUTING

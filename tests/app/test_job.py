"""The scheduled rebalancing job on a real store (SQLite and PostgreSQL): each
outcome from real store state, one run at a time, never a second plan."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.job import EXIT_CODES, LEASE_NAME, Outcome, RebalanceJob, execution_key
from router.app.plans import EXECUTE_SCOPE, Plans
from router.config import PolicyConfig
from router.store import Store, open_store
from tests.app.conftest import UNIT, fund
from tests.app.test_planning import bind

JOB = m.Identity(m.Role.OPERATOR, "rebalance-job")
POOLS = ("a1", "a2", "b1", "b2")


def job_of(
    store: Store, engine: Any, policy: PolicyConfig, holder: str | None = None
) -> RebalanceJob:
    return RebalanceJob(store, Plans(store, engine, policy), policy, JOB, holder=holder)


async def calm_book(book: Store) -> None:
    """Every pool reported now, no cover anywhere: nothing needs capital."""
    await fund(book, {p: 100_000 * UNIT for p in POOLS})


async def short_book(book: Store, engine: ReinsuranceEngine, policy: PolicyConfig) -> None:
    """b1 carries cover and lacks capital, a1 on the other chain is rich; all fresh."""
    await fund(book, {"a1": 1_000_000 * UNIT, "a2": 10 * UNIT, "b1": 400_000 * UNIT})
    await fund(book, {"b2": 10 * UNIT})
    await bind(book, engine, policy, "b1", "chain-b", 300_000 * UNIT, "job-stress-01")
    await fund(book, {"b1": 10_000 * UNIT})


@pytest.fixture
def band0() -> PolicyConfig:
    return PolicyConfig(rebalance_band_bps=0)


async def test_exit_codes_are_distinct_and_documented() -> None:
    assert EXIT_CODES[Outcome.NOTHING_TO_DO] == EXIT_CODES[Outcome.EXECUTED] == 0
    others = [
        c for o, c in EXIT_CODES.items() if o not in (Outcome.NOTHING_TO_DO, Outcome.EXECUTED)
    ]
    assert sorted(others) == [10, 11, 12, 13, 14, 15]


async def test_nothing_to_do_stores_nothing(book: Store, engine: ReinsuranceEngine) -> None:
    await calm_book(book)
    run = await job_of(book, engine, PolicyConfig()).run()
    assert (run.outcome, run.exit_code, run.plan) == (Outcome.NOTHING_TO_DO, 0, None)
    assert await book.list_plans() == []
    # The lease was given back: another holder takes it at once.
    won, _ = await book.acquire_lease(LEASE_NAME, "someone-else", timedelta(minutes=1))
    assert won


async def test_a_stale_pool_refuses_planning(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig
) -> None:
    await short_book(book, engine, band0)
    old = datetime.now(UTC) - timedelta(seconds=band0.staleness_limit_seconds + 5)
    await fund(book, {"a2": 10 * UNIT}, at=old)
    for dry in (True, False):
        run = await job_of(book, engine, band0).run(dry_run=dry)
        assert (run.outcome, run.exit_code) == (Outcome.STALE_DATA, 12)
        assert run.stale_pools == ("a2",)
    assert await book.list_plans() == []


async def test_a_pool_that_never_reported_is_stale(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig
) -> None:
    await fund(book, {"a1": UNIT, "a2": UNIT, "b1": UNIT})
    run = await job_of(book, engine, band0).run()
    assert run.outcome is Outcome.STALE_DATA and run.stale_pools == ("b2",)


async def test_a_plan_over_the_pre_approval_waits_and_is_never_stacked(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig
) -> None:
    await short_book(book, engine, band0)
    job = job_of(book, engine, band0)
    dry = await job.run(dry_run=True)
    assert (dry.outcome, dry.exit_code, dry.dry_run) == (Outcome.AWAITING_APPROVAL, 10, True)
    assert dry.plan is not None and dry.plan.plan_id == "" and dry.plan.steps
    assert await book.list_plans() == []

    run = await job.run()
    assert (run.outcome, run.exit_code) == (Outcome.AWAITING_APPROVAL, 10)
    assert run.plan is not None and run.plan.status is m.PlanStatus.PENDING_APPROVAL
    assert run.plan.created_by == JOB.name and run.plan.approvals_required >= 1
    for _ in range(3):
        again = await job.run()
        assert (again.outcome, again.exit_code) == (Outcome.IN_PROGRESS, 11)
        assert again.plan is not None and again.plan.plan_id == run.plan.plan_id
    assert [p.plan_id for p in await book.list_plans()] == [run.plan.plan_id]


async def test_a_pre_approved_plan_executes_once_and_nothing_is_added_while_it_runs(
    book: Store, engine: ReinsuranceEngine
) -> None:
    policy = PolicyConfig(rebalance_band_bps=0, auto_execute_below=10**9 * UNIT)
    await short_book(book, engine, policy)
    job = job_of(book, engine, policy)
    dry = await job.run(dry_run=True)
    assert dry.exit_code == 0 and dry.outcome is Outcome.EXECUTED and dry.dry_run
    run = await job.run()
    assert (run.outcome, run.exit_code) == (Outcome.EXECUTED, 0)
    assert run.plan is not None and run.plan.status is m.PlanStatus.EXECUTING
    assert run.plan.approvals_required == 0 and run.key == execution_key(run.plan.plan_id)
    record = await book.find_key(EXECUTE_SCOPE, run.key)
    assert record is not None and record.subject == run.plan.plan_id and record.actor == JOB.uri
    assert "no executor is configured" in run.note
    for _ in range(3):
        again = await job.run()
        assert (again.outcome, again.exit_code) == (Outcome.IN_PROGRESS, 11)
    plans = await book.list_plans()
    assert [(p.plan_id, p.status) for p in plans] == [(run.plan.plan_id, m.PlanStatus.EXECUTING)]
    actions = [e.action for e in await book.list_audit(run.plan.plan_id)]
    assert sorted(actions) == ["execution_requested", "plan_created", "plan_preapproved"]


async def test_a_plan_above_the_pre_approval_is_not_executed(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig
) -> None:
    await short_book(book, engine, band0)
    dry = await job_of(book, engine, band0).run(dry_run=True)
    assert dry.plan is not None
    policy = PolicyConfig(rebalance_band_bps=0, auto_execute_below=dry.plan.total_amount - 1)
    run = await job_of(book, engine, policy).run()
    assert run.outcome is Outcome.AWAITING_APPROVAL
    assert run.plan is not None and run.plan.status is m.PlanStatus.PENDING_APPROVAL


async def test_a_run_that_stopped_before_asking_is_resumed(
    book: Store, engine: ReinsuranceEngine
) -> None:
    """Stored and pre-approved, then the run died: the next run asks, under the same key."""
    policy = PolicyConfig(rebalance_band_bps=0, auto_execute_below=10**9 * UNIT)
    await short_book(book, engine, policy)
    plans = Plans(book, engine, policy)
    _, draft = await plans.draft(JOB)
    stored = await plans.store_draft(JOB, draft, pre_approved=True)
    assert stored.status is m.PlanStatus.APPROVED
    lowered = PolicyConfig(rebalance_band_bps=0, auto_execute_below=stored.total_amount - 1)
    run = await job_of(book, engine, lowered).run()
    assert run.outcome is Outcome.IN_PROGRESS  # no longer within the policy: left alone
    dry = await job_of(book, engine, policy).run(dry_run=True)
    assert (dry.outcome, dry.dry_run, dry.exit_code) == (Outcome.EXECUTED, True, 0)
    assert (await book.get_plan(stored.plan_id)).status is m.PlanStatus.APPROVED
    run = await job_of(book, engine, policy).run()
    assert run.outcome is Outcome.EXECUTED and run.plan is not None
    assert run.plan.plan_id == stored.plan_id and run.plan.status is m.PlanStatus.EXECUTING


async def test_a_plan_an_operator_made_is_in_progress_for_the_job(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig
) -> None:
    await short_book(book, engine, band0)
    mine = await Plans(book, engine, band0).propose(m.Identity(m.Role.OPERATOR, "alice"))
    run = await job_of(book, engine, band0).run()
    assert run.outcome is Outcome.IN_PROGRESS and run.plan is not None
    assert run.plan.plan_id == mine.plan.plan_id


async def test_a_held_lease_stops_the_run_and_an_expired_one_is_taken_over(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig
) -> None:
    await short_book(book, engine, band0)
    won, _ = await book.acquire_lease(LEASE_NAME, "host-a/1/abc", timedelta(minutes=10))
    assert won
    run = await job_of(book, engine, band0).run()
    assert (run.outcome, run.exit_code) == (Outcome.LEASE_HELD, 13)
    assert run.lease is not None and run.lease.holder == "host-a/1/abc"
    assert await book.list_plans() == []
    # The holder crashed: once its time is up the next run takes the lease over.
    past = datetime.now(UTC) - timedelta(hours=1)
    assert await book.release_lease(LEASE_NAME, "host-a/1/abc")
    won, _ = await book.acquire_lease(LEASE_NAME, "host-b/2/def", timedelta(minutes=10), now=past)
    assert won
    run = await job_of(book, engine, band0).run()
    assert run.outcome is Outcome.AWAITING_APPROVAL
    # The lease of a run that ended is gone; the crashed holder's release takes nothing.
    assert not await book.release_lease(LEASE_NAME, "host-b/2/def")


class Gated:
    """The real engine; its planning waits (in its worker thread) until ``gate`` opens,
    so a second run is sure to start while the first holds the lease."""

    def __init__(self, engine: ReinsuranceEngine, gate: threading.Event) -> None:
        self._engine = engine
        self._gate = gate

    def requirements(self, pools: Sequence[m.PoolExposure]) -> dict[str, m.Requirement]:
        return self._engine.requirements(pools)

    def premium(self, *args: Any, **kw: Any) -> int:
        return self._engine.premium(*args, **kw)

    def plan(self, *args: Any, **kw: Any) -> m.PlanProposal:
        assert self._gate.wait(60), "the other run never finished"
        return self._engine.plan(*args, **kw)


async def test_two_runs_at_once_on_two_connections_plan_once(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig, db_url: str
) -> None:
    """As two machines would: each run has its own store (connection pool)."""
    await short_book(book, engine, band0)
    gate = threading.Event()
    other = await open_store(db_url, migrate=False)
    try:
        jobs = [
            RebalanceJob(s, Plans(s, Gated(engine, gate), band0), band0, JOB) for s in (book, other)
        ]

        async def run_then_open(job: RebalanceJob) -> Any:
            try:
                return await job.run()
            finally:
                gate.set()

        runs = await asyncio.gather(*(run_then_open(j) for j in jobs))
    finally:
        await other.aclose()
    assert sorted(r.exit_code for r in runs) == [10, 13]
    outcome = {j.holder: r.outcome for j, r in zip(jobs, runs, strict=True)}
    held = next(r for r in runs if r.outcome is Outcome.LEASE_HELD)
    planned = next(r for r in runs if r.outcome is Outcome.AWAITING_APPROVAL)
    assert held.lease is not None
    assert outcome[held.lease.holder] is Outcome.AWAITING_APPROVAL  # the winner kept it out
    assert planned.plan is not None
    assert [p.plan_id for p in await book.list_plans()] == [planned.plan.plan_id]


async def test_pools_short_with_nothing_to_move_exit_14_and_store_nothing(
    book: Store, engine: ReinsuranceEngine, band0: PolicyConfig
) -> None:
    """b1 lost its capital and no pool has any to spare (no vault either)."""
    await fund(book, {"a1": 0, "a2": 0, "b1": 400_000 * UNIT, "b2": 0})
    await bind(book, engine, band0, "b1", "chain-b", 300_000 * UNIT, "job-short-01")
    await fund(book, {"b1": 10_000 * UNIT})
    for dry in (True, False):
        run = await job_of(book, engine, band0).run(dry_run=dry)
        assert (run.outcome, run.exit_code, run.plan) == (Outcome.SHORT, 14, None)
        assert any(s.startswith("b1: ") and "below target" in s for s in run.shortfalls)
    assert await book.list_plans() == []

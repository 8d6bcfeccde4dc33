"""Limits in the store: consumed once per step, never overdrawn by concurrent
consumers (replicas: separate engines on one database), kept across reopen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from router.domain.limits import DailyLimit, LaneLimit, LimitsPolicy
from router.errors import LimitExceeded
from router.store import Store, open_store
from router.store.tables import metadata
from tests.store.conftest import T0, later

LANE = LaneLimit("eth", "sol", capacity=1_000, refill_per_second=10)
POLICY = LimitsPolicy(
    lanes=(LANE,), daily=(DailyLimit("chain:eth", 700), DailyLimit("destination:s1", 5_000))
)


async def test_a_step_consumes_once_however_often_it_is_retried(store: Store) -> None:
    scopes = ["lane:eth->sol"]
    assert await store.consume_limits("plan-a", 0, 400, scopes, POLICY, now=T0) == scopes
    assert await store.consume_limits("plan-a", 0, 400, scopes, POLICY, now=T0) == []
    room = await store.limit_headroom(POLICY, now=T0)
    assert room.of("lane:eth->sol") == 600
    assert [(u.plan_id, u.seq, u.amount) for u in await store.limit_usage()] == [("plan-a", 0, 400)]


async def test_a_refused_step_consumes_nothing_anywhere(store: Store) -> None:
    await store.consume_limits("plan-a", 0, 650, ["chain:eth"], POLICY, now=T0)
    with pytest.raises(LimitExceeded) as err:
        # fits the lane, not the chain's daily window: neither is consumed
        await store.consume_limits(
            "plan-b", 1, 100, ["lane:eth->sol", "chain:eth"], POLICY, now=later(60)
        )
    assert err.value.scope == "chain:eth" and err.value.headroom == 50
    assert err.value.frees_at == T0 + timedelta(hours=24)
    assert "chain:eth" in str(err.value)
    room = await store.limit_headroom(POLICY, now=later(60))
    assert (room.of("lane:eth->sol"), room.of("chain:eth")) == (1_000, 50)
    assert len(await store.limit_usage()) == 1


async def test_splitting_into_many_steps_cannot_evade_the_daily_cap(store: Store) -> None:
    taken = 0
    for seq in range(20):
        try:
            await store.consume_limits("plan-s", seq, 50, ["chain:eth"], POLICY, now=later(seq))
            taken += 50
        except LimitExceeded:
            pass
    assert taken == 700
    # a day after the first ones, the window has moved on
    await store.consume_limits("plan-t", 0, 50, ["chain:eth"], POLICY, now=later(86_400))


async def test_the_bucket_refills_by_the_second(store: Store) -> None:
    await store.consume_limits("plan-a", 0, 1_000, ["lane:eth->sol"], POLICY, now=T0)
    with pytest.raises(LimitExceeded) as err:
        await store.consume_limits("plan-a", 1, 100, ["lane:eth->sol"], POLICY, now=later(5))
    assert err.value.headroom == 50 and err.value.frees_at == later(10)
    await store.consume_limits("plan-a", 1, 100, ["lane:eth->sol"], POLICY, now=later(10))
    assert (await store.limit_headroom(POLICY, now=later(10))).of("lane:eth->sol") == 0


async def test_unlimited_scopes_are_not_recorded(store: Store) -> None:
    assert await store.consume_limits("plan-a", 0, 10**30, ["destination:x"], POLICY) == []
    assert await store.limit_usage() == []


async def test_concurrent_consumers_on_two_replicas_never_overdraw(
    db_url: str, store: Store
) -> None:
    other = await open_store(db_url, migrate=False)
    try:

        async def one(replica: Store, i: int) -> int:
            try:
                await replica.consume_limits(
                    f"plan-{i}", 0, 300, ["lane:eth->sol", "chain:eth"], POLICY, now=T0
                )
                return 300
            except LimitExceeded:
                return 0

        got = await asyncio.gather(*(one(store if i % 2 else other, i) for i in range(12)))
        assert sum(got) == 600  # the daily cap of 700 holds two, whoever wins
        room = await store.limit_headroom(POLICY, now=T0)
        assert (room.of("lane:eth->sol"), room.of("chain:eth")) == (400, 100)
    finally:
        await other.aclose()


async def test_limits_survive_a_reopen(db_url: str, store: Store) -> None:
    await store.consume_limits(
        "plan-a", 0, 900, ["lane:eth->sol", "destination:s1"], POLICY, now=T0
    )
    await store.aclose()
    reopened = await open_store(db_url, migrate=False)
    try:
        room = await reopened.limit_headroom(POLICY, now=T0)
        assert (room.of("lane:eth->sol"), room.of("destination:s1")) == (100, 4_100)
        with pytest.raises(LimitExceeded):
            await reopened.consume_limits("plan-b", 0, 101, ["lane:eth->sol"], POLICY, now=T0)
    finally:
        await reopened.aclose()


async def test_a_replica_whose_clock_runs_ahead_cannot_open_room_for_another(
    store: Store,
) -> None:
    await store.consume_limits("plan-a", 0, 650, ["chain:eth"], POLICY, now=later(5))
    with pytest.raises(LimitExceeded):
        await store.consume_limits("plan-b", 0, 100, ["chain:eth"], POLICY, now=T0)
    assert (await store.limit_headroom(POLICY, now=T0)).of("chain:eth") == 50


async def test_a_step_that_moved_nothing_gives_its_headroom_back_once(store: Store) -> None:
    scopes = ["lane:eth->sol", "chain:eth"]
    await store.consume_limits("plan-f", 0, 600, scopes, POLICY, now=T0)
    await store.consume_limits("plan-g", 0, 100, ["chain:eth"], POLICY, now=T0)
    room = await store.limit_headroom(POLICY, now=T0)
    assert (room.of("lane:eth->sol"), room.of("chain:eth")) == (400, 0)
    released = await store.release_limits("plan-f", 0, POLICY, now=later(1))
    assert released == ["chain:eth", "lane:eth->sol"]
    # a second release (a retried activity) gives nothing more
    assert await store.release_limits("plan-f", 0, POLICY, now=later(2)) == []
    room = await store.limit_headroom(POLICY, now=later(2))
    # the lane refilled 10 in the second, then got 600 back: capped at its capacity
    assert (room.of("lane:eth->sol"), room.of("chain:eth")) == (1_000, 600)
    # the freed window takes a new step; the other plan's consumption still counts
    await store.consume_limits("plan-h", 0, 600, ["chain:eth"], POLICY, now=later(3))
    with pytest.raises(LimitExceeded):
        await store.consume_limits("plan-h", 1, 1, ["chain:eth"], POLICY, now=later(4))


async def test_a_partly_refilled_bucket_gets_exactly_the_amount_back(store: Store) -> None:
    await store.consume_limits("plan-a", 0, 900, ["lane:eth->sol"], POLICY, now=T0)
    await store.consume_limits("plan-b", 0, 50, ["lane:eth->sol"], POLICY, now=T0)
    assert await store.release_limits("plan-b", 0, POLICY, now=later(0)) == ["lane:eth->sol"]
    assert (await store.limit_headroom(POLICY, now=later(0))).of("lane:eth->sol") == 100
    # releasing a step that consumed nothing changes nothing
    assert await store.release_limits("plan-z", 3, POLICY, now=later(0)) == []


async def test_retention_prunes_the_consumptions_of_ended_plans_only(world: Store) -> None:
    """Past the window and the rolling 24 hours, a cancelled plan's consumptions
    (and their releases) go; a plan still pending keeps its own, and so does any
    consumption inside the 24 hours."""
    from router.domain import PlanDraft, PlanStatus, PlanStep, StepKind

    for plan_id in ("plan-ended", "plan-open"):
        await world.create_plan(
            PlanDraft(
                plan_id=plan_id,
                created_by="op-a",
                steps=(PlanStep(0, StepKind.TRANSFER, "p1", 10, dst_chain="evm", dst_pool="p2"),),
                total_amount=10,
                cost=0,
            )
        )
    plan = await world.get_plan("plan-ended")
    await world.update_plan_status(
        "plan-ended", PlanStatus.CANCELLED, expected_version=plan.version
    )
    now = datetime.now(UTC)
    old = now - timedelta(days=3)
    for plan_id in ("plan-ended", "plan-open"):
        await world.consume_limits(plan_id, 0, 100, ["chain:eth"], POLICY, now=old)
        await world.consume_limits(plan_id, 1, 50, ["chain:eth"], POLICY, now=old)
    await world.release_limits("plan-ended", 1, POLICY, now=old)
    await world.consume_limits("plan-ended", 2, 70, ["chain:eth"], POLICY, now=now)
    cutoff = now - timedelta(days=1)
    assert await world.count_prunable_limit_usage(cutoff) == 2
    assert await world.prune_limit_usage(cutoff, limit=1) == 1  # bounded batches
    assert await world.prune_limit_usage(cutoff, limit=10) == 1
    assert await world.prune_limit_usage(cutoff, limit=10) == 0
    left = {(u.plan_id, u.seq) for u in await world.limit_usage()}
    assert left == {("plan-open", 0), ("plan-open", 1), ("plan-ended", 2)}
    # A cutoff inside the rolling 24 hours is held back to its edge.
    assert await world.prune_limit_usage(now + timedelta(days=1), limit=10) == 0
    async with world.engine.connect() as conn:
        releases = metadata.tables["limit_releases"]
        rows = (await conn.execute(sa.select(releases.c.plan_id))).all()
    assert [r[0] for r in rows] == []  # the pruned step's release went with it

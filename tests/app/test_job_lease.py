"""The job's lease outlives a long run (a task renews it), and a run that loses
it stops at once with its own exit code, on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.job import EXIT_CODES, LEASE_NAME, Outcome, RebalanceJob
from router.app.plans import Plans
from router.config import PolicyConfig
from router.store import Store
from tests.app.test_job import JOB, calm_book

TTL = timedelta(seconds=30)


class SlowRun:
    """The real store; the run's first read waits until the test opens ``gate``
    (a run that takes as long as the test says). Counts the lease's renewals."""

    def __init__(self, store: Store, holder: str, renewals_wanted: int) -> None:
        self._store = store
        self._holder = holder
        self._wanted = renewals_wanted
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.renewed = asyncio.Event()
        self.leases: list[m.Lease] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta, **kw: Any) -> Any:
        won, lease = await self._store.acquire_lease(name, holder, ttl, **kw)
        if holder == self._holder and won:
            self.leases.append(lease)
            if len(self.leases) > self._wanted:
                self.renewed.set()
        return won, lease

    async def latest_balances(self, chain: str | None = None) -> Any:
        self.entered.set()
        await self.gate.wait()
        return await self._store.latest_balances(chain)


def slow_job(slow: SlowRun, engine: ReinsuranceEngine, renew: timedelta) -> RebalanceJob:
    policy = PolicyConfig()
    store = cast(Any, slow)
    return RebalanceJob(
        store,
        Plans(store, engine, policy),
        policy,
        JOB,
        holder="host-a/1/slow",
        lease_ttl=TTL,
        renew_every=renew,
    )


async def test_a_run_longer_than_its_lease_keeps_it(book: Store, engine: ReinsuranceEngine) -> None:
    await calm_book(book)
    slow = SlowRun(book, "host-a/1/slow", renewals_wanted=2)
    task = asyncio.create_task(slow_job(slow, engine, timedelta(milliseconds=20)).run())
    await slow.entered.wait()
    await slow.renewed.wait()  # taken, then renewed twice while the run waits
    first, last = slow.leases[0], slow.leases[-1]
    assert last.holder == first.holder and last.expires_at > first.expires_at
    # past the first lease's end, the renewed lease still keeps others out
    won, held = await book.acquire_lease(
        LEASE_NAME, "host-b/2/late", TTL, now=first.expires_at + timedelta(milliseconds=1)
    )
    assert not won and held.holder == "host-a/1/slow"
    slow.gate.set()
    run = await task
    assert (run.outcome, run.exit_code) == (Outcome.NOTHING_TO_DO, 0)
    # and it was given back at the end
    won, _ = await book.acquire_lease(LEASE_NAME, "host-b/2/late", TTL)
    assert won


async def test_a_run_that_loses_its_lease_stops_with_its_own_exit_code(
    book: Store, engine: ReinsuranceEngine
) -> None:
    await calm_book(book)
    slow = SlowRun(book, "host-a/1/slow", renewals_wanted=1)
    task = asyncio.create_task(slow_job(slow, engine, timedelta(milliseconds=20)).run())
    await slow.entered.wait()
    # the run hangs; its lease is taken over as if it had expired
    expired = slow.leases[0].expires_at + timedelta(seconds=1)
    won, _ = await book.acquire_lease(LEASE_NAME, "host-b/2/next", TTL, now=expired)
    assert won
    run = await task  # the gate never opens: only losing the lease ends the run
    assert (run.outcome, run.exit_code) == (Outcome.LEASE_LOST, 15)
    assert EXIT_CODES[Outcome.LEASE_LOST] == 15
    assert run.lease is not None and run.lease.holder == "host-b/2/next"
    assert "host-b/2/next" in run.note
    assert await book.list_plans() == []
    # the new holder keeps its lease: the aborted run released nothing of it
    won, held = await book.acquire_lease(LEASE_NAME, "host-c/3/other", TTL)
    assert not won and held.holder == "host-b/2/next"

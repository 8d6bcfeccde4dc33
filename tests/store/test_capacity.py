"""Capacity enforced by the store under the pool's row lock, across replicas.

Two ``Store`` instances over one database (two engines: two router replicas)
bind on one pool at once; the sum of cover in force never passes the limit.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import event

from router.domain import CapacityRule, CoverRequest
from router.domain.ingest import ReportIn
from router.store import CapacityExceeded, IdempotencyMismatch, InvalidRecord, Store, open_store
from router.store.tables import metadata

from .conftest import T0, block_hash, later

RULE = CapacityRule(capacity_bps=8_000, max_staleness=timedelta(minutes=10))
NOW = later(60)  # the balance below was observed at later(10): fresh under RULE


def cover(key: str, amount: int, **kw: object) -> CoverRequest:
    base = CoverRequest(
        partner_id="acme",
        idempotency_key=key,
        pool_id="p1",
        cover_type="oracle",
        limit_amount=amount,
        premium=1,
        starts_at=T0,
        ends_at=T0 + timedelta(days=30),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


async def fund(store: Store, amount: int, *, pool: str = "p1", block: int = 10) -> None:
    [out] = await store.record_reports(
        [ReportIn("evm", pool, "r-evm", amount, block, block_hash(block), True, later(block))]
    )
    assert out.accepted


async def in_force(store: Store) -> int:
    return (await store.active_cover_by_pool(now=NOW)).get("p1", 0)


@pytest.fixture
async def replica(world: Store, db_url: str) -> AsyncIterator[Store]:
    """A second store over the same database: another router replica."""
    other = await open_store(db_url, migrate=False, cache_ttl=60.0)
    try:
        yield other
    finally:
        await other.aclose()


async def test_a_bind_beyond_capacity_is_refused_and_writes_nothing(world: Store) -> None:
    await fund(world, 1_000)  # limit 800
    await world.bind_cover(cover("a", 500), now=NOW, capacity=RULE)
    with pytest.raises(CapacityExceeded) as err:
        await world.bind_cover(cover("b", 301), now=NOW, capacity=RULE)
    e = err.value
    assert (e.pool_id, e.requested, e.available) == ("p1", 301, 300)
    assert "'p1'" in str(e) and "300" in str(e) and "301" in str(e)
    assert [c.idempotency_key for c in await world.list_covers("acme")] == ["a"]
    exact = await world.bind_cover(cover("b", 300), now=NOW, capacity=RULE)  # fits exactly
    assert exact.created and await in_force(world) == 800


async def test_locked_capital_and_stale_balances_shrink_the_limit(world: Store) -> None:
    await fund(world, 1_000)
    pool = await world.get_pool("p1")
    await world.upsert_pool(replace(pool, locked_capital=500))  # free 500 -> limit 400
    with pytest.raises(CapacityExceeded) as err:
        await world.bind_cover(cover("a", 401), now=NOW, capacity=RULE)
    assert err.value.available == 400
    stale = later(10) + RULE.max_staleness + timedelta(seconds=1)
    with pytest.raises(CapacityExceeded) as err:
        await world.bind_cover(cover("a", 1), now=stale, capacity=RULE)
    assert err.value.available == 0
    with pytest.raises(CapacityExceeded):  # no confirmed balance at all: no capacity
        await world.bind_cover(cover("c", 1, pool_id="p2"), now=NOW, capacity=RULE)
    assert await world.list_covers("acme") == []


async def test_expired_cover_frees_capacity(world: Store) -> None:
    await fund(world, 1_000)
    await world.bind_cover(cover("old", 800, ends_at=NOW), now=NOW - timedelta(seconds=1))
    await world.bind_cover(cover("new", 800), now=NOW, capacity=RULE)  # ends_at == NOW: expired
    assert await in_force(world) == 800


async def test_replay_answers_even_when_the_pool_is_full(world: Store) -> None:
    await fund(world, 1_000)
    first = await world.bind_cover(cover("a", 800), now=NOW, capacity=RULE)
    again = await world.bind_cover(cover("a", 800), now=NOW, capacity=RULE)
    assert (again.created, again.cover) == (False, first.cover)
    with pytest.raises(IdempotencyMismatch) as err:
        await world.bind_cover(cover("a", 700), now=NOW, capacity=RULE)
    assert err.value.mismatch == ("limit_amount",)
    assert len(await world.list_covers("acme")) == 1


async def test_capacity_must_be_a_rule(world: Store) -> None:
    with pytest.raises(InvalidRecord) as err:
        await world.bind_cover(cover("a", 1), capacity=8_000)  # type: ignore[arg-type]
    assert err.value.field == "capacity"
    with pytest.raises(InvalidRecord):
        CapacityRule(capacity_bps=10_001, max_staleness=timedelta(minutes=1))
    with pytest.raises(InvalidRecord):
        CapacityRule(capacity_bps=1, max_staleness=timedelta(0))


async def test_two_replicas_binding_at_once_never_oversell(world: Store, replica: Store) -> None:
    await fund(world, 1_000)  # limit 800: 32 binds of 25 fit, the other 28 do not
    stores = (world, replica)
    results = await asyncio.gather(
        *(
            stores[i % 2].bind_cover(cover(f"k{i:02d}", 25), now=NOW, capacity=RULE)
            for i in range(60)
        ),
        return_exceptions=True,
    )
    bound = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, CapacityExceeded) for r in refused), refused
    assert len(bound) == 32 and all(b.created for b in bound)
    assert [e.available for e in refused if isinstance(e, CapacityExceeded)] == [0] * 28
    covers = await replica.list_covers("acme")
    assert sorted(c.cover_id for c in covers) == sorted(b.cover.cover_id for b in bound)
    assert await in_force(world) == 800


async def test_replicas_racing_on_one_key_bind_once_even_at_the_limit(
    world: Store, replica: Store
) -> None:
    await fund(world, 1_000)
    results = await asyncio.gather(
        *(
            (world, replica)[i % 2].bind_cover(cover("same", 800), now=NOW, capacity=RULE)
            for i in range(6)
        )
    )
    assert sum(r.created for r in results) == 1
    assert len({r.cover.cover_id for r in results}) == 1
    assert await in_force(world) == 800


async def test_pools_are_locked_separately(world: Store, replica: Store) -> None:
    await fund(world, 1_000)
    await fund(world, 1_000, pool="p2")
    results = await asyncio.gather(
        world.bind_cover(cover("x", 800), now=NOW, capacity=RULE),
        replica.bind_cover(cover("y", 800, pool_id="p2"), now=NOW, capacity=RULE),
    )
    assert all(r.created for r in results)


def _sneak_in(db_url: str) -> str:
    """Another replica commits a 400 cover on p1 at once (no waiting): 'ok' or 'locked'.

    A plain driver connection copies the ``seed`` cover under a new key; it
    gives up at once if the pool is locked, so the outcome is deterministic.
    """
    cols = [c.name for c in metadata.tables["covers"].columns]
    picked = [{"cover_id": "'cov_sneak'", "idempotency_key": "'sneak'"}.get(c, c) for c in cols]
    sql = (
        f"INSERT INTO covers ({', '.join(cols)}) SELECT {', '.join(picked)} "
        "FROM covers WHERE idempotency_key = 'seed'"
    )
    if db_url.startswith("sqlite"):
        lite = sqlite3.connect(db_url.split(":///", 1)[1], timeout=0)
        try:
            with lite:
                lite.execute(sql)
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return "locked"
        finally:
            lite.close()
        return "ok"
    with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as pg:
        try:
            with pg.transaction():
                pg.execute("SET LOCAL lock_timeout = '50ms'")
                pg.execute(sql)  # the FK check needs a share lock on the pool row
        except psycopg.errors.LockNotAvailable:
            return "locked"
    return "ok"


async def test_no_replica_writes_between_the_check_and_the_insert(
    world: Store, db_url: str
) -> None:
    """Deterministic interleaving: right after this bind has read the cover in
    force, another writer tries to commit cover on the same pool; it must be
    shut out until the bind commits, else both would fit in the same 400."""
    await fund(world, 1_000)  # limit 800
    await world.bind_cover(cover("seed", 400), now=NOW, capacity=RULE)
    seen: list[str] = []

    def after(_conn: object, _cur: object, statement: str, *_: object) -> None:
        if not seen and "FROM covers" in statement and "ends_at >" in statement:
            seen.append(_sneak_in(db_url))

    event.listen(world.engine.sync_engine, "after_cursor_execute", after)
    try:
        bound = await world.bind_cover(cover("mine", 400), now=NOW, capacity=RULE)
    finally:
        event.remove(world.engine.sync_engine, "after_cursor_execute", after)
    assert seen == ["locked"] and bound.created
    assert await in_force(world) == 800


async def test_a_balance_backs_covers_until_the_instant_it_goes_stale(world: Store) -> None:
    await fund(world, 1_000)
    bal = await world.latest_balance("p1")
    assert bal is not None
    limit, tick = bal.fresh_at + RULE.max_staleness, timedelta(microseconds=1)
    with pytest.raises(CapacityExceeded) as err:
        await world.bind_cover(cover("after", 1), now=limit + tick, capacity=RULE)
    assert err.value.available == 0
    at = await world.bind_cover(cover("at", 1), now=limit, capacity=RULE)  # still fresh
    before = await world.bind_cover(cover("before", 1), now=limit - tick, capacity=RULE)
    assert at.created and before.created

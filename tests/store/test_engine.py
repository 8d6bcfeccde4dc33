"""Opening stores: unreachable databases, caches shared between replicas."""

from __future__ import annotations

from dataclasses import replace

import pytest

from router.domain.ingest import Outcome, Reject, ReportIn
from router.store import Store, StoreUnavailable, open_store
from router.store.bulk import _array_literal

from .conftest import T0, block_hash


async def test_unreachable_postgres_is_a_retryable_store_error() -> None:
    url = "postgresql://postgres@127.0.0.1:1/none"  # nothing listens on port 1
    with pytest.raises(StoreUnavailable) as info:
        await open_store(url)
    assert info.value.retryable
    store = await open_store(url, migrate=False)
    try:
        with pytest.raises(StoreUnavailable):
            await store.list_pools()
    finally:
        await store.aclose()


def report(pool: str) -> ReportIn:
    return ReportIn("evm", pool, "r-evm", 1, 1, block_hash(1), True, T0)


async def test_a_replica_sees_new_pools_after_ttl_or_invalidation(
    world: Store, db_url: str
) -> None:
    cached = await open_store(db_url, migrate=False, cache_ttl=3600)
    uncached = await open_store(db_url, migrate=False, cache_ttl=0)
    try:
        [before] = await cached.record_reports([report("p9")])
        assert before.code == Reject.UNKNOWN_POOL.value
        await world.upsert_pool(replace(await world.get_pool("p1"), pool_id="p9"))
        [stale] = await cached.record_reports([report("p9")])
        assert stale.code == Reject.UNKNOWN_POOL.value  # within its TTL: still the old view
        [fresh] = await uncached.record_reports([report("p9")])
        assert fresh.status is Outcome.CONFIRMED
        cached.invalidate_cache()
        [after] = await cached.record_reports([report("p9")])
        assert after.status is Outcome.DUPLICATE  # sees the pool, and the confirmed block
    finally:
        await cached.aclose()
        await uncached.aclose()


@pytest.mark.postgres
async def test_array_literals_round_trip_any_text(postgresql_url: str) -> None:
    """The PostgreSQL bulk path ships columns as array literals: quoting must be exact."""
    values = ["plain", 'with "quotes"', "back\\slash", "comma,brace{}", " spaced ", "NULL", ""]
    store = await open_store(postgresql_url, migrate=False)
    try:
        async with store.engine.connect() as conn:
            result = await conn.exec_driver_sql(
                "SELECT unnest((%s::text)::text[])", (_array_literal(values),)
            )
            assert [r[0] for r in result] == values
    finally:
        await store.aclose()

"""History retention: bounded under a long run, by permit only, never the
confirmed balance, the votes behind it or the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from chains.base import ChainFamily
from router import domain as m
from router.app.retention import Retention
from router.config import RetentionConfig
from router.domain import Chain, Pool, Reporter
from router.domain.ingest import Outcome, ReportIn
from router.store import Store, open_store

from .conftest import T0, block_hash

HOUR = RetentionConfig(history_days=1 / 24, prune_interval_seconds=1, prune_batch=50)


def _batch(block: int, at_s: int, *, at: datetime = T0) -> list[ReportIn]:
    when = at + timedelta(seconds=at_s)
    return [
        ReportIn("evm", pool, "r-evm", 1_000 + block, block, block_hash(block), True, when, when)
        for pool in ("p1", "p2")
    ]


async def test_history_stays_bounded_over_a_long_run(world: Store) -> None:
    """Ten simulated hours, a batch a minute, a prune tick after each batch:
    the history never holds much more than the window (60 batches x 2 pools)."""
    retention = Retention(world, HOUR)
    await world.append_audit("op-a", "before-the-run", "s")
    most = 0
    for k in range(1, 601):
        now = T0 + timedelta(minutes=k)
        out = await world.record_reports(_batch(k, k * 60), now=now)
        assert {o.status for o in out} == {Outcome.CONFIRMED}
        await retention.tick(now)
        most = max(most, await world.count_history())
    # 60 minutes of batches in the window plus what one tick of 50 rows lags behind.
    assert most <= 2 * 61 + 50
    assert await world.count_history() <= 2 * 61
    latest = await world.latest_balance("p1")
    assert latest is not None and latest.block_number == 600
    assert [e.action for e in await world.list_audit()] == ["before-the-run"]
    newest = await world.report_history("p1", limit=1)
    assert newest[0][1].block_number == 600


async def test_prune_keeps_the_confirmed_blocks_votes_and_pending_votes(world: Store) -> None:
    """Rows far past the window but at a pool's confirmed block (or a quorum
    in progress above it) stay; the older ones go, and a dry run counts them."""
    await world.record_reports(_batch(1, 0), now=T0)
    await world.record_reports(_batch(2, 60), now=T0 + timedelta(minutes=1))
    # A quorum-2 pool: one vote only, never confirmed.
    vote = ReportIn("sol", "s1", "r-sol-a", 5, 7, block_hash(7), True, T0)
    [pending] = await world.record_reports([vote], now=T0)
    assert pending.status is Outcome.PENDING
    retention = Retention(world, HOUR)
    much_later = T0 + timedelta(days=3)
    dry = await retention.prune(now=much_later, dry_run=True)
    assert (dry.removed, dry.kept, dry.dry_run) == (2, 5, True)
    assert await world.count_history() == 5
    done = await retention.prune(now=much_later)
    assert (done.removed, done.kept) == (2, 3)
    assert [v.block_number for _, v, _ in await world.report_history("p1")] == [2]
    assert len(await world.report_history("s1")) == 1
    latest = await world.latest_balance("p2")
    assert latest is not None and (latest.block_number, latest.amount) == (2, 1_002)


async def test_retention_off_prunes_nothing(world: Store) -> None:
    await world.record_reports(_batch(1, 0), now=T0)
    await world.record_reports(_batch(2, 60), now=T0 + timedelta(minutes=1))
    off = Retention(world, RetentionConfig(history_days=0))
    assert await off.tick(T0 + timedelta(days=400)) == 0
    report = await off.prune(now=T0 + timedelta(days=400))
    assert (report.removed, report.kept) == (0, 4)


@pytest.mark.parametrize(
    "sql",
    [
        # a permit does not open UPDATE, nor rows received after it
        "UPDATE balance_reports SET amount = '1'",
        "DELETE FROM balance_reports WHERE block_number = 2",
        "DELETE FROM audit_log",
    ],
)
async def test_a_permit_opens_only_older_history_rows_to_delete(world: Store, sql: str) -> None:
    await world.append_audit("op-a", "x", "s")
    await world.record_reports(_batch(1, 0), now=T0)
    await world.record_reports(_batch(2, 60), now=T0 + timedelta(minutes=1))
    permits = sa.table("history_prune_permit", sa.column("permit_id"), sa.column("before"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with world.engine.begin() as conn:
            before = T0 + timedelta(seconds=30)
            if world.backend == "sqlite":
                before_value: object = before.replace(tzinfo=None)
            else:
                before_value = before
            await conn.execute(sa.insert(permits).values(permit_id="t", before=before_value))
            await conn.execute(sa.text(sql))
    assert await world.count_history() == 4
    assert len(await world.list_audit()) == 1


async def test_ballast_prune_dry_run_counts_then_prune_removes(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The CLI reads the window from the config; --dry-run deletes nothing."""
    from tests.router.cli_support import invoke

    store = await open_store(sqlite_url, migrate=False)
    try:
        await store.upsert_chain(Chain("evm", ChainFamily.EVM, quorum=1))
        for pool in ("p1", "p2"):
            await store.upsert_pool(Pool(pool, "evm", "0x" + "11" * 20, "0x" + "aa" * 20))
        await store.register_reporter(Reporter("r-evm", "evm"))
        old = m.utcnow() - timedelta(days=10)
        await store.record_reports(_batch(1, 0, at=old), now=old)
        await store.record_reports(_batch(2, 60, at=old), now=old + timedelta(minutes=1))
        await store.record_reports(_batch(3, 0, at=m.utcnow()))
        config = tmp_path / "prune.toml"
        config.write_text(f'database_url = "{sqlite_url}"\n[retention]\nhistory_days = 7\n')
        dry = await invoke("prune", "--dry-run", "--config", str(config))
        assert dry.code == 0, dry.err
        assert dry.out.startswith("would remove 4 of 6 history rows received before ")
        assert await store.count_history() == 6
        done = await invoke("prune", "--config", str(config))
        assert done.code == 0, done.err
        history, usage = done.out.splitlines()
        assert history.startswith("removed 4 history rows received before ")
        assert history.endswith("; 2 kept")
        assert usage.startswith("removed 0 limit consumptions of ended plans before ")
        assert await store.count_history() == 2
        config.write_text(f'database_url = "{sqlite_url}"\n[retention]\nhistory_days = -1\n')
        bad = await invoke("prune", "--config", str(config))
        assert bad.code == 2 and len(bad.err_lines) == 1
        assert "retention.history_days" in bad.err
    finally:
        await store.aclose()


async def test_the_server_prunes_history_past_the_window(sqlite_url: str, tmp_path: Path) -> None:
    """``ballast serve``'s background pruning: a tick at start-up, finished before stop."""
    from router.api.server import running_router
    from router.config import load_settings

    settings = load_settings(
        listen="127.0.0.1:0",
        database_url=sqlite_url,
        auth={"mode": "token", "token_secret": "s" * 32},
        chains=[{"name": "evm", "family": "evm"}],
        pools=[{"chain": "evm", "pool_id": p, "address": "0x" + "11" * 20} for p in ("p1", "p2")],
        reporters=[{"reporter_id": "r-evm", "chain": "evm"}],
        retention={"history_days": 7, "prune_interval_seconds": 3600, "prune_batch": 3},
    )
    store = await open_store(sqlite_url, migrate=False)
    try:
        old = m.utcnow() - timedelta(days=10)
        await store.upsert_chain(Chain("evm", ChainFamily.EVM, quorum=1))
        for pool in ("p1", "p2"):
            await store.upsert_pool(Pool(pool, "evm", "0x" + "11" * 20, "USDC"))
        await store.register_reporter(Reporter("r-evm", "evm"))
        for k in range(3):
            await store.record_reports(_batch(k + 1, 0, at=old), now=old + timedelta(minutes=k))
        await store.record_reports(_batch(4, 0, at=m.utcnow()))
        assert await store.count_history() == 8
        async with running_router(settings, store=store):
            pass
        # One tick of at most 3 rows: the oldest three of the six past the window.
        assert await store.count_history() == 5
        assert [v.block_number for _, v, _ in await store.report_history("p1")][-1] >= 2
    finally:
        await store.aclose()

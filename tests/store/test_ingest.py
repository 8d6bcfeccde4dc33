"""Balance-report ingestion through the store: every rule, quorum, atomicity."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
import sqlalchemy as sa

from router.domain import Reporter
from router.domain.ingest import Outcome, Reject, ReportIn
from router.store import Conflict, Store, StoreError

from .conftest import T0, block_hash, later


def evm(pool: str = "p1", *, block: int = 10, amount: int = 1_000, **kw: object) -> ReportIn:
    base = ReportIn("evm", pool, "r-evm", amount, block, block_hash(block), True, later(block))
    return replace(base, **kw)  # type: ignore[arg-type]


def sol(reporter: str, *, block: int = 100, amount: int = 5_000, fork: int = 0) -> ReportIn:
    bhash = block_hash(block, fork)
    return ReportIn("sol", "s1", reporter, amount, block, bhash, True, later(block))


async def test_accepted_report_confirms_and_is_latest(world: Store) -> None:
    [out] = await world.record_reports([evm(amount=2**256 - 1)])
    assert (out.status, out.accepted, out.code) == (Outcome.CONFIRMED, True, "")
    bal = await world.latest_balance("p1")
    assert bal is not None
    assert (bal.amount, bal.block_number, bal.block_hash) == (2**256 - 1, 10, block_hash(10))
    assert type(bal.amount) is int
    assert bal.observed_at == later(10) and bal.reporters == 1
    assert await world.latest_balance("p2") is None


@pytest.mark.parametrize(
    ("report", "code", "words"),
    [
        (evm(pool="nope"), Reject.UNKNOWN_POOL, "unknown pool 'nope'"),
        (evm(reporter_id="ghost"), Reject.UNKNOWN_REPORTER, "unknown reporter 'ghost'"),
        (evm(pool="s1"), Reject.WRONG_CHAIN, "pool 's1' is on chain 'sol', not 'evm'"),
        (evm(chain="sol"), Reject.REPORTER_NOT_ALLOWED, "not allowed to report for chain 'sol'"),
        (evm(finalized=False), Reject.NOT_FINAL, "block 10 is not final"),
        (evm(amount=-1), Reject.NEGATIVE_AMOUNT, "must not be negative, got -1"),
        (evm(amount=2**256), Reject.MALFORMED, "amount exceeds uint256"),
        (evm(amount=1.5), Reject.MALFORMED, "amount must be an integer"),  # type: ignore[arg-type]
        (evm(block_hash="0xABC"), Reject.MALFORMED, "block_hash must be"),
        (evm(block=-3), Reject.MALFORMED, "block_number must be"),
        (evm(amount=True), Reject.MALFORMED, "amount must be an integer"),
        (evm(finalized=1), Reject.MALFORMED, "finalized must be a bool"),
        (evm(pool="p" * 129), Reject.MALFORMED, "pool_id must be a non-empty string"),
        (evm(observed_at=T0.replace(tzinfo=None)), Reject.MALFORMED, "timezone-aware"),
    ],
    ids=lambda v: v.value if isinstance(v, Reject) else None,
)
async def test_each_rejection_says_why_and_stores_nothing(
    world: Store, report: ReportIn, code: Reject, words: str
) -> None:
    [out] = await world.record_reports([report])
    assert out.status is Outcome.REJECTED and not out.accepted
    assert out.code == code.value
    assert words in out.reason
    assert await world.latest_balances() == {}
    assert await world.report_history("p1") == []


async def test_revoked_reporter_is_rejected(world: Store) -> None:
    await world.register_reporter(Reporter("r-evm", "evm", allowed=False))
    [out] = await world.record_reports([evm()])
    assert out.code == Reject.REPORTER_NOT_ALLOWED.value


async def test_older_block_is_rejected_and_same_block_is_duplicate(world: Store) -> None:
    await world.record_reports([evm(block=20, amount=7)])
    older, same, conflict, newer = await world.record_reports(
        [evm(block=19), evm(block=20, amount=7), evm(block=20, amount=8), evm(block=21, amount=9)]
    )
    assert older.code == Reject.OLDER_BLOCK.value
    assert "block 19 is older than the confirmed block 20" in older.reason
    assert same.status is Outcome.DUPLICATE
    assert conflict.code == Reject.CONFLICTS_CONFIRMED.value
    assert newer.status is Outcome.CONFIRMED
    bal = await world.latest_balance("p1")
    assert bal is not None and (bal.block_number, bal.amount) == (21, 9)
    [d] = await world.list_disagreements("p1")
    assert d.block_number == 20 and any(":8" in v for v in d.votes)


async def test_out_of_order_within_a_batch_keeps_the_highest_block(world: Store) -> None:
    outs = await world.record_reports([evm(block=30, amount=3), evm(block=29, amount=2)])
    assert [o.status for o in outs] == [Outcome.CONFIRMED, Outcome.REJECTED]
    bal = await world.latest_balance("p1")
    assert bal is not None and bal.block_number == 30


async def test_mixed_batch_outcomes_are_in_order(world: Store) -> None:
    outs = await world.record_reports([evm("p1"), evm("zz"), evm("p2", amount=0)])
    assert [o.index for o in outs] == [0, 1, 2]
    assert [o.accepted for o in outs] == [True, False, True]
    assert set((await world.latest_balances("evm")).keys()) == {"p1", "p2"}


async def test_quorum_not_reached_then_reached(world: Store) -> None:
    [first] = await world.record_reports([sol("r-sol-a")])
    assert first.status is Outcome.PENDING and "1 of 2" in first.reason
    assert await world.latest_balance("s1") is None
    [again] = await world.record_reports([sol("r-sol-a")])
    assert again.status is Outcome.DUPLICATE  # one reporter twice is not a quorum
    assert await world.latest_balance("s1") is None
    [second] = await world.record_reports([sol("r-sol-b")])
    assert second.status is Outcome.CONFIRMED
    bal = await world.latest_balance("s1")
    assert bal is not None and (bal.amount, bal.reporters) == (5_000, 2)


async def test_quorum_reached_inside_one_batch(world: Store) -> None:
    outs = await world.record_reports([sol("r-sol-a"), sol("r-sol-b")])
    assert outs[1].status is Outcome.CONFIRMED
    assert (await world.latest_balance("s1")) is not None


async def test_disagreement_is_recorded_never_averaged(world: Store) -> None:
    a, b = await world.record_reports([sol("r-sol-a", amount=100), sol("r-sol-b", amount=300)])
    assert a.status is Outcome.DISAGREEMENT and b.status is Outcome.DISAGREEMENT
    assert "disagree" in b.reason and "x1" in b.reason
    assert await world.latest_balance("s1") is None  # nothing confirmed, nothing averaged
    [d] = await world.list_disagreements()
    assert d.pool_id == "s1" and d.block_number == 100
    assert sorted(d.votes) == [f"r-sol-a={block_hash(100)}:100", f"r-sol-b={block_hash(100)}:300"]
    # A third reporter siding with one value settles it at exactly that value.
    [c] = await world.record_reports([sol("r-sol-c", amount=300)])
    assert c.status is Outcome.CONFIRMED
    bal = await world.latest_balance("s1")
    assert bal is not None and bal.amount == 300


async def test_disagreement_on_block_hash(world: Store) -> None:
    await world.record_reports([sol("r-sol-a", fork=1)])
    [b] = await world.record_reports([sol("r-sol-b", fork=2)])
    assert b.status is Outcome.DISAGREEMENT
    assert await world.latest_balance("s1") is None


async def test_reporter_contradicting_itself_is_rejected(world: Store) -> None:
    await world.record_reports([sol("r-sol-a", amount=1)])
    [out] = await world.record_reports([sol("r-sol-a", amount=2)])
    assert out.code == Reject.CONFLICTING_RESEND.value
    [(rid, vote, _)] = await world.report_history("s1")
    assert rid == "r-sol-a" and vote.amount == 1


async def test_quorum_older_block_after_confirmation_is_rejected(world: Store) -> None:
    await world.record_reports([sol("r-sol-a", block=200), sol("r-sol-b", block=200)])
    [late] = await world.record_reports([sol("r-sol-c", block=150)])
    assert late.code == Reject.OLDER_BLOCK.value


async def test_static_cache_sees_new_pools(world: Store) -> None:
    [before] = await world.record_reports([evm("p3")])
    assert before.code == Reject.UNKNOWN_POOL.value
    pool = await world.get_pool("p1")
    await world.upsert_pool(replace(pool, pool_id="p3"))
    [after] = await world.record_reports([evm("p3")])
    assert after.status is Outcome.CONFIRMED


async def test_failing_batch_writes_nothing(world: Store) -> None:
    """A database fault mid-batch (a trigger refusing one row) rolls back the whole batch."""
    async with world.engine.begin() as conn:
        if world.backend == "postgresql":
            await conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_13() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.amount = 13 THEN RAISE EXCEPTION 'injected fault'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_13 BEFORE INSERT OR UPDATE ON balance_latest "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_13()"
                )
            )
        else:
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_13 BEFORE INSERT ON balance_latest "
                    "WHEN NEW.amount = '13' BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
                )
            )
    try:
        with pytest.raises((StoreError, Conflict), match=r"conflicts|database error"):
            await world.record_reports([evm("p1", amount=12), evm("p2", amount=13)])
        assert await world.latest_balances() == {}
        assert await world.report_history("p1") == []
    finally:
        async with world.engine.begin() as conn:
            if world.backend == "postgresql":
                await conn.execute(sa.text("DROP TRIGGER refuse_13 ON balance_latest"))
                await conn.execute(sa.text("DROP FUNCTION refuse_13()"))
            else:
                await conn.execute(sa.text("DROP TRIGGER refuse_13"))
    [ok] = await world.record_reports([evm("p2", amount=13)])
    assert ok.status is Outcome.CONFIRMED


async def test_large_batch_of_many_pools(world: Store) -> None:
    pool = await world.get_pool("p1")
    await world.upsert_pools([replace(pool, pool_id=f"bulk-{i}") for i in range(200)])
    batch = [evm(f"bulk-{i}", amount=i) for i in range(200)]
    outs = await world.record_reports(batch)
    assert all(o.status is Outcome.CONFIRMED for o in outs)
    latest = await world.latest_balances("evm")
    assert {latest[f"bulk-{i}"].amount for i in range(200)} == set(range(200))


async def test_concurrent_votes_from_two_reporters_reach_quorum(world: Store) -> None:
    """Each vote in its own transaction at the same time: they must still see each other."""
    for block in range(300, 310):
        await asyncio.gather(
            world.record_reports([sol("r-sol-a", block=block)]),
            world.record_reports([sol("r-sol-b", block=block)]),
        )
        bal = await world.latest_balance("s1")
        assert bal is not None and bal.block_number == block, block


async def test_concurrent_overlapping_batches_do_not_deadlock(world: Store) -> None:
    pool = await world.get_pool("p1")
    await world.upsert_pools([replace(pool, pool_id=f"c-{i}") for i in range(50)])
    ids = [f"c-{i}" for i in range(50)]
    batches = [
        [evm(p, block=b) for p in (ids if b % 2 else list(reversed(ids)))] for b in range(1, 9)
    ]
    results = await asyncio.gather(*(world.record_reports(b) for b in batches))
    assert all(o.accepted or o.code == Reject.OLDER_BLOCK.value for r in results for o in r)
    assert {b.block_number for b in (await world.latest_balances("evm")).values()} == {8}


async def test_the_same_batch_through_two_replicas_at_once_is_stored_once(
    world: Store, db_url: str
) -> None:
    """Two stores (replicas) write the same new votes concurrently: on PostgreSQL
    the second's COPY meets the first's keys and falls back to the
    conflict-tolerant insert; both answer, every vote is stored once."""
    from router.store import open_store

    pool = await world.get_pool("p1")
    await world.upsert_pools([replace(pool, pool_id=f"twin-{i}") for i in range(100)])
    other = await open_store(db_url, migrate=False)
    try:
        for block in (1, 2, 3):
            batch = [evm(f"twin-{i}", block=block, amount=block) for i in range(100)]
            a, b = await asyncio.gather(world.record_reports(batch), other.record_reports(batch))
            assert all(o.accepted for o in a + b)
        for i in (0, 99):
            votes = await world.report_history(f"twin-{i}")
            assert [v.block_number for _, v, _ in votes] == [3, 2, 1]
        latest = await world.latest_balances("evm")
        assert {latest[f"twin-{i}"].block_number for i in range(100)} == {3}
    finally:
        await other.aclose()

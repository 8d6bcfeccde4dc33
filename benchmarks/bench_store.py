"""Balance-report ingestion straight into the store: reports/s per backend.

Run: .venv/bin/python benchmarks/bench_store.py [--rounds N]

For SQLite (a temp file) and PostgreSQL on 127.0.0.1:5432 (a throwaway
database, skipped if nothing listens), with batches of 500 and 1,000 pools:
every round is one batch holding one new finalized block for every pool.
Quorum 1 (one reporter per chain) and quorum 2 (two reporters agreeing, each
report a vote) are measured; the baseline in the same run is the pure rules
alone (router.domain.ingest, no I/O), to show what the database costs.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from chains.base import ChainFamily
from router.domain import Chain, Pool, Reporter
from router.domain.ingest import ReportIn, StaticView, decide, screen
from router.store import Store, open_store

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
WARMUP_ROUNDS = 6
REPEATS = 3


def _hash(n: int) -> str:
    return "0x" + f"{n:064x}"


async def _setup(store: Store, pools: int, quorum: int) -> list[str]:
    await store.upsert_chain(Chain("bench", ChainFamily.EVM, quorum=quorum))
    ids = [f"pool-{i:05d}" for i in range(pools)]
    await store.upsert_pools([Pool(p, "bench", "0x" + "11" * 20, "0x" + "aa" * 20) for p in ids])
    for r in range(quorum):
        await store.register_reporter(Reporter(f"rep-{r}", "bench"))
    return ids


def _batch(ids: list[str], reporter: str, block: int, now: datetime) -> list[ReportIn]:
    h = _hash(block)
    return [
        ReportIn("bench", pid, reporter, 10**12 + block + i, block, h, True, now)
        for i, pid in enumerate(ids)
    ]


async def bench_store(url: str, pools: int, quorum: int, rounds: int) -> tuple[float, float]:
    """(median, best) reports/s over REPEATS segments of ``rounds`` blocks each."""
    store = await open_store(url)
    try:
        ids = await _setup(store, pools, quorum)
        now = datetime.now(UTC)
        block = 0
        for _ in range(WARMUP_ROUNDS):  # warm caches; let the driver prepare statements
            block += 1
            for r in range(quorum):
                await store.record_reports(_batch(ids, f"rep-{r}", block, now))
        rates = []
        for _ in range(REPEATS):
            batches = []
            for _ in range(rounds):
                block += 1
                batches += [_batch(ids, f"rep-{r}", block, now) for r in range(quorum)]
            total = 0
            start = time.perf_counter()
            for batch in batches:
                outs = await store.record_reports(batch)
                total += len(outs)
                if not all(o.accepted for o in outs):
                    raise SystemExit(f"unexpected rejection: {outs[0]}")
            rates.append(total / (time.perf_counter() - start))
        latest = await store.latest_balance(ids[-1])
        assert latest is not None and latest.block_number == block, latest
        return statistics.median(rates), max(rates)
    finally:
        await store.aclose()


def bench_rules(pools: int, rounds: int) -> float:
    ids = [f"pool-{i:05d}" for i in range(pools)]
    static = StaticView({p: "bench" for p in ids}, {"rep-0": ("bench", True)}, {"bench": 1})
    now = datetime.now(UTC)
    batches = [_batch(ids, "rep-0", block, now) for block in range(rounds)]
    start = time.perf_counter()
    for batch in batches:
        decide(batch, screen(batch, static, {}), static, {})
    return pools * rounds / (time.perf_counter() - start)


def _pg_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


async def main(rounds: int) -> None:
    import psycopg

    print(
        f"per case: {REPEATS} timed segments of {rounds} rounds after {WARMUP_ROUNDS} warm-up "
        "rounds; one batch per reporter per round"
    )
    for pools in (500, 1000):
        print(f"rules only (no I/O), batch {pools}: {bench_rules(pools, rounds):,.0f} reports/s")
    with tempfile.TemporaryDirectory() as tmp:
        for quorum in (1, 2):
            for pools in (500, 1000):
                url = f"sqlite+aiosqlite:///{Path(tmp) / f'b{pools}q{quorum}.db'}"
                med, best = await bench_store(url, pools, quorum, rounds)
                print(
                    f"{'sqlite':<19} quorum {quorum} batch {pools:>5}: "
                    f"{med:>8,.0f} reports/s median (best {best:,.0f})"
                )
    if not _pg_up():
        print("postgresql: skipped (nothing listens on 127.0.0.1:5432)")
        return
    for driver in ("psycopg", "asyncpg"):
        for quorum in (1, 2):
            for pools in (500, 1000):
                name = f"ballast_bench_{uuid.uuid4().hex[:10]}"
                with psycopg.connect(PG_ADMIN, autocommit=True) as c:
                    c.execute(f'CREATE DATABASE "{name}"')
                try:
                    url = f"postgresql+{driver}://postgres@127.0.0.1:5432/{name}"
                    med, best = await bench_store(url, pools, quorum, rounds)
                    print(
                        f"postgresql+{driver:<8} quorum {quorum} batch {pools:>5}: "
                        f"{med:>8,.0f} reports/s median (best {best:,.0f})"
                    )
                finally:
                    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
                        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    asyncio.run(main(parser.parse_args().rounds))

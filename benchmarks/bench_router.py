"""Router benchmarks: report ingestion against its transport's and its database's limits.

Run: ``.venv/bin/python benchmarks/bench_router.py`` (``make bench`` runs it).

Everything goes over real gRPC with mTLS on 127.0.0.1, clients in a separate
process. In one run, for the same batches (1,000 pools, batches of 1,000
reports, every report a new finalized block, so each one is stored and
confirmed):

* transport: reports/s of a bare ``grpc.aio`` bidi stream carrying the very
  same serialized ``StreamReportsRequest`` batches to a trivial server that
  parses each batch and acks it (same TLS, no interceptors, no store): the
  most the transport can carry for this payload;
* database: rows/s of the database's own bulk insert of the same rows into
  the same ``balance_reports`` schema, one transaction per batch (SQLite:
  ``executemany`` on the stdlib driver; PostgreSQL: ``COPY`` via psycopg);
* router: reports/s through the router on SQLite and, when PostgreSQL
  listens on 127.0.0.1:5432 (database ``test``, trust auth), on a throwaway
  PostgreSQL database; each as a share of the lower of the two limits
  (target >= 0.25x, and >= 20,000 reports/s on 2 cores);
* GetPosition p50/p99 with 1,000 pools (target p99 <= 20 ms), SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa
from ballast.v1 import common_pb2, reporting_pb2, treasury_pb2
from sqlalchemy.dialects import sqlite

from router.agent.client import RouterClient, mtls_channel
from router.api.server import running_router
from router.config import load_settings
from router.devtools.pki import TestCA
from router.store.bulk import HISTORY_COLUMNS
from router.store.tables import metadata
from router.store.types import UtcDateTime

HASH = "0x" + "ab" * 32
ACK_METHOD = "/bench.Ack/StreamReports"


def _batches(pools: int, batches: int, batch_size: int) -> list[bytes]:
    """Serialized batches; batch k reports a slice of pools at block k+1."""
    out = []
    now = datetime.now(UTC)
    for k in range(batches):
        reports = []
        for j in range(batch_size):
            i = (k * batch_size + j) % pools
            r = reporting_pb2.BalanceReport(
                chain="ethereum",
                pool_id=f"pool-{i:05d}",
                amount=common_pb2.Amount(asset="USDC", value=str(10**12 + k)),
                block_number=k + 1,
                block_hash=HASH,
                finalized=True,
            )
            r.observed_at.FromDatetime(now)
            reports.append(r)
        req = reporting_pb2.StreamReportsRequest(batch_id=f"b{k}", reports=reports)
        out.append(req.SerializeToString())
    return out


async def _ingest(addr: str, creds: dict[str, bytes], payloads: list[bytes]) -> dict[str, float]:
    async with RouterClient.mtls(addr, **creds) as c:
        reqs = [reporting_pb2.StreamReportsRequest.FromString(p) for p in payloads]

        async def gen() -> Any:
            for r in reqs:
                yield r

        t0 = time.perf_counter()
        accepted = rejected = 0
        async for ack in c.reporting.StreamReports(gen()):
            accepted += ack.accepted
            rejected += ack.rejected
        dt = time.perf_counter() - t0
    return {"seconds": dt, "accepted": accepted, "rejected": rejected}


async def _transport(addr: str, creds: dict[str, bytes], payloads: list[bytes]) -> dict[str, float]:
    """The same batches over a bare stream, built and parsed as the router client does."""
    ch = mtls_channel(addr, **creds)
    chat = ch.stream_stream(
        ACK_METHOD,
        request_serializer=reporting_pb2.StreamReportsRequest.SerializeToString,
        response_deserializer=reporting_pb2.StreamReportsResponse.FromString,
    )
    reqs = [reporting_pb2.StreamReportsRequest.FromString(p) for p in payloads]

    async def gen() -> Any:
        for r in reqs:
            yield r

    t0 = time.perf_counter()
    accepted = 0
    async for ack in chat(gen()):
        accepted += ack.accepted
    dt = time.perf_counter() - t0
    await ch.close()
    return {"seconds": dt, "accepted": accepted}


async def _positions(
    addr: str, creds: dict[str, bytes], rep_creds: dict[str, bytes], calls: int, block: int
) -> dict[str, Any]:
    async with RouterClient.mtls(addr, **creds) as c, RouterClient.mtls(addr, **rep_creds) as r:
        for _ in range(20):  # warm up connection and caches
            await c.treasury.GetPosition(treasury_pb2.GetPositionRequest())
        lat = []
        pools = 0
        for _ in range(calls):
            t0 = time.perf_counter()
            resp = await c.treasury.GetPosition(treasury_pb2.GetPositionRequest())
            lat.append(time.perf_counter() - t0)
            pools = len(resp.pools)
        # Cold: each call right after an ingested report invalidated the view.
        cold = []
        template = _batches(1, 1, 1)[0]
        for i in range(30):
            batch = reporting_pb2.StreamReportsRequest.FromString(template)
            batch.reports[0].block_number = block + i

            async def one(b: reporting_pb2.StreamReportsRequest = batch) -> Any:
                yield b

            _ = [a async for a in r.reporting.StreamReports(one())]
            t0 = time.perf_counter()
            await c.treasury.GetPosition(treasury_pb2.GetPositionRequest())
            cold.append(time.perf_counter() - t0)
    return {"latencies": lat, "pools": pools, "cold": cold}


def _child(kind: str, args: tuple[Any, ...], out: Any) -> None:
    fn = {"ingest": _ingest, "transport": _transport, "positions": _positions}[kind]
    out.send(asyncio.run(fn(*args)))
    out.close()


async def in_child(kind: str, *args: Any) -> Any:
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(kind, args, send))
    proc.start()
    result = await asyncio.to_thread(recv.recv)
    await asyncio.to_thread(proc.join)
    return result


async def ack_server(ca: TestCA, server: Any) -> tuple[grpc.aio.Server, int]:
    """A trivial server for the transport's limit: parses each batch, acks it."""

    async def chat(requests: Any, context: Any) -> Any:
        async for batch in requests:
            n = len(batch.reports)
            yield reporting_pb2.StreamReportsResponse(
                batch_id=batch.batch_id, accepted=n, reporter_id="ethereum", confirmed=n
            )

    handler = grpc.method_handlers_generic_handler(
        "bench.Ack",
        {
            "StreamReports": grpc.stream_stream_rpc_method_handler(
                chat,
                request_deserializer=reporting_pb2.StreamReportsRequest.FromString,
                response_serializer=reporting_pb2.StreamReportsResponse.SerializeToString,
            )
        },
    )
    srv = grpc.aio.server(options=[("grpc.max_receive_message_length", 8 * 1024 * 1024)])
    srv.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        [(server.key_pem, server.cert_pem)], root_certificates=ca.cert_pem, require_client_auth=True
    )
    port = srv.add_secure_port("127.0.0.1:0", creds)
    await srv.start()
    return srv, port


def _rows(payloads: list[bytes]) -> list[list[tuple[Any, ...]]]:
    """The history rows the router stores for these batches, one list per batch."""
    received = datetime.now(UTC)
    out = []
    for p in payloads:
        batch = reporting_pb2.StreamReportsRequest.FromString(p)
        out.append(
            [
                (
                    r.pool_id,
                    r.block_number,
                    "ethereum",
                    r.chain,
                    int(r.amount.value),
                    r.block_hash,
                    r.observed_at.ToDatetime(tzinfo=UTC),
                    received,
                )
                for r in batch.reports
            ]
        )
    return out


def _history_table(url: str) -> None:
    """The router's ``balance_reports`` schema (same types, key and indexes) in a fresh database."""
    engine = sa.create_engine(url)
    try:
        metadata.tables["balance_reports"].create(engine)
    finally:
        engine.dispose()


def sqlite_limit(path: Path, batches: list[list[tuple[Any, ...]]]) -> float:
    """Rows/s of SQLite's own ``executemany``, one transaction per batch, the router's pragmas."""
    _history_table(f"sqlite:///{path}")
    amount = UtcDateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    assert amount is not None
    conv = [[(*r[:4], str(r[4]), r[5], amount(r[6]), amount(r[7])) for r in b] for b in batches]
    cols = ", ".join(HISTORY_COLUMNS)
    sql = f"INSERT INTO balance_reports ({cols}) VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter()
    for rows in conv:
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    dt = time.perf_counter() - t0
    conn.close()
    return sum(map(len, conv)) / dt


def postgres_limit(dsn: str, batches: list[list[tuple[Any, ...]]]) -> float:
    """Rows/s of PostgreSQL's ``COPY`` through psycopg, one transaction per batch."""
    import psycopg

    _history_table(dsn.replace("postgresql://", "postgresql+psycopg://"))
    cols = ", ".join(HISTORY_COLUMNS)
    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        for rows in batches:
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY balance_reports ({cols}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        dt = time.perf_counter() - t0
    return sum(map(len, batches)) / dt


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def pg_database() -> Iterator[str]:
    """A throwaway database on the local PostgreSQL; its DSN."""
    import psycopg

    name = f"ballast_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Bench:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.ca = TestCA()
        self.tmp = Path(tempfile.mkdtemp(prefix="ballast-bench-"))
        self.server_pair = self.ca.server()
        self.files = self.ca.write(self.tmp, {"server": self.server_pair})
        self.payloads = _batches(opts.pools, opts.batches, opts.batch_size)

    def creds(self, uri: str) -> dict[str, bytes]:
        pair = self.ca.client(uri)
        return {"ca_pem": self.ca.cert_pem, "cert_pem": pair.cert_pem, "key_pem": pair.key_pem}

    def settings(self, database_url: str) -> Any:
        pools = [
            {"chain": "ethereum", "pool_id": f"pool-{i:05d}", "address": "0x" + f"{i:040x}"}
            for i in range(self.opts.pools)
        ]
        return load_settings(
            listen="127.0.0.1:0",
            database_url=database_url,
            tls={
                "ca_cert": self.tmp / "ca.pem",
                "server_cert": self.files["server"][0],
                "server_key": self.files["server"][1],
            },
            chains=[{"name": "ethereum", "family": "evm"}],
            pools=pools,
            reporters=[{"reporter_id": "ethereum", "chain": "ethereum"}],
            limits={
                "reporter": {"rate": 1e6, "burst": 10**6},
                "operator": {"rate": 1e6, "burst": 10**6},
            },
        )

    async def transport(self) -> float:
        srv, port = await ack_server(self.ca, self.server_pair)
        try:
            res = await in_child(
                "transport",
                f"127.0.0.1:{port}",
                self.creds("ballast://reporter/ethereum"),
                self.payloads,
            )
        finally:
            await srv.stop(None)
        assert res["accepted"] == len(self.payloads) * self.opts.batch_size
        return float(res["accepted"] / res["seconds"])

    async def router(self, database_url: str, positions: bool) -> tuple[dict[str, Any], Any]:
        async with running_router(self.settings(database_url)) as router:
            ing = await in_child(
                "ingest", router.address, self.creds("ballast://reporter/ethereum"), self.payloads
            )
            pos = None
            if positions:
                pos = await in_child(
                    "positions",
                    router.address,
                    self.creds("ballast://operator/bench"),
                    self.creds("ballast://reporter/ethereum"),
                    self.opts.calls,
                    self.opts.batches + 10,
                )
        return ing, pos


def _share(
    name: str, n: int, ing: dict[str, Any], transport: float, db: float, db_how: str
) -> None:
    rate = n / ing["seconds"]
    bound = min(transport, db)
    which = "transport" if transport <= db else "database"
    print(
        f"{name}: router {rate:,.0f} reports/s ({ing['accepted']} accepted, "
        f"{ing['rejected']} rejected, {ing['seconds']:.2f} s); database limit ({db_how}) "
        f"{db:,.0f} rows/s; lower limit: {which} {bound:,.0f}/s; "
        f"router / lower limit = {rate / bound:.2f}x  (target >= 0.25x and >= 20,000 reports/s)"
    )


async def main(opts: argparse.Namespace) -> None:
    bench = Bench(opts)
    n = opts.batches * opts.batch_size
    rows = _rows(bench.payloads)
    print(
        f"{opts.pools} pools; {n} reports in {opts.batches} batches of {opts.batch_size}; "
        "mTLS on 127.0.0.1; clients in a separate process"
    )
    transport = await bench.transport()
    print(
        f"transport limit: bare grpc.aio stream, same batches, one ack per batch: "
        f"{transport:,.0f} reports/s"
    )
    if opts.store in ("sqlite", "both"):
        db = sqlite_limit(bench.tmp / "limit.db", rows)
        url = f"sqlite+aiosqlite:///{bench.tmp / 'bench.db'}"
        ing, pos = await bench.router(url, positions=True)
        _share("SQLite", n, ing, transport, db, "executemany")
        _positions_report(opts, pos)
    if opts.store in ("postgresql", "both"):
        if not postgres_reachable():
            print("PostgreSQL: skipped, nothing listens on 127.0.0.1:5432")
            return
        with pg_database() as limit_dsn:
            db = postgres_limit(limit_dsn, rows)
        with pg_database() as dsn:
            url = dsn.replace("postgresql://", "postgresql+psycopg://")
            ing, _ = await bench.router(url, positions=False)
        _share("PostgreSQL", n, ing, transport, db, "COPY")


def _positions_report(opts: argparse.Namespace, pos: dict[str, Any]) -> None:
    lat = sorted(pos["latencies"])
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    cold = sorted(pos["cold"])
    print(
        "GetPosition right after an ingested report (view patched, answer rebuilt): "
        f"median {statistics.median(cold) * 1000:.2f} ms, max {cold[-1] * 1000:.2f} ms "
        f"over {len(cold)} calls"
    )
    print(
        f"GetPosition with {pos['pools']} pools over {opts.calls} calls: "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms  (target p99 <= 20 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql", "both"),
        default="both",
        help="PostgreSQL: throwaway databases on 127.0.0.1:5432 (skipped when not listening)",
    )
    asyncio.run(main(parser.parse_args()))

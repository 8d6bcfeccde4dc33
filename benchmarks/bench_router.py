"""Router benchmarks: report ingestion against a bare echo server, GetPosition latency.

Run: ``.venv/bin/python benchmarks/bench_router.py`` (``make bench`` runs it).

Everything goes over real gRPC with mTLS on 127.0.0.1, clients in a separate
process. Printed:

* ingestion: reports/s through the router (batched bidi stream, every report
  a new finalized block, so each one is stored and confirmed, SQLite store);
* echo baseline: messages/s of a bare ``grpc.aio`` bidi echo server (same TLS,
  no interceptors, no store) sending one report-sized message per message —
  what the transport does without batching; the ratio router reports/s ÷ echo
  messages/s says what batching buys (target >= 0.5, and >= 20,000 reports/s);
* GetPosition p50/p99 with 1,000 pools (target p99 <= 20 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from ballast.v1 import common_pb2, reporting_pb2, treasury_pb2

from router.agent.client import RouterClient, mtls_channel
from router.api.server import running_router
from router.config import load_settings
from router.devtools.pki import TestCA

HASH = "0x" + "ab" * 32
ECHO_METHOD = "/bench.Echo/Chat"


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


async def _echo(addr: str, creds: dict[str, bytes], payload: bytes, n: int) -> dict[str, float]:
    ch = mtls_channel(addr, **creds)
    chat = ch.stream_stream(ECHO_METHOD)

    async def gen() -> Any:
        for _ in range(n):
            yield payload

    t0 = time.perf_counter()
    got = 0
    async for _ in chat(gen()):
        got += 1
    dt = time.perf_counter() - t0
    await ch.close()
    return {"seconds": dt, "messages": got}


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
    fn = {"ingest": _ingest, "echo": _echo, "positions": _positions}[kind]
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


async def echo_server(ca: TestCA, server: Any) -> tuple[grpc.aio.Server, int]:
    async def chat(requests: Any, context: Any) -> Any:
        async for msg in requests:
            yield msg

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Chat": grpc.stream_stream_rpc_method_handler(chat)}
    )
    srv = grpc.aio.server()
    srv.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        [(server.key_pem, server.cert_pem)], root_certificates=ca.cert_pem, require_client_auth=True
    )
    port = srv.add_secure_port("127.0.0.1:0", creds)
    await srv.start()
    return srv, port


async def main(opts: argparse.Namespace) -> None:
    ca = TestCA()
    tmp = Path(tempfile.mkdtemp(prefix="ballast-bench-"))
    server_pair = ca.server()
    files = ca.write(tmp, {"server": server_pair})
    pools = [
        {"chain": "ethereum", "pool_id": f"pool-{i:05d}", "address": "0x" + f"{i:040x}"}
        for i in range(opts.pools)
    ]
    settings = load_settings(
        listen="127.0.0.1:0",
        database_url=opts.database_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        tls={
            "ca_cert": tmp / "ca.pem",
            "server_cert": files["server"][0],
            "server_key": files["server"][1],
        },
        chains=[{"name": "ethereum", "family": "evm"}],
        pools=pools,
        reporters=[{"reporter_id": "ethereum", "chain": "ethereum"}],
        limits={
            "reporter": {"rate": 1e6, "burst": 10**6},
            "operator": {"rate": 1e6, "burst": 10**6},
        },
    )

    def creds(uri: str) -> dict[str, bytes]:
        pair = ca.client(uri)
        return {"ca_pem": ca.cert_pem, "cert_pem": pair.cert_pem, "key_pem": pair.key_pem}

    payloads = _batches(opts.pools, opts.batches, opts.batch_size)
    one_report = reporting_pb2.StreamReportsRequest.FromString(payloads[0]).reports[0]
    async with running_router(settings) as router:
        ing = await in_child(
            "ingest", router.address, creds("ballast://reporter/ethereum"), payloads
        )
        pos = await in_child(
            "positions",
            router.address,
            creds("ballast://operator/bench"),
            creds("ballast://reporter/ethereum"),
            opts.calls,
            opts.batches + 10,
        )
    srv, port = await echo_server(ca, server_pair)
    try:
        echo = await in_child(
            "echo",
            f"127.0.0.1:{port}",
            creds("ballast://operator/echo"),
            one_report.SerializeToString(),
            opts.echo_messages,
        )
    finally:
        await srv.stop(None)

    store = "PostgreSQL" if opts.database_url else "SQLite"
    print(f"store: {store}; {opts.pools} pools; mTLS on 127.0.0.1; clients in a separate process")
    n = opts.batches * opts.batch_size
    rate = n / ing["seconds"]
    echo_rate = echo["messages"] / echo["seconds"]
    lat = sorted(pos["latencies"])
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    print(
        f"ingestion: {n} reports in {opts.batches} batches of {opts.batch_size} "
        f"({ing['accepted']} accepted, {ing['rejected']} rejected) in {ing['seconds']:.2f}s "
        f"= {rate:,.0f} reports/s  (target >= 20,000)"
    )
    print(
        f"echo baseline: {echo['messages']} report-sized messages in {echo['seconds']:.2f}s "
        f"= {echo_rate:,.0f} messages/s"
    )
    print(f"ratio router reports/s / echo messages/s = {rate / echo_rate:.2f}  (target >= 0.5)")
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
    parser.add_argument("--echo-messages", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use a throwaway database on the PostgreSQL at 127.0.0.1:5432 instead of SQLite",
    )
    args = parser.parse_args()
    args.database_url = None
    if not args.postgres:
        asyncio.run(main(args))
    else:
        import uuid

        import psycopg

        admin = "postgresql://postgres@127.0.0.1:5432/test"
        name = f"ballast_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            args.database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            asyncio.run(main(args))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

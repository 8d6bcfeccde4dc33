"""Soak run: the whole service for N minutes against the embedded chains.

Run: ``.venv/bin/python benchmarks/soak.py [--minutes 10]`` (not part of
``make test``; ``make bench`` does not run it either).

What runs, in this process (as ``make demo`` wires it): two py-evm chains and
a LiteSVM Solana cluster joined by the local bridge, blocks coming every
``--tick`` seconds; a router (mTLS, SQLite by default, ``--database-url`` for
PostgreSQL) with a Temporal dev server and an executor worker; one reporting
agent per chain streaming final balances; a partner quoting and binding small
covers; an operator reading positions; losses paid out of pools now and then;
and the scheduled rebalancing job (``RebalanceJob``, executing its own plans
within ``auto_execute_below``) every ``--job-every`` seconds.

Printed: RSS of this process after a warm-up and at the end (target growth
< 10 %), errors (target 0: failed calls, agents' failed reads, rejected
reports, reconnects, failed or stuck plans; a bind refused because the pool
has no capacity left is counted apart: refusing it is the router's job), and p50/p99 latencies of
GetPosition, QuoteCover + BindCover and a job run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
from ballast.v1 import common_pb2, partner_pb2, treasury_pb2

from chains.base import BalanceReader, PoolRef, Transfer
from chains.bridge import DeliveryAttester
from chains.bridge.embedded import SOLANA
from router import domain as m
from router.agent.client import RouterClient, bind_request
from router.agent.reporting import embedded_agents
from router.api.server import running_router
from router.app.engine import ReinsuranceEngine
from router.app.job import Outcome, RebalanceJob
from router.app.plans import Plans
from router.config import TemporalConfig, load_settings
from router.devtools.demo import COVERS
from router.devtools.demo_world import USDC, blocks_keep_coming, demo_world, workdir_db
from router.devtools.pki import TestCA
from router.execution.starter import TemporalStarter
from router.execution.temporal import temporal_client
from router.execution.worker import executor_worker
from router.store import open_store


def rss_mib(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Tally:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.counts: dict[str, int] = defaultdict(int)

    async def timed(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        t0 = time.perf_counter()
        try:
            out = await call()
        except grpc.aio.AioRpcError as err:
            if err.code() is grpc.StatusCode.FAILED_PRECONDITION and "capacity" in (
                err.details() or ""
            ):
                # The router refusing a cover the pool cannot carry is its job, not an error.
                self.counts["binds refused: no capacity left"] += 1
                self.latency[what].append(time.perf_counter() - t0)
                return None
            detail = " ".join((err.details() or "").split())[:160]
            self.errors[f"{what}: {err.code().name}: {detail}"] += 1
            return None
        self.latency[what].append(time.perf_counter() - t0)
        return out


def _quote(chain: str, pool_id: str, amount: int, days: int) -> partner_pb2.QuoteCoverRequest:
    return partner_pb2.QuoteCoverRequest(
        chain=chain,
        pool_id=pool_id,
        cover_type=common_pb2.COVER_TYPE_SMART_CONTRACT,
        cover_amount=common_pb2.Amount(asset="USDC", value=str(amount)),
        period_days=days,
    )


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))] * 1000


async def _every(seconds: float, stop: asyncio.Event, work: Callable[[], Awaitable[None]]) -> None:
    while not stop.is_set():
        await work()
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


async def soak(opts: argparse.Namespace, workdir: Path) -> int:
    tally = Tally()
    async with AsyncExitStack() as stack:
        world = await stack.enter_async_context(demo_world())
        await stack.enter_async_context(blocks_keep_coming(world, opts.tick))
        ca = TestCA("Ballast soak CA")
        files = ca.write(workdir, {"server": ca.server()})
        settings = load_settings(
            listen="127.0.0.1:0",
            database_url=opts.database_url or workdir_db(workdir),
            tls={
                "ca_cert": workdir / "ca.pem",
                "server_cert": files["server"][0],
                "server_key": files["server"][1],
            },
            partners=[{"partner_id": "acme", "display_name": "Acme Mutual"}],
            reporters=[{"reporter_id": c, "chain": c} for c in world.chains],
            execution={"poll_seconds": 0.2, "observe_seconds": 5.0},
            temporal={"address": "embedded", "dev_server_db": str(workdir / "temporal.db")},
            policy={"auto_execute_below": 10**15, "rebalance_band_bps": 500},
            limits={"partner": {"rate": 1000.0, "burst": 1000}},
            **world.router_config(),
        )
        client = await stack.enter_async_context(
            temporal_client(TemporalConfig(**settings.temporal.model_dump()), settings.database_url)
        )
        store = await open_store(settings.database_url)
        stack.push_async_callback(store.aclose)
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        router = await stack.enter_async_context(
            running_router(settings, store=store, executor=starter)
        )
        await stack.enter_async_context(
            executor_worker(
                client,
                settings,
                store,
                world.net.destinations,
                DeliveryAttester(world.net.bridge),
                on_change=router.execution_changed,
            )
        )
        clients: list[RouterClient] = []

        def connect(uri: str) -> RouterClient:
            pair = ca.client(uri)
            c = RouterClient.mtls(
                router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            )
            clients.append(c)
            return c

        async def close_clients() -> None:
            await asyncio.gather(*(c.close() for c in clients))

        stack.push_async_callback(close_clients)
        sources: list[tuple[BalanceReader, list[PoolRef]]] = [
            (world.net.adapter(chain), world.pools[chain]) for chain in world.chains
        ]
        agents = await stack.enter_async_context(
            embedded_agents(sources, connect, interval_seconds=opts.report_every)
        )
        op, partner = connect("ballast://operator/alice"), connect("ballast://partner/acme")
        plans = Plans(
            store,
            ReinsuranceEngine(settings.policy, settings.routes),
            settings.policy,
            executor=starter,
        )
        job = RebalanceJob(
            store,
            plans,
            settings.policy,
            m.Identity(m.Role.OPERATOR, "rebalance-job"),
            lease_ttl=timedelta(minutes=5),
        )
        # The demo's covers: thin pools near capacity, so losses push them
        # below target and the job has plans to make and execute.
        for pool_id, chain, amount, days in COVERS:
            quote = (await partner.partner.QuoteCover(_quote(chain, pool_id, amount, days))).quote
            await partner.partner.BindCover(bind_request(quote, f"soak-demo-{pool_id}"))
        pools = [p for refs in world.pools.values() for p in refs]
        rng = random.Random(7)
        keys = itertools.count()

        async def position() -> None:
            await tally.timed(
                "GetPosition", lambda: op.treasury.GetPosition(treasury_pb2.GetPositionRequest())
            )

        async def bind() -> None:
            pool = rng.choice(pools)

            async def quote_and_bind() -> Any:
                quote = (
                    await partner.partner.QuoteCover(
                        _quote(pool.chain, pool.pool_id, 200 * USDC, 30)
                    )
                ).quote
                return await partner.partner.BindCover(
                    bind_request(quote, f"soak-bind-{next(keys):08d}")
                )

            if await tally.timed("QuoteCover+BindCover", quote_and_bind) is not None:
                tally.counts["covers bound"] += 1

        async def loss() -> None:
            # A claim is paid with the operator's key, the executor's too: never
            # while a plan executes, or the two would race for the same nonce.
            async with paying:
                if await store.list_plans(m.PlanStatus.EXECUTING, limit=1):
                    tally.counts["losses deferred: a plan is executing"] += 1
                    return
                await pay_loss()

        async def pay_loss() -> None:
            # 25-50 % of a thin pool's balance: below target, so the job moves capital.
            pool = rng.choice(world.pools["base"] + world.pools[SOLANA])
            claimant = await world.net.new_recipient(pool.chain)
            held = await world.net.balance(pool.chain, pool.address)
            amount = held * rng.randint(25, 50) // 100
            transfer = Transfer("0x" + os.urandom(32).hex(), pool, pool.chain, claimant, amount)
            await world.net.adapter(pool.chain).send_transfer(transfer)
            tally.counts["losses paid"] += 1

        async def rebalance() -> None:
            t0 = time.perf_counter()
            async with paying:  # no plan starts while a claim is being paid
                run = await job.run()
            tally.latency["job run"].append(time.perf_counter() - t0)
            tally.counts[f"job: {run.outcome.value}"] += 1
            if run.outcome is Outcome.EXECUTED:
                tally.counts["plans executed by the job"] += 1

        stop = asyncio.Event()
        paying = asyncio.Lock()
        tasks = [
            asyncio.create_task(_every(0.2, stop, position)),
            asyncio.create_task(_every(0.5, stop, bind)),
            asyncio.create_task(_every(opts.loss_every, stop, loss)),
            asyncio.create_task(_every(opts.job_every, stop, rebalance)),
        ]
        await asyncio.sleep(opts.warmup)  # caches, connections, first plan: then measure
        start_rss, t_start = rss_mib(), time.monotonic()
        print(f"warm-up done after {opts.warmup:.0f} s; RSS at start {start_rss:.1f} MiB")
        deadline = t_start + opts.minutes * 60
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(60.0, left))
            print(
                f"  {(time.monotonic() - t_start) / 60:4.1f} min: RSS {rss_mib():.1f} MiB, "
                f"errors {sum(tally.errors.values())}, reports accepted "
                f"{sum(a.stats.accepted for a in agents)}",
                flush=True,
            )
        stop.set()
        failures = await asyncio.gather(*tasks, return_exceptions=True)
        end_rss = rss_mib()
        # Let plans under way finish (the worker stops with the run); at most 2 min.
        for _ in range(120):
            if not await store.list_plans(m.PlanStatus.EXECUTING, limit=1):
                break
            await asyncio.sleep(1.0)
        for f in failures:
            if isinstance(f, BaseException):
                tally.errors[f"task failed: {type(f).__name__}: {f}"] += 1
        for a in agents:
            s = a.stats
            for what, n in (
                ("failed reads", s.failed_reads),
                ("rejected reports", s.rejected),
                ("reconnects", s.reconnects),
            ):
                if n:
                    tally.errors[f"agent {a._reader.chain}: {what}"] += n
        for p in await store.list_plans(limit=1000):
            state = p.status.value
            tally.counts[f"plans {state}"] += 1
            if state == "failed":
                tally.errors[f"plan {p.plan_id} failed"] += 1
            stuck = sum(1 for s in p.steps if s.status.value == "stuck")
            if stuck:
                tally.errors[f"plan {p.plan_id}: {stuck} steps stuck"] += stuck
        reports = sum(a.stats.accepted for a in agents)
        growth = (end_rss / start_rss - 1) * 100
        print(f"soak: {opts.minutes:g} min, store {store.backend}, blocks every {opts.tick} s")
        print(
            f"RSS: start {start_rss:.1f} MiB, end {end_rss:.1f} MiB, growth {growth:+.1f} % "
            "(target < 10 %)"
        )
        print(
            f"reports accepted: {reports}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(tally.counts.items()))
        )
        total_errors = sum(tally.errors.values())
        print(f"errors: {total_errors} (target 0)")
        for what, n in sorted(tally.errors.items()):
            print(f"  {what}: {n}")
        for what, lat in sorted(tally.latency.items()):
            print(
                f"{what}: {len(lat)} calls, p50 {statistics.median(lat) * 1000:.1f} ms, "
                f"p99 {_pct(lat, 0.99):.1f} ms, max {max(lat) * 1000:.1f} ms"
            )
        return 0 if total_errors == 0 and growth < 10 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS at start")
    parser.add_argument("--tick", type=float, default=0.5, help="seconds between blocks")
    parser.add_argument("--report-every", type=float, default=1.0, help="agents' interval, s")
    parser.add_argument("--job-every", type=float, default=20.0, help="seconds between job runs")
    parser.add_argument("--loss-every", type=float, default=15.0, help="seconds between losses")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ballast-soak-") as tmp:
        raise SystemExit(asyncio.run(soak(opts, Path(tmp))))


if __name__ == "__main__":
    main()

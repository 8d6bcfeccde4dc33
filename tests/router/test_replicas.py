"""Two `ballast serve` processes over one PostgreSQL database: one is killed
(SIGKILL) in the middle of an ingest stream; nothing acknowledged is lost,
nothing is stored twice, and the other replica carries on and takes the rest.

The replicas share nothing but the database: every acknowledged batch was
committed before its ack, the history's key is (pool, block, reporter), and
a resend answers as a duplicate.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
from ballast.v1 import reporting_pb2
from grpc_health.v1 import health_pb2

from router.agent.client import RouterClient
from router.devtools.pki import TestCA
from tests.conftest import postgres_available
from tests.execution.conftest import temporal_server
from tests.router.conftest import report
from tests.router.test_process import free_port

__all__ = ["temporal_server"]  # the Temporal dev server fixture, for the executor test

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
POOLS = 40
BATCHES = 30

pytestmark = pytest.mark.skipif(
    not postgres_available(),
    reason="replicas share one PostgreSQL: nothing listens on 127.0.0.1:5432",
)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    name = f"ballast_replicas_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Replica:
    def __init__(self, proc: asyncio.subprocess.Process, address: str) -> None:
        self.proc, self.address = proc, address


def _config(tmp: Path, files: dict[str, Path], dsn: str, port: int) -> Path:
    pools = "".join(
        f'[[pools]]\nchain = "{chain}"\npool_id = "{chain}-{i:03d}"\naddress = "0x{i:040x}"\n'
        for chain in ("ethereum", "base")
        for i in range(POOLS)
    )
    path = tmp / f"replica-{port}.toml"
    path.write_text(
        f'listen = "127.0.0.1:{port}"\n'
        f'database_url = "{dsn.replace("postgresql://", "postgresql+psycopg://")}"\n'
        "[tls]\n"
        f'ca_cert = "{files["ca"]}"\n'
        f'server_cert = "{files["cert"]}"\n'
        f'server_key = "{files["key"]}"\n'
        "[execution]\nenabled = false\n"
        "[limits.reporter]\nrate = 100000.0\nburst = 100000\n"
        '[[chains]]\nname = "ethereum"\nfamily = "evm"\n'
        '[[chains]]\nname = "base"\nfamily = "evm"\n'
        '[[reporters]]\nreporter_id = "ethereum"\nchain = "ethereum"\n'
        '[[reporters]]\nreporter_id = "base"\nchain = "base"\n' + pools
    )
    return path


@pytest.fixture
async def replicas(
    server_files: dict[str, Path], tmp_path: Path, pg_dsn: str, ca: TestCA
) -> AsyncIterator[list[Replica]]:
    started: list[Replica] = []
    try:
        for _ in range(2):
            port = free_port()
            cfg = _config(tmp_path, server_files, pg_dsn, port)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "router.cli",
                "serve",
                "-c",
                str(cfg),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            started.append(Replica(proc, f"127.0.0.1:{port}"))
        pair = ca.client("ballast://operator/alice")
        for r in started:
            async with RouterClient.mtls(
                r.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            ) as c:
                h = await c.health.Check(
                    health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=60
                )
                assert h.status == health_pb2.HealthCheckResponse.SERVING
        yield started
    finally:
        for r in started:
            if r.proc.returncode is None:
                r.proc.kill()
            await r.proc.wait()


def _batches(chain: str) -> list[reporting_pb2.StreamReportsRequest]:
    """Batch k: every pool of the chain at block k + 1 (each report new and final)."""
    now = datetime.now(UTC)
    out = []
    for k in range(BATCHES):
        reports = []
        for i in range(POOLS):
            r = report(f"{chain}-{i:03d}", 10**9 + 1_000 * k + i, k + 1, chain=chain)
            r.block_hash = "0x" + f"{k + 1:064x}"
            r.observed_at.FromDatetime(now)
            reports.append(r)
        out.append(reporting_pb2.StreamReportsRequest(batch_id=f"{chain}-{k}", reports=reports))
    return out


def _client(ca: TestCA, address: str, chain: str) -> RouterClient:
    pair = ca.client(f"ballast://reporter/{chain}")
    return RouterClient.mtls(
        address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
    )


async def _stream(
    client: RouterClient,
    batches: list[reporting_pb2.StreamReportsRequest],
    acks: list[reporting_pb2.StreamReportsResponse],
    kill_after: int | None = None,
    victim: Replica | None = None,
) -> None:
    async def gen() -> AsyncIterator[reporting_pb2.StreamReportsRequest]:
        for b in batches:
            yield b

    async for ack in client.reporting.StreamReports(gen()):
        acks.append(ack)
        if victim is not None and len(acks) == kill_after:
            victim.proc.send_signal(signal.SIGKILL)  # batches after this one are in flight


def _stored(dsn: str) -> dict[tuple[str, int], int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT pool_id, block_number, count(*) FROM balance_reports "
            "GROUP BY pool_id, block_number"
        ).fetchall()
    return {(p, b): n for p, b, n in rows}


async def test_a_replica_killed_mid_ingest_loses_and_doubles_nothing(
    replicas: list[Replica], ca: TestCA, pg_dsn: str
) -> None:
    a, b = replicas
    eth, base = _batches("ethereum"), _batches("base")
    eth_acks: list[reporting_pb2.StreamReportsResponse] = []
    base_acks: list[reporting_pb2.StreamReportsResponse] = []
    async with _client(ca, a.address, "ethereum") as on_a, _client(ca, b.address, "base") as on_b:
        killed, survived = await asyncio.gather(
            _stream(on_a, eth, eth_acks, kill_after=BATCHES // 3, victim=a),
            _stream(on_b, base, base_acks),
            return_exceptions=True,
        )
    assert isinstance(killed, grpc.aio.AioRpcError), killed
    assert killed.code() == grpc.StatusCode.UNAVAILABLE
    assert survived is None and len(base_acks) == BATCHES  # the other replica never noticed
    assert await a.proc.wait() == -signal.SIGKILL
    acked = len(eth_acks)
    assert BATCHES // 3 <= acked < BATCHES
    assert all(x.accepted == POOLS and x.confirmed == POOLS for x in eth_acks + base_acks)
    stored = _stored(pg_dsn)
    # Every acknowledged report is stored, once.
    for k in range(acked):
        for i in range(POOLS):
            assert stored[(f"ethereum-{i:03d}", k + 1)] == 1
    # The agent resends from its first unacknowledged batch (and, to be sure,
    # the last acknowledged one) to the surviving replica.
    again: list[reporting_pb2.StreamReportsResponse] = []
    async with _client(ca, b.address, "ethereum") as on_b:
        await _stream(on_b, eth[acked - 1 :], again)
    assert len(again) == BATCHES - acked + 1
    assert again[0].accepted == POOLS and again[0].confirmed == 0  # a duplicate: nothing new
    assert all(x.rejected == 0 for x in again)
    stored = _stored(pg_dsn)
    assert len(stored) == 2 * POOLS * BATCHES
    assert set(stored.values()) == {1}
    with psycopg.connect(pg_dsn) as conn:
        blocks = conn.execute("SELECT DISTINCT block_number FROM balance_latest").fetchall()
    assert blocks == [(BATCHES,)]


async def test_the_job_lease_outlives_a_killed_holder_and_one_replica_takes_it_over(
    pg_dsn: str,
) -> None:
    """A replica holding the scheduled job's lease is killed (SIGKILL): the lease
    still holds for the others until its time is up; then, of two replicas
    racing for it, exactly one takes it over."""
    from router.app.job import LEASE_NAME
    from router.store import open_store

    url = pg_dsn.replace("postgresql://", "postgresql+psycopg://")
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import asyncio, sys\n"
        "from datetime import timedelta\n"
        "from router.store import open_store\n"
        "async def main():\n"
        f"    s = await open_store({url!r})\n"
        f"    won, _ = await s.acquire_lease({LEASE_NAME!r}, 'replica-a', timedelta(minutes=5))\n"
        "    print('held' if won else 'refused', flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 60)).strip() == b"held"
        holder.send_signal(signal.SIGKILL)
        assert await holder.wait() == -signal.SIGKILL
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
    b, c = await open_store(url), await open_store(url)
    try:
        now = datetime.now(UTC)
        refused = await asyncio.gather(
            b.acquire_lease(LEASE_NAME, "replica-b", timedelta(minutes=5), now=now),
            c.acquire_lease(LEASE_NAME, "replica-c", timedelta(minutes=5), now=now),
        )
        assert [(won, lease.holder) for won, lease in refused] == [(False, "replica-a")] * 2
        later = now + timedelta(minutes=6)  # the killed holder's time is up
        raced = await asyncio.gather(
            b.acquire_lease(LEASE_NAME, "replica-b", timedelta(minutes=5), now=later),
            c.acquire_lease(LEASE_NAME, "replica-c", timedelta(minutes=5), now=later),
        )
        winners = [lease.holder for won, lease in raced if won]
        assert len(winners) == 1 and winners[0] in ("replica-b", "replica-c")
        assert {lease.holder for _, lease in raced} == {winners[0]}
    finally:
        await b.aclose()
        await c.aclose()


@pytest.mark.node
async def test_executor_replicas_one_killed_mid_plan_effects_once_limits_once(
    tmp_path: Path, pg_dsn: str, temporal_server: Any
) -> None:
    """Two replicas ask for the same plan's saga at once (one starts), the
    worker running it is killed (SIGKILL) right after it broadcast the first
    transfer, two other workers over the same PostgreSQL and Temporal finish
    it: every effect happened once on chain, the daily limit was consumed
    once per step."""
    from temporalio.client import Client

    from router.execution.messages import SagaOutcome
    from router.execution.starter import TemporalStarter
    from tests.chains.evm_harness import anvil_chain
    from tests.execution.crash_harness import (
        approved_plan,
        mining,
        spawn_worker,
        stop,
        wait_exit,
        world,
    )
    from tests.execution.test_crashes import audit_exactly_once, plan_steps

    url = pg_dsn.replace("postgresql://", "postgresql+psycopg://")
    daily = {"limits.daily": [{"scope": "chain:anvil-x", "cap": 10**15}]}
    async with (
        anvil_chain("anvil-x", 31_337) as anvil,
        world(anvil, tmp_path, temporal_server.address, database_url=url, extra=daily) as w,
        mining(anvil),
    ):
        steps, move, premium = plan_steps(21)
        plan = await approved_plan(w.store, "plan-replicas-1", steps)
        before = await w.balances()
        starters = [
            TemporalStarter(
                await Client.connect(temporal_server.address),
                w.settings.temporal.task_queue,
                w.settings.execution,
            )
            for _ in range(2)
        ]
        started = await asyncio.gather(*(s.start(plan.plan_id) for s in starters))
        assert sorted(started) == [False, True]  # one saga, whichever replica asked first
        crashing = spawn_worker(w.config_file, "broadcast:1")
        try:
            code = await wait_exit(crashing, 120)
            said = b""
            if code != -signal.SIGKILL and crashing.stderr is not None:
                said = crashing.stderr.read()[-2000:]
            assert code == -signal.SIGKILL, said.decode(errors="replace")
        finally:
            stop(crashing)
        survivors = [spawn_worker(w.config_file) for _ in range(2)]
        try:
            client = await Client.connect(temporal_server.address)
            handle = client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome)
            outcome = await asyncio.wait_for(handle.result(), 240)
        finally:
            for s in survivors:
                stop(s)
        assert outcome.status == "completed", outcome
        await audit_exactly_once(w, plan.plan_id, before, move, premium)
        usage = await w.store.limit_usage(plan.plan_id)
        keys = [(u.seq, u.scope) for u in usage]
        assert len(keys) == len(set(keys))
        assert sum(u.amount for u in usage if u.scope == "chain:anvil-x") == move

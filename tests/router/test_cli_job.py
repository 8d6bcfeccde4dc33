"""``ballast rebalance``: exit codes and ``--json`` from real store states."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from chains.base import ChainFamily
from router import domain as m
from router.api.server import RunningRouter, running_router
from router.app.engine import ReinsuranceEngine
from router.app.job import LEASE_NAME
from router.config import PolicyConfig, RouteConfig, RouterSettings
from router.devtools.pki import TestCA
from router.domain.changes import Destination
from router.store import Store, open_store
from tests.app.conftest import UNIT, fund
from tests.app.test_job import short_book
from tests.covers_support import deployment, register
from tests.router.cli_support import ballast, client_config, invoke
from tests.router.conftest import ClientFactory, report, send_batches
from tests.router.test_cli import stressed_pools
from tests.store import conftest as _db

sqlite_template = _db.sqlite_template
sqlite_url = _db.sqlite_url


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[Store]:
    store = await open_store(sqlite_url, migrate=False)
    for chain in ("chain-a", "chain-b"):
        await store.upsert_chain(m.Chain(chain, ChainFamily.EVM, 1))
        await store.register_reporter(m.Reporter(chain, chain))
    for pool, chain in (("a1", "chain-a"), ("a2", "chain-a"), ("b1", "chain-b"), ("b2", "chain-b")):
        address = "0x" + pool.encode().hex().ljust(40, "0")
        await store.upsert_pool(m.Pool(pool, chain, address, "USDC"))
        # as the router's first start allows the config's pools
        await store.add_destination(Destination(chain, address, pool), "ballast://config")
    await store.register_partner(m.Partner("acme", "Acme Re"))
    await register(
        store, deployment("amm-a", chain="chain-a"), deployment("amm-b", chain="chain-b")
    )
    try:
        yield store
    finally:
        await store.aclose()


def config(tmp_path: Path, url: str, policy: str = "") -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        f'database_url = "{url}"\n\n'
        "[policy]\nrebalance_band_bps = 0\n"
        + policy
        + "\n"
        + "".join(
            f'[[routes]]\nroute_id = "{s}-{d}"\nsrc_chain = "chain-{s}"\n'
            f'dst_chain = "chain-{d}"\nfee_bps = 5.0\n'
            for s, d in (("a", "b"), ("b", "a"))
        )
        + '[[chains]]\nname = "chain-a"\nfamily = "evm"\n'
        '[[chains]]\nname = "chain-b"\nfamily = "evm"\n'
    )
    return path


async def stressed(db: Store) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    routes = [
        RouteConfig(route_id="a-b", src_chain="chain-a", dst_chain="chain-b", fee_bps=5.0),
        RouteConfig(route_id="b-a", src_chain="chain-b", dst_chain="chain-a", fee_bps=5.0),
    ]
    await short_book(db, ReinsuranceEngine(policy, routes, scenarios=4_000), policy)


async def test_json_for_schedulers_and_each_exit_code(
    db: Store, sqlite_url: str, tmp_path: Path
) -> None:
    cfg = str(config(tmp_path, sqlite_url))
    # No pool has reported: stale, nothing planned.
    ran = await invoke("rebalance", "--json", "-c", cfg)
    report = json.loads(ran.out)
    assert (ran.code, report["status"], report["exit_code"]) == (12, "stale_data", 12)
    assert report["stale_pools"] == ["a1", "a2", "b1", "b2"]

    await stressed(db)
    ran = await invoke("rebalance", "--dry-run", "--json", "-c", cfg)
    report = json.loads(ran.out)
    assert (ran.code, report["status"], report["dry_run"]) == (10, "awaiting_approval", True)
    assert report["plan_id"] is None and report["steps"] and report["shortfalls"] == []
    assert all(int(s["amount"]) > 0 for s in report["steps"])
    assert await db.list_plans() == []

    # The entry point in a process of its own, as a scheduler runs it.
    ran_p = await ballast("rebalance", "--json", "-c", cfg)
    report = json.loads(ran_p.out)
    assert (ran_p.code, report["status"]) == (10, "awaiting_approval"), ran_p.err
    plan_id = report["plan_id"]
    assert [p.plan_id for p in await db.list_plans()] == [plan_id]
    assert report["plan_status"] == "pending_approval" and report["approvals_required"] >= 1

    ran = await invoke("rebalance", "--json", "-c", cfg)
    report = json.loads(ran.out)
    assert (ran.code, report["status"], report["plan_id"]) == (11, "in_progress", plan_id)

    won, _ = await db.acquire_lease(LEASE_NAME, "elsewhere/1/x", timedelta(minutes=5))
    assert won
    ran = await invoke("rebalance", "--json", "-c", cfg)
    report = json.loads(ran.out)
    assert (ran.code, report["status"], report["lease_holder"]) == (
        13,
        "lease_held",
        "elsewhere/1/x",
    )
    assert len(await db.list_plans()) == 1


async def test_nothing_to_do_and_pre_approved_execution(
    db: Store, sqlite_url: str, tmp_path: Path
) -> None:
    await fund(db, {p: 100_000 * UNIT for p in ("a1", "a2", "b1", "b2")})
    calm = str(config(tmp_path, sqlite_url))
    ran = await invoke("rebalance", "-c", calm)
    assert ran.code == 0 and "nothing_to_do" in ran.out, ran.out

    await stressed(db)
    auto = str(config(tmp_path, sqlite_url, f"auto_execute_below = {10**15}\n"))
    ran = await invoke("rebalance", "--json", "-c", auto)
    report = json.loads(ran.out)
    assert (ran.code, report["status"], report["plan_status"]) == (0, "executed", "executing")
    assert report["idempotency_key"] == f"rebalance-job-{report['plan_id']}"


async def test_help_lists_the_exit_codes_and_bad_config_is_2(tmp_path: Path) -> None:
    ran = await invoke("rebalance", "--help")
    assert ran.code == 0
    text = " ".join(ran.out.split())
    for phrase in (
        "0 nothing to do",
        "10 plan stored",
        "11 a plan is already",
        "12 a pool",
        "13 another run holds the lease",
        "14 pools stay below target",
    ):
        assert phrase in text
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy]\nauto_execute_below = -1\n")
    ran = await invoke("rebalance", "-c", str(bad))
    assert ran.code == 2 and "auto_execute_below" in ran.err
    ran = await invoke("rebalance", "--json", "-c", str(bad))
    report = json.loads(ran.out)
    assert (ran.code, report["status"], report["exit_code"]) == (2, "error", 2)
    assert "auto_execute_below" in report["error"]


class Recorder:
    """The router's executor port, recording which sagas it was asked to start."""

    def __init__(self) -> None:
        self.started: list[str] = []

    async def start(self, plan_id: str) -> bool:
        self.started.append(plan_id)
        return True

    async def resolve(
        self, plan_id: str, seq: int, action: str, operator: str, reason: str
    ) -> None:
        raise AssertionError("not resolved here")


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def router(settings: RouterSettings, recorder: Recorder) -> AsyncIterator[RunningRouter]:
    async with running_router(settings, executor=recorder) as r:
        yield r


async def test_with_embedded_temporal_the_router_starts_the_saga_under_the_jobs_key(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path, recorder: Recorder
) -> None:
    """The job records the request in the database, then repeats it to the router
    (ExecutePlan, same key): the replay starts the saga there, once."""
    await stressed_pools(connect)
    solana = connect("ballast://reporter/solana")
    await send_batches(solana, [report("sol-main", 10**6 * UNIT, 100, chain="solana")])
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    job = tmp_path / "job.toml"
    job.write_text(
        f'database_url = "{router.settings.database_url}"\n'
        f"[policy]\nauto_execute_below = {10**30}\nrebalance_band_bps = 0\n" + alice.read_text()
    )
    ran = await invoke("rebalance", "--json", "-c", str(job))
    report_ = json.loads(ran.out)
    assert (ran.code, report_["status"]) == (0, "executed"), ran.out + ran.err
    assert report_["note"] == "execution started"
    assert recorder.started == [report_["plan_id"]]
    plan = await router.store.get_plan(report_["plan_id"])
    assert plan.status is m.PlanStatus.EXECUTING and plan.created_by == "rebalance-job"

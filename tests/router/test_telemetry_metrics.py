"""The Prometheus endpoint of a live router, scraped over HTTP: its figures are
what happened (reports accepted and rejected, calls and their codes, chain
round trips) and what the store holds (pool ratios, plans and steps by state)."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, treasury_pb2
from prometheus_client.parser import text_string_to_metric_families

from chains.embedded.evm import ChainSpec, embedded_evm_chains
from chains.embedded.solana_setup import embedded_solana
from router.agent.client import RouterClient, bind_request
from router.api.server import RunningRouter, running_router
from router.config import ConfigError
from router.devtools.pki import TestCA
from tests.covers_support import terms_pb
from tests.router.conftest import ClientFactory, make_settings, report, send_batches

MILLION = 10**6 * 10**6
LEFT = 7 * MILLION // 10

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(router: RunningRouter) -> Samples:
    """GET /metrics (in a thread: the exporter reads the state on this loop) and parse it."""
    assert router.exporter is not None
    url = f"http://{router.exporter.address}/metrics"

    def get() -> str:
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
            return resp.read().decode()

    text = await asyncio.to_thread(get)
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over every series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


@pytest.fixture
async def metered(server_files: dict[str, Path], tmp_path: Path) -> RunningRouter:
    settings = make_settings(server_files, tmp_path / "m.db", telemetry={"metrics_port": 0})
    async with running_router(settings) as r:
        yield r  # type: ignore[misc]


@pytest.fixture
async def clients(metered: RunningRouter, ca: TestCA) -> ClientFactory:
    opened: list[RouterClient] = []

    def make(uri: str | None) -> RouterClient:
        pair = ca.client(uri) if uri else None
        c = RouterClient.mtls(
            metered.address,
            ca_pem=ca.cert_pem,
            cert_pem=pair.cert_pem if pair else None,
            key_pem=pair.key_pem if pair else None,
        )
        opened.append(c)
        return c

    yield make  # type: ignore[misc]
    for c in opened:
        await c.close()


async def test_the_scrape_shows_ingest_calls_pools_plans_and_steps(
    metered: RunningRouter, clients: ClientFactory
) -> None:
    eth, sol = clients("ballast://reporter/ethereum"), clients("ballast://reporter/solana")
    acks = await send_batches(
        eth,
        [
            report("eth-main", 10 * MILLION, 100),
            report("eth-alt", 2 * MILLION, 100),
            report("no-such-pool", 5, 100),  # unknown pool
            report("sol-main", 5, 100, chain="solana"),  # not this reporter's chain
        ],
    )
    acks += await send_batches(sol, [report("sol-main", 2 * MILLION, 50, chain="solana")])

    acme = clients("ballast://partner/acme")
    quote = (
        await acme.partner.QuoteCover(
            partner_pb2.QuoteCoverRequest(
                terms=terms_pb(),
                chain="ethereum",
                pool_id="eth-alt",
                cover_type=common_pb2.COVER_TYPE_PROTOCOL,
                cover_amount=common_pb2.Amount(asset="USDC", value=str(3 * MILLION // 2)),
                period_days=365,
            )
        )
    ).quote
    await acme.partner.BindCover(bind_request(quote, "k-metrics-0001"))
    acks += await send_batches(eth, [report("eth-alt", LEFT, 101)])  # a claim took most of it
    accepted = sum(a.accepted for a in acks)
    assert (accepted, sum(a.rejected for a in acks)) == (4, 2)
    op, bob = clients("ballast://operator/alice"), clients("ballast://operator/bob")
    plan = (await op.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest())).plan
    assert plan.plan_id and plan.steps
    with pytest.raises(grpc.aio.AioRpcError) as err:  # not approved yet
        await op.treasury.ExecutePlan(
            treasury_pb2.ExecutePlanRequest(plan_id=plan.plan_id, idempotency_key="exec-0001")
        )
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    await bob.treasury.ApprovePlan(treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id))
    pos = await op.treasury.GetPosition(treasury_pb2.GetPositionRequest())
    alt = next(p for p in pos.pools if p.pool_id == "eth-alt")

    m = await scrape(metered)

    # Ingest: every accepted report, every rejection by its reason.
    assert total(m, "ballast_reports_accepted_total") == accepted
    assert (
        value(m, "ballast_reports_rejected_total", reporter="ethereum", reason="unknown_pool") == 1
    )
    assert (
        value(
            m, "ballast_reports_rejected_total", reporter="ethereum", reason="reporter_not_allowed"
        )
        == 1
    )
    assert total(m, "ballast_report_batches_total") == 3
    # Calls by method and code.
    treasury = "/ballast.v1.TreasuryService/"
    refused = {"method": treasury + "ExecutePlan", "code": "FAILED_PRECONDITION"}
    assert value(m, "ballast_grpc_calls_total", **refused) == 1
    assert value(m, "ballast_grpc_calls_total", method=treasury + "ApprovePlan", code="OK") == 1
    assert value(m, "ballast_grpc_call_seconds_count", method=treasury + "PlanRebalance") == 1
    # Pools, as GetPosition shows them.
    assert value(m, "ballast_state_up") == 1
    key = {"chain": "ethereum", "pool": "eth-alt"}
    assert value(m, "ballast_pool_capital", **key) == int(alt.capital.value) == LEFT
    required = max(int(alt.scr.value), int(alt.mcr.value))
    assert value(m, "ballast_pool_requirement", **key) == required > 0
    assert value(m, "ballast_pool_ratio", **key) == alt.solvency_ratio_bps / 10_000 < 1.5
    assert value(m, "ballast_pool_stale", **key) == 0
    assert 0 <= value(m, "ballast_pool_staleness_seconds", **key) < 600
    # Plans and steps by state; nothing executing, nothing in transit.
    assert value(m, "ballast_plans", status="approved") == 1
    assert value(m, "ballast_plans", status="executing") == 0
    assert value(m, "ballast_plan_steps", status="pending") == len(plan.steps)
    assert value(m, "ballast_executor_steps_pending") == 0
    assert total(m, "ballast_capital_stuck") == 0


async def test_two_routers_in_one_process_count_their_own_calls(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = [
        make_settings(server_files, tmp_path / f"r{i}.db", telemetry={"metrics_port": 0})
        for i in range(2)
    ]
    async with running_router(settings[0]) as one, running_router(settings[1]) as two:
        pair = ca.client("ballast://operator/alice")
        async with RouterClient.mtls(
            one.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
        ) as c:
            for _ in range(3):
                await c.treasury.ListPlans(treasury_pb2.ListPlansRequest())
        method = "/ballast.v1.TreasuryService/ListPlans"
        assert value(await scrape(one), "ballast_grpc_calls_total", method=method, code="OK") == 3
        assert total(await scrape(two), "ballast_grpc_calls_total", method=method) == 0


async def test_chain_round_trips_are_counted_per_endpoint(
    server_files: dict[str, Path], tmp_path: Path
) -> None:
    async with embedded_evm_chains([ChainSpec("ethereum", 31337, pools=[7_000_000, 9])]) as env:
        chain = env["ethereum"]
        settings = make_settings(server_files, tmp_path / "c.db", telemetry={"metrics_port": 0})
        async with running_router(settings) as router:
            before = total(await scrape(router), "ballast_chain_rpc_calls_total", chain="ethereum")
            snapshot = await chain.adapter.read_balances(chain.pools)
            after = await scrape(router)
            assert snapshot.rpc_calls > 0
            calls = total(after, "ballast_chain_rpc_calls_total", chain="ethereum")
            assert calls - before == snapshot.rpc_calls
            (endpoint,) = chain.adapter.endpoint_names
            timed = total(after, "ballast_chain_rpc_seconds_count", endpoint=endpoint)
            assert timed == calls
            assert total(after, "ballast_chain_rpc_errors_total") == 0


async def test_solana_round_trips_are_counted_too(
    server_files: dict[str, Path], tmp_path: Path
) -> None:
    async with embedded_solana([1_500_000, 2_500_000], chain="solana") as env:
        settings = make_settings(server_files, tmp_path / "s.db", telemetry={"metrics_port": 0})
        async with running_router(settings) as router:
            before = total(await scrape(router), "ballast_chain_rpc_calls_total", chain="solana")
            snapshot = await env.adapter.read_balances(env.pools)
            after = await scrape(router)
            assert snapshot.rpc_calls > 0
            calls = total(after, "ballast_chain_rpc_calls_total", chain="solana")
            assert calls - before == snapshot.rpc_calls
            # the endpoint is named without the URL's path, query or credentials
            endpoints = {
                dict(labels)["endpoint"]
                for (name, labels), _ in after.items()
                if name == "ballast_chain_rpc_calls_total" and dict(labels)["chain"] == "solana"
            }
            assert endpoints and all(e.startswith("http://127.0.0.1:") for e in endpoints)


async def test_a_metrics_port_in_use_is_refused_naming_the_setting(
    server_files: dict[str, Path], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(server_files, tmp_path / "p.db", telemetry={"metrics_port": port})
        with pytest.raises(
            ConfigError, match=rf"telemetry.metrics_port: cannot listen on 127.0.0.1:{port}"
        ):
            async with running_router(settings):
                pass

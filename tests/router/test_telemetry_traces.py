"""Traces cross the processes' boundaries: an agent's round is the parent of the
router's handling of its reports; ExecutePlan is the ancestor of the saga's
activities and of the chain calls they make. Spans collected in memory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ballast.v1 import treasury_pb2
from pydantic import SecretStr
from temporalio.client import Client

from chains.embedded.evm import ChainSpec, embedded_evm_chains
from router import domain as m
from router.agent.client import RouterClient
from router.agent.reporting import ReportingAgent
from router.api.auth import TokenSigner
from router.api.server import running_router
from router.config import AuthConfig
from router.devtools.pki import TestCA
from router.domain.identity import parse_identity
from router.execution.messages import SagaOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from router.telemetry.tracing import temporal_interceptors
from tests.execution.conftest import block_producer, temporal_server  # noqa: F401
from tests.execution.saga_harness import setup
from tests.router.conftest import make_settings
from tests.tracing_support import Collected, is_child, spans  # noqa: F401

UNIT = 10**6
SECRET = SecretStr("a-token-secret-for-the-trace-test-0001")


async def test_an_agents_round_is_the_parent_of_the_routers_ingest(
    spans: Collected,  # noqa: F811
    server_files: dict[str, Path],
    tmp_path: Path,
    ca: TestCA,
) -> None:
    async with embedded_evm_chains([ChainSpec("ethereum", 31337, pools=[7_000_000, 9])]) as env:
        chain = env["ethereum"]
        pools = [
            {"chain": "ethereum", "pool_id": p.pool_id, "address": p.address} for p in chain.pools
        ]
        settings = make_settings(
            server_files,
            tmp_path / "t.db",
            chains=[{"name": "ethereum", "family": "evm"}],
            pools=pools,
            reporters=[{"reporter_id": "ethereum", "chain": "ethereum"}],
            routes=[],
        )
        async with running_router(settings) as router:
            pair = ca.client("ballast://reporter/ethereum")
            client = RouterClient.mtls(
                router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            )
            agent = ReportingAgent(chain.adapter, chain.pools, client, interval_seconds=0.0)
            stats = await agent.run(rounds=1)  # ends the stream: the router's span ends
            await client.close()
    assert stats.accepted == 2
    round_ = spans.one("agent.round")
    server = spans.one("ballast.v1.ReportingService/StreamReports")
    ingest = spans.one("reports.ingest")
    # agent -> router (through gRPC metadata) -> the ingest use case
    assert is_child(server, round_)
    assert is_child(ingest, server)
    assert server.attributes is not None
    assert server.attributes["rpc.grpc.status_code"] == "OK"
    # the agent's chain reads are its round's children
    reads = [s for s in spans.spans if s.name.startswith("rpc ")]
    assert reads and all(is_child(r, round_) for r in reads)
    assert {r.attributes["chain"] for r in reads if r.attributes} == {"ethereum"}


async def test_execute_plan_is_the_ancestor_of_activities_and_chain_calls(
    spans: Collected,  # noqa: F811
    temporal_server: DevServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with setup(tmp_path, temporal_server, "traced") as s:
        move = 50_000 * UNIT
        draft = m.PlanDraft(
            "plan-traced-1",
            "carol",
            (
                m.PlanStep(0, m.StepKind.TRANSFER, "a1", move, "ethereum", "hub:ethereum"),
                m.PlanStep(1, m.StepKind.TRANSFER, "hub:ethereum", move, "ethereum", "a2"),
            ),
            move,
            0,
        )
        await s.store.create_plan(draft)
        await s.store.approve_plan(draft.plan_id, "bob")
        settings = s.settings.model_copy(
            update={
                "listen": "127.0.0.1:0",
                "auth": AuthConfig(mode="token", token_secret=SECRET),
            }
        )
        temporal = await Client.connect(
            temporal_server.address, interceptors=temporal_interceptors()
        )
        starter = TemporalStarter(temporal, settings.temporal.task_queue, settings.execution)
        token = TokenSigner(SECRET).issue(parse_identity("ballast://operator/alice"))
        async with (
            block_producer(s.env),
            executor_worker(temporal, settings, s.store, {"ethereum": s.eth.adapter}, None),
            running_router(settings, store=s.store, executor=starter) as router,
            RouterClient.token(router.address, token) as op,
        ):
            answer = await op.treasury.ExecutePlan(
                treasury_pb2.ExecutePlanRequest(
                    plan_id=draft.plan_id, idempotency_key="exec-traced-1"
                )
            )
            assert answer.note == "execution started"
            handle = temporal.get_workflow_handle(draft.plan_id, result_type=SagaOutcome)
            outcome = await asyncio.wait_for(handle.result(), 120)
        assert outcome.status == "completed", outcome

    server = spans.one("ballast.v1.TreasuryService/ExecutePlan")
    assert server.context is not None
    execute = spans.one("plan.execute")
    started = spans.one("StartWorkflow:PlanSaga")
    assert is_child(execute, server) and is_child(started, execute)
    by_id = {sp.context.span_id: sp for sp in spans.spans if sp.context is not None}

    def ancestors(span: object) -> list[str]:
        names, cur = [], span
        while cur is not None and cur.parent is not None:  # type: ignore[attr-defined]
            cur = by_id.get(cur.parent.span_id)  # type: ignore[attr-defined]
            if cur is not None:
                names.append(cur.name)
        return names

    # Every chain call the saga made is inside an activity, in ExecutePlan's trace.
    sends = spans.named("rpc eth_sendRawTransaction")
    assert len(sends) >= 2  # one transaction per step at least
    for send in sends:
        assert send.context is not None
        assert send.context.trace_id == server.context.trace_id
        assert send.parent is not None and by_id[send.parent.span_id].name.startswith(
            "RunActivity:"
        )
        assert "ballast.v1.TreasuryService/ExecutePlan" in ancestors(send)
    activities = {sp.name for sp in spans.spans if sp.name.startswith("RunActivity:")}
    assert {"RunActivity:sign_effect", "RunActivity:broadcast_effect"} <= activities


def test_exporters_are_off_by_default_and_built_as_configured() -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from router.config import load_settings
    from router.telemetry.tracing import _exporter, setup_tracing

    assert load_settings().telemetry.traces == "none"
    assert setup_tracing("none", service_name="ballast-router") is None
    assert isinstance(_exporter("console", ""), ConsoleSpanExporter)
    otlp = _exporter("otlp", "http://127.0.0.1:4317")
    assert isinstance(otlp, OTLPSpanExporter)
    otlp.shutdown()

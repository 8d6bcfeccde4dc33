"""Interceptors and lifecycle: rate limits, deadline cap, request ids, health,
reflection, graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from ballast.v1 import partner_pb2, treasury_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from router.agent.client import RouterClient
from router.api.server import RunningRouter, running_router, start_router
from router.devtools.pki import TestCA
from router.store import Store, open_store
from tests.router.conftest import ClientFactory, make_settings, report, send_batches

OPERATOR = "ballast://operator/alice"


def client(r: RunningRouter, ca: TestCA, uri: str) -> RouterClient:
    pair = ca.client(uri)
    return RouterClient.mtls(
        r.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
    )


async def test_noisy_partner_is_limited_operator_still_served(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    limits = {"partner": {"rate": 0.001, "burst": 3}}
    settings = make_settings(server_files, tmp_path / "r.db", limits=limits)
    async with running_router(settings) as r:
        acme, globex, op = (
            client(r, ca, "ballast://partner/acme"),
            client(r, ca, "ballast://partner/globex"),
            client(r, ca, OPERATOR),
        )
        try:
            for _ in range(3):
                await acme.partner.ListPositions(partner_pb2.ListPositionsRequest())
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await acme.partner.ListPositions(partner_pb2.ListPositionsRequest())
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "ballast://partner/acme" in (err.value.details() or "")
            await globex.partner.ListPositions(partner_pb2.ListPositionsRequest())
            for _ in range(10):
                await op.treasury.ListPlans(treasury_pb2.ListPlansRequest())
        finally:
            for c in (acme, globex, op):
                await c.close()


async def test_unary_calls_are_capped_by_the_server(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(server_files, tmp_path / "r.db", limits={"deadline_cap_seconds": 1e-9})
    async with running_router(settings) as r, client(r, ca, OPERATOR) as op:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await op.treasury.GetPosition(treasury_pb2.GetPositionRequest(), timeout=60)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "cap" in (err.value.details() or "")


async def test_request_id_is_echoed_even_on_errors(connect: ClientFactory) -> None:
    op = connect(OPERATOR)
    call = op.treasury.GetPlan(
        treasury_pb2.GetPlanRequest(plan_id="plan-missing"), metadata=(("x-request-id", "req-42"),)
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert ("x-request-id", "req-42") in tuple(err.value.trailing_metadata() or ())
    ok = op.treasury.ListPlans(treasury_pb2.ListPlansRequest())
    await ok
    rid = dict(await ok.trailing_metadata())["x-request-id"]
    assert len(rid) == 32 and rid != "req-42"


async def test_health_and_reflection(connect: ClientFactory) -> None:
    op = connect(OPERATOR)
    h = await op.health.Check(health_pb2.HealthCheckRequest(service="ballast.v1.TreasuryService"))
    assert h.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(op.channel)

    async def ask() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    answers = [a async for a in stub.ServerReflectionInfo(ask())]
    names = {s.name for s in answers[0].list_services_response.service}
    assert {
        "ballast.v1.ReportingService",
        "ballast.v1.TreasuryService",
        "ballast.v1.PartnerService",
        "grpc.health.v1.Health",
    } <= names


class _GatedStore:
    """Fault injection: ``list_vaults`` blocks until released, so a call is in flight."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def list_vaults(self) -> Any:
        self.entered.set()
        await self.release.wait()
        return await self._inner.list_vaults()


async def test_graceful_shutdown_lets_in_flight_calls_finish(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(server_files, tmp_path / "r.db")
    inner = await open_store(settings.database_url)
    gated = _GatedStore(inner)
    r = await start_router(settings, store=gated)  # type: ignore[arg-type]
    op = client(r, ca, OPERATOR)
    watcher = client(r, ca, OPERATOR)
    try:
        watch = watcher.health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        in_flight = asyncio.ensure_future(
            op.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest(dry_run=True))
        )
        await gated.entered.wait()
        stopping = asyncio.ensure_future(r.stop(grace=30))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()  # open streams would otherwise hold the server for the whole grace
        gated.release.set()
        answer = await in_flight
        assert answer.plan.plan_id == ""
        await stopping
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await op.treasury.ListPlans(treasury_pb2.ListPlansRequest(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await op.close()
        await watcher.close()
        await inner.aclose()


async def test_a_reporter_flooding_one_stream_is_limited(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(
        server_files, tmp_path / "r.db", limits={"reporter": {"rate": 0.001, "burst": 2}}
    )
    async with running_router(settings) as r:
        async with client(r, ca, "ballast://reporter/ethereum") as rep:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await send_batches(rep, *[[report("eth-main", 100 + i, 10 + i)] for i in range(4)])
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        balance = await r.store.latest_balance("eth-main")
    assert balance is not None and balance.block_number == 11  # two batches got through


async def test_stop_leaves_no_background_work(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    """A view rebuild started in the background must end before the store closes."""
    settings = make_settings(server_files, tmp_path / "r.db", policy={"position_cache_seconds": 0})
    async with running_router(settings) as r:
        async with client(r, ca, OPERATOR) as op:
            for _ in range(3):  # past the TTL every time: each call starts a rebuild
                await op.treasury.GetPosition(treasury_pb2.GetPositionRequest())
        refresh = r.positions._refresh
        assert refresh is not None
    assert refresh.done()
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not [t for t in leftovers if "materialize" in repr(t.get_coro())]


class _SlowToCancelStore:
    """Fault injection: ``get_plan`` blocks, and once cancelled takes its time to
    clean up (as a database driver does, closing the connection it was using)."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self.entered = asyncio.Event()
        self.cleanup_may_end = asyncio.Event()
        self.handler_ended = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get_plan(self, plan_id: str) -> Any:
        try:
            self.entered.set()
            await asyncio.Event().wait()  # never answers
        except asyncio.CancelledError:
            await self.cleanup_may_end.wait()
            raise
        finally:
            self.handler_ended.set()


async def test_stop_waits_for_call_handlers_still_running(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    """A watcher cancelled by its client may still be unwinding when the
    transport is down: stop must not return (and the store must not close)
    while its handler runs, or that handler is left for the event loop's end
    (where a half-closed database connection can hang it for good)."""
    settings = make_settings(server_files, tmp_path / "r.db")
    inner = await open_store(settings.database_url)
    slow = _SlowToCancelStore(inner)
    r = await start_router(settings, store=slow)  # type: ignore[arg-type]
    try:
        async with client(r, ca, OPERATOR) as op:
            watch = op.treasury.WatchPlan(treasury_pb2.WatchPlanRequest(plan_id="plan-1"))
            reading = asyncio.ensure_future(watch.read())
            await slow.entered.wait()
            watch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
        await r.stop(grace=0.5)
        assert slow.handler_ended.is_set()  # ended (cancelled after the grace) before stop returned
        assert not r.in_flight.tasks
    finally:
        slow.cleanup_may_end.set()
        await inner.aclose()

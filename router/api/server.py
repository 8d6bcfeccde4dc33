"""The gRPC server: wiring, credentials, health, reflection, graceful stop.

Start one programmatically (tests, the demo)::

    async with running_router(settings) as router:
        router.address            # "127.0.0.1:PORT"
        router.store              # the open store

or for a process: :func:`serve` (SIGTERM/SIGINT stop it gracefully: health
flips to NOT_SERVING, new calls are refused, in-flight calls get
``limits.shutdown_grace_seconds`` to finish, open streams are ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import grpc
from ballast.v1 import (
    partner_pb2,
    partner_pb2_grpc,
    reporting_pb2,
    reporting_pb2_grpc,
    treasury_pb2,
    treasury_pb2_grpc,
)
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from chains.observe import add_rpc_observer, remove_rpc_observer
from router.api.auth import TokenSigner
from router.api.claims import (
    ClaimsReportingServicer,
    ClaimsTreasuryServicer,
)
from router.api.interceptors import InFlightInterceptor, default_interceptors
from router.api.openings import OpeningsPartnerServicer
from router.app.access import AccessControl, sync_registry
from router.app.changes import Changes, change_policy
from router.app.claims import Claims, Payouts
from router.app.covers import Covers
from router.app.engine import ReinsuranceEngine
from router.app.governance import GovernedCovers, TermsFollower, TermsSource
from router.app.incidents import Incidents, sync_oracles
from router.app.limit_changes import EffectiveLimits
from router.app.openings import Openings, OpeningStarter
from router.app.plans import PlanEvents, Plans
from router.app.ports import Engine, Executor
from router.app.positions import PositionCache
from router.app.protocols import Protocols
from router.app.registry_changes import EffectiveRoutes, reapply_vault_overrides
from router.app.reporting import Reporting
from router.app.retention import Retention
from router.config import RouterSettings
from router.store import Store, open_store
from router.telemetry.metrics import MetricsExporter, RouterMetrics, serve_metrics
from router.telemetry.state import read_state

log = logging.getLogger("ballast.router.api.server")

SERVICE_NAMES = (
    reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].full_name,
    treasury_pb2.DESCRIPTOR.services_by_name["TreasuryService"].full_name,
    partner_pb2.DESCRIPTOR.services_by_name["PartnerService"].full_name,
)


@dataclass(slots=True)
class RunningRouter:
    address: str
    port: int
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    store: Store
    settings: RouterSettings
    events: PlanEvents
    positions: PositionCache
    owns_store: bool
    in_flight: InFlightInterceptor
    #: This router's metrics (its own registry), and their HTTP exporter if configured.
    metrics: RouterMetrics | None = None
    exporter: MetricsExporter | None = None
    #: History pruning (``[retention]``): set to stop, then awaited on stop.
    retention_stop: asyncio.Event | None = None
    retention_task: asyncio.Task[None] | None = None
    #: Governed terms (``[governance]``): refreshed until set, then awaited and closed.
    governance_stop: asyncio.Event | None = None
    governance_task: asyncio.Task[None] | None = None
    governance_close: Callable[[], Awaitable[None]] | None = None

    def execution_changed(self) -> None:
        """An executor worker in this process moved a step: positions (capital in
        transit, cessions placed) are rebuilt and plan watchers woken now."""
        self.positions.invalidate()
        self.events.notify()

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: NOT_SERVING first, then let in-flight calls finish;
        every call handler (streams too) ends before the store closes, since
        ``grpc.aio.Server.stop`` does not wait for the handlers themselves."""
        await self.health.enter_graceful_shutdown()
        self.events.close()
        g = self.settings.limits.shutdown_grace_seconds if grace is None else grace
        await self.server.stop(g)
        await self.in_flight.drain(g)
        if self.exporter is not None:
            self.exporter.close()
        if self.metrics is not None:
            remove_rpc_observer(self.metrics)
        if self.retention_stop is not None and self.retention_task is not None:
            self.retention_stop.set()
            await self.retention_task
        if self.governance_stop is not None and self.governance_task is not None:
            self.governance_stop.set()
            await self.governance_task
        if self.governance_close is not None:
            await self.governance_close()
        await self.positions.aclose()
        if self.owns_store:
            await self.store.aclose()


def _credentials(settings: RouterSettings) -> grpc.ServerCredentials | None:
    tls = settings.tls
    if tls is None:
        return None
    key, cert = tls.server_key.read_bytes(), tls.server_cert.read_bytes()
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=tls.ca_cert.read_bytes(),
        require_client_auth=settings.auth.mode == "mtls",
    )


async def start_router(
    settings: RouterSettings,
    *,
    store: Store | None = None,
    engine: Engine | None = None,
    executor: Executor | None = None,
    terms_source: TermsSource | None = None,
) -> RunningRouter:
    """Open the store (unless given), sync the registry, bind and start serving.
    ``terms_source`` reads governed terms (default: ``[governance]``'s chain over HTTP)."""
    if settings.auth.mode == "mtls" and settings.tls is None:
        raise ValueError(
            "auth.mode 'mtls' needs a [tls] section (ca_cert, server_cert, server_key)"
        )
    owns = store is None
    exporter: MetricsExporter | None = None
    governed: GovernedCovers | None = None
    close_source: Callable[[], Awaitable[None]] | None = None
    if store is None:
        store = await open_store(settings.database_url)
    try:
        await sync_registry(store, settings)
        await reapply_vault_overrides(store)  # approved changes win over the config
        engine = engine or ReinsuranceEngine(settings.policy, settings.routes)
        signer = (
            TokenSigner(settings.auth.token_secret)
            if settings.auth.token_secret is not None
            else None
        )
        access = AccessControl(store)
        size = settings.limits.max_message_bytes
        in_flight = InFlightInterceptor()
        metrics = RouterMetrics()
        server = grpc.aio.server(
            interceptors=default_interceptors(
                settings.limits, settings.auth.mode, signer, access.check, in_flight, metrics
            ),
            options=[
                ("grpc.max_receive_message_length", size),
                ("grpc.max_send_message_length", size),
                ("grpc.so_reuseport", 0),
            ],
        )
        events = PlanEvents()
        asset = settings.chains[0].asset if settings.chains else "USDC"
        positions = PositionCache(
            store, engine, settings.policy, settings.policy.position_cache_seconds
        )
        limits_now = EffectiveLimits(store, settings.limits.policy())
        routes_now = EffectiveRoutes(store, settings.routes)
        plans = Plans(
            store,
            engine,
            settings.policy,
            events,
            executor,
            limits=settings.limits.policy(),
            limits_source=limits_now,
            routes_source=routes_now,
        )
        if settings.governance is not None and settings.governance.terms:
            if terms_source is None:
                terms_source, close_source = _terms_reader(settings)
            gov = settings.governance
            governed = GovernedCovers(
                TermsFollower(terms_source, gov.terms),
                store,
                gov.terms,
                timedelta(seconds=gov.max_terms_age_seconds),
            )
        starter: OpeningStarter | None = executor if hasattr(executor, "start_opening") else None  # type: ignore[assignment]
        openings = Openings(store, starter)
        covers = Covers(store, engine, settings.policy, positions.invalidate, governed, openings)
        protocols = Protocols(store, settings.policy)
        changes = Changes(
            store, change_policy(settings.changes), limits=limits_now, routes=routes_now
        )
        reporting = Reporting(store, access, settings.policy, positions.confirmed)
        await sync_oracles(
            store, [(o.reporter_id, o.public_key, o.active) for o in settings.oracles]
        )
        payouts: Payouts | None = executor if hasattr(executor, "start_payment") else None  # type: ignore[assignment]
        claims = Claims(store, payouts)
        incidents = Incidents(store, settings.incidents.policy(), claims.open_for_incident)
        reporting_pb2_grpc.add_ReportingServiceServicer_to_server(
            ClaimsReportingServicer(reporting, incidents, protocols), server
        )
        treasury = ClaimsTreasuryServicer(
            plans,
            positions,
            access,
            store,
            settings.policy,
            asset,
            protocols=protocols,
            changes=changes,
            incidents=incidents,
            claims=claims,
            claim_store=store,
        )
        treasury_pb2_grpc.add_TreasuryServiceServicer_to_server(treasury, server)
        partner_pb2_grpc.add_PartnerServiceServicer_to_server(
            OpeningsPartnerServicer(covers, claims, store, openings), server
        )
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        creds = _credentials(settings)
        if creds is None:
            port = server.add_insecure_port(settings.listen)
        else:
            port = server.add_secure_port(settings.listen, creds)
        if port == 0:
            raise OSError(f"could not bind {settings.listen}")
        exporter = _exporter(settings, metrics)  # a taken port fails here, before serving
        await server.start()
        metrics.watch_state(
            functools.partial(read_state, store, positions, settings.policy),
            asyncio.get_running_loop(),
        )
        for name in ("", *SERVICE_NAMES):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        # Reconcile before acting: every EXECUTING plan has its saga.
        for plan_id in await plans.reconcile_executions():
            log.info("started the saga of %s, recorded but not running", plan_id)
        if started := await claims.reconcile():
            log.info("started %d payout sagas, recorded but not running", started)
        if started := await openings.reconcile():
            log.info("started %d cover opening sagas, recorded but not running", started)
    except BaseException:
        if exporter is not None:
            exporter.close()
        if close_source is not None:
            await close_source()
        if owns:
            await store.aclose()
        raise
    add_rpc_observer(metrics)
    governance_stop = asyncio.Event()
    governance_task = (
        asyncio.create_task(
            governed.run(governance_stop, settings.governance.refresh_seconds),
            name="ballast-governed-terms",
        )
        if governed is not None and settings.governance is not None
        else None
    )
    retention = Retention(store, settings.retention)
    retention_stop = asyncio.Event()
    retention_task = (
        asyncio.create_task(retention.run(retention_stop), name="ballast-retention")
        if retention.enabled
        else None
    )
    host = settings.listen.rsplit(":", 1)[0]
    log.info("router listening on %s:%d (auth %s)", host, port, settings.auth.mode)
    return RunningRouter(
        address=f"{host}:{port}",
        port=port,
        server=server,
        health=health_servicer,
        store=store,
        settings=settings,
        events=events,
        positions=positions,
        owns_store=owns,
        in_flight=in_flight,
        metrics=metrics,
        exporter=exporter,
        retention_stop=retention_stop,
        retention_task=retention_task,
        governance_stop=governance_stop,
        governance_task=governance_task,
        governance_close=close_source,
    )


def _terms_reader(settings: RouterSettings) -> tuple[TermsSource, Callable[[], Awaitable[None]]]:
    """PoolTerms read over the governance chain's first RPC URL at its finality rule."""
    from chains.evm_config import Confirmations, FinalityRule, FinalizedTag
    from chains.evm_governance import EvmTermsReader
    from chains.evm_rpc import HttpEndpoint

    gov = settings.governance
    assert gov is not None
    chain = next((c for c in settings.chains if c.name == gov.chain), None)
    if chain is None or not chain.rpc_urls:
        raise ValueError(f"[governance] chain {gov.chain!r} needs a [[chains]] entry with rpc_urls")
    finality: FinalityRule = (
        Confirmations(chain.confirmations) if chain.confirmations is not None else FinalizedTag()
    )
    endpoint = HttpEndpoint(chain.rpc_urls[0], timeout=chain.rpc_timeout)
    return EvmTermsReader(endpoint, finality), endpoint.aclose


def _exporter(settings: RouterSettings, metrics: RouterMetrics) -> MetricsExporter | None:
    """The Prometheus endpoint when ``telemetry.metrics_port`` is set (0: a free port)."""
    port = settings.telemetry.metrics_port
    if port is None:
        return None
    return serve_metrics(metrics.registry, settings.telemetry.metrics_host, port)


@contextlib.asynccontextmanager
async def running_router(
    settings: RouterSettings,
    *,
    store: Store | None = None,
    engine: Engine | None = None,
    executor: Executor | None = None,
    terms_source: TermsSource | None = None,
) -> AsyncIterator[RunningRouter]:
    router = await start_router(
        settings, store=store, engine=engine, executor=executor, terms_source=terms_source
    )
    try:
        yield router
    finally:
        await router.stop()


async def serve(settings: RouterSettings) -> None:
    """Run until SIGTERM/SIGINT, then stop gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    from router.execution.worker import execution_runtime

    store = await open_store(settings.database_url)
    routers: list[RunningRouter] = []  # the worker starts first; it hears the router once up

    def changed() -> None:
        for r in routers:
            r.execution_changed()

    try:
        async with (
            execution_runtime(settings, store, on_change=changed) as executor,
            running_router(settings, store=store, executor=executor) as router,
        ):
            routers.append(router)
            log.info("serving on %s; SIGTERM or Ctrl-C stops gracefully", router.address)
            await stop.wait()
            log.info("stopping: health NOT_SERVING, draining in-flight calls")
    finally:
        await store.aclose()

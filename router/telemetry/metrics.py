"""Every Prometheus metric the router exports, defined here and nowhere else.

One :class:`RouterMetrics` per server, each with its own ``CollectorRegistry``
(several routers can run in one process, tests do): counters the edge and
the chain layer bump as things happen, and gauges of the state (pools,
plans, steps, capital in flight) computed from the store when scraped
(:class:`StateCollector`), which is cheaper and never drifts from the
truth the way gauges kept up to date by hand would.

Amounts are base units; a gauge is a float, exact up to 2**53 base units
(9 billion of a 6-decimal asset), which is what a dashboard needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server

log = logging.getLogger("ballast.router.telemetry")

_RPC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class PoolReading:
    chain: str
    pool: str
    capital: int
    requirement: int
    in_flight: int
    locked: int
    #: capital / requirement (1.0 = exactly solvent); None when nothing is required.
    ratio: float | None
    #: Seconds since the balance was last vouched for; None: never reported.
    staleness_seconds: float | None
    stale: bool


@dataclass(frozen=True, slots=True)
class StateReading:
    """What the state gauges show, read at one moment."""

    pools: tuple[PoolReading, ...] = ()
    plans: Mapping[str, int] = field(default_factory=dict)
    steps: Mapping[str, int] = field(default_factory=dict)
    pending_steps: int = 0
    #: (chain where it is now, "hub" or "bridge") -> base units between pools.
    in_transit: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: chain -> base units held by STUCK steps.
    stuck: Mapping[str, int] = field(default_factory=dict)


StateReader = Callable[[], Coroutine[Any, Any, StateReading]]


class StateCollector:
    """Gauges of the router's state, computed at scrape time.

    The exporter scrapes in its own thread; the store lives on the router's
    event loop, so the reading runs there (``run_coroutine_threadsafe``)
    and the scrape waits for it, at most ``timeout`` seconds. A failed read
    shows as ``ballast_state_up 0`` (and a log line), never a stale figure.
    """

    def __init__(
        self, read: StateReader, loop: asyncio.AbstractEventLoop, timeout: float = 10.0
    ) -> None:
        self._read = read
        self._loop = loop
        self._timeout = timeout

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "ballast_state_up", "1 if the state gauges below were read from the store"
        )
        reading = self._reading()
        up.add_metric([], 0.0 if reading is None else 1.0)
        yield up
        if reading is not None:
            yield from _state_metrics(reading)

    def _reading(self) -> StateReading | None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop or self._loop.is_closed():
            return None  # scraping from the loop itself would wait on itself
        try:
            return asyncio.run_coroutine_threadsafe(self._read(), self._loop).result(self._timeout)
        except Exception as exc:
            log.warning("metrics: the state could not be read: %s", type(exc).__name__)
            return None


def _state_metrics(r: StateReading) -> Iterator[Metric]:
    labels = ["chain", "pool"]
    capital = GaugeMetricFamily(
        "ballast_pool_capital", "confirmed balance, base units", labels=labels
    )
    required = GaugeMetricFamily(
        "ballast_pool_requirement", "max(SCR, MCR), base units", labels=labels
    )
    ratio = GaugeMetricFamily(
        "ballast_pool_ratio", "capital / requirement (1 = exactly solvent)", labels=labels
    )
    in_flight = GaugeMetricFamily(
        "ballast_pool_in_flight", "left the pool, not yet in its balance", labels=labels
    )
    locked = GaugeMetricFamily("ballast_pool_locked", "backs cover in force", labels=labels)
    staleness = GaugeMetricFamily(
        "ballast_pool_staleness_seconds", "since the balance was last vouched for", labels=labels
    )
    stale = GaugeMetricFamily(
        "ballast_pool_stale",
        "1 past policy.staleness_limit_seconds or never reported",
        labels=labels,
    )
    for p in r.pools:
        key = [p.chain, p.pool]
        capital.add_metric(key, float(p.capital))
        required.add_metric(key, float(p.requirement))
        in_flight.add_metric(key, float(p.in_flight))
        locked.add_metric(key, float(p.locked))
        stale.add_metric(key, 1.0 if p.stale else 0.0)
        if p.ratio is not None:
            ratio.add_metric(key, p.ratio)
        if p.staleness_seconds is not None:
            staleness.add_metric(key, p.staleness_seconds)
    yield from (capital, required, ratio, in_flight, locked, staleness, stale)
    plans = GaugeMetricFamily("ballast_plans", "plans by status", labels=["status"])
    for status, n in sorted(r.plans.items()):
        plans.add_metric([status], float(n))
    steps = GaugeMetricFamily("ballast_plan_steps", "plan steps by status", labels=["status"])
    for status, n in sorted(r.steps.items()):
        steps.add_metric([status], float(n))
    pending = GaugeMetricFamily(
        "ballast_executor_steps_pending",
        "steps of executing plans not finished yet: the executor's queue",
    )
    pending.add_metric([], float(r.pending_steps))
    transit = GaugeMetricFamily(
        "ballast_capital_in_transit",
        "capital of executing plans between pools (hub or bridge), by where it is",
        labels=["chain", "place"],
    )
    for (chain, place), amount in sorted(r.in_transit.items()):
        transit.add_metric([chain, place], float(amount))
    stuck = GaugeMetricFamily(
        "ballast_capital_stuck", "capital held by STUCK steps, by chain", labels=["chain"]
    )
    for chain, amount in sorted(r.stuck.items()):
        stuck.add_metric([chain], float(amount))
    yield from (plans, steps, pending, transit, stuck)


def reject_label(reason: str) -> str:
    """``REJECT_REASON_UNKNOWN_POOL`` -> ``unknown_pool``."""
    return reason.removeprefix("REJECT_REASON_").lower() or "unspecified"


class RouterMetrics:
    """The metrics of one router (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.grpc_calls = Counter(
            "ballast_grpc_calls", "gRPC calls handled, by method and status code",
            ["method", "code"], registry=r,
        )  # fmt: skip
        self.grpc_seconds = Histogram(
            "ballast_grpc_call_seconds", "gRPC call duration (streams: their whole life)",
            ["method"], registry=r,
        )  # fmt: skip
        self.report_batches = Counter(
            "ballast_report_batches", "report batches acknowledged", ["reporter"], registry=r
        )
        self.reports_accepted = Counter(
            "ballast_reports_accepted", "balance reports accepted", ["reporter"], registry=r
        )
        self.reports_rejected = Counter(
            "ballast_reports_rejected", "balance reports rejected, by reason",
            ["reporter", "reason"], registry=r,
        )  # fmt: skip
        self.rpc_calls = Counter(
            "ballast_chain_rpc_calls", "round trips to chain nodes",
            ["chain", "endpoint", "method"], registry=r,
        )  # fmt: skip
        self.rpc_errors = Counter(
            "ballast_chain_rpc_errors", "round trips to chain nodes that failed, by error",
            ["chain", "endpoint", "error"], registry=r,
        )  # fmt: skip
        self.rpc_seconds = Histogram(
            "ballast_chain_rpc_seconds", "round-trip time to chain nodes",
            ["chain", "endpoint"], buckets=_RPC_BUCKETS, registry=r,
        )  # fmt: skip
        self._state: StateCollector | None = None

    # -- as things happen --------------------------------------------------------

    def grpc_done(self, method: str, code: str, seconds: float) -> None:
        self.grpc_calls.labels(method, code).inc()
        self.grpc_seconds.labels(method).observe(seconds)

    def reports_acked(self, reporter: str, accepted: int, reasons: list[str]) -> None:
        """One batch's acknowledgement: how many were accepted, each rejection's reason."""
        self.report_batches.labels(reporter).inc()
        if accepted:
            self.reports_accepted.labels(reporter).inc(accepted)
        for reason in reasons:
            self.reports_rejected.labels(reporter, reject_label(reason)).inc()

    def rpc_done(
        self, chain: str, endpoint: str, method: str, seconds: float, error: str | None
    ) -> None:
        """``chains.observe.RpcObserver``: one round trip to a node ended."""
        self.rpc_calls.labels(chain, endpoint, method).inc()
        self.rpc_seconds.labels(chain, endpoint).observe(seconds)
        if error is not None:
            self.rpc_errors.labels(chain, endpoint, error).inc()

    # -- at scrape time ----------------------------------------------------------

    def watch_state(self, read: StateReader, loop: asyncio.AbstractEventLoop) -> None:
        """Export the state gauges, read by ``read`` on ``loop`` at each scrape."""
        if self._state is not None:
            self.registry.unregister(self._state)
        self._state = StateCollector(read, loop)
        self.registry.register(self._state)


@dataclass
class MetricsExporter:
    """The HTTP endpoint Prometheus scrapes (``/metrics``, and any other path)."""

    server: Any
    thread: threading.Thread

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> MetricsExporter:
    """Start the exporter on ``host:port`` (0: a free port) in a daemon thread.
    A port that cannot be bound is a :class:`~router.config.ConfigError`."""
    from router.config import ConfigError

    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(
            [("telemetry.metrics_port", f"cannot listen on {host}:{port} ({exc.strerror})")]
        ) from None
    exporter = MetricsExporter(server, thread)
    log.info("metrics on http://%s/metrics", exporter.address)
    return exporter


@contextlib.contextmanager
def worker_metrics(host: str, port: int | None) -> Iterator[RouterMetrics | None]:
    """For a process without a router (``ballast worker``): its chain round trips
    exported on ``host:port`` while the block runs; nothing when ``port`` is None."""
    if port is None:
        yield None
        return
    from chains.observe import add_rpc_observer, remove_rpc_observer

    metrics = RouterMetrics()
    exporter = serve_metrics(metrics.registry, host, port)
    add_rpc_observer(metrics)
    try:
        yield metrics
    finally:
        remove_rpc_observer(metrics)
        exporter.close()

"""Traces: OpenTelemetry spans from an agent's report to a chain call.

Code everywhere creates spans through the OpenTelemetry API only; without a
tracer provider (the default, ``telemetry.traces = "none"``) they cost next
to nothing and go nowhere. :func:`setup_tracing` installs a provider with an
exporter (console, or OTLP when its package is installed).

How one trace crosses the processes:

- agent → router: the client interceptor (``router.agent.client``) writes
  the W3C ``traceparent`` into the call's metadata (:func:`inject`); the
  server's tracing interceptor reads it (:func:`extract`) and runs the call
  in a span that is the agent's span's child;
- router → planner: the use cases open spans of their own (``plan.draft``,
  ``plan.execute``, ``reports.ingest``) inside the call's span;
- router → executor: Temporal's ``TracingInterceptor`` on the client
  (:func:`temporal_interceptors`) carries the context in the workflow's and
  each activity's headers; workers made from that client use it too;
- executor → chain: ``chains.observe.rpc_call`` opens a span per round trip
  inside the activity's span.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

log = logging.getLogger("ballast.router.telemetry")

#: Metadata keys the W3C trace-context propagator writes (gRPC keys are lower case).
TRACE_KEYS = ("traceparent", "tracestate")


def inject() -> list[tuple[str, str]]:
    """The current span's context as gRPC metadata pairs (none outside a span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(k.lower(), v) for k, v in carrier.items()]


def extract(metadata: Iterable[tuple[str, str | bytes]] | None) -> otel_context.Context:
    """The caller's span context from gRPC metadata (an empty context if none)."""
    carrier: dict[str, str] = {}
    for key, value in metadata or ():
        if key in TRACE_KEYS:
            carrier[key] = value.decode() if isinstance(value, bytes) else value
    return propagate.extract(carrier)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


P = ParamSpec("P")
R = TypeVar("R")


def traced(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Run an async function (a use case) in a span called ``name``."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with trace.get_tracer("ballast.router.app").start_as_current_span(name):
                return await fn(*args, **kwargs)

        return wrapper

    return decorate


def temporal_interceptors() -> list[Any]:
    """Interceptors for a Temporal client (and the workers built on it) that carry
    the trace context into workflows and activities."""
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def _exporter(kind: str, endpoint: str) -> Any:
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter,
        )
    except ImportError as exc:
        raise RuntimeError(
            "telemetry.traces 'otlp' needs the opentelemetry-exporter-otlp-proto-grpc "
            "package, which is not installed: install it, or use 'console'"
        ) from exc
    return OTLPSpanExporter(endpoint=endpoint)


def setup_tracing(kind: str, *, service_name: str, endpoint: str = "") -> Any | None:
    """Install a global tracer provider exporting to ``kind`` (``none``: nothing is
    installed). Returns the provider (call ``shutdown()`` to flush), or None."""
    if kind == "none":
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(_exporter(kind, endpoint)))
    trace.set_tracer_provider(provider)
    log.info("traces exported to %s", kind)
    return provider


def metadata_with_trace(metadata: Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    """``metadata`` plus the current trace context (a key already there is kept)."""
    pairs = list(metadata or ())
    have = {k for k, _ in pairs}
    pairs.extend((k, v) for k, v in inject() if k not in have)
    return pairs


def attributes(values: Mapping[str, object]) -> dict[str, str]:
    """Span attributes from context-ish values (None dropped, all strings)."""
    return {k: str(v) for k, v in values.items() if v is not None}

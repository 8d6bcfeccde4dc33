"""One place every chain RPC round trip is seen from: a span and an observer hook.

The adapters call :func:`rpc_call` around each round trip to a node (EVM:
``EvmAdapter._rpc``/``_batch``; Solana: ``SolanaRpc._post``). It opens an
OpenTelemetry span (the API only: without a tracer provider it is a no-op)
and, when the round trip ends, tells every registered :class:`RpcObserver`
the chain, endpoint name (already redacted: never a URL with credentials),
method, duration and outcome. The chains package imports nothing of the
router: a service that wants metrics registers an observer
(:func:`add_rpc_observer`) and removes it when it stops.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from opentelemetry import trace

_tracer = trace.get_tracer("ballast.chains")


class RpcObserver(Protocol):
    def rpc_done(
        self, chain: str, endpoint: str, method: str, seconds: float, error: str | None
    ) -> None:
        """One round trip ended; ``error`` is the error's class name, or None."""
        ...


_observers: list[RpcObserver] = []


def add_rpc_observer(observer: RpcObserver) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_rpc_observer(observer: RpcObserver) -> None:
    if observer in _observers:
        _observers.remove(observer)


@contextmanager
def rpc_call(chain: str, endpoint: str, method: str) -> Iterator[None]:
    """Around one round trip: a ``rpc <method>`` span and the observers' report.
    An observer that fails never fails the call."""
    started = time.perf_counter()
    error: str | None = None
    with _tracer.start_as_current_span(
        f"rpc {method}",
        kind=trace.SpanKind.CLIENT,
        attributes={"rpc.system": "jsonrpc", "chain": chain, "endpoint": endpoint},
    ):
        try:
            yield
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            seconds = time.perf_counter() - started
            for observer in tuple(_observers):
                with contextlib.suppress(Exception):  # metrics never break a chain call
                    observer.rpc_done(chain, endpoint, method, seconds, error)

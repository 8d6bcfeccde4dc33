"""Server interceptors: request ids, error mapping, authentication, rate limits,
the server-side deadline cap.

Each interceptor wraps the method handler's behaviour in an async context
manager (``guard``) that runs around the whole call, unary or streaming, in
the same task as the servicer, so what it sets in context variables (identity,
request id) is visible to the servicer. Order in the server, outermost first:
(in-flight tracking) → tracing → metrics → request id → errors → auth → rate
limit → deadline cap.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc.aio import ServicerContext
from opentelemetry import trace

from router.api import auth
from router.api.status import status_for
from router.config import LimitsConfig, RateConfig
from router.errors import DeadlineCapped, RateLimited, Unauthenticated
from router.telemetry import context as log_context
from router.telemetry import tracing
from router.telemetry.metrics import RouterMetrics

log = logging.getLogger("ballast.router.rpc")

REQUEST_ID_KEY = "x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")
_CURRENT_REQUEST_ID: ContextVar[str] = ContextVar("ballast_request_id", default="-")

Guard = Callable[[str, ServicerContext], AbstractAsyncContextManager[None]]


def current_request_id() -> str:
    return _CURRENT_REQUEST_ID.get()


RequestWrap = Callable[[AsyncIterator[Any]], AsyncIterator[Any]]


def _wrap_handler(
    handler: grpc.RpcMethodHandler,
    method: str,
    guard: Guard,
    wrap_requests: RequestWrap | None = None,
    wrap_responses: RequestWrap | None = None,
) -> Any:
    """A handler like ``handler`` whose behaviour runs inside ``guard`` (and, for
    request streams, reads its messages through ``wrap_requests``; for response
    streams, yields its messages through ``wrap_responses``)."""
    if handler.request_streaming and handler.response_streaming:
        inner = handler.stream_stream
        factory = grpc.stream_stream_rpc_method_handler
    elif handler.request_streaming:
        inner = handler.stream_unary
        factory = grpc.stream_unary_rpc_method_handler
    elif handler.response_streaming:
        inner = handler.unary_stream
        factory = grpc.unary_stream_rpc_method_handler
    else:
        inner = handler.unary_unary
        factory = grpc.unary_unary_rpc_method_handler

    if wrap_requests is not None and handler.request_streaming:
        plain = inner

        def inner(requests: Any, context: ServicerContext) -> Any:
            return plain(wrap_requests(requests), context)

    if handler.response_streaming:

        async def streaming(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            async with guard(method, context):
                result = inner(request, context)
                if hasattr(result, "__aiter__"):
                    if wrap_responses is not None:
                        result = wrap_responses(result)
                    async for item in result:
                        yield item
                else:  # a coroutine that streams with context.write (e.g. health Watch)
                    await result

        behaviour: Callable[..., Any] = streaming
    else:

        async def unary(request: Any, context: ServicerContext) -> Any:
            async with guard(method, context):
                return await inner(request, context)

        behaviour = unary
    return factory(
        behaviour,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class _GuardInterceptor(grpc.aio.ServerInterceptor):
    def guard(self, method: str, context: ServicerContext) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return _wrap_handler(handler, handler_call_details.method, self.guard)


def _metadata_value(context: ServicerContext, key: str) -> str | None:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v.decode() if isinstance(v, bytes) else v
    return None


class RequestIdInterceptor(_GuardInterceptor):
    """Give every call an id (the client's ``x-request-id`` if well formed),
    return it in trailing metadata, and log one line per call."""

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        given = _metadata_value(context, REQUEST_ID_KEY)
        rid = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        _CURRENT_REQUEST_ID.set(rid)
        log_context.bind(request_id=rid)
        context.set_trailing_metadata(((REQUEST_ID_KEY, rid),))
        started = time.perf_counter()
        outcome = "OK"
        try:
            yield
        except BaseException:
            outcome = "ERROR"
            raise
        finally:
            code = context.code()
            if code is not None and code != grpc.StatusCode.OK:
                outcome = getattr(code, "name", str(code))
            log.info(
                "rpc %s id=%s caller=%s outcome=%s ms=%.1f",
                method,
                rid,
                _caller_key(),
                outcome,
                (time.perf_counter() - started) * 1000,
            )


def _caller_key() -> str:
    try:
        return auth.current_identity().key
    except Unauthenticated:
        return "-"


class ErrorInterceptor(_GuardInterceptor):
    """Map every exception through the one table in :mod:`router.errors`."""

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        try:
            yield
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception as exc:
            rid = current_request_id()
            trailing = ((REQUEST_ID_KEY, rid),)
            mapped = status_for(exc)
            if mapped is None:
                log.exception("unexpected error in %s (request id %s)", method, rid)
                await context.abort(
                    grpc.StatusCode.INTERNAL,
                    f"internal error; quote request id {rid} to the operator",
                    trailing,
                )
            else:
                code, message = mapped
                await context.abort(code, message, trailing)


class AuthInterceptor(_GuardInterceptor):
    """Establish the caller's identity from its credentials and authorise it.

    With ``check``, every call is also held against what an operator revoked
    (read fresh: a revocation takes effect at the next call on every replica).
    """

    def __init__(
        self,
        mode: str,
        signer: auth.TokenSigner | None = None,
        check: Callable[[auth.Identity, str | None], Awaitable[None]] | None = None,
    ) -> None:
        if mode == "token" and signer is None:
            raise ValueError("token mode needs a TokenSigner")
        self._mode = mode
        self._signer = signer
        self._check = check

    def identify(self, context: ServicerContext) -> auth.Identity:
        if self._mode == "mtls":
            return auth.identity_from_auth_context(context.auth_context())
        assert self._signer is not None
        return auth.identity_from_metadata(context.invocation_metadata() or (), self._signer)

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        if auth.required_role(method) is None:
            auth.set_current_identity(None)
            yield
            return
        identity = self.identify(context)
        auth.authorize(identity, method)
        fingerprint = (
            auth.certificate_fingerprint(context.auth_context()) if self._mode == "mtls" else None
        )
        if self._check is not None:
            await self._check(identity, fingerprint)
        auth.set_current_identity(identity, fingerprint)
        yield


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: int
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class RateLimitInterceptor(_GuardInterceptor):
    """One token bucket per identity, sized by role: a noisy partner runs dry
    alone while operators and other partners are still served."""

    def __init__(self, limits: LimitsConfig, max_identities: int = 100_000) -> None:
        self._by_role: dict[str, RateConfig] = {
            auth.Role.OPERATOR: limits.operator,
            auth.Role.PARTNER: limits.partner,
            auth.Role.REPORTER: limits.reporter,
        }
        self._buckets: dict[str, TokenBucket] = {}
        self._max = max_identities

    def bucket(self, identity: auth.Identity) -> TokenBucket:
        b = self._buckets.get(identity.key)
        if b is None:
            if len(self._buckets) >= self._max:
                self._buckets.clear()  # bounded memory; buckets refill quickly anyway
            cfg = self._by_role[identity.role]
            b = self._buckets[identity.key] = TokenBucket(cfg.rate, cfg.burst)
        return b

    def _charge(self) -> None:
        try:
            identity = auth.current_identity()
        except Unauthenticated:  # open methods (health, reflection)
            return
        if not self.bucket(identity).take():
            cfg = self._by_role[identity.role]
            raise RateLimited(
                f"rate limit for {identity.uri} exceeded ({cfg.rate:g} calls or stream "
                f"messages/s, burst {cfg.burst}): slow down and retry with backoff"
            )

    async def _limited(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """Each message of a request stream costs a token too, after the first."""
        first = True
        async for message in requests:
            if not first:
                self._charge()
            first = False
            yield message

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        return _wrap_handler(
            handler,
            handler_call_details.method,
            self.guard,
            self._limited,
        )

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        self._charge()
        yield


class DeadlineInterceptor(_GuardInterceptor):
    """Cap how long a unary call may run, whatever deadline the client set.

    Streams (report ingestion, plan watching) are long-lived by design and
    are not capped; they end when the client or the server's shutdown ends them.
    """

    def __init__(self, cap_seconds: float) -> None:
        self._cap = cap_seconds

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.response_streaming:
            return handler
        return _wrap_handler(handler, handler_call_details.method, self.guard)

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._cap):
                yield
        except TimeoutError as exc:
            raise DeadlineCapped(
                f"{method} ran longer than the server's {self._cap:g}s cap; "
                "narrow the request or retry later"
            ) from exc


class InFlightInterceptor(_GuardInterceptor):
    """Outermost: keeps the task of every call being handled, so a stop can wait
    for them. ``grpc.aio.Server.stop`` returns once the transport is down, not
    once the handlers have returned: a streaming handler (a plan watcher) may
    still be running, and would then read a closed store and never finish."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self.tasks.discard(task)

    async def drain(self, grace: float) -> None:
        """Let the handlers still running finish within ``grace`` seconds, then
        cancel the rest and wait until they have ended."""
        me = asyncio.current_task()
        pending = {t for t in self.tasks if t is not me and not t.done()}
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=max(grace, 0.0))
        for t in late:
            t.cancel()
        if late:
            await asyncio.wait(late)


def _code(context: ServicerContext, failed: BaseException | None) -> str:
    code = context.code()
    if code is not None:
        return str(getattr(code, "name", code))
    if isinstance(failed, asyncio.CancelledError):
        return "CANCELLED"
    return "OK" if failed is None else "UNKNOWN"


class TracingInterceptor(_GuardInterceptor):
    """Each call runs in a server span, the child of the caller's span when its
    metadata carries a W3C ``traceparent`` (an agent's, the CLI's)."""

    def __init__(self) -> None:
        self._tracer = tracing.tracer("ballast.router.api")

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        parent = tracing.extract(context.invocation_metadata())
        service, _, name = method.lstrip("/").partition("/")
        with self._tracer.start_as_current_span(
            method.lstrip("/"),
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            failed: BaseException | None = None
            try:
                yield
            except BaseException as exc:
                failed = exc
                raise
            finally:
                code = _code(context, failed)
                span.set_attribute("rpc.grpc.status_code", code)
                if code != "OK":
                    span.set_status(trace.StatusCode.ERROR, code)


class MetricsInterceptor(_GuardInterceptor):
    """Counts every call by method and status code, times it, and counts the
    reports each ``StreamReports`` acknowledgement accepted and rejected."""

    def __init__(self, metrics: RouterMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        acks = self._acks if method.endswith("/StreamReports") else None
        return _wrap_handler(handler, method, self.guard, wrap_responses=acks)

    async def _acks(self, responses: AsyncIterator[Any]) -> AsyncIterator[Any]:
        from ballast.v1 import reporting_pb2

        name = reporting_pb2.RejectReason.Name
        async for ack in responses:
            self._metrics.reports_acked(
                ack.reporter_id, ack.accepted, [name(r.reason) for r in ack.rejections]
            )
            yield ack

    @asynccontextmanager
    async def guard(self, method: str, context: ServicerContext) -> AsyncIterator[None]:
        started = time.perf_counter()
        failed: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failed = exc
            raise
        finally:
            self._metrics.grpc_done(method, _code(context, failed), time.perf_counter() - started)


def default_interceptors(
    limits: LimitsConfig,
    mode: str,
    signer: auth.TokenSigner | None,
    check: Callable[[auth.Identity, str | None], Awaitable[None]] | None = None,
    in_flight: InFlightInterceptor | None = None,
    metrics: RouterMetrics | None = None,
) -> list[grpc.aio.ServerInterceptor]:
    first: list[grpc.aio.ServerInterceptor] = [in_flight] if in_flight is not None else []
    first.append(TracingInterceptor())
    if metrics is not None:
        first.append(MetricsInterceptor(metrics))
    return [
        *first,
        RequestIdInterceptor(),
        ErrorInterceptor(),
        AuthInterceptor(mode, signer, check),
        RateLimitInterceptor(limits),
        DeadlineInterceptor(limits.deadline_cap_seconds),
    ]

"""Client helpers: channels with our credentials and the three service stubs.

::

    async with RouterClient.mtls(address, ca_pem=..., cert_pem=..., key_pem=...) as c:
        await c.treasury.GetPosition(treasury_pb2.GetPositionRequest())

Token mode adds ``authorization: Bearer <token>`` to every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import grpc
from ballast.v1 import partner_pb2, partner_pb2_grpc, reporting_pb2_grpc, treasury_pb2_grpc
from grpc_health.v1 import health_pb2_grpc

#: Our test certificates name ``localhost`` and ``127.0.0.1`` (see router.devtools.pki).


class _Metadata(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Adds fixed metadata (a bearer token) to every call."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._pairs = tuple(pairs)

    def _details(self, d: Any) -> Any:
        md = grpc.aio.Metadata(*(d.metadata or ()), *self._pairs)
        return d._replace(metadata=md)

    async def intercept_unary_unary(self, continuation: Any, d: Any, request: Any) -> Any:
        return await continuation(self._details(d), request)

    async def intercept_unary_stream(self, continuation: Any, d: Any, request: Any) -> Any:
        return await continuation(self._details(d), request)

    async def intercept_stream_unary(self, continuation: Any, d: Any, requests: Any) -> Any:
        return await continuation(self._details(d), requests)

    async def intercept_stream_stream(self, continuation: Any, d: Any, requests: Any) -> Any:
        return await continuation(self._details(d), requests)


def _options(max_message_bytes: int, server_name: str | None = None) -> list[tuple[str, Any]]:
    opts: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
    if server_name is not None:  # verify the certificate against this name, not the address
        opts.append(("grpc.ssl_target_name_override", server_name))
    return opts


def mtls_channel(
    address: str,
    *,
    ca_pem: bytes,
    cert_pem: bytes | None,
    key_pem: bytes | None,
    max_message_bytes: int = 16 * 1024 * 1024,
    server_name: str | None = None,
) -> grpc.aio.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca_pem, private_key=key_pem, certificate_chain=cert_pem
    )
    return grpc.aio.secure_channel(address, creds, options=_options(max_message_bytes, server_name))


def token_channel(
    address: str,
    token: str,
    *,
    ca_pem: bytes | None = None,
    max_message_bytes: int = 16 * 1024 * 1024,
) -> grpc.aio.Channel:
    """Bearer-token channel; TLS when ``ca_pem`` is given, plaintext otherwise
    (plaintext is for loopback only)."""
    interceptors = [_Metadata([("authorization", f"Bearer {token}")])]
    if ca_pem is None:
        return grpc.aio.insecure_channel(
            address, options=_options(max_message_bytes), interceptors=interceptors
        )
    creds = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    return grpc.aio.secure_channel(
        address, creds, options=_options(max_message_bytes), interceptors=interceptors
    )


class RouterClient:
    """A channel and the stubs of every service on it."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.reporting = reporting_pb2_grpc.ReportingServiceStub(channel)
        self.treasury = treasury_pb2_grpc.TreasuryServiceStub(channel)
        self.partner = partner_pb2_grpc.PartnerServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)

    @classmethod
    def mtls(
        cls, address: str, *, ca_pem: bytes, cert_pem: bytes | None, key_pem: bytes | None
    ) -> RouterClient:
        return cls(mtls_channel(address, ca_pem=ca_pem, cert_pem=cert_pem, key_pem=key_pem))

    @classmethod
    def token(cls, address: str, token: str, *, ca_pem: bytes | None = None) -> RouterClient:
        return cls(token_channel(address, token, ca_pem=ca_pem))

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> RouterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def bind_request(quote: partner_pb2.Quote, idempotency_key: str) -> partner_pb2.BindCoverRequest:
    """The bind that accepts ``quote`` exactly as quoted.

    A bind restates the quote's inputs so the router can refuse one that
    differs from what was priced; copying them from the quote is the way a
    partner binds what it was offered. Reuse ``idempotency_key`` on retries.
    """
    terms = partner_pb2.CoverTerms()
    terms.CopyFrom(quote.terms)
    del terms.trigger_kinds[:]  # output only: the router fills them in from the type
    return partner_pb2.BindCoverRequest(
        idempotency_key=idempotency_key,
        quote_id=quote.quote_id,
        chain=quote.chain,
        pool_id=quote.pool_id,
        cover_type=quote.cover_type,
        cover_amount=quote.cover_amount,
        period_days=quote.period_days,
        terms=terms,
    )

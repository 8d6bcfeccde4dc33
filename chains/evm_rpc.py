"""JSON-RPC endpoints for the EVM adapter: one narrow interface, two transports.

The adapter speaks raw JSON-RPC (method + params in, ``result`` out) through
:class:`EvmEndpoint`, so that batching, round-trip counting, error mapping and
fault injection each live in one place:

- :class:`HttpEndpoint` — a real node over HTTP through web3's
  ``AsyncHTTPProvider`` with web3's own retries switched off (retries happen
  only in :mod:`chains.retry`), a keep-alive session, and JSON-RPC batches.
- :class:`EthTesterEndpoint` — an embedded py-evm chain through eth-tester.

Every failure leaves here as a :mod:`chains.errors` type; nothing from web3,
aiohttp or eth-tester escapes. A node that refuses a call with revert data
raises :class:`RevertedCall` carrying the raw bytes so the adapter can map
custom errors by selector.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from chains.errors import (
    ChainError,
    InvalidInput,
    MalformedResponse,
    RpcError,
    RpcResponseError,
    RpcTimeout,
    RpcUnavailable,
    http_status_error,
    redact_url,
)

#: One JSON-RPC call: method and positional params.
Call = tuple[str, list[Any]]

#: JSON-RPC error codes / message fragments that mean "ask again shortly".
_TRANSIENT_CODES = {-32005, -32603, 429}
_TRANSIENT_TEXT = ("header not found", "rate limit", "too many requests", "timeout", "busy")
_HEX_DATA = re.compile(r"0x[0-9a-fA-F]{8,}")


class RevertedCall(RpcResponseError):
    """The node executed the call and it reverted; ``data`` is the raw revert data."""

    def __init__(self, message: str, *, data: bytes, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.data = data


class EvmEndpoint(Protocol):
    """One way to reach one node. ``name`` identifies it in errors (never a secret)."""

    @property
    def name(self) -> str: ...

    async def request(self, method: str, params: list[Any]) -> Any:
        """The ``result`` of one call; errors raised as :mod:`chains.errors` types."""
        ...

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Results in call order, one round trip; an item is a ChainError if that call failed."""
        ...

    async def aclose(self) -> None: ...


def error_from_payload(error: Any, *, endpoint: str, chain: str | None = None) -> RpcError:
    """Map a JSON-RPC ``error`` object to our tree (revert data kept if present)."""
    if not isinstance(error, dict):
        return MalformedResponse(f"unparseable error payload {error!r:.200}", endpoint=endpoint)
    code = error.get("code")
    message = str(error.get("message", ""))
    data = _revert_data(error.get("data"), message)
    if data is not None or code == 3 or "revert" in message.lower():
        return RevertedCall(
            f"call reverted: {message[:200]}",
            data=data or b"",
            code=code if isinstance(code, int) else None,
            endpoint=endpoint,
            chain=chain,
        )
    low = message.lower()
    transient = code in _TRANSIENT_CODES or any(t in low for t in _TRANSIENT_TEXT)
    return RpcResponseError(
        f"endpoint {endpoint} answered error {code}: {message[:200]}",
        code=code if isinstance(code, int) else None,
        transient=transient,
        endpoint=endpoint,
        chain=chain,
    )


def _revert_data(data: Any, message: str) -> bytes | None:
    if isinstance(data, dict):  # some nodes nest it: {"data": {"data": "0x..."}}
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    if "revert" in message.lower():
        found = _HEX_DATA.search(message)
        if found:
            digits = found.group(0)[2:]
            return bytes.fromhex(digits[: len(digits) - len(digits) % 2])
    return None


def _result_of(response: Any, *, endpoint: str) -> Any:
    if not isinstance(response, dict):
        raise MalformedResponse(f"response is not an object: {response!r:.200}", endpoint=endpoint)
    if response.get("error") is not None:
        raise error_from_payload(response["error"], endpoint=endpoint)
    if "result" not in response:
        raise MalformedResponse(f"response has no result: {response!r:.200}", endpoint=endpoint)
    return response["result"]


class HttpEndpoint:
    """A node over HTTP, via web3's ``AsyncHTTPProvider`` (its retries off).

    The timeout is passed per request (``request_kwargs``): web3 sets its own
    30 s ``ClientTimeout`` on every post, which overrides a session-level one,
    so a stalled node would otherwise hold a call for 30 s whatever is configured.
    """

    def __init__(self, url: str, *, name: str | None = None, timeout: float = 10.0) -> None:
        import aiohttp
        from web3.providers.rpc import AsyncHTTPProvider

        if not timeout > 0:
            raise InvalidInput("an endpoint timeout must be positive")
        self._url = url
        self._name = name or redact_url(url)
        self._timeout = timeout
        self._provider = AsyncHTTPProvider(
            url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
            exception_retry_configuration=None,
        )
        self._session_ready = False
        self._session_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"HttpEndpoint({self._name!r}, timeout={self._timeout})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def timeout(self) -> float:
        return self._timeout

    async def _session(self) -> None:
        """Open the keep-alive session once. A request cancelled while the session is
        being handed to web3 (another endpoint failed first) closes it again: no
        session is left unclosed."""
        if self._session_ready:
            return
        import aiohttp

        async with self._session_lock:
            if self._session_ready:
                return
            # web3's default session closes the connection after every request;
            # keep-alive makes one-call-per-pool fair and batches cheap.
            session = aiohttp.ClientSession(
                raise_for_status=True,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=32),
            )
            try:
                cached = await self._provider.cache_async_session(session)
            except BaseException:
                await session.close()
                raise
            if cached is not session:
                await session.close()
            self._session_ready = True

    async def request(self, method: str, params: list[Any]) -> Any:
        await self._session()
        with _mapped(self._name):
            response = await self._provider.make_request(method, params)  # type: ignore[arg-type,unused-ignore]
        return _result_of(response, endpoint=self._name)

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        if not calls:
            return []
        await self._session()
        with _mapped(self._name):
            responses = await self._provider.make_batch_request(list(calls))  # type: ignore[arg-type]
        if isinstance(responses, dict):  # the whole batch was refused
            raise error_from_payload(responses.get("error"), endpoint=self._name)
        if len(responses) != len(calls):
            raise MalformedResponse(
                f"batch of {len(calls)} answered with {len(responses)} items", endpoint=self._name
            )
        out: list[Any] = []
        for response in responses:
            try:
                out.append(_result_of(response, endpoint=self._name))
            except ChainError as exc:
                out.append(exc)
        return out

    async def aclose(self) -> None:
        """Close every session this endpoint opened (web3 logs the URL at INFO while
        doing so: see :func:`chains.logs.quiet_third_party_logs`)."""
        self._session_ready = False  # a later request opens a new session
        with _mapped(self._name):
            await self._provider.disconnect()


class _mapped:
    """Context manager turning aiohttp/web3/json errors into ours."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, ChainError) or not isinstance(exc, Exception):
            return
        raise _map_transport_error(exc, self.endpoint) from exc


def _map_transport_error(exc: Exception, endpoint: str) -> ChainError:
    import aiohttp

    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return RpcTimeout(f"endpoint {endpoint} timed out", endpoint=endpoint)
    if isinstance(exc, aiohttp.ClientResponseError):
        return http_status_error(
            exc.status, f"endpoint {endpoint} answered HTTP {exc.status}", endpoint=endpoint
        )
    if isinstance(exc, aiohttp.ClientError | ConnectionError | OSError):
        return RpcUnavailable(
            f"endpoint {endpoint} unreachable: {type(exc).__name__}", endpoint=endpoint
        )
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError | ValueError):
        return MalformedResponse(f"endpoint {endpoint} sent unparseable data", endpoint=endpoint)
    # The class only: a library's message may quote the URL, and with it a key.
    return RpcError(f"endpoint {endpoint} failed: {type(exc).__name__}", endpoint=endpoint)


class EthTesterEndpoint:
    """An embedded py-evm chain behind eth-tester, answering in JSON-RPC shapes.

    Calls go through the provider's own middleware (eth-tester's field
    formatting); reverts surface with their raw data, not as eth-tester's
    ``TransactionFailed`` string.
    """

    def __init__(self, w3: Any, *, name: str) -> None:
        self._w3 = w3
        self._name = name
        self._func: Callable[..., Any] | None = None

    @property
    def name(self) -> str:
        return self._name

    async def request(self, method: str, params: list[Any]) -> Any:
        if self._func is None:
            self._func = await self._w3.provider.request_func(self._w3, self._w3.middleware_onion)
        try:
            response = await self._func(method, params)
        except ChainError:
            raise
        except Exception as exc:
            raise _map_tester_error(exc, self._name) from exc
        return _result_of(response, endpoint=self._name)

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        out: list[Any] = []
        for method, params in calls:
            try:
                out.append(await self.request(method, params))
            except ChainError as exc:
                out.append(exc)
        return out

    async def aclose(self) -> None:
        return None


def _map_tester_error(exc: Exception, endpoint: str) -> ChainError:
    from eth_tester.exceptions import BlockNotFound, TransactionFailed, TransactionNotFound
    from eth_utils import ValidationError

    if isinstance(exc, TransactionFailed):
        data = _tester_revert_data(exc)
        return RevertedCall(f"call reverted on {endpoint}", data=data, endpoint=endpoint)
    if isinstance(exc, BlockNotFound | TransactionNotFound):
        return RpcResponseError(f"{endpoint}: {exc}", code=-32001, endpoint=endpoint)
    if isinstance(exc, ValidationError):
        return RpcResponseError(f"{endpoint} refused: {exc}", code=-32000, endpoint=endpoint)
    return RpcError(f"{endpoint} failed: {type(exc).__name__}: {exc}", endpoint=endpoint)


def _tester_revert_data(exc: Exception) -> bytes:
    """eth-tester re-raises reverts as ``"execution reverted: b'...'"``: recover the bytes."""
    arg: Any = exc.args[0] if exc.args else b""
    while isinstance(arg, Exception):
        arg = arg.args[0] if arg.args else b""
    if isinstance(arg, bytes):
        return arg
    text = str(arg)
    prefix = "execution reverted: "
    if text.startswith(prefix):
        text = text[len(prefix) :]
    if text.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return b""
        return value if isinstance(value, bytes) else b""
    if text.startswith("0x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            return b""
    # A plain reason string: encode as Error(string) so one decoder handles all.
    from eth_abi import encode

    return bytes.fromhex("08c379a0") + encode(["string"], [text])


# -- parsing answers (nodes differ: hex strings on the wire, ints from eth-tester)


def as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise MalformedResponse(f"{what} is not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.startswith("0x") else int(value)
        except ValueError:
            pass
    raise MalformedResponse(f"{what} is not a number: {value!r:.80}")


def hex_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise MalformedResponse(f"{what} is not hex data: {value!r:.80}")


def as_hash(value: Any, what: str) -> str:
    raw = hex_bytes(value, what)
    if len(raw) != 32:
        raise MalformedResponse(f"{what} is not a 32-byte hash")
    return "0x" + raw.hex()

"""JSON-RPC plumbing of the Solana adapter: solana-py's provider, our errors.

solana-py hands an error payload to solders' parser, which can *panic*
(``pyo3_runtime.PanicException``, a ``BaseException``) on a malformed one. So
every answer is first read as plain JSON here: error objects of any shape
become our typed errors without solders seeing them, and only results are
parsed by solders, behind a guard that turns even a panic into
:class:`MalformedResponse`. Transport failures (httpx, wrapped by solana-py)
are mapped by cause. Several calls can share one HTTP round trip (JSON-RPC
batch), which is how a 1,000-pool read stays within a few round trips.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx2
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient

from chains.errors import (
    MalformedResponse,
    RpcError,
    RpcResponseError,
    RpcTimeout,
    RpcUnavailable,
    http_status_error,
)
from chains.observe import rpc_call

#: JSON-RPC codes a node uses for conditions that pass by themselves.
TRANSIENT_CODES = frozenset({-32004, -32005, -32007, -32014, -32016, -32429, 429})

R = TypeVar("R")


def is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def parse_result(parser: type[R], text: str, *, method: str, endpoint: str) -> R:
    """solders parsing with every failure (panics included) as MalformedResponse."""
    try:
        return parser.from_json(text)  # type: ignore[attr-defined]
    except Exception as exc:
        raise MalformedResponse(
            f"{method}: unparseable result ({type(exc).__name__})", endpoint=endpoint
        ) from None
    except BaseException as exc:
        if not is_panic(exc):
            raise
        raise MalformedResponse(
            f"{method}: unparseable result (panic)", endpoint=endpoint
        ) from None


def rpc_error_from_payload(
    error: object, *, method: str, endpoint: str, chain: str | None = None
) -> RpcError:
    """Any JSON value found under ``"error"`` as one of our typed errors."""
    if not isinstance(error, dict):
        return MalformedResponse(
            f"{method}: error payload is not an object", endpoint=endpoint, chain=chain
        )
    code = error.get("code")
    message = error.get("message")
    if isinstance(code, bool) or not isinstance(code, int) or not isinstance(message, str):
        return MalformedResponse(
            f"{method}: error payload without an integer code and a message",
            endpoint=endpoint,
            chain=chain,
        )
    return RpcResponseError(
        f"{method}: {message[:300]}",
        code=code,
        transient=code in TRANSIENT_CODES,
        endpoint=endpoint,
        chain=chain,
        data=error.get("data"),
    )


class _Raw:
    """A pre-serialised JSON-RPC body for the provider (batches)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def to_json(self) -> str:
        return self._text


class SolanaRpc:
    """solana-py's provider with our error mapping and JSON-RPC batching.

    Errors are read from the raw JSON before solders sees it, so a malformed
    error payload can never reach solders' parser (which may panic).
    """

    def __init__(self, client: AsyncClient, *, endpoint: str, chain: str) -> None:
        self.client = client
        self.endpoint = endpoint
        self.chain = chain
        self.round_trips = 0

    async def _post(self, body: Any, method: str) -> Any:
        self.round_trips += 1
        with rpc_call(self.chain, self.endpoint, method):
            try:
                # solana-py has no public raw call; this is the provider every
                # AsyncClient method uses (same httpx client, timeouts, headers).
                raw = await self.client._provider.make_request_unparsed(body)
            except SolanaRpcException as exc:
                raise self._transport_error(exc.__cause__ or exc, method) from None
            except httpx2.HTTPError as exc:
                raise self._transport_error(exc, method) from None
        try:
            return json.loads(raw)
        except ValueError:
            raise MalformedResponse(
                f"{method}: answer is not JSON", endpoint=self.endpoint, chain=self.chain
            ) from None

    def _transport_error(self, exc: BaseException, method: str) -> RpcError:
        kw: dict[str, Any] = {"endpoint": self.endpoint, "chain": self.chain}
        if isinstance(exc, httpx2.TimeoutException):
            return RpcTimeout(f"{method}: timed out", **kw)
        if isinstance(exc, httpx2.HTTPStatusError):
            status = exc.response.status_code
            return http_status_error(status, f"{method}: HTTP {status}", **kw)
        return RpcUnavailable(f"{method}: {type(exc).__name__}", **kw)

    def _result(self, answer: object, parser: type[R], method: str) -> R:
        if not isinstance(answer, dict):
            raise MalformedResponse(
                f"{method}: answer is not a JSON-RPC object", endpoint=self.endpoint
            )
        if "error" in answer:
            raise rpc_error_from_payload(
                answer["error"], method=method, endpoint=self.endpoint, chain=self.chain
            )
        if "result" not in answer:
            raise MalformedResponse(f"{method}: answer has no result", endpoint=self.endpoint)
        text = json.dumps(answer)
        return parse_result(parser, text, method=method, endpoint=self.endpoint)

    async def call(self, body: Any, parser: type[R]) -> R:
        method = type(body).__name__
        return self._result(await self._post(body, method), parser, method)

    async def batch(self, calls: Sequence[tuple[Any, type[Any]]]) -> list[Any]:
        """Several calls in one HTTP round trip (JSON-RPC batch), answers matched by id."""
        if len(calls) == 1:
            return [await self.call(*calls[0])]
        text = (
            "[" + ",".join(_with_id(body.to_json(), i) for i, (body, _) in enumerate(calls)) + "]"
        )
        answers = await self._post(_Raw(text), "batch")
        if not isinstance(answers, list):
            if isinstance(answers, dict) and "error" in answers:
                raise rpc_error_from_payload(
                    answers["error"], method="batch", endpoint=self.endpoint, chain=self.chain
                )
            raise MalformedResponse("batch: answer is not an array", endpoint=self.endpoint)
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        out = []
        for i, (body, parser) in enumerate(calls):
            if i not in by_id:
                raise MalformedResponse(f"batch: no answer for call {i}", endpoint=self.endpoint)
            out.append(self._result(by_id[i], parser, type(body).__name__))
        return out


def _with_id(text: str, n: int) -> str:
    obj = json.loads(text)
    obj["id"] = n
    return json.dumps(obj)

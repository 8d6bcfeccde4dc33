"""A minimal HTTP/1.1 JSON-RPC transport on 127.0.0.1 with fault injection.

Stdlib asyncio instead of a web framework so that faults are exact: a dropped
response really closes the socket without a byte, a delay really stalls the
reply, a raw body is written verbatim. Keep-alive is honoured so a client's
connection pool behaves as against a real node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

Handler = Callable[[bytes], Awaitable[bytes | None]]


class FaultKind(StrEnum):
    DROP_RESPONSE = "drop_response"  # process the request, close without answering
    SWALLOW = "swallow"  # sendTransaction only: answer the signature, never execute
    ERROR = "error"  # answer {"error": payload} (any JSON shape) instead of a result
    RAW = "raw"  # answer this body verbatim (malformed JSON, wrong types...)
    HTTP_STATUS = "http_status"  # answer with this HTTP status and an empty body
    DELAY = "delay"  # wait ``delay`` seconds, then answer normally
    STALE = "stale"  # answer from the finalized bank whatever was asked (a lagging node)
    ADVANCE = "advance"  # answer normally, then produce ``payload`` slots (finality moves)


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault for the next request calling ``method`` (``None``: any method)."""

    kind: FaultKind
    method: str | None = None
    payload: object = None
    raw: str = ""
    status: int = 503
    delay: float = 0.0


class DropConnection(Exception):
    """Raised by a handler to close the connection without a response."""


_REASONS = {200: "OK", 400: "Bad Request", 413: "Payload Too Large", 429: "Too Many Requests"}


class HttpServer:
    """Serves POST bodies to ``handler``; its answer is written back as JSON."""

    def __init__(self, handler: Handler, *, max_body: int = 50 * 1024 * 1024) -> None:
        self._handler = handler
        self._max_body = max_body
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.http_requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if length > self._max_body:
                    await self._write(writer, 413, b"")
                    return
                body = await reader.readexactly(length) if length else b""
                self.http_requests += 1
                try:
                    answer = await self._handler(body)
                except DropConnection:
                    return
                if isinstance(answer, HttpStatus):
                    await self._write(writer, answer.status, b"")
                else:
                    await self._write(writer, 200, answer or b"")
                if headers.get("connection", "").lower() == "close":
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        reason = _REASONS.get(status, "Error")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()


class HttpStatus(bytes):
    """A handler answer meaning: reply with this HTTP status and no body."""

    status: int

    def __new__(cls, status: int) -> HttpStatus:
        obj = super().__new__(cls, b"")
        obj.status = status
        return obj

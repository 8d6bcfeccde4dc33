"""Engines and migrations for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from router.errors import InvalidRecord
from router.store import tables

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
#: Arbitrary constant: the advisory lock replicas take while migrating.
_MIGRATION_LOCK = 0x0BA11A57

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalise_url(url: str) -> str:
    """Pick the async driver for a URL; refuse backends we do not support."""
    try:
        parsed = make_url(url)
    except Exception:
        raise InvalidRecord("database URL cannot be parsed", field="url") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise InvalidRecord(
            f"unsupported database {parsed.drivername!r}: use sqlite or postgresql", field="url"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=10000",
    ):
        cur.execute(pragma)
    cur.close()


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):
            # In-memory (tests, throwaway runs): SQLAlchemy keeps its one
            # connection in a StaticPool, which takes no sizing.
            engine = create_async_engine(url, echo=echo)
        else:
            # One connection: SQLite has one writer anyway, and a single
            # connection turns lock contention into an orderly queue instead
            # of SQLITE_BUSY.
            engine = create_async_engine(
                url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60
            )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _alembic_config(connection: Connection) -> Config:
    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """``alembic upgrade head`` on this engine; replicas serialise on a lock."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        await conn.run_sync(lambda c: command.upgrade(_alembic_config(c), "head"))


async def schema_diff(conn: AsyncConnection) -> list[Any]:
    """What autogenerate would change to make the database match the models ([] = in sync)."""

    def diff(sync_conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "target_metadata": tables.metadata}
        )
        return list(compare_metadata(ctx, tables.metadata))

    return await conn.run_sync(diff)

"""Shared plumbing of the repository: tables, transactions, error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from router.domain.ingest import StaticView
from router.errors import (
    Conflict,
    IdempotencyMismatch,
    NotFound,
    RouterError,
    StoreError,
    StoreUnavailable,
)
from router.store.bulk import BulkSQL
from router.store.tables import metadata

T = metadata.tables
CHAINS, POOLS, REPORTERS = T["chains"], T["pools"], T["reporters"]
HISTORY, LATEST, DISAGREE = T["balance_reports"], T["balance_latest"], T["balance_disagreements"]
PARTNERS, QUOTES, COVERS = T["partners"], T["quotes"], T["covers"]
VAULTS, CESSIONS = T["vaults"], T["cessions"]
IDEMPOTENCY, REVOCATIONS = T["idempotency_keys"], T["revocations"]
ATTEMPTS, LEASES = T["tx_attempts"], T["leases"]
PLANS, STEPS, APPROVALS, TRANSFERS, AUDIT = (
    T["plans"],
    T["plan_steps"],
    T["approvals"],
    T["transfers"],
    T["audit_log"],
)


class StoreBase:
    """Engine, transactions and error mapping shared by the repository parts."""

    def __init__(self, engine: AsyncEngine, *, cache_ttl: float = 5.0) -> None:
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"
        self._cache_ttl = cache_ttl
        self._static: StaticView | None = None
        self._static_at = 0.0
        self._bulk: BulkSQL | None = None
        #: The open unit of work's connection and the task that opened it.
        self._joined: ContextVar[tuple[AsyncConnection, asyncio.Task[Any] | None] | None] = (
            ContextVar(f"ballast_store_uow_{id(self)}", default=None)
        )

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    async def aclose(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """One transaction for every store call this task makes inside the block.

        A use case that changes state, records its idempotency key and appends
        its audit entry does all three inside one unit of work: they commit
        together or not at all. Calls join only from the task that opened the
        block (a task spawned inside it gets its own transactions), and a
        nested unit of work joins the outer one. After a database error the
        transaction is spoiled: the whole block fails and may be retried.
        """
        joined = self._joined.get()
        if joined is not None and joined[1] is asyncio.current_task():
            yield
            return
        async with self._tx() as conn:
            token = self._joined.set((conn, asyncio.current_task()))
            try:
                yield
            finally:
                self._joined.reset(token)

    def _in_unit_of_work(self) -> bool:
        joined = self._joined.get()
        return joined is not None and joined[1] is asyncio.current_task()

    def invalidate_cache(self) -> None:
        self._static = None

    # -- plumbing -------------------------------------------------------------

    def _bulk_sql(self) -> BulkSQL:
        if self._bulk is None:
            self._bulk = BulkSQL(self._engine.dialect)
        return self._bulk

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self._pg else sqlite.insert)(table)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """One transaction (or the open unit of work's); driver errors become ours."""
        joined = self._joined.get()
        if joined is not None and joined[1] is asyncio.current_task():
            async with self._mapped():
                yield joined[0]
            return
        async with self._mapped(), self._engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _mapped(self) -> AsyncIterator[None]:
        """Driver errors become ours (nothing is written on error)."""
        try:
            yield
        except RouterError:
            raise
        except IntegrityError as exc:
            raise Conflict(f"write conflicts with stored data ({_constraint(exc)})") from exc
        except (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError) as exc:
            # Connection lost, deadlock victim, serialization failure, pool
            # exhausted: the same call can succeed later.
            raise StoreUnavailable(f"database unavailable: {_cause(exc)}") from exc
        except (DBAPIError, SQLAlchemyError) as exc:
            # The database refused the statement itself: a defect, not a blip.
            raise StoreError(f"database error: {_cause(exc)}") from exc

    async def _one(self, conn: AsyncConnection, stmt: Any) -> Mapping[Any, Any] | None:
        row = (await conn.execute(stmt)).mappings().first()
        return row

    async def _require(self, conn: AsyncConnection, table: sa.Table, kind: str, key: str) -> None:
        pk = next(iter(table.primary_key.columns))
        if (await conn.execute(sa.select(pk).where(pk == key))).first() is None:
            raise NotFound(kind, key)

    async def _replayed(
        self,
        conn: AsyncConnection,
        table: sa.Table,
        kind: str,
        key: str,
        value: object,
        fields: tuple[str, ...],
    ) -> Mapping[Any, Any] | None:
        """The stored row if ``key`` was recorded before with these ``fields``.

        Records written before their side effect are idempotent by id: the same
        id again returns what is stored, the same id with other terms is an
        ``IdempotencyMismatch`` naming the fields; None means the id is new.
        """
        pk = next(iter(table.primary_key.columns))
        row = await self._one(conn, sa.select(table).where(pk == key))
        if row is None:
            return None
        differs = tuple(f for f in fields if row[f] != getattr(value, f))
        if differs:
            raise IdempotencyMismatch(kind, key, mismatch=differs)
        return row

    async def _upsert(
        self, conn: AsyncConnection, table: sa.Table, keys: list[str], row: Mapping[str, Any]
    ) -> None:
        stmt = self._insert(table).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={k: stmt.excluded[k] for k in row if k not in keys}
        )
        await conn.execute(stmt)


def _cause(exc: BaseException) -> str:
    """The driver's error class (never its message: it may quote values)."""
    orig = getattr(exc, "orig", None)
    return type(orig if orig is not None else exc).__name__


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None) or getattr(exc.orig, "constraint_name", None)
    return f"constraint {name}" if name else type(exc.orig).__name__

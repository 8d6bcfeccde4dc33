"""Pre-compiled bulk statements for the ingestion hot path.

SQLAlchemy's per-parameter processing costs more than the database on a
1,000-row batch, so the three ingestion writes are compiled once per dialect
and executed as plain ``executemany`` with values converted here by the same
type processors the columns use (exact amounts, UTC timestamps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from router.domain.ingest import Vote
from router.store.tables import metadata
from router.store.types import Amount, UtcDateTime

# Row tuples are built in the tables' column order (checked at compile time),
# so executemany takes them as they are.
HISTORY_COLUMNS = (
    "pool_id",
    "block_number",
    "reporter_id",
    "chain",
    "amount",
    "block_hash",
    "observed_at",
    "received_at",
)
LATEST_COLUMNS = (
    "pool_id",
    "chain",
    "amount",
    "block_number",
    "block_hash",
    "observed_at",
    "confirmed_at",
    "reporters",
    "block_time",
)
DISAGREE_COLUMNS = ("pool_id", "block_number", "chain", "votes", "detected_at")
_COPY_HISTORY = f"COPY balance_reports ({', '.join(HISTORY_COLUMNS)}) FROM STDIN"


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    columns: tuple[str, ...]
    #: positional paramstyle: the column index for each placeholder, in order
    order: tuple[int, ...] | None
    #: one execution with a list per column (PostgreSQL unnest) instead of executemany
    by_column: bool = False


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any]:
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    return proc if proc is not None else (lambda v: v)


#: PostgreSQL array types of the unnest() parameters, per column.
_PG_ARRAY = {
    "pool_id": "text[]",
    "chain": "text[]",
    "reporter_id": "text[]",
    "amount": "text[]",  # decimal text, cast to numeric below: exact at any width
    "block_number": "bigint[]",
    "block_hash": "text[]",
    "observed_at": "timestamptz[]",
    "received_at": "timestamptz[]",
    "confirmed_at": "timestamptz[]",
    "reporters": "int[]",
    "block_time": "timestamptz[]",
}


def _iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _quote(value: object) -> str:
    text = str(value)
    if '"' in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def _array_literal(column: Sequence[object]) -> str:
    """A PostgreSQL array literal; every element double-quoted (and escaped), None as NULL."""
    if None in column:
        return "{" + ",".join("NULL" if v is None else '"' + _quote(v) + '"' for v in column) + "}"
    texts = list(map(str, column))
    raw = "".join(texts)  # the check runs before the '","' separators add quotes
    if '"' in raw or "\\" in raw:  # rare: escape element by element
        texts = list(map(_quote, texts))
    return '{"' + '","'.join(texts) + '"}'


class BulkSQL:
    """SQLite: compiled ``executemany``. PostgreSQL: one ``INSERT … SELECT unnest(…)``
    per table and batch (one round trip, no per-row protocol work)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.unnest = dialect.name == "postgresql"
        # Amount binds as decimal text on SQLite and goes as text into the
        # PostgreSQL arrays: ``str`` is its processor there, without two calls a value.
        self.bind_amount: Callable[[Any], Any] = (
            str if self.unnest or dialect.name == "sqlite" else _processor(Amount(), dialect)
        )
        self.bind_ts: Callable[[Any], Any] = (
            _iso_utc if self.unnest else _processor(UtcDateTime(), dialect)
        )
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        tables = metadata.tables

        def values(cols: Sequence[str]) -> dict[str, Any]:
            return {c: sa.bindparam(c) for c in cols}

        history = insert(tables["balance_reports"]).values(values(HISTORY_COLUMNS))
        self.history = self._compile(history.on_conflict_do_nothing(), HISTORY_COLUMNS)
        if self.unnest:
            self.history = self._unnest("balance_reports", HISTORY_COLUMNS, "DO NOTHING")
        latest_t = tables["balance_latest"]
        latest = insert(latest_t).values(values(LATEST_COLUMNS))
        latest = latest.on_conflict_do_update(
            index_elements=["pool_id"],
            set_={c: latest.excluded[c] for c in LATEST_COLUMNS if c != "pool_id"},
            where=latest_t.c.block_number < latest.excluded.block_number,
        )
        self.latest = self._compile(latest, LATEST_COLUMNS)
        if self.unnest:
            sets = ", ".join(f"{c} = excluded.{c}" for c in LATEST_COLUMNS if c != "pool_id")
            self.latest = self._unnest(
                "balance_latest",
                LATEST_COLUMNS,
                f"(pool_id) DO UPDATE SET {sets} "
                "WHERE balance_latest.block_number < excluded.block_number",
            )
        dis = insert(tables["balance_disagreements"]).values(values(DISAGREE_COLUMNS))
        dis = dis.on_conflict_do_update(
            index_elements=["pool_id", "block_number"],
            set_={"votes": dis.excluded.votes, "detected_at": dis.excluded.detected_at},
        )
        self.disagree = self._compile(dis, DISAGREE_COLUMNS)

    def _compile(self, stmt: Any, columns: tuple[str, ...]) -> Compiled:
        compiled = stmt.compile(dialect=self.dialect)
        if compiled.positional:
            names = tuple(compiled.positiontup)
            order = tuple(columns.index(n) for n in names)
            return Compiled(
                str(compiled), columns, None if order == tuple(range(len(columns))) else order
            )
        return Compiled(str(compiled), columns, None)

    async def latest_votes(self, conn: AsyncConnection, pools: Iterable[str]) -> dict[str, Vote]:
        """Confirmed (block, hash, amount) of these pools, in one round trip."""
        out: dict[str, Vote] = {}
        result: Any
        if self.unnest:
            dollar = self.dialect.paramstyle == "numeric_dollar"
            sql = (
                "SELECT pool_id, block_number, block_hash, amount FROM balance_latest "
                f"WHERE pool_id IN (SELECT unnest(({'$1' if dollar else '%s'}::text)::text[]))"
            )
            result = await conn.exec_driver_sql(sql, (_array_literal(list(pools)),))
        else:
            # Straight to the driver on this transaction's connection: building
            # SQLAlchemy rows for a 1,000-pool batch costs more than SQLite's lookup.
            ids = list(pools)
            marks = ",".join("?" * len(ids))
            raw = await conn.get_raw_connection()
            cursor = await raw.driver_connection.execute(  # type: ignore[union-attr]
                "SELECT pool_id, block_number, block_hash, amount FROM balance_latest "
                f"WHERE pool_id IN ({marks})",
                ids,
            )
            result = await cursor.fetchall()
            await cursor.close()
        for row in result:
            out[row[0]] = Vote(row[1], row[2], int(row[3]))
        return out

    async def stored_votes(
        self, conn: AsyncConnection, keys: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], dict[str, Vote]]:
        """Votes already stored at these (pool, block) keys, by reporter."""
        keys = sorted(keys)
        result: Any
        if self.unnest:
            dollar = self.dialect.paramstyle == "numeric_dollar"
            p1, p2 = ("$1", "$2") if dollar else ("%s", "%s")
            sql = (
                "SELECT h.pool_id, h.block_number, h.reporter_id, h.block_hash, h.amount "
                "FROM balance_reports h JOIN unnest("
                f"({p1}::text)::text[], ({p2}::text)::bigint[]) AS k(pool_id, block_number) "
                "ON h.pool_id = k.pool_id AND h.block_number = k.block_number"
            )
            pools, blocks = zip(*keys, strict=True)
            result = await conn.exec_driver_sql(
                sql, (_array_literal(pools), _array_literal(blocks))
            )
        else:
            raw = await conn.get_raw_connection()
            values = ",".join("(?,?)" for _ in keys)
            cursor = await raw.driver_connection.execute(  # type: ignore[union-attr]
                "SELECT pool_id, block_number, reporter_id, block_hash, amount "
                f"FROM balance_reports WHERE (pool_id, block_number) IN (VALUES {values})",
                [x for key in keys for x in key],
            )
            result = await cursor.fetchall()
            await cursor.close()
        out: dict[tuple[str, int], dict[str, Vote]] = {}
        for pool, block, rid, bhash, amount in result:
            out.setdefault((pool, block), {})[rid] = Vote(block, bhash, int(amount))
        return out

    def _unnest(self, table: str, columns: tuple[str, ...], on_conflict: str) -> Compiled:
        dollar = self.dialect.paramstyle == "numeric_dollar"
        args = ", ".join(
            f"({f'${i + 1}' if dollar else '%s'}::text)::{_PG_ARRAY[c]}"
            for i, c in enumerate(columns)
        )
        select = ", ".join(f"{c}::numeric(78, 0)" if c == "amount" else c for c in columns)
        cols = ", ".join(columns)
        sql = (
            f"INSERT INTO {table} ({cols}) SELECT {select} FROM unnest({args}) "
            f"AS t({cols}) ON CONFLICT {on_conflict}"
        )
        return Compiled(sql, columns, None, by_column=True)

    async def insert_history(self, conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
        """The batch's new votes. PostgreSQL: ``COPY`` (the database's own bulk
        path) under a savepoint; if another replica stored one of these votes
        first (unique key), the savepoint is undone and the conflict-tolerant
        insert runs instead, so the outcome is the same as ever."""
        if not self.unnest:
            await self.run(conn, self.history, rows)
            return
        from psycopg.errors import UniqueViolation

        raw = await conn.get_raw_connection()
        pg: Any = raw.driver_connection
        try:
            async with conn.begin_nested(), pg.cursor() as cur, cur.copy(_COPY_HISTORY) as copy:
                for row in rows:
                    await copy.write_row(row)
        except UniqueViolation:
            await self.run(conn, self.history, rows)

    async def run(self, conn: AsyncConnection, stmt: Compiled, rows: list[tuple[Any, ...]]) -> None:
        params: list[Any]
        if stmt.by_column:
            # Each column travels as one array literal: string joins run in C,
            # where the drivers' per-element array dumpers run in Python.
            literals = tuple(_array_literal(col) for col in zip(*rows, strict=True))
            await conn.exec_driver_sql(stmt.sql, literals)
            return
        if self.dialect.positional:
            params = rows if stmt.order is None else [tuple(r[i] for i in stmt.order) for r in rows]
        else:
            params = [dict(zip(stmt.columns, r, strict=True)) for r in rows]
        await conn.exec_driver_sql(stmt.sql, params)

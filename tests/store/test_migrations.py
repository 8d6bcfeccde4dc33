"""Alembic builds the schema the models describe, on both backends."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from router.domain.ingest import ReportIn
from router.store import InvalidRecord, Store, open_store
from router.store.engine import MIGRATIONS_DIR, normalise_url, schema_diff
from tests.conftest import postgres_available

from .conftest import ADMIN_DSN, T0, block_hash


async def test_migrated_schema_matches_models(store: Store) -> None:
    async with store.engine.connect() as conn:
        assert await schema_diff(conn) == []
        head = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert head == ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


async def test_open_store_migrates_a_fresh_database_and_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # bare sqlite:// gets the async driver
    for _ in range(2):  # the second start finds the schema at head and changes nothing
        store = await open_store(url)
        try:
            assert store.backend == "sqlite"
            assert await store.list_pools() == []
        finally:
            await store.aclose()


async def test_in_memory_sqlite_store_works() -> None:
    store = await open_store("sqlite://")
    try:
        async with store.engine.connect() as conn:
            assert await schema_diff(conn) == []
        assert await store.list_chains() == []
    finally:
        await store.aclose()


def test_url_normalisation_picks_async_drivers() -> None:
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgresql+asyncpg://u@h/db").startswith("postgresql+asyncpg://")
    assert normalise_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    with pytest.raises(InvalidRecord, match="unsupported database 'mysql'"):
        normalise_url("mysql://u@h/db")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET actor = 'forger'",
        "DELETE FROM audit_log",
        "UPDATE balance_reports SET amount = '1'",
        "DELETE FROM balance_reports",
    ],
)
async def test_history_and_audit_refuse_update_and_delete(world: Store, sql: str) -> None:
    await world.append_audit("op-a", "x", "s")
    await world.record_reports([ReportIn("evm", "p1", "r-evm", 5, 1, block_hash(1), True, T0)])
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with world.engine.begin() as conn:
            await conn.execute(sa.text(sql))
    assert len(await world.list_audit()) == 1
    assert len(await world.report_history("p1")) == 1


@pytest.mark.postgres
async def test_replicas_starting_together_migrate_once(postgresql_url: str) -> None:
    """Two routers opening one fresh database at once: the advisory lock serialises them."""
    name = f"ballast_fresh_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(ADMIN_DSN, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        stores = await asyncio.gather(open_store(url), open_store(url))
        for store in stores:
            assert await store.list_chains() == []
            await store.aclose()
    finally:
        async with await psycopg.AsyncConnection.connect(ADMIN_DSN, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alembic(url: str, *args: str) -> None:
    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    getattr(command, args[0])(cfg, *args[1:])


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_downgrade_to_base_and_back_with_the_alembic_command(backend: str, tmp_path: Path) -> None:
    """The CLI path (its own async engine) migrates down and up again on both backends."""
    if backend == "postgresql":
        if not postgres_available():
            pytest.skip("PostgreSQL is not listening on 127.0.0.1:5432")
        name = f"ballast_fresh_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    try:
        _alembic(url, "upgrade", "head")
        _alembic(url, "downgrade", "base")
        _alembic(url, "upgrade", "head")

        async def check() -> None:
            store = await open_store(url, migrate=False)
            try:
                async with store.engine.connect() as conn:
                    assert await schema_diff(conn) == []
            finally:
                await store.aclose()

        asyncio.run(check())
    finally:
        if backend == "postgresql":
            with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_plans_approved_before_binding_get_their_steps_hash(tmp_path: Path) -> None:
    """0008 gives existing plans and approvals the hash of the steps they have:
    a plan approved before approvals were bound still executes."""
    from router.domain import PlanDraft, PlanStep, StepKind, check_unchanged, steps_hash

    url = f"sqlite:///{tmp_path / 'bind.db'}"
    _alembic(url, "upgrade", "head")

    async def approve() -> None:
        store = await open_store(url, migrate=False)
        try:
            step = PlanStep(0, StepKind.TRANSFER, "p1", 10**30, dst_chain="evm", dst_pool="p2")
            await store.create_plan(PlanDraft("plan-old", "carol", (step,), 10**30, 0))
            await store.approve_plan("plan-old", "bob")
        finally:
            await store.aclose()

    async def check() -> None:
        store = await open_store(url, migrate=False)
        try:
            plan = await store.get_plan("plan-old")
            assert plan.steps_hash == steps_hash(plan.steps)
            assert plan.approval_hashes == (plan.steps_hash,)
            assert check_unchanged(plan) == plan.steps_hash
        finally:
            await store.aclose()

    asyncio.run(approve())
    _alembic(url, "downgrade", "0007")
    _alembic(url, "upgrade", "head")
    asyncio.run(check())


def test_covers_bound_before_the_five_types_become_the_nearest_new_type(tmp_path: Path) -> None:
    """0011 maps the old cover types (smart_contract and slashing -> protocol,
    depeg -> oracle, custody -> position) and gives existing covers their terms:
    no deductible, one event may take the limit, the new type's triggers."""
    from datetime import timedelta

    from chains.base import ChainFamily
    from router.domain import Chain, CoverRequest, Partner, Pool

    url = f"sqlite:///{tmp_path / 'types.db'}"
    _alembic(url, "upgrade", "head")

    async def bind() -> None:
        store = await open_store(url, migrate=False)
        try:
            await store.upsert_chain(Chain("evm", ChainFamily.EVM, 1))
            await store.upsert_pool(Pool("p1", "evm", "0x" + "11" * 20, "USDC"))
            await store.register_partner(Partner("acme", "Acme"))
            for key, ctype in (("k-old-0001", "oracle"), ("k-old-0002", "position")):
                await store.bind_cover(
                    CoverRequest("acme", key, "p1", ctype, 5_000, 1, T0, T0 + timedelta(days=9))
                )
        finally:
            await store.aclose()

    asyncio.run(bind())
    _alembic(url, "downgrade", "0008")

    async def old_types() -> None:
        store = await open_store(url, migrate=False)
        try:
            async with store.engine.begin() as conn:
                for key, old in (("k-old-0001", "depeg"), ("k-old-0002", "custody")):
                    await conn.execute(
                        sa.text("UPDATE covers SET cover_type = :t WHERE idempotency_key = :k"),
                        {"t": old, "k": key},
                    )
        finally:
            await store.aclose()

    asyncio.run(old_types())
    _alembic(url, "upgrade", "head")

    async def check() -> None:
        store = await open_store(url, migrate=False)
        try:
            covers = {c.idempotency_key: c for c in await store.list_covers("acme")}
            oracle, position = covers["k-old-0001"], covers["k-old-0002"]
            assert (oracle.cover_type, position.cover_type) == ("oracle", "position")
            assert oracle.per_event_max == 5_000 and oracle.deductible == 0
            assert oracle.deployment_id is None
            assert oracle.trigger_kinds == ("oracle_failure", "oracle_manipulation")
            assert position.trigger_kinds == ("exploit", "flash_loan", "upgrade_failure")
        finally:
            await store.aclose()

    asyncio.run(check())

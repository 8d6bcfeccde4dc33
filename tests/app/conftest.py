"""Use cases over a real store (SQLite and PostgreSQL), a real engine, no server."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from chains.base import ChainFamily
from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.config import PolicyConfig, RouteConfig
from router.domain.ingest import Outcome, ReportIn
from router.store import Store
from tests.covers_support import deployment, register
from tests.store import conftest as _db

# The store tests' fixtures: every use case runs on SQLite and on PostgreSQL.
sqlite_template = _db.sqlite_template
sqlite_url = _db.sqlite_url
postgresql_url = _db.postgresql_url
db_url = _db.db_url
store = _db.store

ALICE = m.Identity(m.Role.OPERATOR, "alice")
BOB = m.Identity(m.Role.OPERATOR, "bob")
ACME = m.Identity(m.Role.PARTNER, "acme")
UNIT = 10**6  # one USDC in base units


@pytest.fixture
def policy() -> PolicyConfig:
    return PolicyConfig()


@pytest.fixture
def engine(policy: PolicyConfig) -> ReinsuranceEngine:
    routes = [
        RouteConfig(route_id="a-b", src_chain="chain-a", dst_chain="chain-b", fee_bps=5.0),
        RouteConfig(route_id="b-a", src_chain="chain-b", dst_chain="chain-a", fee_bps=5.0),
    ]
    return ReinsuranceEngine(policy, routes, scenarios=4_000)


@pytest.fixture
async def book(store: Store) -> Store:
    """Two EVM chains, two pools each, a partner, one reporter per chain."""
    for chain in ("chain-a", "chain-b"):
        await store.upsert_chain(m.Chain(chain, ChainFamily.EVM, 1))
        await store.register_reporter(m.Reporter(chain, chain))
    for pool, chain in (("a1", "chain-a"), ("a2", "chain-a"), ("b1", "chain-b"), ("b2", "chain-b")):
        address = "0x" + pool.encode().hex().ljust(40, "0")
        await store.upsert_pool(m.Pool(pool, chain, address, "USDC"))
    await store.register_partner(m.Partner("acme", "Acme Re"))
    await register(
        store,
        deployment("amm-a", chain="chain-a"),
        deployment("amm-b", chain="chain-b"),
    )
    return store


class Faulty:
    """The real store with one method made to fail: a crash injected on purpose
    at a chosen point inside a use case's unit of work."""

    def __init__(self, store: Store, method: str, exc: BaseException | None = None) -> None:
        self._store = store
        self._method = method
        self._exc = exc or RuntimeError(f"injected crash in {method}")
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._store, name)
        if name != self._method:
            return real

        async def failing(*args: Any, **kw: Any) -> Any:
            self.calls += 1
            raise self._exc

        return failing


_blocks = itertools.count(100)


async def fund(
    store: Store, balances: dict[str, int], *, at: datetime | None = None, block: int | None = None
) -> None:
    """Confirm these pool balances (quorum 1), each at a new block (or at ``block``)."""
    pools = {p.pool_id: p.chain for p in await store.list_pools()}
    now = at or datetime.now(UTC)
    reports = []
    for pool, amount in balances.items():
        number = block if block is not None else next(_blocks)
        reports.append(
            ReportIn(
                chain=pools[pool],
                pool_id=pool,
                reporter_id=pools[pool],
                amount=amount,
                block_number=number,
                block_hash="0x" + f"{number:064x}",
                finalized=True,
                observed_at=now,
            )
        )
    outcomes = await store.record_reports(reports, now=now)
    assert all(o.status is Outcome.CONFIRMED for o in outcomes), outcomes

"""Thousands of generated malformed requests against the live server.

Every one must be refused with a status that says what to fix (never
INTERNAL or UNKNOWN), and none may change the database: the row count of
every table is compared after each request. The pools have no confirmed
balance, so even a well-formed quote exceeds capacity and writes nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from router.agent.client import RouterClient
from router.api.server import RunningRouter, start_router
from router.devtools.pki import TestCA
from tests.covers_support import terms_pb
from tests.router.conftest import make_settings

T = TypeVar("T")

REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
names = st.one_of(
    st.sampled_from(["ethereum", "solana", "eth-main", "sol-main", "eth-alt", "nope", ""]),
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,62}", fullmatch=True),
    text,
)
values = st.one_of(
    st.sampled_from(["", "0", "-1", "1.5", " 10", "0x10", "007", "1e6", "١٢٣", str(2**256)]),
    st.integers(min_value=-(10**80), max_value=10**80).map(str),
    text,
)
amounts = st.builds(
    common_pb2.Amount, asset=st.sampled_from(["USDC", "usdc", "", "ETH"]), value=values
)
cover_types = st.integers(min_value=-3, max_value=9)
days = st.integers(min_value=0, max_value=5000)
keys = st.one_of(st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True), text)
ids = st.one_of(st.from_regex(r"(plan|q)-[0-9a-f]{1,30}", fullmatch=True), text)

terms = st.builds(
    partner_pb2.CoverTerms,
    deployment_id=st.one_of(st.sampled_from(["amm-ethereum", "amm-solana", "nope"]), text),
    deductible=amounts,
    per_event_max=amounts,
    insured_value=amounts,
    position_ref=st.one_of(st.just(""), text),
    trigger_kinds=st.lists(st.sampled_from(["exploit", "x"]), max_size=1),
)
quote = st.builds(
    partner_pb2.QuoteCoverRequest,
    terms=terms,
    chain=names,
    pool_id=names,
    cover_type=cover_types,
    cover_amount=amounts,
    period_days=days,
)
bind = st.builds(
    partner_pb2.BindCoverRequest,
    terms=terms,
    idempotency_key=keys,
    quote_id=ids,
    chain=names,
    pool_id=names,
    cover_type=cover_types,
    cover_amount=amounts,
    period_days=days,
)
capacity = st.builds(partner_pb2.GetCapacityRequest, chain=names, cover_type=cover_types)
positions = st.builds(
    partner_pb2.ListPositionsRequest,
    page_size=st.integers(-(2**31), 2**31 - 1),
    page_token=text,
)
get_plan = st.builds(treasury_pb2.GetPlanRequest, plan_id=ids)
approve = st.builds(treasury_pb2.ApprovePlanRequest, plan_id=ids)
execute = st.builds(treasury_pb2.ExecutePlanRequest, plan_id=ids, idempotency_key=keys)
list_plans = st.builds(
    treasury_pb2.ListPlansRequest,
    page_size=st.integers(-(2**31), 2**31 - 1),
    page_token=text,
    state=st.integers(-2, 12),
)
position = st.builds(treasury_pb2.GetPositionRequest, chains=st.lists(names, max_size=4))
dry_plan = st.builds(
    treasury_pb2.PlanRebalanceRequest,
    dry_run=st.just(True),
    target_ratio_bps=st.integers(0, 2**32 - 1),
)
bad_pool = st.one_of(st.sampled_from(["nope", "", "ETH-MAIN", "sol-main"]), text)
report = st.builds(
    reporting_pb2.BalanceReport,
    chain=st.sampled_from(["ethereum", "solana", "", "nope"]),
    pool_id=bad_pool,
    amount=amounts,
    block_number=st.integers(0, 2**64 - 1),
    block_hash=st.one_of(st.just("0x" + "ab" * 32), text),
    finalized=st.booleans(),
)
batch = st.builds(
    reporting_pb2.StreamReportsRequest,
    batch_id=st.one_of(st.just("b1"), text),
    reports=st.lists(report, max_size=5),
)

REQUESTS = st.one_of(
    st.tuples(st.just("partner.QuoteCover"), quote),
    st.tuples(st.just("partner.BindCover"), bind),
    st.tuples(st.just("partner.GetCapacity"), capacity),
    st.tuples(st.just("partner.ListPositions"), positions),
    st.tuples(st.just("treasury.GetPlan"), get_plan),
    st.tuples(st.just("treasury.ApprovePlan"), approve),
    st.tuples(st.just("treasury.ExecutePlan"), execute),
    st.tuples(st.just("treasury.ListPlans"), list_plans),
    st.tuples(st.just("treasury.GetPosition"), position),
    st.tuples(st.just("treasury.PlanRebalance"), dry_plan),
    st.tuples(st.just("reporting.StreamReports"), batch),
)
VALID_SHAPED_QUOTE = partner_pb2.QuoteCoverRequest(
    terms=terms_pb(),
    chain="ethereum",
    pool_id="eth-main",
    cover_type=common_pb2.COVER_TYPE_ORACLE,
    cover_amount=common_pb2.Amount(asset="USDC", value="1000000"),
    period_days=30,
)
READ_ONLY = {
    "partner.GetCapacity",
    "partner.ListPositions",
    "treasury.ListPlans",
    "treasury.GetPosition",
    "treasury.PlanRebalance",
}


def fingerprint(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if r[0] != "alembic_version"
        ]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


class LoopThread:
    """An event loop in a thread hosting the router and its clients, so that a
    synchronous hypothesis test can drive them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class Fuzz:
    lt: LoopThread
    router: RunningRouter
    db: Path
    clients: dict[str, RouterClient]


@pytest.fixture
def fuzz(server_files: dict[str, Path], tmp_path: Path, ca: TestCA) -> Iterator[Fuzz]:
    db = tmp_path / "fuzz.db"
    lots = {"rate": 1e6, "burst": 10**6}
    s = make_settings(
        server_files, db, limits={"partner": lots, "operator": lots, "reporter": lots}
    )
    lt = LoopThread()
    router = lt.run(start_router(s))

    async def open_clients() -> dict[str, RouterClient]:
        out = {}
        for role, uri in (
            ("partner", "ballast://partner/acme"),
            ("treasury", "ballast://operator/alice"),
            ("reporting", "ballast://reporter/ethereum"),
        ):
            pair = ca.client(uri)
            out[role] = RouterClient.mtls(
                router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            )
        return out

    clients = lt.run(open_clients())
    try:
        yield Fuzz(lt, router, db, clients)
    finally:

        async def close() -> None:
            for c in clients.values():
                await c.close()
            await router.stop(grace=1)

        lt.run(close())
        lt.close()


async def _call(f: Fuzz, method: str, request: Any) -> grpc.StatusCode:
    service, name = method.split(".")
    stub = getattr(f.clients[service], service)
    try:
        if service == "reporting":

            async def gen() -> AsyncIterator[Any]:
                yield request

            acks = [a async for a in stub.StreamReports(gen())]
            assert acks and acks[0].accepted == 0, acks
            assert acks[0].rejected == len(request.reports)
            assert all(r.detail for r in acks[0].rejections)
        else:
            await getattr(stub, name)(request)
    except grpc.aio.AioRpcError as err:
        assert err.code() in REFUSALS, (method, request, err.code(), err.details())
        assert err.details(), "a refusal must say what to fix"
        return err.code()
    assert service == "reporting" or method in READ_ONLY, (method, request)
    return grpc.StatusCode.OK


def test_malformed_requests_are_refused_and_change_nothing(fuzz: Fuzz) -> None:
    before = fingerprint(fuzz.db)
    seen: dict[str, int] = {}

    @settings(
        max_examples=1500,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(REQUESTS)
    @example(("partner.QuoteCover", VALID_SHAPED_QUOTE))  # well formed, no capacity
    @example(("partner.ListPositions", partner_pb2.ListPositionsRequest(page_token="¹")))
    @example(("treasury.GetPlan", treasury_pb2.GetPlanRequest(plan_id="plan-1\n")))
    def one(call: tuple[str, Any]) -> None:
        method, request = call
        code = fuzz.lt.run(_call(fuzz, method, request))
        seen[code.name] = seen.get(code.name, 0) + 1
        assert fingerprint(fuzz.db) == before, (method, request)

    one()
    assert "INTERNAL" not in seen and "UNKNOWN" not in seen
    assert {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"} <= set(seen), seen


def test_oversize_message_is_refused(fuzz: Fuzz) -> None:
    before = fingerprint(fuzz.db)
    big = reporting_pb2.StreamReportsRequest(batch_id="x" * 10)
    big.reports.add(chain="ethereum", pool_id="p" * (9 * 1024 * 1024))
    code = fuzz.lt.run(_stream_code(fuzz, big))
    assert code == (grpc.StatusCode.RESOURCE_EXHAUSTED, True)
    many = reporting_pb2.StreamReportsRequest(batch_id="many")
    for _ in range(10_001):
        many.reports.add(chain="ethereum", pool_id="eth-main")
    assert fuzz.lt.run(_stream_code(fuzz, many)) == (grpc.StatusCode.INVALID_ARGUMENT, True)
    assert fingerprint(fuzz.db) == before


async def _stream_code(
    f: Fuzz, batch: reporting_pb2.StreamReportsRequest
) -> tuple[grpc.StatusCode, bool]:
    async def gen() -> AsyncIterator[reporting_pb2.StreamReportsRequest]:
        yield batch

    try:
        _ = [a async for a in f.clients["reporting"].reporting.StreamReports(gen())]
    except grpc.aio.AioRpcError as err:
        return err.code(), bool(err.details())
    return grpc.StatusCode.OK, False

"""A partner and an operator do their whole job over real gRPC + mTLS on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2

from router.agent.client import bind_request
from router.api.server import RunningRouter
from router.config import RouterSettings
from tests.conftest import postgres_available
from tests.covers_support import terms_pb
from tests.router.conftest import ClientFactory, make_settings, report, send_batches

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def settings(
    request: pytest.FixtureRequest, server_files: dict[str, Path], tmp_path: Path
) -> Iterator[RouterSettings]:
    """The flows run on both stores: SQLite (embedded) and PostgreSQL (production)."""
    if request.param == "sqlite":
        yield make_settings(server_files, tmp_path / "router.db")
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not listening on 127.0.0.1:5432")
    name = f"ballast_router_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_settings(
            server_files,
            tmp_path / "unused.db",
            database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}",
        )
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MILLION = 10**6 * 10**6  # one million USDC in base units

OPERATOR = "ballast://operator/alice"
OPERATOR2 = "ballast://operator/bob"
ACME = "ballast://partner/acme"
GLOBEX = "ballast://partner/globex"
ETH_REPORTER = "ballast://reporter/ethereum"
LEFT = 7 * MILLION // 10  # what a stressed pool keeps after its claims
SOL_REPORTER = "ballast://reporter/solana"


def usdc(n: int) -> common_pb2.Amount:
    return common_pb2.Amount(asset="USDC", value=str(n))


async def fund(connect: ClientFactory, eth_main: int, eth_alt: int, sol: int) -> None:
    eth = connect(ETH_REPORTER)
    acks = await send_batches(
        eth, [report("eth-main", eth_main, 100), report("eth-alt", eth_alt, 100)]
    )
    assert acks[0].accepted == 2, acks[0]
    sol_c = connect(SOL_REPORTER)
    acks = await send_batches(sol_c, [report("sol-main", sol, 50, chain="solana")])
    assert acks[0].accepted == 1, acks[0]


async def test_reporting_acks_and_rejections(router: RunningRouter, connect: ClientFactory) -> None:
    eth = connect(ETH_REPORTER)
    acks = await send_batches(
        eth,
        [report("eth-main", 5 * MILLION, 10), report("nope", 1, 10)],
        [report("eth-main", 4 * MILLION, 9), report("sol-main", 1, 10, chain="solana")],
    )
    assert [a.batch_id for a in acks] == ["b0", "b1"]
    assert (acks[0].accepted, acks[0].rejected, acks[0].confirmed) == (1, 1, 1)
    assert acks[0].rejections[0].reason == reporting_pb2.REJECT_REASON_UNKNOWN_POOL
    assert acks[0].reporter_id == "ethereum"
    reasons = {r.index: r.reason for r in acks[1].rejections}
    assert reasons == {
        0: reporting_pb2.REJECT_REASON_STALE_BLOCK,
        1: reporting_pb2.REJECT_REASON_REPORTER_NOT_ALLOWED,
    }
    balance = await router.store.latest_balance("eth-main")
    assert balance is not None and balance.amount == 5 * MILLION and balance.block_number == 10


async def test_partner_quotes_binds_and_lists(
    router: RunningRouter, connect: ClientFactory
) -> None:
    await fund(connect, 10 * MILLION, 2 * MILLION, 3 * MILLION)
    acme = connect(ACME)
    cap = await acme.partner.GetCapacity(
        partner_pb2.GetCapacityRequest(chain="ethereum", cover_type=common_pb2.COVER_TYPE_ORACLE)
    )
    # One entry per pool of the chain (capacity is per pool, shared by all cover
    # types): 80 % (the default capacity_bps) of each pool's confirmed balance.
    assert [
        (c.pool_id, c.cover_type, int(c.available.value), int(c.limit.value))
        for c in cap.capacities
    ] == [
        ("eth-alt", common_pb2.COVER_TYPE_ORACLE, 2 * MILLION * 8 // 10, 2 * MILLION * 8 // 10),
        ("eth-main", common_pb2.COVER_TYPE_ORACLE, 10 * MILLION * 8 // 10, 10 * MILLION * 8 // 10),
    ]
    assert all(c.binding_limit == partner_pb2.CAPACITY_LIMIT_CAPACITY_SHARE for c in cap.capacities)
    q = (
        await acme.partner.QuoteCover(
            partner_pb2.QuoteCoverRequest(
                terms=terms_pb(),
                chain="ethereum",
                pool_id="eth-main",
                cover_type=common_pb2.COVER_TYPE_ORACLE,
                cover_amount=usdc(MILLION),
                period_days=30,
            )
        )
    ).quote
    longer = (
        await acme.partner.QuoteCover(
            partner_pb2.QuoteCoverRequest(
                terms=terms_pb(),
                chain="ethereum",
                pool_id="eth-main",
                cover_type=common_pb2.COVER_TYPE_ORACLE,
                cover_amount=usdc(MILLION),
                period_days=60,
            )
        )
    ).quote
    # a premium is a small part of the cover, and twice the period costs more
    assert 0 < int(q.premium.value) < int(longer.premium.value) < MILLION // 10
    assert q.expires_at.seconds > 0 and q.quote_id != longer.quote_id
    bind = partner_pb2.BindCoverRequest(
        idempotency_key="bind-0001",
        quote_id=q.quote_id,
        chain="ethereum",
        pool_id="eth-main",
        cover_type=common_pb2.COVER_TYPE_ORACLE,
        cover_amount=usdc(MILLION),
        period_days=30,
        terms=terms_pb(),
    )
    first = await acme.partner.BindCover(bind)
    again = await acme.partner.BindCover(bind)
    assert first.created and not again.created
    assert first.cover.cover_id == again.cover.cover_id
    assert first.cover.premium == q.premium

    other = partner_pb2.BindCoverRequest()
    other.CopyFrom(bind)
    other.period_days = 31
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await acme.partner.BindCover(other)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "period_days" in (err.value.details() or "")

    mine = await acme.partner.ListPositions(partner_pb2.ListPositionsRequest())
    assert [c.cover_id for c in mine.covers] == [first.cover.cover_id]
    theirs = await connect(GLOBEX).partner.ListPositions(partner_pb2.ListPositionsRequest())
    assert list(theirs.covers) == []


async def test_operator_positions_plan_approve_execute_watch(
    router: RunningRouter, connect: ClientFactory
) -> None:
    await fund(connect, 10 * MILLION, 2 * MILLION, 2 * MILLION)
    acme = connect(ACME)
    # cover in force gives eth-alt and sol-main a requirement they cannot meet
    for pool, chain in (("eth-alt", "ethereum"), ("sol-main", "solana")):
        q = (
            await acme.partner.QuoteCover(
                partner_pb2.QuoteCoverRequest(
                    terms=terms_pb(),
                    chain=chain,
                    pool_id=pool,
                    cover_type=common_pb2.COVER_TYPE_PROTOCOL,
                    cover_amount=usdc(3 * MILLION // 2),
                    period_days=365,
                )
            )
        ).quote
        await acme.partner.BindCover(bind_request(q, f"k-{pool}-0001"))
    # then claims take most of their capital: both fall below their target
    await send_batches(connect(ETH_REPORTER), [report("eth-alt", LEFT, 101)])
    await send_batches(connect(SOL_REPORTER), [report("sol-main", LEFT, 51, chain="solana")])
    op = connect(OPERATOR)
    pos = await op.treasury.GetPosition(treasury_pb2.GetPositionRequest())
    by_pool = {p.pool_id: p for p in pos.pools}
    assert set(by_pool) == {"eth-main", "eth-alt", "sol-main"}
    # eth-main carries no cover; the two others fell below the 150 % target
    assert int(by_pool["eth-main"].scr.value) == 0
    stressed = {}
    for pid in ("eth-alt", "sol-main"):
        p = by_pool[pid]
        required = max(int(p.scr.value), int(p.mcr.value))
        assert int(p.capital.value) == LEFT and not p.stale
        assert p.solvency_ratio_bps == int(p.capital.value) * 10_000 // required < 15_000
        stressed[pid] = required

    dry = await op.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest(dry_run=True))
    assert dry.plan.plan_id == ""
    assert (await op.treasury.ListPlans(treasury_pb2.ListPlansRequest())).plans == []

    made = (await op.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest())).plan
    # eth-main pays both: through its hub to eth-alt, and over the eth-sol
    # route to Solana's hub, then to sol-main; nothing is lost on the way
    steps = {(st.source_pool_id, st.destination_id): st for st in made.steps}
    assert set(steps) == {
        ("eth-main", "hub:ethereum"),
        ("hub:ethereum", "hub:solana"),
        ("hub:ethereum", "eth-alt"),
        ("hub:solana", "sol-main"),
    }
    out, bridge = steps[("eth-main", "hub:ethereum")], steps[("hub:ethereum", "hub:solana")]
    to_alt, to_sol = steps[("hub:ethereum", "eth-alt")], steps[("hub:solana", "sol-main")]
    assert bridge.route == "eth-sol" and int(bridge.cost.value) > 0
    assert int(out.amount.value) == int(bridge.amount.value) + int(to_alt.amount.value)
    assert int(to_sol.amount.value) == int(bridge.amount.value) - int(bridge.cost.value)
    assert int(made.total_moved.value) == int(out.amount.value)
    assert int(made.total_cost.value) == sum(int(st.cost.value) for st in made.steps)
    for pid, step in (("eth-alt", to_alt), ("sol-main", to_sol)):  # each reaches its target
        assert (LEFT + int(step.amount.value)) * 10_000 >= 15_000 * stressed[pid]
    assert made.approvals_required == 1  # under one million USDC: one other operator
    assert made.plan_id and made.state == treasury_pb2.PLAN_STATE_PENDING_APPROVAL
    listed = await op.treasury.ListPlans(treasury_pb2.ListPlansRequest())
    assert [p.plan_id for p in listed.plans] == [made.plan_id]

    watch = op.treasury.WatchPlan(treasury_pb2.WatchPlanRequest(plan_id=made.plan_id))
    seen = [(await watch.read()).plan.state]

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await op.treasury.ExecutePlan(
            treasury_pb2.ExecutePlanRequest(plan_id=made.plan_id, idempotency_key="exec-0001")
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    approved = (
        await connect(OPERATOR2).treasury.ApprovePlan(
            treasury_pb2.ApprovePlanRequest(plan_id=made.plan_id)
        )
    ).plan
    assert approved.state == treasury_pb2.PLAN_STATE_APPROVED
    assert list(approved.approved_by) == ["bob"]
    seen.append((await watch.read()).plan.state)

    ex = await op.treasury.ExecutePlan(
        treasury_pb2.ExecutePlanRequest(plan_id=made.plan_id, idempotency_key="exec-0001")
    )
    assert (
        ex.plan.state == treasury_pb2.PLAN_STATE_EXECUTING
        and "no executor is configured" in ex.note
    )
    again = await op.treasury.ExecutePlan(
        treasury_pb2.ExecutePlanRequest(plan_id=made.plan_id, idempotency_key="exec-0001")
    )
    assert again.plan.version == ex.plan.version
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await op.treasury.ExecutePlan(
            treasury_pb2.ExecutePlanRequest(plan_id="plan-other", idempotency_key="exec-0001")
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "plan_id" in (err.value.details() or "")
    seen.append((await watch.read()).plan.state)
    watch.cancel()
    assert seen == [
        treasury_pb2.PLAN_STATE_PENDING_APPROVAL,
        treasury_pb2.PLAN_STATE_APPROVED,
        treasury_pb2.PLAN_STATE_EXECUTING,
    ]

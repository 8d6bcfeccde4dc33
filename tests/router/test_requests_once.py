"""What the proto promises a client about retries and ordering, over real gRPC."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, treasury_pb2

from router.agent.client import bind_request
from router.api.server import RunningRouter
from tests.covers_support import terms_pb
from tests.router.conftest import ClientFactory, report, send_batches

UNIT = 10**6


async def test_execute_plan_with_one_key_from_many_clients_answers_alike(
    router: RunningRouter, connect: ClientFactory
) -> None:
    await send_batches(
        connect("ballast://reporter/ethereum"),
        [report("eth-main", 10**6 * UNIT, 3), report("eth-alt", 1_000 * UNIT, 3)],
    )
    acme = connect("ballast://partner/acme")
    q = (
        await acme.partner.QuoteCover(
            partner_pb2.QuoteCoverRequest(
                terms=terms_pb(),
                chain="ethereum",
                pool_id="eth-alt",
                cover_type=common_pb2.COVER_TYPE_GOVERNANCE,
                cover_amount=common_pb2.Amount(asset="USDC", value=str(700 * UNIT)),
                period_days=365,
            )
        )
    ).quote
    await acme.partner.BindCover(bind_request(q, "once-0001"))
    # The pool paid out since: it now needs capital from eth-main.
    await send_batches(connect("ballast://reporter/ethereum"), [report("eth-alt", UNIT, 4)])
    alice, bob = connect("ballast://operator/alice"), connect("ballast://operator/bob")
    plan = (await alice.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest())).plan
    assert plan.steps
    await bob.treasury.ApprovePlan(treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id))
    clients = [connect("ballast://operator/alice") for _ in range(4)]
    answers = await asyncio.gather(
        *(
            c.treasury.ExecutePlan(
                treasury_pb2.ExecutePlanRequest(
                    plan_id=plan.plan_id, idempotency_key="exec-once-01"
                )
            )
            for c in clients
        )
    )
    assert {a.plan.state for a in answers} == {treasury_pb2.PLAN_STATE_EXECUTING}
    assert {a.plan.version for a in answers} == {answers[0].plan.version}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await alice.treasury.ExecutePlan(
            treasury_pb2.ExecutePlanRequest(plan_id="plan-other", idempotency_key="exec-once-01")
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "plan_id" in (err.value.details() or "")


async def test_list_positions_is_newest_first_and_pages(
    router: RunningRouter, connect: ClientFactory
) -> None:
    await send_batches(
        connect("ballast://reporter/ethereum"), [report("eth-main", 10**6 * UNIT, 3)]
    )
    acme = connect("ballast://partner/acme")
    bound = []
    for i in range(5):
        q = (
            await acme.partner.QuoteCover(
                partner_pb2.QuoteCoverRequest(
                    terms=terms_pb(),
                    chain="ethereum",
                    pool_id="eth-main",
                    cover_type=common_pb2.COVER_TYPE_ORACLE,
                    cover_amount=common_pb2.Amount(asset="USDC", value=str((i + 1) * UNIT)),
                    period_days=30,
                )
            )
        ).quote
        bound.append((await acme.partner.BindCover(bind_request(q, f"page-000{i}"))).cover.cover_id)
    first = await acme.partner.ListPositions(partner_pb2.ListPositionsRequest(page_size=2))
    second = await acme.partner.ListPositions(
        partner_pb2.ListPositionsRequest(page_size=2, page_token=first.next_page_token)
    )
    third = await acme.partner.ListPositions(
        partner_pb2.ListPositionsRequest(page_size=2, page_token=second.next_page_token)
    )
    seen = [c.cover_id for page in (first, second, third) for c in page.covers]
    assert seen == list(reversed(bound))
    assert third.next_page_token == ""

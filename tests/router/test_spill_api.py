"""QuoteCoverRequest.spill_over on the wire (live router on 127.0.0.1): a cover
too big for the pool asked for is quoted whole in another pool of the chain,
the quote says where and whence, and the bind must name that pool."""

from __future__ import annotations

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2

from router.agent.client import bind_request
from router.api.server import RunningRouter
from tests.covers_support import terms_pb
from tests.router.conftest import ClientFactory, report, send_batches

USDC = 10**6


def ask(amount: int, *, spill: bool) -> partner_pb2.QuoteCoverRequest:
    return partner_pb2.QuoteCoverRequest(
        chain="ethereum",
        pool_id="eth-main",
        cover_type=common_pb2.COVER_TYPE_PROTOCOL,
        cover_amount=common_pb2.Amount(asset="USDC", value=str(amount)),
        period_days=30,
        terms=terms_pb(),
        spill_over=spill,
    )


async def test_a_cover_too_big_for_its_pool_spills_over_whole(
    router: RunningRouter, connect: ClientFactory
) -> None:
    await send_batches(
        connect("ballast://reporter/ethereum"),
        [report("eth-main", 1_000 * USDC, 7), report("eth-alt", 100_000 * USDC, 7)],
    )
    acme = connect("ballast://partner/acme")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await acme.partner.QuoteCover(ask(5_000 * USDC, spill=False))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "'eth-main'" in (err.value.details() or "")

    quote = (await acme.partner.QuoteCover(ask(5_000 * USDC, spill=True))).quote
    assert (quote.pool_id, quote.spilled_from) == ("eth-alt", "eth-main")
    # The quote is for eth-alt: a bind that names the pool asked for is refused.
    wrong = bind_request(quote, "spill-0001")
    wrong.pool_id = "eth-main"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await acme.partner.BindCover(wrong)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "pool_id" in (err.value.details() or "")
    bound = await acme.partner.BindCover(bind_request(quote, "spill-0001"))
    assert bound.created and bound.cover.pool_id == "eth-alt"

    # Too big for every pool of the chain: refused, each pool's room named.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await acme.partner.QuoteCover(ask(500_000 * USDC, spill=True))
    details = err.value.details() or ""
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no pool of ethereum can carry it" in details and "eth-alt" in details
    assert "sol-main" not in details  # another chain is never a place to spill to

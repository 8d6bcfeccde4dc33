"""BindCover's holder and payer on the wire (live router on 127.0.0.1, no
executor): both record an opening in the bind, shown by BindCover and
ListPositions; neither binds off chain only; one without the other is refused
and binds nothing."""

from __future__ import annotations

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2

from router.api.server import RunningRouter
from router.domain.openings import chain_cover_id
from tests.covers_support import terms_pb
from tests.router.conftest import ClientFactory, report, send_batches

HOLDER = "0x" + "11" * 20
PAYER = "0x" + "22" * 20


async def _bind(connect: ClientFactory, key: str, **parties: str) -> partner_pb2.BindCoverResponse:
    acme = connect("ballast://partner/acme")
    ask = dict(
        terms=terms_pb(),
        chain="ethereum",
        pool_id="eth-main",
        cover_type=common_pb2.COVER_TYPE_GOVERNANCE,
        cover_amount=common_pb2.Amount(asset="USDC", value=str(10**9)),
        period_days=10,
    )
    quote = (await acme.partner.QuoteCover(partner_pb2.QuoteCoverRequest(**ask))).quote  # type: ignore[arg-type]
    request = partner_pb2.BindCoverRequest(
        idempotency_key=key,
        quote_id=quote.quote_id,
        **ask,
        **parties,  # type: ignore[arg-type]
    )
    return await acme.partner.BindCover(request)


async def test_bind_records_an_opening_only_with_both_parties(
    router: RunningRouter, connect: ClientFactory
) -> None:
    await send_batches(connect("ballast://reporter/ethereum"), [report("eth-main", 10**13, 5)])
    on = await _bind(connect, "open-0001", holder_address=HOLDER, payer_address=PAYER)
    assert on.created and on.cover.HasField("opening")
    assert on.cover.opening.status == "opening"
    assert on.cover.opening.chain_cover_id == chain_cover_id(on.cover.cover_id)
    off = await _bind(connect, "open-0002")
    assert off.created and not off.cover.HasField("opening")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _bind(connect, "open-0003", holder_address=HOLDER)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "payer_address" in (err.value.details() or "")
    mine = await connect("ballast://partner/acme").partner.ListPositions(
        partner_pb2.ListPositionsRequest()
    )
    shown = {c.cover_id: c.opening.status for c in mine.covers}
    assert shown == {on.cover.cover_id: "opening", off.cover.cover_id: ""}

"""PartnerService: proto -> use case (:class:`router.app.covers.Covers`) -> proto.

The partner is always the authenticated caller; the rules (capacity, quotes
bound to their inputs, one bind per quote, idempotent binds) live in the use case.
"""

from __future__ import annotations

from ballast.v1 import partner_pb2 as pb
from ballast.v1 import partner_pb2_grpc
from grpc.aio import ServicerContext

from router.api import auth, convert
from router.api.convert_covers import parse_ask, quoted_proto
from router.app.covers import CoverAsk, Covers


class PartnerServicer(partner_pb2_grpc.PartnerServiceServicer):
    def __init__(self, covers: Covers) -> None:
        self._covers = covers

    async def _checked(self, request: pb.QuoteCoverRequest | pb.BindCoverRequest) -> CoverAsk:
        """Field checks, then the amounts' asset against the pool's (which needs the pool)."""
        ask = parse_ask(request, None)
        pool = await self._covers.pool(ask.chain, ask.pool_id)
        return parse_ask(request, pool.asset)

    async def GetCapacity(
        self, request: pb.GetCapacityRequest, context: ServicerContext
    ) -> pb.GetCapacityResponse:
        chain = convert.parse_name(request.chain, "chain") if request.chain else None
        ctype = convert.parse_cover_type(request.cover_type, allow_unspecified=True)
        caps = await self._covers.capacity(auth.current_identity(), chain)
        return pb.GetCapacityResponse(
            capacities=[convert.capacity_proto(c, pool, ctype) for c, pool in caps]
        )

    async def QuoteCover(
        self, request: pb.QuoteCoverRequest, context: ServicerContext
    ) -> pb.QuoteCoverResponse:
        caller = auth.current_identity()
        await self._covers.partner(caller)
        quoted = await self._covers.quote(caller, await self._checked(request))
        return pb.QuoteCoverResponse(quote=quoted_proto(quoted))

    async def BindCover(
        self, request: pb.BindCoverRequest, context: ServicerContext
    ) -> pb.BindCoverResponse:
        caller = auth.current_identity()
        await self._covers.partner(caller)
        key = convert.parse_key(request.idempotency_key)
        quote_id = convert.parse_id(request.quote_id, "quote_id")
        result, pool = await self._covers.bind(caller, key, quote_id, await self._checked(request))
        return pb.BindCoverResponse(
            cover=convert.cover_to_proto(result.cover, pool.chain, pool.asset),
            created=result.created,
        )

    async def ListPositions(
        self, request: pb.ListPositionsRequest, context: ServicerContext
    ) -> pb.ListPositionsResponse:
        limit, offset = convert.parse_page(request.page_size, request.page_token)
        page, more = await self._covers.page(auth.current_identity(), limit=limit, offset=offset)
        return pb.ListPositionsResponse(
            covers=[
                convert.cover_to_proto(c, p.chain if p else "", p.asset if p else "")
                for c, p in page
            ],
            next_page_token=str(offset + limit) if more else "",
        )

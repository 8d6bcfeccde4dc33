"""PartnerService with binds that open covers on chain: BindCover takes the
holder and payer (both or neither) and starts the opening saga after the bind
commits; BindCover and ListPositions show each cover's opening
(``Cover.opening``, unset for a database-only cover). The rules are
:mod:`router.app.openings`'."""

from __future__ import annotations

from ballast.v1 import partner_pb2 as pb
from grpc.aio import ServicerContext

from router.api import auth, convert
from router.api.claims import ClaimsPartnerServicer
from router.app.claims import Claims
from router.app.covers import Covers
from router.app.openings import Openings, parse_parties
from router.app.ports import Registry
from router.domain.openings import Opening


def opening_proto(o: Opening) -> pb.CoverOpening:
    return pb.CoverOpening(
        status=o.status.value,
        chain_cover_id=o.chain_cover_id,
        tx_ref=o.tx_ref,
        certificate_holder=o.certificate_holder,
        detail=o.detail,
    )


class OpeningsPartnerServicer(ClaimsPartnerServicer):
    def __init__(
        self, covers: Covers, claims: Claims, registry: Registry, openings: Openings
    ) -> None:
        super().__init__(covers, claims, registry)
        self._openings = openings

    async def BindCover(
        self, request: pb.BindCoverRequest, context: ServicerContext
    ) -> pb.BindCoverResponse:
        caller = auth.current_identity()
        await self._covers.partner(caller)
        key = convert.parse_key(request.idempotency_key)
        quote_id = convert.parse_id(request.quote_id, "quote_id")
        parties = parse_parties(request.holder_address, request.payer_address)
        ask = await self._checked(request)
        result, pool = await self._covers.bind(caller, key, quote_id, ask, parties)
        opening = await self._openings.start(result.cover.cover_id)  # after the commit
        g = await self._covers.bound_terms(result.cover.cover_id)
        cover = convert.cover_to_proto(result.cover, pool.chain, pool.asset)
        if opening is not None:
            cover.opening.CopyFrom(opening_proto(opening))
        return pb.BindCoverResponse(
            cover=cover,
            created=result.created,
            terms_block_number=g.block_number,
            terms_version=g.version,
            terms_contract=g.contract,
        )

    async def ListPositions(
        self, request: pb.ListPositionsRequest, context: ServicerContext
    ) -> pb.ListPositionsResponse:
        response = await super().ListPositions(request, context)
        found = await self._openings.of([c.cover_id for c in response.covers])
        for c in response.covers:
            if c.cover_id in found:
                c.opening.CopyFrom(opening_proto(found[c.cover_id]))
        return response

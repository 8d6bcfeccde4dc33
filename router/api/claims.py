"""The claims RPCs: incident reports (reporters), claims (partners), the
operators' views and decisions. Thin: proto -> use case -> proto.

Each service's claims methods extend its servicer (the server registers these
subclasses), so the covers and plan servicers stay as they are.
"""

from __future__ import annotations

from typing import Any

from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from grpc.aio import ServicerContext

from router.api import auth, convert
from router.api.partner import PartnerServicer
from router.api.reporting import ReportingServicer
from router.api.treasury import TreasuryServicer
from router.app.claims import Claims, ClaimStore
from router.app.covers import Covers
from router.app.incidents import Incidents
from router.app.ports import Registry
from router.app.protocols import Protocols
from router.app.reporting import Reporting
from router.domain.claims import Claim, ClaimStatus, Payment, Recoverable
from router.domain.incidents import Alert, Incident, IncidentStatus
from router.errors import InvalidRequest

CLAIM_STATES: dict[ClaimStatus, int] = {
    ClaimStatus.FILED: common_pb2.CLAIM_STATE_FILED,
    ClaimStatus.VALIDATED: common_pb2.CLAIM_STATE_VALIDATED,
    ClaimStatus.APPROVED: common_pb2.CLAIM_STATE_APPROVED,
    ClaimStatus.PAYING: common_pb2.CLAIM_STATE_PAYING,
    ClaimStatus.PAID: common_pb2.CLAIM_STATE_PAID,
    ClaimStatus.DISPUTED: common_pb2.CLAIM_STATE_DISPUTED,
    ClaimStatus.REJECTED: common_pb2.CLAIM_STATE_REJECTED,
}
CLAIM_STATUS_OF = {v: k for k, v in CLAIM_STATES.items()}
INCIDENT_STATES: dict[IncidentStatus, int] = {
    IncidentStatus.PENDING: common_pb2.INCIDENT_STATE_PENDING,
    IncidentStatus.CONFIRMED: common_pb2.INCIDENT_STATE_CONFIRMED,
    IncidentStatus.REJECTED: common_pb2.INCIDENT_STATE_REJECTED,
}
INCIDENT_STATUS_OF = {v: k for k, v in INCIDENT_STATES.items()}
RECOVERABLE_STATUSES = ("due", "collected", "failed")
MAX_PAGE = 500


def _page(size: int) -> int:
    if size < 0:
        raise InvalidRequest("page_size", "must not be negative")
    return min(size or 100, MAX_PAGE)


def payment_proto(p: Payment, asset: str) -> common_pb2.ClaimPayment:
    msg = common_pb2.ClaimPayment(
        payment_id=p.payment_id,
        claim_id=p.claim_id,
        cover_id=p.cover_id,
        pool_id=p.pool_id,
        amount=convert.amount(asset, p.amount),
        status=p.status.value,
        tx_ref=p.tx_ref or "",
        block_number=p.block_number or 0,
    )
    if p.updated_at is not None:
        msg.updated_at.CopyFrom(convert.timestamp(p.updated_at))
    return msg


def claim_proto(c: Claim, asset: str, payments: list[Payment] | None = None) -> common_pb2.Claim:
    msg = common_pb2.Claim(
        claim_id=c.claim_id,
        cover_id=c.cover_id,
        incident_id=c.incident_id,
        pool_id=c.pool_id,
        claimed_loss=convert.amount(asset, c.claimed_loss),
        state=CLAIM_STATES[c.status],
        approved=convert.amount(asset, c.approved),
        paid=convert.amount(asset, c.paid),
        disputed=convert.amount(asset, c.disputed),
        reason=c.reason,
        filed_by=c.filed_by,
        payments=[payment_proto(p, asset) for p in payments or []],
        partner_id=c.partner_id,
    )
    if c.created_at is not None:
        msg.created_at.CopyFrom(convert.timestamp(c.created_at))
    return msg


def incident_proto(i: Incident, alerts: list[Alert], asset: str) -> treasury_pb2.Incident:
    return treasury_pb2.Incident(
        incident_id=i.incident_id,
        deployment_id=i.deployment_id,
        kind=i.kind.value,
        occurred_at=convert.timestamp(i.occurred_at),
        state=INCIDENT_STATES[i.status],
        loss=convert.amount(asset, i.loss),
        agreeing_reporters=i.reporters,
        reports=i.reports,
        detail=i.detail,
        alerts=[
            treasury_pb2.IncidentAlert(
                kind=a.kind.value, detail=a.detail, raised_at=convert.timestamp(a.raised_at)
            )
            for a in alerts
        ],
    )


def recoverable_proto(r: Recoverable, asset: str) -> treasury_pb2.Recoverable:
    return treasury_pb2.Recoverable(
        recovery_id=r.recovery_id,
        payment_id=r.payment_id,
        cession_id=r.cession_id,
        vault_id=r.vault_id,
        pool_id=r.pool_id,
        amount=convert.amount(asset, r.amount),
        status=r.status,
        tx_ref=r.tx_ref or "",
    )


async def _assets(registry: Registry) -> dict[str, str]:
    return {p.pool_id: p.asset for p in await registry.list_pools()}


class ClaimsReportingServicer(ReportingServicer):
    def __init__(
        self, reporting: Reporting, incidents: Incidents, protocols: Protocols | None = None
    ) -> None:
        super().__init__(reporting, protocols)
        self._incidents = incidents

    async def SubmitIncidentReport(
        self, request: reporting_pb2.SubmitIncidentReportRequest, context: ServicerContext
    ) -> reporting_pb2.SubmitIncidentReportResponse:
        out = await self._incidents.submit(
            auth.current_identity(), bytes(request.payload), bytes(request.signature)
        )
        return reporting_pb2.SubmitIncidentReportResponse(
            report_hash=out.report_hash,
            incident_id=out.incident.incident_id,
            state=INCIDENT_STATES[out.incident.status],
            confirmed_now=out.confirmed_now,
            agreeing_reporters=out.incident.reporters,
            detail=out.incident.detail,
        )


class ClaimsPartnerServicer(PartnerServicer):
    def __init__(self, covers: Covers, claims: Claims, registry: Registry) -> None:
        super().__init__(covers)
        self._claims = claims
        self._registry = registry

    async def FileClaim(
        self, request: partner_pb2.FileClaimRequest, context: ServicerContext
    ) -> partner_pb2.FileClaimResponse:
        caller = auth.current_identity()
        await self._claims.partner(caller)
        cover_id = convert.parse_id(request.cover_id, "cover_id")
        incident_id = convert.parse_id(request.incident_id, "incident_id")
        convert.parse_amount(
            request.claimed_loss, "claimed_loss", present=request.HasField("claimed_loss")
        )
        cover = await self._claims.held_cover(caller, cover_id)
        asset = (await _assets(self._registry)).get(cover.pool_id, "")
        loss = convert.parse_amount(request.claimed_loss, "claimed_loss", asset=asset)
        opened = await self._claims.file(caller, cover_id, incident_id, loss)
        claim, payments = await self._claims.get_mine(caller, opened.claim.claim_id)
        return partner_pb2.FileClaimResponse(
            claim=claim_proto(claim, asset, payments), created=opened.created
        )

    async def GetClaim(
        self, request: partner_pb2.GetClaimRequest, context: ServicerContext
    ) -> partner_pb2.GetClaimResponse:
        claim_id = convert.parse_id(request.claim_id, "claim_id")
        claim, payments = await self._claims.get_mine(auth.current_identity(), claim_id)
        asset = (await _assets(self._registry)).get(claim.pool_id, "")
        return partner_pb2.GetClaimResponse(claim=claim_proto(claim, asset, payments))

    async def ListClaims(
        self, request: partner_pb2.ListClaimsRequest, context: ServicerContext
    ) -> partner_pb2.ListClaimsResponse:
        limit, offset = convert.parse_page(request.page_size, request.page_token)
        claims = await self._claims.mine(auth.current_identity(), limit=offset + limit + 1)
        page = claims[offset : offset + limit]
        assets = await _assets(self._registry)
        return partner_pb2.ListClaimsResponse(
            claims=[claim_proto(c, assets.get(c.pool_id, "")) for c in page],
            next_page_token=str(offset + limit) if len(claims) > offset + limit else "",
        )


class ClaimsTreasuryServicer(TreasuryServicer):
    """The plan servicer plus incidents, claims, payouts and recoverables."""

    def __init__(
        self,
        *args: Any,
        incidents: Incidents,
        claims: Claims,
        claim_store: ClaimStore,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._incidents = incidents
        self._claims = claims
        self._claim_store = claim_store

    async def ListIncidents(
        self, request: treasury_pb2.ListIncidentsRequest, context: ServicerContext
    ) -> treasury_pb2.ListIncidentsResponse:
        auth.current_identity()
        status = INCIDENT_STATUS_OF.get(request.state) if request.state else None
        if request.state and status is None:
            raise InvalidRequest("state", f"unknown incident state {request.state}")
        listed = await self._incidents.list(status, limit=_page(request.page_size))
        return treasury_pb2.ListIncidentsResponse(
            incidents=[incident_proto(i, alerts, self._asset) for i, alerts in listed]
        )

    async def ListClaims(
        self, request: treasury_pb2.TreasuryServiceListClaimsRequest, context: ServicerContext
    ) -> treasury_pb2.TreasuryServiceListClaimsResponse:
        auth.current_identity()
        status = CLAIM_STATUS_OF.get(request.state) if request.state else None
        if request.state and status is None:
            raise InvalidRequest("state", f"unknown claim state {request.state}")
        incident = (
            convert.parse_id(request.incident_id, "incident_id") if (request.incident_id) else None
        )
        store = self._claim_store
        claims = await store.list_claims(
            incident_id=incident, status=status, limit=_page(request.page_size)
        )
        assets = await _assets(self._registry)
        out = []
        for c in claims:
            payments = await store.list_payments(claim_id=c.claim_id)
            out.append(claim_proto(c, assets.get(c.pool_id, ""), payments))
        return treasury_pb2.TreasuryServiceListClaimsResponse(claims=out)

    async def ListPayouts(
        self, request: treasury_pb2.ListPayoutsRequest, context: ServicerContext
    ) -> treasury_pb2.ListPayoutsResponse:
        auth.current_identity()
        payments = await self._claim_store.list_payments(limit=_page(request.page_size))
        assets = await _assets(self._registry)
        return treasury_pb2.ListPayoutsResponse(
            payouts=[payment_proto(p, assets.get(p.pool_id, "")) for p in payments]
        )

    async def ListRecoverables(
        self, request: treasury_pb2.ListRecoverablesRequest, context: ServicerContext
    ) -> treasury_pb2.ListRecoverablesResponse:
        auth.current_identity()
        if request.status and request.status not in RECOVERABLE_STATUSES:
            raise InvalidRequest("status", f"must be one of {list(RECOVERABLE_STATUSES)}")
        recs = await self._claim_store.list_recoverables(
            status=request.status or None, limit=_page(request.page_size)
        )
        assets = await _assets(self._registry)
        return treasury_pb2.ListRecoverablesResponse(
            recoverables=[recoverable_proto(r, assets.get(r.pool_id, "")) for r in recs]
        )

    async def RejectIncident(
        self, request: treasury_pb2.RejectIncidentRequest, context: ServicerContext
    ) -> treasury_pb2.RejectIncidentResponse:
        operator = auth.current_identity()
        incident_id = convert.parse_id(request.incident_id, "incident_id")
        reason = convert.parse_reason(request.reason)
        incident = await self._incidents.reject(operator, incident_id, reason)
        alerts = [a for i, a in await self._incidents.list() if i.incident_id == incident_id]
        return treasury_pb2.RejectIncidentResponse(
            incident=incident_proto(incident, alerts[0] if alerts else [], self._asset)
        )

    async def ResolveClaim(
        self, request: treasury_pb2.ResolveClaimRequest, context: ServicerContext
    ) -> treasury_pb2.ResolveClaimResponse:
        operator = auth.current_identity()
        claim_id = convert.parse_id(request.claim_id, "claim_id")
        accepted = convert.parse_amount(
            request.accepted_loss,
            "accepted_loss",
            positive=False,
            present=request.HasField("accepted_loss"),
        )
        reason = convert.parse_reason(request.reason)
        claim = await self._claims.resolve(operator, claim_id, accepted, reason)
        asset = (await _assets(self._registry)).get(claim.pool_id, "")
        payments = await self._claim_store.list_payments(claim_id=claim_id)
        return treasury_pb2.ResolveClaimResponse(claim=claim_proto(claim, asset, payments))


__all__ = [
    "ClaimsPartnerServicer",
    "ClaimsReportingServicer",
    "ClaimsTreasuryServicer",
    "claim_proto",
    "incident_proto",
]

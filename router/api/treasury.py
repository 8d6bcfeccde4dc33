"""TreasuryService: proto -> use case (``router.app``) -> proto, nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

from ballast.v1 import treasury_pb2 as pb
from ballast.v1 import treasury_pb2_grpc
from grpc.aio import ServicerContext

from router import domain as m
from router.api import auth, convert
from router.api import convert_covers as cc
from router.app.access import AccessControl, fingerprint_of
from router.app.plans import Plans
from router.app.ports import Registry
from router.app.positions import Materialized, PositionCache
from router.app.protocols import Protocols
from router.config import PolicyConfig
from router.errors import InvalidRequest

_RESOLUTIONS = {
    pb.STEP_RESOLUTION_RETRY: "retry",
    pb.STEP_RESOLUTION_REFUNDED: "refunded",
}
_FINGERPRINT_CHARS = frozenset("0123456789abcdef")


class PositionAnswers:
    """GetPosition answers, one per (view, second, chains): a burst of calls
    costs one proto build per second, not one per call (answers are never mutated)."""

    def __init__(self, policy: PolicyConfig, asset: str = "USDC") -> None:
        self._asset = asset
        self._stale_after = timedelta(seconds=policy.staleness_limit_seconds)
        self._answers: dict[tuple[int, datetime, tuple[str, ...]], pb.GetPositionResponse] = {}

    def answer(
        self, view: Materialized, chains: Sequence[str], now: datetime
    ) -> pb.GetPositionResponse:
        now = now.replace(microsecond=0)
        key = (view.serial, now, tuple(chains))
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        wanted = set(chains)
        resp = pb.GetPositionResponse(
            as_of=convert.timestamp(now),
            pools=[
                convert.position_proto(v, now, self._stale_after)
                for v in view.views
                if not wanted or v.pool.chain in wanted
            ],
            in_transit=[
                convert.transit_proto(t, self._asset)
                for t in view.transit
                if not wanted or t.chain in wanted or t.destination_chain in wanted
            ],
        )
        if len(self._answers) >= 64:
            self._answers.clear()
        self._answers[key] = resp
        return resp


class TreasuryServicer(treasury_pb2_grpc.TreasuryServiceServicer):
    def __init__(
        self,
        plans: Plans,
        positions: PositionCache,
        access: AccessControl,
        registry: Registry,
        policy: PolicyConfig,
        asset: str = "USDC",
        protocols: Protocols | None = None,
    ) -> None:
        self._protocols = protocols
        self._plans = plans
        self._positions = positions
        self._answers = PositionAnswers(policy, asset)
        self._access = access
        self._registry = registry
        self._asset = asset

    async def _plan_proto(self, plan: m.Plan) -> pb.Plan:
        chains = {p.pool_id: p.chain for p in await self._registry.list_pools()}
        return convert.plan_to_proto(plan, self._asset, chains)

    async def GetPosition(
        self, request: pb.GetPositionRequest, context: ServicerContext
    ) -> pb.GetPositionResponse:
        auth.current_identity()
        chains = [convert.parse_name(c, f"chains[{i}]") for i, c in enumerate(request.chains)]
        view = await self._positions.get()
        for c in chains:
            if c not in view.snap.chains:
                known = sorted(view.snap.chains)
                raise InvalidRequest("chains", f"unknown chain {c!r}; known: {known}")
        return self._answers.answer(view, chains, m.utcnow())

    async def PlanRebalance(
        self, request: pb.PlanRebalanceRequest, context: ServicerContext
    ) -> pb.PlanRebalanceResponse:
        planned = await self._plans.propose(
            auth.current_identity(),
            target_ratio_bps=request.target_ratio_bps,
            dry_run=request.dry_run,
        )
        plan_pb = await self._plan_proto(planned.plan)
        plan_pb.shortfalls.extend(planned.shortfalls)
        return pb.PlanRebalanceResponse(plan=plan_pb)

    async def GetPlan(
        self, request: pb.GetPlanRequest, context: ServicerContext
    ) -> pb.GetPlanResponse:
        auth.current_identity()
        plan = await self._plans.get(convert.parse_id(request.plan_id, "plan_id"))
        return pb.GetPlanResponse(plan=await self._plan_proto(plan))

    async def ListPlans(
        self, request: pb.ListPlansRequest, context: ServicerContext
    ) -> pb.ListPlansResponse:
        auth.current_identity()
        limit, offset = convert.parse_page(request.page_size, request.page_token)
        page, more = await self._plans.page(
            convert.parse_plan_state(request.state), limit=limit, offset=offset
        )
        chains = {p.pool_id: p.chain for p in await self._registry.list_pools()}
        return pb.ListPlansResponse(
            plans=[convert.plan_to_proto(p, self._asset, chains) for p in page],
            next_page_token=str(offset + limit) if more else "",
        )

    async def ApprovePlan(
        self, request: pb.ApprovePlanRequest, context: ServicerContext
    ) -> pb.ApprovePlanResponse:
        plan_id = convert.parse_id(request.plan_id, "plan_id")
        plan = await self._plans.approve(auth.current_identity(), plan_id)
        return pb.ApprovePlanResponse(plan=await self._plan_proto(plan))

    async def ExecutePlan(
        self, request: pb.ExecutePlanRequest, context: ServicerContext
    ) -> pb.ExecutePlanResponse:
        plan_id = convert.parse_id(request.plan_id, "plan_id")
        key = convert.parse_key(request.idempotency_key)
        done = await self._plans.request_execution(auth.current_identity(), plan_id, key)
        return pb.ExecutePlanResponse(plan=await self._plan_proto(done.plan), note=done.note)

    async def ResolveStep(
        self, request: pb.ResolveStepRequest, context: ServicerContext
    ) -> pb.ResolveStepResponse:
        plan_id = convert.parse_id(request.plan_id, "plan_id")
        action = _RESOLUTIONS.get(request.resolution)
        if action is None:
            raise InvalidRequest("resolution", "must be STEP_RESOLUTION_RETRY or _REFUNDED")
        reason = convert.parse_reason(request.reason)
        plan = await self._plans.resolve_step(
            auth.current_identity(), plan_id, request.step_index, action, reason
        )
        return pb.ResolveStepResponse(plan=await self._plan_proto(plan))

    async def WatchPlan(
        self, request: pb.WatchPlanRequest, context: ServicerContext
    ) -> AsyncIterator[pb.WatchPlanResponse]:
        auth.current_identity()
        plan_id = convert.parse_id(request.plan_id, "plan_id")
        async for plan in self._plans.watch(plan_id):
            yield pb.WatchPlanResponse(plan=await self._plan_proto(plan))

    async def SetPartnerActive(
        self, request: pb.SetPartnerActiveRequest, context: ServicerContext
    ) -> pb.SetPartnerActiveResponse:
        partner = convert.parse_name(request.partner_id, "partner_id")
        reason = convert.parse_reason(request.reason)
        was = await self._access.set_partner_active(
            auth.current_identity(), partner, request.active, reason
        )
        return pb.SetPartnerActiveResponse(was_active=was)

    async def SetReporterActive(
        self, request: pb.SetReporterActiveRequest, context: ServicerContext
    ) -> pb.SetReporterActiveResponse:
        reporter = convert.parse_reporter_id(request.reporter_id)
        reason = convert.parse_reason(request.reason)
        was = await self._access.set_reporter_allowed(
            auth.current_identity(), reporter, request.active, reason
        )
        return pb.SetReporterActiveResponse(was_active=was)

    async def RevokeCertificate(
        self, request: pb.RevokeCertificateRequest, context: ServicerContext
    ) -> pb.RevokeCertificateResponse:
        reason = convert.parse_reason(request.reason)
        which = request.WhichOneof("certificate")
        identity = ""
        if which == "pem":
            pem = request.pem.encode()
            fingerprint = fingerprint_of(pem)
            identity = auth.identity_in_certificate(pem) or ""
        elif which == "fingerprint":
            fingerprint = request.fingerprint
            if len(fingerprint) != 64 or not set(fingerprint) <= _FINGERPRINT_CHARS:
                raise InvalidRequest(
                    "fingerprint", "must be the SHA-256 of the DER as 64 lowercase hex digits"
                )
        else:
            raise InvalidRequest("certificate", "send the certificate's pem or its fingerprint")
        revocation = await self._access.revoke(
            auth.current_identity(), fingerprint, identity or "(unknown)", reason
        )
        return pb.RevokeCertificateResponse(revocation=convert.revocation_proto(revocation))

    async def GetLimits(
        self, request: pb.GetLimitsRequest, context: ServicerContext
    ) -> pb.GetLimitsResponse:
        auth.current_identity()
        return pb.GetLimitsResponse(
            limits=[
                pb.Limit(
                    scope=s.scope,
                    capacity=convert.amount(self._asset, s.capacity),
                    headroom=convert.amount(self._asset, s.headroom),
                )
                for s in await self._plans.limits()
            ]
        )

    async def ListRevocations(
        self, request: pb.ListRevocationsRequest, context: ServicerContext
    ) -> pb.ListRevocationsResponse:
        auth.current_identity()
        return pb.ListRevocationsResponse(
            revocations=[convert.revocation_proto(r) for r in await self._access.revocations()]
        )

    # -- covered deployments and pauses (router.app.protocols) ----------------------

    @property
    def _registry_of_protocols(self) -> Protocols:
        if self._protocols is None:  # every server wires it; a bare servicer in a test may not
            raise InvalidRequest("deployment", "this server has no protocol registry")
        return self._protocols

    async def AddDeployment(
        self, request: pb.AddDeploymentRequest, context: ServicerContext
    ) -> pb.AddDeploymentResponse:
        deployment = cc.parse_deployment(request.deployment)
        view, created = await self._registry_of_protocols.add(auth.current_identity(), deployment)
        return pb.AddDeploymentResponse(deployment=cc.deployment_proto(view), created=created)

    async def ListDeployments(
        self, request: pb.ListDeploymentsRequest, context: ServicerContext
    ) -> pb.ListDeploymentsResponse:
        auth.current_identity()
        protocol = (
            convert.parse_name(request.protocol_id, "protocol_id") if request.protocol_id else None
        )
        views = await self._registry_of_protocols.list_views(protocol)
        return pb.ListDeploymentsResponse(deployments=[cc.deployment_proto(v) for v in views])

    async def GetDeployment(
        self, request: pb.GetDeploymentRequest, context: ServicerContext
    ) -> pb.GetDeploymentResponse:
        auth.current_identity()
        view = await self._registry_of_protocols.show(
            convert.parse_name(request.deployment_id, "deployment_id")
        )
        return pb.GetDeploymentResponse(deployment=cc.deployment_proto(view))

    async def SetDeploymentTvl(
        self, request: pb.SetDeploymentTvlRequest, context: ServicerContext
    ) -> pb.SetDeploymentTvlResponse:
        reading = cc.parse_tvl(request, require_time=False)
        view = await self._registry_of_protocols.set_tvl(auth.current_identity(), reading)
        return pb.SetDeploymentTvlResponse(deployment=cc.deployment_proto(view))

    async def SetPaused(
        self, request: pb.SetPausedRequest, context: ServicerContext
    ) -> pb.SetPausedResponse:
        target = cc.parse_pause_target(request.target)
        reason = convert.parse_reason(request.reason)
        was = await self._registry_of_protocols.set_paused(
            auth.current_identity(), target, request.paused, reason
        )
        return pb.SetPausedResponse(was_paused=was)

    async def ListPauses(
        self, request: pb.ListPausesRequest, context: ServicerContext
    ) -> pb.ListPausesResponse:
        auth.current_identity()
        pauses = await self._registry_of_protocols.pauses()
        return pb.ListPausesResponse(pauses=[cc.pause_proto(p) for p in pauses])

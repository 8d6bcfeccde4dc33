"""Proto <-> domain for the underwriting side: cover terms, premiums explained,
covered deployments, TVL readings and pauses. Same rules as :mod:`convert`:
a ``parse_*`` returns a clean domain value or raises ``InvalidRequest``
naming the field (domain checks raise ``InvalidRecord``, its subclass)."""

from __future__ import annotations

from datetime import datetime

from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2

from router import domain as m
from router.api.convert import (
    COVER_TYPE_CODES,
    amount,
    parse_amount,
    parse_cover_type,
    parse_name,
    parse_timestamp,
    timestamp,
)
from router.app.covers import CoverAsk, Quoted
from router.app.protocols import DeploymentView
from router.errors import InvalidRequest


def _opt_amount(msg: common_pb2.Amount, present: bool, field: str, asset: str | None) -> int:
    """An optional amount: unset (or value "0") is 0."""
    if not present or not msg.value:
        return 0
    return parse_amount(msg, field, asset=asset, positive=False)


def parse_ask(
    request: partner_pb2.QuoteCoverRequest | partner_pb2.BindCoverRequest, asset: str | None
) -> CoverAsk:
    """The cover asked for; amounts checked against ``asset`` (the pool's) when given."""
    ctype = parse_cover_type(request.cover_type)
    assert ctype is not None
    chain = parse_name(request.chain, "chain")
    pool_id = parse_name(request.pool_id, "pool_id")
    limit = parse_amount(
        request.cover_amount, "cover_amount", asset=asset, present=request.HasField("cover_amount")
    )
    t = request.terms
    if t.trigger_kinds:
        raise InvalidRequest(
            "terms.trigger_kinds", "is set by the router from the cover type; leave it empty"
        )
    if not t.deployment_id:
        raise InvalidRequest("terms.deployment_id", "is missing: name the covered deployment")
    terms = m.CoverTerms(
        cover_type=ctype,
        deployment_id=parse_name(t.deployment_id, "terms.deployment_id"),
        limit=limit,
        period_days=request.period_days,
        deductible=_opt_amount(t.deductible, t.HasField("deductible"), "terms.deductible", asset),
        per_event_max=_opt_amount(
            t.per_event_max, t.HasField("per_event_max"), "terms.per_event_max", asset
        ),
        insured_value=_opt_amount(
            t.insured_value, t.HasField("insured_value"), "terms.insured_value", asset
        ),
        position_ref=t.position_ref,
    )
    spill = isinstance(request, partner_pb2.QuoteCoverRequest) and request.spill_over
    return CoverAsk(chain, pool_id, terms, spill_over=spill)


def terms_proto(terms: m.CoverTerms, asset: str) -> partner_pb2.CoverTerms:
    return partner_pb2.CoverTerms(
        deployment_id=terms.deployment_id,
        deductible=amount(asset, terms.deductible),
        per_event_max=amount(asset, terms.per_event_max),
        insured_value=amount(asset, terms.insured_value) if terms.insured_value else None,
        position_ref=terms.position_ref,
        trigger_kinds=list(terms.definition.trigger_kinds()),
    )


def premium_proto(p: m.Premium, asset: str) -> partner_pb2.PremiumBreakdown:
    return partner_pb2.PremiumBreakdown(
        pure_premium=amount(asset, p.pure),
        cost_of_capital=amount(asset, p.cost_of_capital),
        fees=amount(asset, p.fees),
        utilisation_surcharge=amount(asset, p.surcharge),
        incident_probability_ppm=p.incident_probability_ppm,
        utilisation_bps=p.utilisation_bps,
    )


def quoted_proto(q: Quoted) -> partner_pb2.Quote:
    asset = q.pool.asset
    return partner_pb2.Quote(
        quote_id=q.quote.quote_id,
        chain=q.pool.chain,
        pool_id=q.pool.pool_id,
        cover_type=COVER_TYPE_CODES[q.quote.cover_type],
        cover_amount=amount(asset, q.quote.limit_amount),
        period_days=q.period_days,
        premium=amount(asset, q.quote.premium),
        expires_at=timestamp(q.quote.expires_at),
        terms=terms_proto(q.terms, asset),
        premium_breakdown=premium_proto(q.premium, asset),
        spilled_from=q.spilled_from,
    )


# ---------------------------------------------------------------- the registry


def _opt_time(msg: object, present: bool, field: str) -> datetime | None:
    return parse_timestamp(msg, field) if present else None  # type: ignore[arg-type]


def parse_deployment(d: treasury_pb2.Deployment) -> m.Deployment:
    if not d.HasField("tvl"):
        raise InvalidRequest("deployment.tvl", "is missing: send {asset, value} in base units")
    asset = d.tvl.asset
    if not asset:
        raise InvalidRequest("deployment.tvl.asset", "is missing: the valuation asset")
    if not d.HasField("tvl_as_of"):
        raise InvalidRequest("deployment.tvl_as_of", "is missing: when the TVL was read")
    if d.linked_deployments:
        raise InvalidRequest("deployment.linked_deployments", "is output only; leave it empty")
    return m.Deployment(
        deployment_id=parse_name(d.deployment_id, "deployment.deployment_id"),
        protocol_id=parse_name(d.protocol_id, "deployment.protocol_id"),
        chain=parse_name(d.chain, "deployment.chain"),
        addresses=tuple(d.addresses),
        asset=asset,
        tvl=parse_amount(d.tvl, "deployment.tvl", positive=False),
        tvl_source=d.tvl_source,
        tvl_as_of=parse_timestamp(d.tvl_as_of, "deployment.tvl_as_of"),
        incidents=m.IncidentHistory(
            d.incident_count, d.incident_severity_bps, d.incident_window_days or 365
        ),
        audits=m.AuditFacts(
            tuple(d.auditors),
            _opt_time(d.last_audit_at, d.HasField("last_audit_at"), "deployment.last_audit_at"),
        ),
        governance_assets=_opt_amount(
            d.governance_assets,
            d.HasField("governance_assets"),
            "deployment.governance_assets",
            asset,
        ),
    )


def deployment_proto(v: DeploymentView) -> treasury_pb2.Deployment:
    d = v.deployment
    out = treasury_pb2.Deployment(
        deployment_id=d.deployment_id,
        protocol_id=d.protocol_id,
        chain=d.chain,
        addresses=list(d.addresses),
        tvl=amount(d.asset, d.tvl),
        tvl_source=d.tvl_source,
        tvl_as_of=timestamp(d.tvl_as_of),
        incident_count=d.incidents.count,
        incident_severity_bps=d.incidents.severity_bps,
        incident_window_days=d.incidents.window_days,
        auditors=list(d.audits.auditors),
        governance_assets=amount(d.asset, d.governance_assets),
        linked_deployments=list(v.linked),
    )
    if d.audits.last_audit_at is not None:
        out.last_audit_at.CopyFrom(timestamp(d.audits.last_audit_at))
    return out


def parse_tvl(
    request: treasury_pb2.SetDeploymentTvlRequest | reporting_pb2.ReportTvlRequest,
    *,
    require_time: bool,
) -> m.TvlReading:
    if not request.HasField("tvl") or not request.tvl.asset:
        raise InvalidRequest("tvl", "is missing: send {asset, value} in base units")
    if request.HasField("as_of"):
        at = parse_timestamp(request.as_of, "as_of")
    elif require_time:
        raise InvalidRequest("as_of", "is missing: when the TVL was read")
    else:
        at = m.utcnow()
    return m.TvlReading(
        deployment_id=parse_name(request.deployment_id, "deployment_id"),
        asset=request.tvl.asset,
        tvl=parse_amount(request.tvl, "tvl", positive=False),
        source=request.source,
        as_of=at,
    )


def parse_pause_target(t: treasury_pb2.PauseTarget) -> m.PauseTarget:
    which = t.WhichOneof("target")
    if which == "cover_type":
        ctype = parse_cover_type(t.cover_type, "target.cover_type")
        return m.PauseTarget(cover_type=ctype)
    if which == "pool_id":
        return m.PauseTarget(pool_id=parse_name(t.pool_id, "target.pool_id"))
    raise InvalidRequest("target", "is missing: a cover_type or a pool_id")


def pause_target_proto(t: m.PauseTarget) -> treasury_pb2.PauseTarget:
    if t.cover_type is not None:
        return treasury_pb2.PauseTarget(cover_type=COVER_TYPE_CODES[t.cover_type.value])
    return treasury_pb2.PauseTarget(pool_id=t.pool_id or "")


def pause_proto(p: m.Pause) -> treasury_pb2.Pause:
    return treasury_pb2.Pause(
        target=pause_target_proto(p.target),
        reason=p.reason,
        operator=p.operator,
        since=timestamp(p.since),
    )

"""Incident reports from oracle reporters: verified, counted, confirmed k of n.

Checks run in this order and a refusal stores nothing: the caller must be a
registered, active oracle reporter (read fresh: a deactivation refuses the
next report), the signature must verify under its registered key, the
payload must be canonical and name the caller, and neither the payload nor
the (reporter, nonce) may have been received before.

A verified report joins the open incident on its deployment and kind whose
first report lies within the rule's window, or opens one. The incident is
re-assessed (:func:`router.domain.incidents.assess`) in the same unit of work
as the report, its alert and its audit entries, under the incident lock, so
replicas cannot open two incidents for one event or confirm one twice. When
an incident becomes confirmed, ``on_confirmed`` hears it after the commit
(claims are opened for every cover it touches).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from router import domain as m
from router.app.ports import AuditLog, Transactional
from router.domain.claims import FINAL_CLAIMS, Claim, ClaimStatus, Payment
from router.domain.incidents import (
    INCIDENT_TRANSITIONS,
    Alert,
    Incident,
    IncidentKind,
    IncidentStatus,
    OracleReporter,
    QuorumPolicy,
    StoredReport,
    assess,
    in_window,
    incident_id,
    parse_payload,
    report_hash,
    verify_signature,
)
from router.errors import InvalidTransition, NotFound, ReplayedReport, ReporterRefused


class IncidentStore(AuditLog, Transactional, Protocol):
    async def get_oracle(self, reporter_id: str) -> OracleReporter: ...
    async def find_replay(self, report_hash: str, reporter_id: str, nonce: str) -> str | None: ...
    async def lock_incidents(self) -> None: ...
    async def record_report(
        self, stored: StoredReport, payload: bytes, signature: bytes
    ) -> StoredReport: ...
    async def incident_reports(self, incident_id: str) -> list[StoredReport]: ...
    async def open_incidents(self, deployment_id: str, kind: IncidentKind) -> list[Incident]: ...
    async def save_incident(self, incident: Incident) -> Incident: ...
    async def get_incident(self, incident_id: str) -> Incident: ...
    async def list_incidents(
        self, status: IncidentStatus | None = None, *, limit: int = 100
    ) -> list[Incident]: ...
    async def raise_alert(self, alert: Alert) -> Alert: ...
    async def list_alerts(self, incident_id: str | None = None) -> list[Alert]: ...
    async def list_claims(
        self,
        *,
        partner_id: str | None = None,
        incident_id: str | None = None,
        cover_id: str | None = None,
        status: ClaimStatus | None = None,
        limit: int = 1000,
    ) -> list[Claim]: ...
    async def list_payments(
        self, *, claim_id: str | None = None, limit: int = 1000
    ) -> list[Payment]: ...
    async def update_claim(
        self, claim_id: str, status: ClaimStatus, *, reason: str | None = None
    ) -> Claim: ...


@dataclass(frozen=True, slots=True)
class Submitted:
    report_hash: str
    incident: Incident
    confirmed_now: bool  # this report confirmed the incident


class Incidents:
    def __init__(
        self,
        store: IncidentStore,
        quorum: QuorumPolicy,
        on_confirmed: Callable[[Incident], Awaitable[object]] | None = None,
    ) -> None:
        self._store = store
        self._quorum = quorum
        self.on_confirmed = on_confirmed

    async def oracle(self, caller: m.Identity) -> OracleReporter:
        """The caller as an active oracle reporter, or a precise refusal."""
        try:
            oracle = await self._store.get_oracle(caller.name)
        except NotFound:
            raise ReporterRefused(
                caller.name,
                "unknown",
                f"{caller.uri} is not a registered oracle reporter: nothing was recorded",
            ) from None
        if not oracle.active:
            raise ReporterRefused(
                caller.name,
                "deactivated",
                f"oracle reporter {caller.name} is deactivated: nothing was recorded",
            )
        return oracle

    async def submit(
        self, caller: m.Identity, payload: bytes, signature: bytes, *, now: datetime | None = None
    ) -> Submitted:
        oracle = await self.oracle(caller)
        verify_signature(oracle.public_key, payload, signature)
        report = parse_payload(payload)
        if report.reporter_id != caller.name:
            raise ReporterRefused(
                caller.name,
                "not_self",
                f"the report is signed as reporter {report.reporter_id}, the caller is "
                f"{caller.name}: a reporter submits only its own reports",
            )
        digest = report_hash(payload)
        await self._refuse_replay(digest, report.reporter_id, report.nonce)
        now = now or m.utcnow()
        rule = self._quorum.rule(report.kind)
        async with self._store.unit_of_work():
            await self._store.lock_incidents()
            await self._refuse_replay(digest, report.reporter_id, report.nonce)
            open_ = [
                i
                for i in await self._store.open_incidents(report.deployment_id, report.kind)
                if in_window(i.occurred_at, report.occurred_at, rule)
            ]
            current = open_[0] if open_ else None
            iid = (
                current.incident_id
                if current
                else incident_id(report.deployment_id, report.kind, digest)
            )
            stored = StoredReport(digest, report, iid, now)
            await self._store.record_report(stored, payload, signature)
            reports = [s.report for s in await self._store.incident_reports(iid)]
            verdict = assess(reports, rule)
            was = current.status if current else None
            if was is IncidentStatus.CONFIRMED:
                # Confirmed stays confirmed at the loss it was confirmed with: claims
                # may be paid on it. A late report only counts (and may raise an alert).
                assert current is not None
                incident = replace(current, reports=len(reports), updated_at=now)
            else:
                confirmed = verdict.status is IncidentStatus.CONFIRMED
                incident = Incident(
                    incident_id=iid,
                    deployment_id=report.deployment_id,
                    kind=report.kind,
                    occurred_at=min(r.occurred_at for r in reports),
                    status=verdict.status,
                    loss=verdict.loss,
                    reporters=len(verdict.agreeing),
                    reports=len(reports),
                    detail=verdict.detail,
                    confirmed_at=now if confirmed else None,
                    updated_at=now,
                )
            incident = await self._store.save_incident(incident)
            if verdict.alert is not None:
                await self._store.raise_alert(Alert(iid, verdict.alert, verdict.detail, now))
            await self._store.append_audit(
                caller.uri,
                "incident_report",
                iid,
                {"report": digest, "kind": report.kind.value, "loss": report.loss},
            )
            confirmed_now = (
                was is not IncidentStatus.CONFIRMED and incident.status is IncidentStatus.CONFIRMED
            )
            if confirmed_now:
                await self._store.append_audit(
                    "ballast://incidents",
                    "incident_confirmed",
                    iid,
                    {"loss": incident.loss, "reporters": incident.reporters},
                )
        if confirmed_now and self.on_confirmed is not None:
            # Shielded: a caller that goes away (or the deadline cap) does not stop
            # the claims opening; start-up reconciliation opens any still missing.
            await asyncio.shield(self.on_confirmed(incident))
        return Submitted(digest, incident, confirmed_now)

    async def _refuse_replay(self, digest: str, reporter: str, nonce: str) -> None:
        seen = await self._store.find_replay(digest, reporter, nonce)
        if seen is not None:
            why = "the same signed report" if seen == digest else f"nonce {nonce!r} of {reporter}"
            raise ReplayedReport(
                f"replayed incident report: {why} was received before (report {seen}); "
                "nothing was recorded",
                report_hash=digest,
            )

    async def reject(self, operator: m.Identity, incident_id_: str, reason: str) -> Incident:
        """An operator rejects a spam incident: never confirmed (again), its open claims
        rejected. Refused once any of its claims has a payment."""
        m.check_text(reason, "reason", max_len=256)
        async with self._store.unit_of_work():
            await self._store.lock_incidents()
            incident = await self._store.get_incident(incident_id_)
            if IncidentStatus.REJECTED not in INCIDENT_TRANSITIONS[incident.status]:
                raise InvalidTransition(
                    f"incident {incident_id_} is already {incident.status.value}"
                )
            claims = await self._store.list_claims(incident_id=incident_id_)
            for c in claims:
                if await self._store.list_payments(claim_id=c.claim_id):
                    raise InvalidTransition(
                        f"incident {incident_id_} has claim {c.claim_id} with a payment: "
                        "resolve the claim instead of rejecting the incident"
                    )
            for c in claims:
                if c.status not in FINAL_CLAIMS:
                    await self._store.update_claim(
                        c.claim_id, ClaimStatus.REJECTED, reason=f"incident rejected: {reason}"
                    )
            now = m.utcnow()
            incident = await self._store.save_incident(
                replace(
                    incident,
                    status=IncidentStatus.REJECTED,
                    detail=f"rejected by {operator.name}: {reason}",
                    updated_at=now,
                )
            )
            await self._store.append_audit(
                operator.uri,
                "incident_rejected",
                incident_id_,
                {"reason": reason, "claims_rejected": len(claims)},
            )
        return incident

    async def list(
        self, status: IncidentStatus | None = None, *, limit: int = 100
    ) -> list[tuple[Incident, list[Alert]]]:
        incidents = await self._store.list_incidents(status, limit=limit)
        alerts: dict[str, list[Alert]] = {}
        for a in await self._store.list_alerts():
            alerts.setdefault(a.incident_id, []).append(a)
        return [(i, alerts.get(i.incident_id, [])) for i in incidents]


class OracleSync(Protocol):
    async def upsert_oracle(self, oracle: OracleReporter) -> OracleReporter: ...
    async def list_oracles(self) -> list[OracleReporter]: ...
    async def set_oracle_active(self, reporter_id: str, active: bool) -> bool: ...


async def sync_oracles(store: OracleSync, oracles: Sequence[tuple[str, str, bool]]) -> None:
    """Make the oracle reporters match the config's (reporter_id, public_key, active):
    added or updated; one missing from the config is deactivated, never deleted
    (its stored reports stay verifiable against its key)."""
    configured = {rid for rid, _, _ in oracles}
    for rid, key, active in oracles:
        await store.upsert_oracle(OracleReporter(rid, key, active))
    for o in await store.list_oracles():
        if o.reporter_id not in configured and o.active:
            await store.set_oracle_active(o.reporter_id, False)

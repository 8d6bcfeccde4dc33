"""Ingestion: batches of balance reports from chain agents.

The reporter is the authenticated caller. Whether it may still report is
read fresh for every batch (a deactivation or a revoked certificate stops an
open stream at its next batch, on every replica). The store judges each
report by the rules of :mod:`router.domain.ingest`, against the router's own
clock: a report from the future beyond the allowed skew is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from router import domain as m
from router.app.access import AccessControl
from router.app.ports import ReportSink
from router.app.positions import Confirmed
from router.config import PolicyConfig
from router.domain.ingest import Outcome, ReportIn, ReportOutcome
from router.errors import PermissionDenied
from router.telemetry.tracing import traced


@dataclass(frozen=True, slots=True)
class Ingested:
    outcomes: list[ReportOutcome]
    confirmed: list[Confirmed]


class Reporting:
    def __init__(
        self,
        store: ReportSink,
        access: AccessControl,
        policy: PolicyConfig,
        on_confirmed: Callable[[list[Confirmed]], None] | None = None,
    ) -> None:
        self._store = store
        self._access = access
        self._skew = timedelta(seconds=policy.max_clock_skew_seconds)
        self._on_confirmed = on_confirmed or (lambda _: None)

    @traced("reports.ingest")
    async def ingest(
        self, reporter: m.Identity, reports: Sequence[ReportIn], *, fingerprint: str | None
    ) -> Ingested:
        await self._access.check(reporter, fingerprint)
        # An unregistered reporter's reports are refused one by one (unknown
        # reporter); a deactivated one is refused as a caller.
        if await self._access.reporter_allowed(reporter.name) is False:
            raise PermissionDenied(
                f"reporter {reporter.name} is deactivated: an operator must reactivate it"
            )
        if not reports:
            return Ingested([], [])
        now = m.utcnow()
        outcomes = await self._store.record_reports(reports, now=now, max_skew=self._skew)
        confirmed: list[Confirmed] = []
        fresh: dict[tuple[datetime, datetime | None], datetime] = {}  # shared per batch
        for o in outcomes:
            if o.status is Outcome.CONFIRMED:
                r = reports[o.index]
                key = (r.observed_at, r.block_time)
                at = fresh.get(key)
                if at is None:
                    at = min(r.observed_at, now)
                    if r.block_time is not None:
                        at = min(at, r.block_time)
                    fresh[key] = at
                confirmed.append(Confirmed(r.pool_id, r.amount, r.block_number, at))
        if confirmed:
            self._on_confirmed(confirmed)
        return Ingested(outcomes, confirmed)

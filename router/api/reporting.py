"""ReportingService: chain agents stream balance batches; one ack per batch.

The reporter is the authenticated caller: its id is its identity name and it
may only report for the chain its identity names. Reports that fail the
edge's shape checks are rejected here; the rest go to the use case
(:class:`router.app.reporting.Reporting`), which checks the reporter is still
allowed and has the store apply :mod:`router.domain.ingest`'s rules in one
transaction per batch. A batch that is itself malformed (too many reports,
bad batch id) ends the stream with INVALID_ARGUMENT and stores nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from ballast.v1 import reporting_pb2 as pb
from ballast.v1 import reporting_pb2_grpc
from grpc.aio import ServicerContext

from router.api import auth, convert
from router.api.convert import DIGITS, HASH, NAME
from router.api.convert_covers import parse_tvl
from router.app.protocols import Protocols
from router.app.reporting import Reporting
from router.domain.ingest import MAX_BATCH, Outcome, ReportIn
from router.errors import InvalidRequest

_REASONS = {
    "malformed": pb.REJECT_REASON_INVALID,
    "negative_amount": pb.REJECT_REASON_INVALID,
    "unknown_pool": pb.REJECT_REASON_UNKNOWN_POOL,
    "wrong_chain": pb.REJECT_REASON_UNKNOWN_POOL,
    "unknown_reporter": pb.REJECT_REASON_REPORTER_NOT_ALLOWED,
    "reporter_not_allowed": pb.REJECT_REASON_REPORTER_NOT_ALLOWED,
    "not_final": pb.REJECT_REASON_NOT_FINAL,
    "older_block": pb.REJECT_REASON_STALE_BLOCK,
    "conflicts_confirmed": pb.REJECT_REASON_CONFLICT,
    "conflicting_resend": pb.REJECT_REASON_CONFLICT,
    "from_future": pb.REJECT_REASON_FROM_FUTURE,
}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TS = 253_402_300_799  # 9999-12-31T23:59:59Z


def _rejection(index: int, r: pb.BalanceReport, reason: int, detail: str) -> pb.Rejection:
    return pb.Rejection(
        index=index, chain=r.chain[:64], pool_id=r.pool_id[:64], reason=reason, detail=detail
    )


def _why_invalid(r: pb.BalanceReport) -> str:
    """The first thing wrong with a report that failed the fast checks."""
    try:
        convert.parse_name(r.pool_id, "pool_id")
        convert.parse_amount(r.amount, "amount", positive=False, present=r.HasField("amount"))
        convert.parse_block_hash(r.block_hash, "block_hash")
        if r.block_number >= 2**63:
            raise InvalidRequest("block_number", "must be below 2**63")
        if not r.HasField("observed_at"):
            raise InvalidRequest("observed_at", "is missing")
        if not 0 <= r.observed_at.seconds <= _MAX_TS or not 0 <= r.observed_at.nanos < 10**9:
            raise InvalidRequest("observed_at", "is not a valid timestamp")
        bt = r.block_time
        if r.HasField("block_time") and not (0 <= bt.seconds <= _MAX_TS and 0 <= bt.nanos < 10**9):
            raise InvalidRequest("block_time", "is not a valid timestamp")
    except InvalidRequest as exc:
        return str(exc)
    return "malformed report"


def _screen(index: int, r: pb.BalanceReport, chain: str, reporter: str) -> ReportIn | pb.Rejection:
    """Edge checks of one report: its shape, and the caller's right to report it.

    The common (valid) case takes one pass of cheap checks: this runs for
    every report, tens of thousands per second.
    """
    if r.chain != chain:
        return _rejection(
            index,
            r,
            pb.REJECT_REASON_REPORTER_NOT_ALLOWED,
            f"ballast://reporter/{reporter} may only report for chain {chain!r}",
        )
    value = r.amount.value
    ts = r.observed_at
    seconds = ts.seconds
    if not (
        NAME.match(r.pool_id)
        and DIGITS.match(value)
        and (len(value) < 78 or int(value) <= convert.MAX_AMOUNT)
        and HASH.match(r.block_hash)
        and r.block_number < 2**63
        and r.HasField("observed_at")
        and 0 <= seconds <= _MAX_TS
        and 0 <= ts.nanos < 10**9
        and (
            not r.HasField("block_time")
            or (0 <= r.block_time.seconds <= _MAX_TS and 0 <= r.block_time.nanos < 10**9)
        )
    ):
        return _rejection(index, r, pb.REJECT_REASON_INVALID, _why_invalid(r))
    return ReportIn(
        chain=chain,
        pool_id=r.pool_id,
        reporter_id=reporter,
        amount=int(value),
        block_number=r.block_number,
        block_hash=r.block_hash,
        finalized=r.finalized,
        observed_at=_EPOCH + timedelta(seconds=seconds, microseconds=ts.nanos // 1000),
        block_time=(
            _EPOCH
            + timedelta(seconds=r.block_time.seconds, microseconds=r.block_time.nanos // 1000)
            if r.HasField("block_time")
            else None
        ),
    )


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, reporting: Reporting, protocols: Protocols | None = None) -> None:
        self._reporting = reporting
        self._protocols = protocols

    async def ReportTvl(
        self, request: pb.ReportTvlRequest, context: ServicerContext
    ) -> pb.ReportTvlResponse:
        """The TVL reporter's feed (rules in :mod:`router.app.protocols`)."""
        identity = auth.current_identity()
        reading = parse_tvl(request, require_time=True)
        if self._protocols is None:
            raise InvalidRequest("deployment_id", "this server has no protocol registry")
        return pb.ReportTvlResponse(applied=await self._protocols.report_tvl(identity, reading))

    async def ingest(
        self, identity: auth.Identity, batch: pb.StreamReportsRequest
    ) -> pb.StreamReportsResponse:
        batch_id = convert.parse_batch_id(batch.batch_id)
        if len(batch.reports) > MAX_BATCH:
            raise InvalidRequest(
                "reports", f"at most {MAX_BATCH} reports per batch, got {len(batch.reports)}"
            )
        rejections: list[pb.Rejection] = []
        valid: list[ReportIn] = []
        positions: list[int] = []
        chain, reporter = identity.chain or "", identity.name
        for i, r in enumerate(batch.reports):
            screened = _screen(i, r, chain, reporter)
            if isinstance(screened, ReportIn):
                valid.append(screened)
                positions.append(i)
            else:
                rejections.append(screened)
        done = await self._reporting.ingest(identity, valid, fingerprint=auth.current_fingerprint())
        for o in done.outcomes:
            if o.status is Outcome.REJECTED:
                src = valid[o.index]
                rejections.append(
                    pb.Rejection(
                        index=positions[o.index],
                        chain=src.chain,
                        pool_id=src.pool_id,
                        reason=_REASONS.get(o.code, pb.REJECT_REASON_INVALID),
                        detail=o.reason,
                    )
                )
        rejections.sort(key=lambda x: x.index)
        return pb.StreamReportsResponse(
            batch_id=batch_id,
            accepted=len(batch.reports) - len(rejections),
            rejected=len(rejections),
            rejections=rejections,
            reporter_id=identity.name,
            confirmed=len(done.confirmed),
        )

    async def StreamReports(
        self, request_iterator: AsyncIterator[pb.StreamReportsRequest], context: ServicerContext
    ) -> AsyncIterator[pb.StreamReportsResponse]:
        identity = auth.current_identity()
        async for batch in request_iterator:
            yield await self.ingest(identity, batch)

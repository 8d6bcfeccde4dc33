"""Covered protocols as data: the deployments covers refer to, and pauses.

A :class:`Deployment` is one protocol on one chain. Deployments sharing a
``protocol_id`` run the same code: the loss model treats an incident of that
protocol as one shock hitting all of them (``reinsurance.deployment_risks``).
Its TVL (with source and time), incident history and audit facts are what
pricing and the cover caps read. Amounts are base units of ``asset``, the
registry's valuation asset; a cover's pool must settle in the same asset.

A :class:`PauseTarget` is a cover type or a pool an operator has paused: new
quotes and binds for it are refused; covers in force and their claims are not
affected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.domain.checks import check_amount, check_id, check_int, check_text, check_utc, opt_utc
from router.domain.covers import CoverType, check_cover_type
from router.errors import InvalidRecord

#: Longest incident window the registry keeps history over (ten years).
MAX_WINDOW_DAYS = 3650


@dataclass(frozen=True, slots=True)
class IncidentHistory:
    """Incidents of a deployment over the last ``window_days``: how many, and
    their mean severity (share of TVL lost, basis points)."""

    count: int = 0
    severity_bps: int = 0
    window_days: int = 365

    def __post_init__(self) -> None:
        check_int(self.count, "incident_count", lo=0, hi=100_000)
        check_int(self.severity_bps, "incident_severity_bps", lo=0, hi=10_000)
        check_int(self.window_days, "incident_window_days", lo=1, hi=MAX_WINDOW_DAYS)
        if self.count == 0 and self.severity_bps:
            raise InvalidRecord(
                "incident_severity_bps must be 0 without incidents", field="incident_severity_bps"
            )


@dataclass(frozen=True, slots=True)
class AuditFacts:
    """Who audited the deployment, and when last (None: never audited)."""

    auditors: tuple[str, ...] = ()
    last_audit_at: datetime | None = None

    def __post_init__(self) -> None:
        for a in self.auditors:
            check_text(a, "auditors", max_len=128)
        if len(set(self.auditors)) != len(self.auditors):
            raise InvalidRecord("auditors must be distinct", field="auditors")
        opt_utc(self, "last_audit_at")
        if self.auditors and self.last_audit_at is None:
            raise InvalidRecord("audited deployments need last_audit_at", field="last_audit_at")


@dataclass(frozen=True, slots=True)
class Deployment:
    deployment_id: str
    protocol_id: str
    chain: str
    addresses: tuple[str, ...]
    asset: str
    tvl: int
    tvl_source: str
    tvl_as_of: datetime
    incidents: IncidentHistory = IncidentHistory()
    audits: AuditFacts = AuditFacts()
    governance_assets: int = 0

    def __post_init__(self) -> None:
        check_id(self.deployment_id, "deployment_id")
        check_id(self.protocol_id, "protocol_id")
        check_id(self.chain, "chain")
        if not self.addresses:
            raise InvalidRecord("a deployment needs at least one address", field="addresses")
        for a in self.addresses:
            check_id(a, "addresses")
        if len(set(self.addresses)) != len(self.addresses):
            raise InvalidRecord("addresses must be distinct", field="addresses")
        check_id(self.asset, "tvl.asset")
        check_amount(self.tvl, "tvl")
        check_text(self.tvl_source, "tvl_source", max_len=128)
        object.__setattr__(self, "tvl_as_of", check_utc(self.tvl_as_of, "tvl_as_of"))
        check_amount(self.governance_assets, "governance_assets")


@dataclass(frozen=True, slots=True)
class TvlReading:
    """One TVL figure of a deployment: from an operator or the TVL reporter."""

    deployment_id: str
    asset: str
    tvl: int
    source: str
    as_of: datetime

    def __post_init__(self) -> None:
        check_id(self.deployment_id, "deployment_id")
        check_id(self.asset, "tvl.asset")
        check_amount(self.tvl, "tvl")
        check_text(self.source, "source", max_len=128)
        object.__setattr__(self, "as_of", check_utc(self.as_of, "as_of"))


@dataclass(frozen=True, slots=True)
class PauseTarget:
    """A cover type or a pool (exactly one)."""

    cover_type: CoverType | None = None
    pool_id: str | None = None

    def __post_init__(self) -> None:
        if (self.cover_type is None) == (self.pool_id is None):
            raise InvalidRecord("pause a cover type or a pool (exactly one)", field="target")
        if self.cover_type is not None:
            object.__setattr__(self, "cover_type", CoverType(check_cover_type(self.cover_type)))
        if self.pool_id is not None:
            check_id(self.pool_id, "target.pool_id")

    @property
    def key(self) -> str:
        """``cover_type:<type>`` or ``pool:<id>``: how the store and the audit log name it."""
        if self.cover_type is not None:
            return f"cover_type:{self.cover_type.value}"
        return f"pool:{self.pool_id}"

    @classmethod
    def parse(cls, key: str) -> PauseTarget:
        kind, _, value = key.partition(":")
        if kind == "cover_type":
            return cls(cover_type=CoverType(check_cover_type(value)))
        if kind == "pool":
            return cls(pool_id=value)
        raise InvalidRecord(f"unknown pause target {key!r}", field="target")

    def describe(self) -> str:
        if self.cover_type is not None:
            return f"cover type {self.cover_type.value}"
        return f"pool {self.pool_id}"


@dataclass(frozen=True, slots=True)
class Pause:
    target: PauseTarget
    reason: str
    operator: str
    since: datetime

    def __post_init__(self) -> None:
        check_text(self.reason, "reason", max_len=500)
        object.__setattr__(self, "since", check_utc(self.since, "since"))

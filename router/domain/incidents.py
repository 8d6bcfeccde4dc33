"""Incidents: signed oracle reports, k-of-n confirmation, alerts. No I/O.

An oracle reporter signs each report with the Ed25519 key registered for it
(``[[oracles]]`` in the config): the signed bytes are the report's canonical
JSON (:meth:`IncidentReport.payload`), sent and stored verbatim with the
signature, so a stored report can be verified again later by anyone with the
reporter's public key. The transport identity (mTLS or token) must name the
same reporter as the payload; the signature binds the content to a key that
never reaches the router.

A report is new or refused: its payload's SHA-256 and its (reporter, nonce)
are each accepted once (:class:`~router.errors.ReplayedReport`).

Confirmation (:func:`assess`): the reports on one deployment and incident
kind whose times lie within ``window`` of the first form a candidate
incident. Reporters *agree* when their loss figures lie within
``tolerance_bps`` of the group's median; one vote per reporter (its latest).
``k`` agreeing, distinct reporters confirm the incident with the verified
loss = the lower median of the agreeing figures. Fewer is no payout: a lone
report or a disagreement raises an alert for operators instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from router.domain.checks import check_amount, check_enum, check_id, check_int, check_utc
from router.domain.covers import IncidentKind  # one definition: covers' trigger kinds
from router.errors import BadSignature, InvalidRecord, InvalidRequest

#: The version tag inside every signed payload: a signature over another format never verifies.
REPORT_FORMAT = "ballast.incident.v1"
MAX_EVIDENCE = 64
MAX_PAYLOAD_BYTES = 16_384
_HASH = re.compile(r"^0x[0-9a-f]{64}\Z")
_SOLANA_SIG = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{64,88}\Z")
_PUBKEY = re.compile(r"^[0-9a-f]{64}\Z")


class IncidentStatus(StrEnum):
    PENDING = "pending"  # reported, fewer than k agreeing reporters: no payout
    CONFIRMED = "confirmed"  # k of n agree: claims are opened
    REJECTED = "rejected"  # an operator rejected it (spam): never confirmed


#: Which incident status may follow which.
INCIDENT_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    IncidentStatus.PENDING: frozenset({IncidentStatus.CONFIRMED, IncidentStatus.REJECTED}),
    IncidentStatus.CONFIRMED: frozenset({IncidentStatus.REJECTED}),
    IncidentStatus.REJECTED: frozenset(),
}


class AlertKind(StrEnum):
    LONE_REPORT = "lone_report"  # one reporter so far: waits for others
    DISAGREEMENT = "disagreement"  # reporters disagree on the loss: no quorum on one figure
    SHORT_OF_QUORUM = "short_of_quorum"  # several agree, fewer than k


def check_evidence(item: object, what: str = "evidence") -> str:
    """A transaction hash (EVM 0x + 64 hex, or a Solana signature) or a snapshot hash."""
    if not isinstance(item, str) or not (_HASH.match(item) or _SOLANA_SIG.match(item)):
        raise InvalidRecord(
            f"{what} must be a transaction hash (0x + 64 lowercase hex), a Solana signature "
            f"or a state snapshot's SHA-256 (0x + 64 hex), got {item!r:.80}",
            field=what,
        )
    return item


@dataclass(frozen=True, slots=True)
class IncidentReport:
    """What one oracle reporter says happened; the unit it signs.

    ``loss`` is the loss to the deployment in the settlement asset's base
    units; ``evidence`` the transactions that caused it, ``snapshot`` the
    hash of a state snapshot proving it (at least one of the two).
    """

    reporter_id: str
    nonce: str
    deployment_id: str
    kind: IncidentKind
    occurred_at: datetime
    loss: int
    evidence: tuple[str, ...] = ()
    snapshot: str | None = None

    def __post_init__(self) -> None:
        check_id(self.reporter_id, "reporter_id")
        check_id(self.nonce, "nonce")
        check_id(self.deployment_id, "deployment_id")
        object.__setattr__(self, "kind", check_enum(IncidentKind, self.kind, "kind"))
        at = check_utc(self.occurred_at, "occurred_at")
        if at.microsecond:
            raise InvalidRecord("occurred_at must be whole seconds", field="occurred_at")
        object.__setattr__(self, "occurred_at", at)
        check_amount(self.loss, "loss")
        if self.loss == 0:
            raise InvalidRecord("loss must be positive", field="loss")
        if not isinstance(self.evidence, tuple) or len(self.evidence) > MAX_EVIDENCE:
            raise InvalidRecord(f"evidence must be at most {MAX_EVIDENCE} hashes", field="evidence")
        for i, item in enumerate(self.evidence):
            check_evidence(item, f"evidence[{i}]")
        if len(set(self.evidence)) != len(self.evidence):
            raise InvalidRecord("evidence lists a hash twice", field="evidence")
        if self.snapshot is not None and not _HASH.match(self.snapshot):
            raise InvalidRecord("snapshot must be 0x + 64 lowercase hex", field="snapshot")
        if not self.evidence and self.snapshot is None:
            raise InvalidRecord(
                "a report needs evidence: transaction hashes or a state snapshot hash",
                field="evidence",
            )

    def payload(self) -> bytes:
        """The canonical bytes a reporter signs: sorted keys, no spaces, UTF-8."""
        doc = {
            "format": REPORT_FORMAT,
            "reporter": self.reporter_id,
            "nonce": self.nonce,
            "deployment": self.deployment_id,
            "kind": self.kind.value,
            "occurred_at": self.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "loss": str(self.loss),
            "evidence": list(self.evidence),
            "snapshot": self.snapshot,
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def report_hash(payload: bytes) -> str:
    """What a signed report is known by (and refused twice by): SHA-256 hex of its bytes."""
    return hashlib.sha256(payload).hexdigest()


def parse_payload(payload: bytes) -> IncidentReport:
    """The report in signed bytes; only the canonical encoding is accepted, so one
    report has exactly one payload (and one hash to refuse a replay by)."""
    if not isinstance(payload, bytes) or not payload:
        raise InvalidRequest("payload", "is empty")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidRequest("payload", f"is larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("payload", "is not UTF-8 JSON") from None
    if not isinstance(doc, dict):
        raise InvalidRequest("payload", "must be a JSON object")
    if doc.get("format") != REPORT_FORMAT:
        raise InvalidRequest("payload.format", f"must be {REPORT_FORMAT!r}")
    want = {
        "format",
        "reporter",
        "nonce",
        "deployment",
        "kind",
        "occurred_at",
        "loss",
        "evidence",
        "snapshot",
    }
    if set(doc) != want:
        raise InvalidRequest("payload", f"must have exactly the keys {sorted(want)}")
    loss = doc["loss"]
    if not isinstance(loss, str) or not loss.isdigit() or (loss != "0" and loss[0] == "0"):
        raise InvalidRequest("payload.loss", "must be a base-unit decimal string")
    try:
        at = datetime.strptime(str(doc["occurred_at"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidRequest("payload.occurred_at", "must be YYYY-MM-DDTHH:MM:SSZ") from None
    evidence = doc["evidence"]
    if not isinstance(evidence, list):
        raise InvalidRequest("payload.evidence", "must be a list of hashes")
    report = IncidentReport(
        reporter_id=doc["reporter"],
        nonce=doc["nonce"],
        deployment_id=doc["deployment"],
        kind=doc["kind"],
        occurred_at=at,
        loss=int(loss),
        evidence=tuple(evidence),
        snapshot=doc["snapshot"],
    )
    if report.payload() != payload:
        raise InvalidRequest(
            "payload", "is not in canonical form (sorted keys, no spaces): sign payload() bytes"
        )
    return report


def check_public_key(value: object, what: str = "public_key") -> str:
    if not isinstance(value, str) or not _PUBKEY.match(value):
        raise InvalidRecord(f"{what} must be an Ed25519 public key as 64 hex digits", field=what)
    return value


def verify_signature(public_key_hex: str, payload: bytes, signature: bytes) -> None:
    """Raise :class:`BadSignature` unless ``signature`` is the key's Ed25519 signature."""
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise BadSignature("must be a 64-byte Ed25519 signature over the payload")
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(check_public_key(public_key_hex)))
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        raise BadSignature(
            "does not verify under the reporter's registered key: nothing was recorded"
        ) from None


@dataclass(frozen=True, slots=True)
class OracleReporter:
    """An identity allowed to report incidents, with the key its reports are signed by."""

    reporter_id: str
    public_key: str
    active: bool = True

    def __post_init__(self) -> None:
        check_id(self.reporter_id, "reporter_id")
        check_public_key(self.public_key)
        if not isinstance(self.active, bool):
            raise InvalidRecord("active must be a bool", field="active")


@dataclass(frozen=True, slots=True)
class QuorumRule:
    """When reports confirm an incident: ``k`` agreeing reporters, reports within
    ``window`` of the first, losses within ``tolerance_bps`` of their median."""

    k: int = 2
    window: timedelta = timedelta(hours=1)
    tolerance_bps: int = 500

    def __post_init__(self) -> None:
        check_int(self.k, "k", lo=1, hi=100)
        check_int(self.tolerance_bps, "tolerance_bps", lo=0, hi=10_000)
        if not isinstance(self.window, timedelta) or self.window <= timedelta(0):
            raise InvalidRecord("window must be a positive timedelta", field="window")


@dataclass(frozen=True, slots=True)
class QuorumPolicy:
    """The rule per incident kind (``by_kind``), else ``default``."""

    default: QuorumRule = QuorumRule()
    by_kind: Mapping[IncidentKind, QuorumRule] = field(default_factory=dict)

    def rule(self, kind: IncidentKind) -> QuorumRule:
        return self.by_kind.get(kind, self.default)


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A verified report as recorded: its hash, the incident it counts for."""

    report_hash: str
    report: IncidentReport
    incident_id: str
    received_at: datetime
    rejected: bool = False


@dataclass(frozen=True, slots=True)
class Incident:
    incident_id: str
    deployment_id: str
    kind: IncidentKind
    occurred_at: datetime  # the earliest report's time
    status: IncidentStatus
    loss: int  # the verified loss once confirmed; the median reported figure before
    reporters: int  # distinct reporters that agree on ``loss``
    reports: int  # reports counted (all reporters)
    detail: str = ""
    confirmed_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """Something operators should see: raised instead of a payout."""

    incident_id: str
    kind: AlertKind
    detail: str
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class Assessment:
    status: IncidentStatus
    loss: int
    agreeing: tuple[str, ...]  # reporter ids
    dissenting: tuple[str, ...]
    alert: AlertKind | None
    detail: str


def incident_id(deployment_id: str, kind: IncidentKind, first_report_hash: str) -> str:
    """Deterministic: the same first report always opens the same incident."""
    digest = hashlib.sha256(f"{deployment_id}|{kind.value}|{first_report_hash}".encode())
    return "inc_" + digest.hexdigest()[:32]


def in_window(first: datetime, at: datetime, rule: QuorumRule) -> bool:
    return abs(at - first) <= rule.window


def lower_median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def within(a: int, b: int, tolerance_bps: int) -> bool:
    """|a - b| at most ``tolerance_bps`` of the larger (integers only)."""
    return abs(a - b) * 10_000 <= tolerance_bps * max(a, b)


def assess(reports: Sequence[IncidentReport], rule: QuorumRule) -> Assessment:
    """Confirm or not: one vote per reporter (its latest report), agreement within
    the tolerance of the median; ``k`` agreeing reporters confirm."""
    if not reports:
        raise InvalidRecord("an incident needs at least one report", field="reports")
    votes: dict[str, IncidentReport] = {}
    for r in reports:
        votes[r.reporter_id] = r
    median = lower_median([r.loss for r in votes.values()])
    agreeing = sorted(rid for rid, r in votes.items() if within(r.loss, median, rule.tolerance_bps))
    dissenting = sorted(set(votes) - set(agreeing))
    loss = lower_median([votes[rid].loss for rid in agreeing])
    if len(agreeing) >= rule.k:
        detail = f"{len(agreeing)} of {len(votes)} reporters agree on a loss of {loss}"
        if dissenting:
            detail += f"; dissenting: {', '.join(dissenting)}"
        return Assessment(
            IncidentStatus.CONFIRMED,
            loss,
            tuple(agreeing),
            tuple(dissenting),
            AlertKind.DISAGREEMENT if dissenting else None,
            detail,
        )
    if dissenting:
        alert = AlertKind.DISAGREEMENT
        figures = ", ".join(f"{rid}={votes[rid].loss}" for rid in sorted(votes))
        detail = f"reporters disagree on the loss ({figures}); {rule.k} must agree"
    elif len(votes) == 1:
        alert = AlertKind.LONE_REPORT
        detail = f"one report by {agreeing[0]}; {rule.k} agreeing reporters confirm"
    else:
        alert = AlertKind.SHORT_OF_QUORUM
        detail = f"{len(agreeing)} reporters agree; {rule.k} confirm"
    return Assessment(
        IncidentStatus.PENDING, loss, tuple(agreeing), tuple(dissenting), alert, detail
    )

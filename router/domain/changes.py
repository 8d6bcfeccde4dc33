"""Off-chain change control: a parameter change takes effect only after N distinct
operators other than its proposer approved it and a delay passed.

A :class:`ChangeProposal` is a kind (what it changes: ``allowlist.add``,
``allowlist.remove``; routes, vaults, limits, partners and reporters are
further kinds of the same shape), a payload (the change's terms, canonical
JSON), the diff its proposer was shown, the approvals and the times.

    PROPOSED --approvals reach N--> APPROVED --now >= not_before, applied--> APPLIED
        |                              |
        +---- expires_at passes -------+--> EXPIRED      (an operator) --> REJECTED

Rules (pure; the app layer persists and audits): the proposer cannot approve
its own change; an operator approving twice counts once; nothing is applied
before ``not_before`` (proposal time + the configured delay) nor without N
approvals; a decided change (applied, rejected, expired) never changes again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from chains.base import ChainFamily
from router.domain.checks import check_id, check_int, check_text, check_utc
from router.errors import Conflict, InvalidRecord, InvalidRequest, PreconditionFailed


class ChangeStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"  # enough approvals; applied once the delay passed
    APPLIED = "applied"
    REJECTED = "rejected"
    EXPIRED = "expired"


DECIDED = frozenset({ChangeStatus.APPLIED, ChangeStatus.REJECTED, ChangeStatus.EXPIRED})


class ChangeKind(StrEnum):
    """What a change changes. Add a kind here and an applier in ``router.app.changes``."""

    ALLOWLIST_ADD = "allowlist.add"
    ALLOWLIST_REMOVE = "allowlist.remove"
    LIMITS_SET = "limits.set"
    ROUTE_SET = "route.set"
    ROUTE_REMOVE = "route.remove"
    VAULT_SET = "vault.set"
    PARTNER_ADD = "partner.add"
    PARTNER_DEACTIVATE = "partner.deactivate"
    REPORTER_ADD = "reporter.add"
    REPORTER_DEACTIVATE = "reporter.deactivate"


@dataclass(frozen=True, slots=True)
class Destination:
    """An address plan steps may pay to: a pool, a chain's hub (bridge recipient), a vault."""

    chain: str
    address: str
    label: str = ""

    def __post_init__(self) -> None:
        check_id(self.chain, "chain")
        check_text(self.address, "address", max_len=128)
        if not isinstance(self.label, str) or len(self.label) > 128:
            raise InvalidRecord("label must be at most 128 characters", field="label")


def normal_address(family: ChainFamily | str | None, address: str) -> str:
    """The form addresses are compared in: EVM case-insensitively (checksum case
    is not identity), others (base58) exactly."""
    return address.lower() if str(family) == ChainFamily.EVM.value else address


def parse_destination(payload: Mapping[str, object]) -> Destination:
    """An allow-list change's payload ``{"chain", "address", "label"}`` as a value."""
    extra = set(payload) - {"chain", "address", "label"}
    if extra:
        raise InvalidRequest(
            "payload", f"unknown field(s) {sorted(extra)} for an allow-list change"
        )
    chain, address, label = payload.get("chain"), payload.get("address"), payload.get("label", "")
    if not isinstance(chain, str) or not isinstance(address, str) or not isinstance(label, str):
        raise InvalidRequest("payload", "an allow-list change needs chain and address (strings)")
    # An operator's input is held to an address's form (the config's own
    # addresses, seeded at first start, are as the config gives them).
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44}", address):
        raise InvalidRequest(
            "payload", "address must be a 0x-prefixed EVM address or a base58 account"
        )
    return Destination(chain, address, label)


def canonical(payload: Mapping[str, object]) -> str:
    """The payload as stored and shown: JSON, sorted keys, no spaces."""
    return json.dumps(dict(payload), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ChangeProposal:
    change_id: str
    kind: ChangeKind
    payload: str  # canonical JSON
    diff: str
    proposed_by: str
    reason: str
    required: int  # distinct approvals needed, the proposer not counted
    status: ChangeStatus
    proposed_at: datetime
    not_before: datetime
    expires_at: datetime
    approvals: tuple[str, ...] = ()
    decided_at: datetime | None = None
    decided_by: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        check_id(self.change_id, "change_id")
        object.__setattr__(self, "kind", ChangeKind(self.kind))
        object.__setattr__(self, "status", ChangeStatus(self.status))
        check_id(self.proposed_by, "proposed_by")
        check_int(self.required, "required", lo=1, hi=16)
        if not isinstance(self.reason, str) or not 1 <= len(self.reason) <= 512:
            raise InvalidRecord("reason must be 1-512 characters", field="reason")
        for name in ("proposed_at", "not_before", "expires_at"):
            check_utc(getattr(self, name), name)
        if not self.proposed_at <= self.not_before < self.expires_at:
            raise InvalidRecord(
                "a change's times must be proposed_at <= not_before < expires_at",
                field="not_before",
            )

    @property
    def terms(self) -> dict[str, object]:
        value = json.loads(self.payload)
        assert isinstance(value, dict)
        return value

    def state_at(self, now: datetime) -> ChangeStatus:
        """The status, with an undecided change past its expiry read as EXPIRED."""
        if self.status not in DECIDED and now >= self.expires_at:
            return ChangeStatus.EXPIRED
        return self.status

    def approved_by(self, operator: str, now: datetime) -> ChangeProposal:
        """The change with ``operator``'s approval. The proposer cannot approve; an
        operator who approved already counts once (the same change comes back)."""
        check_id(operator, "operator")
        state = self.state_at(now)
        if state in DECIDED:
            raise PreconditionFailed(
                f"change {self.change_id} is {state.value}: it takes no more approvals"
            )
        if operator == self.proposed_by:
            raise Conflict(
                f"operator {operator!r} proposed change {self.change_id} and cannot approve it"
            )
        if operator in self.approvals:
            return self
        approvals = (*self.approvals, operator)
        status = ChangeStatus.APPROVED if len(approvals) >= self.required else self.status
        return replace(self, approvals=approvals, status=status)

    def why_not_applicable(self, now: datetime) -> str | None:
        """None when the change may be applied at ``now``; else why not, precisely."""
        state = self.state_at(now)
        if state in DECIDED:
            return f"change {self.change_id} is {state.value}"
        if len(self.approvals) < self.required:
            return (
                f"change {self.change_id} has {len(self.approvals)} of {self.required} "
                "approval(s) it needs (the proposer's own does not count)"
            )
        if now < self.not_before:
            return (
                f"change {self.change_id} may not be applied before "
                f"{self.not_before.isoformat(timespec='seconds')} (its delay)"
            )
        return None

    def decided(self, status: ChangeStatus, by: str, now: datetime) -> ChangeProposal:
        if self.status in DECIDED:
            raise PreconditionFailed(f"change {self.change_id} is {self.status.value} already")
        return replace(self, status=status, decided_at=now, decided_by=by)


def kept_by_change(applied: Iterable[ChangeProposal]) -> tuple[frozenset[str], frozenset[str]]:
    """The partners and reporters whose latest applied change added them.

    A config sync deactivates whoever the config does not list; these stay as
    the approved change left them (a later ``*.deactivate`` change, or an
    operator's emergency deactivation, still switches them off)."""
    latest: dict[tuple[str, str], ChangeKind] = {}
    ordered = sorted(
        (c for c in applied if c.status is ChangeStatus.APPLIED),
        key=lambda c: (c.decided_at or c.proposed_at, c.change_id),
    )
    for c in ordered:
        for who, add, drop in (
            ("partner_id", ChangeKind.PARTNER_ADD, ChangeKind.PARTNER_DEACTIVATE),
            ("reporter_id", ChangeKind.REPORTER_ADD, ChangeKind.REPORTER_DEACTIVATE),
        ):
            if c.kind in (add, drop):
                ident = json.loads(c.payload).get(who)
                if isinstance(ident, str):
                    latest[(who, ident)] = c.kind
    partners = frozenset(i for (w, i), k in latest.items() if k is ChangeKind.PARTNER_ADD)
    reporters = frozenset(i for (w, i), k in latest.items() if k is ChangeKind.REPORTER_ADD)
    return partners, reporters

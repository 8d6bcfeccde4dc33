"""Claims: terms a claim is judged by, the payout rule, the claim state machine,
and reinsurance recoveries of a paid loss. No I/O.

Payout (:func:`payout`) = min(loss - deductible, limit, per-event maximum,
remaining aggregate), never below zero, where ``loss`` is what is left of the
verified loss after the holder's other covers paid for the same incident: a
loss is never paid twice across layered covers.

A claim states a loss; the incident's verified loss bounds it. The part of
the claimed loss above the verified loss is *disputed*: the undisputed payout
is made, and the claim waits in DISPUTED until an operator resolves the rest.

Recoveries (:func:`recoveries`) follow the order of ``reinsurance.treaties``:
quota shares on the paid loss first (``share_ppm`` of it, floor), then
excess-of-loss layers on what is retained (``min(max(retained - attachment,
0), limit)``), each capped at what its cession still covers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from router.domain.checks import check_amount, check_id, check_int, check_utc
from router.domain.incidents import Incident, IncidentKind, IncidentStatus
from router.errors import ClaimRefused, InvalidRecord


class ClaimStatus(StrEnum):
    FILED = "filed"  # recorded, not yet checked against the cover and incident
    VALIDATED = "validated"  # the cover's terms and the incident support it
    APPROVED = "approved"  # a payout is decided and waits for the executor
    PAYING = "paying"  # the payout's workflow runs
    PAID = "paid"  # everything decided is paid; nothing disputed remains
    DISPUTED = "disputed"  # the undisputed part is paid (or nil); the rest waits for an operator
    REJECTED = "rejected"  # refused (terms, incident rejected, operator): nothing paid


#: Which claim status may follow which; anything else is InvalidTransition.
CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.FILED: frozenset({ClaimStatus.VALIDATED, ClaimStatus.REJECTED}),
    ClaimStatus.VALIDATED: frozenset(
        {ClaimStatus.APPROVED, ClaimStatus.DISPUTED, ClaimStatus.REJECTED}
    ),
    ClaimStatus.APPROVED: frozenset({ClaimStatus.PAYING}),
    ClaimStatus.PAYING: frozenset({ClaimStatus.PAID, ClaimStatus.DISPUTED, ClaimStatus.APPROVED}),
    ClaimStatus.DISPUTED: frozenset({ClaimStatus.APPROVED, ClaimStatus.PAID, ClaimStatus.REJECTED}),
    ClaimStatus.PAID: frozenset(),
    ClaimStatus.REJECTED: frozenset(),
}
FINAL_CLAIMS = frozenset({ClaimStatus.PAID, ClaimStatus.REJECTED})


class RefusalReason(StrEnum):
    EXPIRED = "expired"  # the incident is after the cover's period
    NOT_STARTED = "not_started"  # the incident is before the cover's period
    ALREADY_PAID = "already_paid"  # the cover's aggregate is used up, or this incident paid
    NOT_MATCHING = "not_matching"  # another deployment or a kind the cover does not trigger on
    NOT_CONFIRMED = "not_confirmed"  # the incident is pending or rejected
    NOTHING_DUE = "nothing_due"  # the loss is within the deductible, or paid by other layers
    NOT_OPEN = "not_open"  # bound with a holder but not (yet) opened on chain: nothing to pay from


@dataclass(frozen=True, slots=True)
class ClaimTerms:
    """What a claim on one cover is judged by.

    ``deployments`` None: the cover names no deployment (a cover bound before
    deployments were recorded) and matches any; otherwise the incident's
    deployment must be among them. ``paid`` is what the cover has paid so far.
    """

    cover_id: str
    partner_id: str
    pool_id: str
    chain_cover_id: str  # the cover's id on chain (ClaimPayment.cover_id)
    starts_at: datetime
    ends_at: datetime
    limit: int
    per_event_max: int
    deductible: int
    triggers: frozenset[IncidentKind]
    deployments: frozenset[str] | None
    paid: int = 0

    def __post_init__(self) -> None:
        check_id(self.cover_id, "cover_id")
        check_id(self.partner_id, "partner_id")
        for name in ("limit", "per_event_max", "deductible", "paid"):
            check_amount(getattr(self, name), name)
        object.__setattr__(self, "starts_at", check_utc(self.starts_at, "starts_at"))
        object.__setattr__(self, "ends_at", check_utc(self.ends_at, "ends_at"))

    @property
    def remaining(self) -> int:
        """What the cover can still pay in all (its aggregate limit less payouts)."""
        return max(0, self.limit - self.paid)


def check_claim(terms: ClaimTerms, incident: Incident) -> None:
    """Refuse (``ClaimRefused`` with the precise reason) a claim the cover or incident
    does not support; silent when it may go on."""
    if incident.status is not IncidentStatus.CONFIRMED:
        raise ClaimRefused(
            RefusalReason.NOT_CONFIRMED,
            f"incident {incident.incident_id} is {incident.status.value}, not confirmed: "
            "claims are paid on confirmed incidents only",
        )
    if incident.occurred_at >= terms.ends_at:
        raise ClaimRefused(
            RefusalReason.EXPIRED,
            f"cover {terms.cover_id} expired at {terms.ends_at.isoformat()}; the incident "
            f"occurred at {incident.occurred_at.isoformat()}",
        )
    if incident.occurred_at < terms.starts_at:
        raise ClaimRefused(
            RefusalReason.NOT_STARTED,
            f"cover {terms.cover_id} starts at {terms.starts_at.isoformat()}; the incident "
            f"occurred before, at {incident.occurred_at.isoformat()}",
        )
    if terms.deployments is not None and incident.deployment_id not in terms.deployments:
        raise ClaimRefused(
            RefusalReason.NOT_MATCHING,
            f"cover {terms.cover_id} does not cover deployment {incident.deployment_id} "
            f"(covers {', '.join(sorted(terms.deployments)) or 'none'})",
        )
    if incident.kind not in terms.triggers:
        raise ClaimRefused(
            RefusalReason.NOT_MATCHING,
            f"cover {terms.cover_id} is not triggered by {incident.kind.value} "
            f"(triggers: {', '.join(sorted(k.value for k in terms.triggers))})",
        )
    if terms.remaining == 0:
        raise ClaimRefused(
            RefusalReason.ALREADY_PAID,
            f"cover {terms.cover_id} has already paid its limit {terms.limit}",
        )


def payout(loss: int, terms: ClaimTerms, *, paid_elsewhere: int = 0) -> int:
    """min(loss left - deductible, limit, per-event maximum, remaining aggregate), >= 0.

    ``paid_elsewhere``: what the holder's other covers paid for the same
    incident, taken off the loss first (layered covers never pay a loss twice).
    """
    check_amount(loss, "loss")
    check_amount(paid_elsewhere, "paid_elsewhere")
    left = max(0, loss - paid_elsewhere)
    return max(0, min(left - terms.deductible, terms.limit, terms.per_event_max, terms.remaining))


@dataclass(frozen=True, slots=True)
class Decision:
    """What a validated claim gets: paid now, disputed (waits for an operator)."""

    pay_now: int
    disputed: int  # claimed loss above the verified loss


def decide(claimed: int, verified: int, terms: ClaimTerms, *, paid_elsewhere: int = 0) -> Decision:
    """The undisputed payout on ``min(claimed, verified)``; the excess claimed is disputed."""
    check_amount(claimed, "claimed loss")
    check_amount(verified, "verified loss")
    undisputed = min(claimed, verified)
    return Decision(
        pay_now=payout(undisputed, terms, paid_elsewhere=paid_elsewhere),
        disputed=max(0, claimed - verified),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    cover_id: str
    partner_id: str
    incident_id: str
    pool_id: str
    claimed_loss: int
    status: ClaimStatus
    approved: int = 0  # decided payout (all payments of the claim)
    paid: int = 0  # paid and final on chain
    disputed: int = 0  # claimed loss waiting for an operator
    reason: str = ""
    filed_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1


class PaymentStatus(StrEnum):
    PENDING = "pending"  # decided; its workflow (id = payment id) pays it
    PAID = "paid"  # final on chain
    FAILED = "failed"  # the chain refused it: nothing moved


@dataclass(frozen=True, slots=True)
class Payment:
    """One payout of a claim, exactly once: ``payment_id`` is chain-enforced."""

    payment_id: str
    claim_id: str
    cover_id: str
    pool_id: str
    amount: int
    status: PaymentStatus = PaymentStatus.PENDING
    tx_ref: str | None = None
    block_number: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        check_amount(self.amount, "amount")
        if self.amount == 0:
            raise InvalidRecord("a payment moves a positive amount", field="amount")


def claim_id(cover_id: str, incident_id: str) -> str:
    """One claim per (cover, incident), whoever opens it first."""
    return "clm_" + hashlib.sha256(f"{cover_id}|{incident_id}".encode()).hexdigest()[:32]


def payment_id(claim_id: str, seq: int) -> str:
    """The chain-enforced id of a claim's ``seq``-th payment (0x + 64 hex)."""
    check_int(seq, "seq", lo=0, hi=1_000)
    return "0x" + hashlib.sha256(f"ballast/claim-payment/v1/{claim_id}/{seq}".encode()).hexdigest()


def recovery_id(payment_id: str, cession_id: str) -> str:
    """The vault-enforced id of the recovery of one payment under one cession."""
    return (
        "0x" + hashlib.sha256(f"ballast/recovery/v1/{payment_id}/{cession_id}".encode()).hexdigest()
    )


# --------------------------------------------------------------- recoveries


@dataclass(frozen=True, slots=True)
class QuotaShareCession:
    cession_id: str
    vault_id: str
    share_ppm: int
    remaining: int  # cover the cession still holds for recoveries


@dataclass(frozen=True, slots=True)
class ExcessLayer:
    cession_id: str
    vault_id: str
    attachment: int
    limit: int
    remaining: int


Ceded = QuotaShareCession | ExcessLayer


@dataclass(frozen=True, slots=True)
class Recoverable:
    recovery_id: str
    payment_id: str
    cession_id: str
    vault_id: str
    pool_id: str
    amount: int
    status: str = "due"  # due -> claiming -> collected | failed
    tx_ref: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def recoveries(paid: int, ceded: Iterable[Ceded]) -> list[tuple[Ceded, int]]:
    """What each cession owes on ``paid`` (zero amounts left out), in integers."""
    check_amount(paid, "paid")
    items = list(ceded)
    out: list[tuple[Ceded, int]] = []
    qs_total = 0
    for c in items:
        if isinstance(c, QuotaShareCession):
            check_int(c.share_ppm, "share_ppm", lo=0, hi=1_000_000)
            amount = min(paid * c.share_ppm // 1_000_000, c.remaining)
            qs_total += amount
            if amount > 0:
                out.append((c, amount))
    retained = paid - qs_total
    for c in items:
        if isinstance(c, ExcessLayer):
            amount = min(max(retained - c.attachment, 0), c.limit, c.remaining)
            if amount > 0:
                out.append((c, amount))
    return out

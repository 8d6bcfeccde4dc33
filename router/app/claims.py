"""Claims: filed by a partner or opened for every cover a confirmed incident touches;
validated, decided, paid through the executor once, recovered from reinsurers.

A claim is opened under the incident lock in one unit of work with its
payment record and audit entry, so the holder's covers on one incident are
decided one after another and a loss is never paid twice across them
(``paid_elsewhere``). The payment's workflow (id = payment id, the id the pool
enforces on chain) is started after the commit; start-up starts every
PENDING payment again (Temporal refuses a second run). When the payment is
final the claim is marked, the cover's paid amount grows (its capital is no
longer locked: positions count a cover's limit less what it paid), and the
recoverables due from each placed cession of the pool are recorded and
claimed through the executor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from router import domain as m
from router.app.openings import OpeningStore, check_open_on_chain
from router.app.ports import AuditLog, Registry, Transactional
from router.domain.claims import (
    Claim,
    ClaimStatus,
    ClaimTerms,
    Decision,
    ExcessLayer,
    Payment,
    PaymentStatus,
    QuotaShareCession,
    Recoverable,
    RefusalReason,
    check_claim,
    claim_id,
    decide,
    payment_id,
    payout,
    recoveries,
    recovery_id,
)
from router.domain.covers import COVER_DEFINITIONS, CoverType, IncidentKind
from router.domain.incidents import Incident, IncidentStatus
from router.domain.openings import chain_cover_id
from router.errors import (
    ClaimRefused,
    InvalidRequest,
    InvalidTransition,
    NotFound,
    NotHolder,
    PermissionDenied,
)


def claim_terms(cover: m.Cover, *, paid: int) -> ClaimTerms:
    """THE one place a cover becomes the terms its claims are judged by: its limit,
    per-event maximum (0: the limit), deductible, trigger kinds (none recorded:
    its type's), the deployment it covers (a cover naming none matches any), and
    its on-chain id (:func:`chain_cover_id`)."""
    triggers = frozenset(IncidentKind(k) for k in cover.trigger_kinds) or (
        COVER_DEFINITIONS[CoverType(cover.cover_type)].triggers
    )
    return ClaimTerms(
        cover_id=cover.cover_id,
        partner_id=cover.partner_id,
        pool_id=cover.pool_id,
        chain_cover_id=chain_cover_id(cover.cover_id),
        starts_at=cover.starts_at,
        ends_at=cover.ends_at,
        limit=cover.limit_amount,
        per_event_max=cover.per_event_max or cover.limit_amount,
        deductible=cover.deductible,
        triggers=triggers,
        deployments=frozenset({cover.deployment_id}) if cover.deployment_id else None,
        paid=paid,
    )


class ClaimStore(Registry, AuditLog, Transactional, OpeningStore, Protocol):
    async def lock_incidents(self) -> None: ...
    async def get_incident(self, incident_id: str) -> Incident: ...
    async def list_incidents(
        self, status: IncidentStatus | None = None, *, limit: int = 100
    ) -> list[Incident]: ...
    async def cover_by_id(self, cover_id: str) -> m.Cover: ...
    async def covers_active_at(self, at: datetime) -> list[m.Cover]: ...
    async def insert_opened(self, claims: list[Claim], payments: list[Payment]) -> None: ...
    async def get_claim(self, claim_id: str, *, partner_id: str | None = None) -> Claim: ...
    async def list_claims(
        self,
        *,
        partner_id: str | None = None,
        incident_id: str | None = None,
        cover_id: str | None = None,
        status: ClaimStatus | None = None,
        limit: int = 1000,
    ) -> list[Claim]: ...
    async def update_claim(
        self,
        claim_id: str,
        status: ClaimStatus,
        *,
        approved: int | None = None,
        paid: int | None = None,
        disputed: int | None = None,
        reason: str | None = None,
    ) -> Claim: ...
    async def record_payment(self, payment: Payment) -> Payment: ...
    async def get_payment(self, payment_id: str) -> Payment: ...
    async def set_payment(
        self,
        payment_id: str,
        status: PaymentStatus,
        *,
        tx_ref: str | None = None,
        block_number: int | None = None,
    ) -> Payment: ...
    async def list_payments(
        self,
        *,
        claim_id: str | None = None,
        cover_ids: list[str] | None = None,
        status: PaymentStatus | None = None,
        limit: int = 1000,
    ) -> list[Payment]: ...
    async def paid_by_cover(self, cover_ids: list[str] | None = None) -> dict[str, int]: ...
    async def list_cessions(self, pool_id: str | None = None) -> list[m.Cession]: ...
    async def recovered_by_cession(self) -> dict[str, int]: ...
    async def record_recoverable(self, rec: Recoverable) -> Recoverable: ...
    async def get_recoverable(self, recovery_id: str) -> Recoverable: ...
    async def set_recoverable(
        self, recovery_id: str, status: str, *, tx_ref: str | None = None
    ) -> Recoverable: ...
    async def list_recoverables(
        self, *, status: str | None = None, payment_id: str | None = None, limit: int = 1000
    ) -> list[Recoverable]: ...


class Payouts(Protocol):
    """Carries payouts and recoveries out on chain (``router.execution.claims``)."""

    async def start_payment(self, payment_id: str) -> bool:
        """Start the payment's workflow (id = payment id); False if it runs or ran."""
        ...

    async def start_recovery(self, recovery_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Opened:
    claim: Claim
    created: bool
    payment: Payment | None


class Claims:
    def __init__(self, store: ClaimStore, payouts: Payouts | None = None) -> None:
        self._store = store
        self.payouts = payouts

    # -- opening ---------------------------------------------------------------

    async def partner(self, caller: m.Identity) -> str:
        try:
            partner = await self._store.get_partner(caller.name)
        except NotFound:
            raise PermissionDenied(f"{caller.uri} is not a registered partner") from None
        if not partner.active:
            raise PermissionDenied(f"partner {partner.partner_id} is deactivated")
        return partner.partner_id

    async def held_cover(self, caller: m.Identity, cover_id: str) -> m.Cover:
        """The caller's own cover; any other id is NotHolder (NOT_FOUND: ids do not leak)."""
        partner = await self.partner(caller)
        try:
            cover = await self._store.cover_by_id(cover_id)
        except NotFound:
            raise NotHolder(cover_id) from None
        if cover.partner_id != partner:
            raise NotHolder(cover_id)
        return cover

    async def file(
        self, caller: m.Identity, cover_id: str, incident_id: str, claimed_loss: int
    ) -> Opened:
        """A partner claims on its own cover for an incident; refused precisely otherwise."""
        if claimed_loss <= 0:
            raise InvalidRequest("claimed_loss.value", "must be positive")
        cover = await self.held_cover(caller, cover_id)
        try:
            incident = await self._store.get_incident(incident_id)
        except NotFound:
            raise NotFound("incident", incident_id) from None
        opened = await self._open(cover, incident, claimed_loss, caller.uri)
        await self._start(opened)
        return opened

    async def open_for_incident(self, incident: Incident) -> list[Opened]:
        """Every cover the confirmed incident touches gets its claim (once), claiming
        the verified loss (a position or LP cover: at most its insured value);
        covers whose terms do not match it, or owe nothing, are not touched. All
        claims open in one unit of work; their payouts start after it commits."""
        touched = []
        for cover in await self._store.covers_active_at(incident.occurred_at):
            terms = claim_terms(cover, paid=0)
            if terms.deployments is not None and incident.deployment_id not in terms.deployments:
                continue
            if incident.kind in terms.triggers:
                # A cover of one position (or LP stake) claims at most its insured value.
                touched.append((cover, min(incident.loss, cover.insured_value or incident.loss)))
        out = await self._open_many(touched, incident, "ballast://incidents", strict=False)
        await self._start_all(out)
        return out

    async def _open(self, cover: m.Cover, incident: Incident, claimed: int, actor: str) -> Opened:
        (opened,) = await self._open_many([(cover, claimed)], incident, actor, strict=True)
        return opened

    async def _open_many(
        self,
        covers: list[tuple[m.Cover, int]],
        incident: Incident,
        actor: str,
        *,
        strict: bool,
    ) -> list[Opened]:
        """Open (cover, claimed loss) claims on ``incident`` under the incident lock, in
        one unit of work, in order: each sees what the holder's earlier covers took.
        ``strict``: a refusal raises (nothing stored); else that cover is skipped."""
        out: list[Opened] = []
        async with self._store.unit_of_work():
            await self._store.lock_incidents()
            existing = {
                c.cover_id: c
                for c in await self._store.list_claims(incident_id=incident.incident_id)
            }
            taken: dict[str, int] = {}  # partner -> approved on this incident so far
            for c in existing.values():
                taken[c.partner_id] = taken.get(c.partner_id, 0) + c.approved
            paid = await self._store.paid_by_cover([c.cover_id for c, _ in covers])
            for cover, claimed in covers:
                try:
                    opened = await self._open_one(
                        cover,
                        incident,
                        claimed,
                        actor,
                        existing.get(cover.cover_id),
                        paid.get(cover.cover_id, 0),
                        taken.get(cover.partner_id, 0),
                    )
                except ClaimRefused:
                    if strict:
                        raise
                    continue
                if opened.created:
                    taken[cover.partner_id] = taken.get(cover.partner_id, 0) + opened.claim.approved
                out.append(opened)
            new = [o for o in out if o.created]
            await self._store.insert_opened(
                [o.claim for o in new], [o.payment for o in new if o.payment is not None]
            )
            for o in new if strict else []:
                await self._store.append_audit(
                    actor,
                    "claim_opened",
                    o.claim.claim_id,
                    {
                        "cover": o.claim.cover_id,
                        "incident": incident.incident_id,
                        "claimed": o.claim.claimed_loss,
                        "pay_now": o.claim.approved,
                        "disputed": o.claim.disputed,
                    },
                )
            if new and not strict:
                await self._store.append_audit(
                    actor,
                    "claims_opened",
                    incident.incident_id,
                    {"claims": len(new), "pay_now": sum(o.claim.approved for o in new)},
                )
        return out

    async def _open_one(
        self,
        cover: m.Cover,
        incident: Incident,
        claimed: int,
        actor: str,
        existing: Claim | None,
        paid: int,
        taken: int,
    ) -> Opened:
        if existing is not None:
            if existing.status is ClaimStatus.PAID:
                raise ClaimRefused(
                    RefusalReason.ALREADY_PAID,
                    f"claim {existing.claim_id} on cover {cover.cover_id} for incident "
                    f"{incident.incident_id} is already paid ({existing.paid})",
                )
            return Opened(existing, False, None)
        await check_open_on_chain(self._store, cover.cover_id)
        terms = claim_terms(cover, paid=paid)
        check_claim(terms, incident)
        decision = decide(claimed, incident.loss, terms, paid_elsewhere=taken)
        if decision.pay_now == 0 and decision.disputed == 0:
            raise ClaimRefused(
                RefusalReason.NOTHING_DUE,
                f"nothing is due on cover {cover.cover_id}: the loss {incident.loss} "
                f"less {taken} paid by the holder's other covers is within the "
                f"deductible {terms.deductible}",
            )
        # Filed, validated and decided in this one transaction: stored at the state
        # the decision leads to (PAYING with its payment, or DISPUTED).
        cid = claim_id(cover.cover_id, incident.incident_id)
        paying = decision.pay_now > 0
        claim = Claim(
            claim_id=cid,
            cover_id=cover.cover_id,
            partner_id=cover.partner_id,
            incident_id=incident.incident_id,
            pool_id=cover.pool_id,
            claimed_loss=claimed,
            status=ClaimStatus.PAYING if paying else ClaimStatus.DISPUTED,
            approved=decision.pay_now,
            disputed=decision.disputed,
            reason="" if paying else "nothing undisputed to pay; the rest waits",
            filed_by=actor,
        )
        payment = (
            Payment(payment_id(cid, 0), cid, cover.cover_id, cover.pool_id, decision.pay_now)
            if paying
            else None
        )
        return Opened(claim, True, payment)

    async def _approve(
        self, claim: Claim, decision: Decision, *, seq: int
    ) -> tuple[Claim, Payment | None]:
        """VALIDATED/DISPUTED -> APPROVED -> PAYING with a payment, or DISPUTED if
        nothing is payable now (inside the caller's unit of work)."""
        if decision.pay_now == 0:
            claim = await self._store.update_claim(
                claim.claim_id,
                ClaimStatus.DISPUTED,
                disputed=decision.disputed,
                reason="nothing undisputed to pay; the disputed loss waits for an operator",
            )
            return claim, None
        await self._store.update_claim(
            claim.claim_id,
            ClaimStatus.APPROVED,
            approved=claim.approved + decision.pay_now,
            disputed=decision.disputed,
        )
        payment = await self._store.record_payment(
            Payment(
                payment_id=payment_id(claim.claim_id, seq),
                claim_id=claim.claim_id,
                cover_id=claim.cover_id,
                pool_id=claim.pool_id,
                amount=decision.pay_now,
            )
        )
        claim = await self._store.update_claim(claim.claim_id, ClaimStatus.PAYING)
        return claim, payment

    async def _paid_elsewhere(self, cover: m.Cover, incident: Incident) -> int:
        """What the holder's other covers pay (or paid) for the same incident."""
        others = await self._store.list_claims(
            partner_id=cover.partner_id, incident_id=incident.incident_id
        )
        return sum(c.approved for c in others if c.cover_id != cover.cover_id)

    async def _start(self, opened: Opened) -> None:
        await self._start_all([opened])

    async def _start_all(self, opened: list[Opened]) -> None:
        """Start the payouts' sagas, up to 200 at once (each is recorded PENDING
        already: one not started here is started by the next reconciliation)."""
        if self.payouts is None:
            return
        ids = [o.payment.payment_id for o in opened if o.payment is not None]
        gate = asyncio.Semaphore(200)
        payouts = self.payouts

        async def start(pid: str) -> None:
            async with gate:
                await payouts.start_payment(pid)

        await asyncio.gather(*(start(p) for p in ids))

    # -- operators -------------------------------------------------------------

    async def resolve(
        self, operator: m.Identity, claim_id_: str, accepted_loss: int, reason: str
    ) -> Claim:
        """Settle a DISPUTED claim: accept ``accepted_loss`` of the disputed loss (paid
        under the same formula and caps), the rest is refused."""
        m.check_text(reason, "reason", max_len=256)
        if accepted_loss < 0:
            raise InvalidRequest("accepted_loss.value", "must not be negative")
        payment: Payment | None = None
        async with self._store.unit_of_work():
            await self._store.lock_incidents()
            claim = await self._store.get_claim(claim_id_)
            if claim.status is not ClaimStatus.DISPUTED:
                raise InvalidTransition(
                    f"claim {claim_id_} is {claim.status.value}: only a disputed claim is resolved"
                )
            if accepted_loss > claim.disputed:
                raise InvalidRequest(
                    "accepted_loss.value",
                    f"is above the disputed loss {claim.disputed} of claim {claim_id_}",
                )
            cover = await self._store.cover_by_id(claim.cover_id)
            incident = await self._store.get_incident(claim.incident_id)
            cover_paid = (await self._store.paid_by_cover([cover.cover_id])).get(cover.cover_id, 0)
            # The formula over the whole accepted loss, as if decided at once,
            # less what this claim was already given.
            terms = claim_terms(cover, paid=max(0, cover_paid - claim.approved))
            loss = min(claim.claimed_loss, incident.loss) + accepted_loss
            whole = payout(loss, terms, paid_elsewhere=await self._paid_elsewhere(cover, incident))
            more = max(0, whole - claim.approved)
            if more > 0:
                seq = len(await self._store.list_payments(claim_id=claim_id_))
                claim, payment = await self._approve(claim, Decision(more, 0), seq=seq)
            else:
                final = ClaimStatus.PAID if claim.paid > 0 else ClaimStatus.REJECTED
                claim = await self._store.update_claim(
                    claim_id_, final, disputed=0, reason=f"resolved: {reason}"
                )
            await self._store.append_audit(
                operator.uri,
                "claim_resolved",
                claim_id_,
                {"accepted_loss": accepted_loss, "pay_more": more, "reason": reason},
            )
        if payment is not None and self.payouts is not None:
            await self.payouts.start_payment(payment.payment_id)
        return claim

    # -- the executor's reports ------------------------------------------------

    async def payment_landed(
        self, payment_id_: str, tx_ref: str, block: int | None
    ) -> list[Recoverable]:
        """The payment is final on chain: mark it, the claim, and what reinsurers owe."""
        async with self._store.unit_of_work():
            payment = await self._store.get_payment(payment_id_)
            if payment.status is PaymentStatus.PAID:
                return await self._store.list_recoverables(payment_id=payment_id_)
            await self._store.set_payment(
                payment_id_, PaymentStatus.PAID, tx_ref=tx_ref, block_number=block
            )
            claim = await self._store.get_claim(payment.claim_id)
            status = ClaimStatus.DISPUTED if claim.disputed > 0 else ClaimStatus.PAID
            await self._store.update_claim(
                claim.claim_id,
                status,
                paid=claim.paid + payment.amount,
                reason="undisputed part paid; the rest waits for an operator"
                if status is ClaimStatus.DISPUTED
                else "paid",
            )
            recs = await self._recoverables(payment)
            await self._store.append_audit(
                "ballast://executor",
                "claim_paid",
                claim.claim_id,
                {"payment": payment_id_, "amount": payment.amount, "tx": tx_ref},
            )
        return recs

    async def _recoverables(self, payment: Payment) -> list[Recoverable]:
        used = await self._store.recovered_by_cession()
        ceded: list[QuotaShareCession | ExcessLayer] = []
        for c in await self._store.list_cessions(payment.pool_id):
            if c.status is not m.CessionStatus.PLACED:
                continue
            remaining = max(0, c.amount - used.get(c.cession_id, 0))
            if c.share_ppm:
                ceded.append(QuotaShareCession(c.cession_id, c.vault_id, c.share_ppm, remaining))
            else:  # a cession of a fixed amount: a layer from the first unit
                ceded.append(ExcessLayer(c.cession_id, c.vault_id, 0, c.amount, remaining))
        out = []
        for owed, amount in recoveries(payment.amount, ceded):
            out.append(
                await self._store.record_recoverable(
                    Recoverable(
                        recovery_id=recovery_id(payment.payment_id, owed.cession_id),
                        payment_id=payment.payment_id,
                        cession_id=owed.cession_id,
                        vault_id=owed.vault_id,
                        pool_id=payment.pool_id,
                        amount=amount,
                    )
                )
            )
        return out

    async def payment_failed(self, payment_id_: str, detail: str) -> None:
        """The chain refused the payment (nothing moved): the claim waits for an operator."""
        async with self._store.unit_of_work():
            payment = await self._store.get_payment(payment_id_)
            if payment.status is not PaymentStatus.PENDING:
                return
            await self._store.set_payment(payment_id_, PaymentStatus.FAILED)
            claim = await self._store.get_claim(payment.claim_id)
            await self._store.update_claim(
                claim.claim_id,
                ClaimStatus.DISPUTED,
                approved=claim.approved - payment.amount,
                disputed=claim.disputed + payment.amount,
                reason=f"payment failed on chain: {detail}"[:512],
            )
            await self._store.append_audit(
                "ballast://executor",
                "claim_payment_failed",
                claim.claim_id,
                {"payment": payment_id_, "detail": detail[:200]},
            )

    async def recovery_done(self, recovery_id_: str, collected: bool, tx_ref: str | None) -> None:
        async with self._store.unit_of_work():
            await self._store.set_recoverable(
                recovery_id_, "collected" if collected else "failed", tx_ref=tx_ref
            )
            await self._store.append_audit(
                "ballast://executor",
                "recovery_collected" if collected else "recovery_failed",
                recovery_id_,
                {"tx": tx_ref},
            )

    async def reconcile(self) -> int:
        """At start-up: open the claims of confirmed incidents a crash left unopened,
        start every pending payment's and due recovery's saga (refused if it ran)."""
        if self.payouts is None:
            return 0
        started = 0
        for incident in await self._store.list_incidents(IncidentStatus.CONFIRMED, limit=1000):
            await self.open_for_incident(incident)  # claims a crash left unopened
        for p in await self._store.list_payments(status=PaymentStatus.PENDING):
            started += await self.payouts.start_payment(p.payment_id)
        for r in await self._store.list_recoverables(status="due"):
            started += await self.payouts.start_recovery(r.recovery_id)
        return started

    # -- reading ---------------------------------------------------------------

    async def mine(self, caller: m.Identity, *, limit: int = 1000) -> list[Claim]:
        partner = await self.partner(caller)
        return await self._store.list_claims(partner_id=partner, limit=limit)

    async def get_mine(self, caller: m.Identity, claim_id_: str) -> tuple[Claim, list[Payment]]:
        partner = await self.partner(caller)
        claim = await self._store.get_claim(claim_id_, partner_id=partner)
        return claim, await self._store.list_payments(claim_id=claim_id_)

"""Incidents and claims over a real store (SQLite and PostgreSQL): every refusal
stores nothing, k of n confirm, confirmed incidents open claims, payments and
recoverables are recorded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from router import domain as m
from router.app.claims import Claims, claim_terms
from router.app.incidents import Incidents
from router.domain.claims import ClaimStatus, PaymentStatus, RefusalReason
from router.domain.incidents import (
    IncidentKind,
    IncidentReport,
    IncidentStatus,
    OracleReporter,
    QuorumPolicy,
    QuorumRule,
    verify_signature,
)
from router.errors import (
    BadSignature,
    ClaimRefused,
    InvalidTransition,
    NotHolder,
    ReplayedReport,
    ReporterRefused,
)
from router.store import Store
from router.store.tables import metadata
from tests.app.conftest import ACME, ALICE, UNIT

NOW = datetime.now(UTC).replace(microsecond=0)
TX = "0x" + "ab" * 32
ORACLES = ("oracle-a", "oracle-b", "oracle-c")
TABLES = ("incident_reports", "incidents", "incident_alerts", "claims", "claim_payments")


class Started:
    """The executor port, recording what it was asked to start."""

    def __init__(self) -> None:
        self.payments: list[str] = []
        self.recoveries: list[str] = []

    async def start_payment(self, payment_id: str) -> bool:
        self.payments.append(payment_id)
        return True

    async def start_recovery(self, recovery_id: str) -> bool:
        self.recoveries.append(recovery_id)
        return True


@pytest.fixture
async def world(book: Store) -> dict[str, Ed25519PrivateKey]:
    keys = {}
    for name in ORACLES:
        key = Ed25519PrivateKey.generate()
        pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        await book.upsert_oracle(OracleReporter(name, pub))
        keys[name] = key
    await book.register_partner(m.Partner("other", "Other Re"))
    return keys


def ident(name: str) -> m.Identity:
    return m.Identity(m.Role.REPORTER, name)


def signed(
    keys: dict[str, Ed25519PrivateKey], reporter: str, loss: int = 150_000 * UNIT, **kw: object
) -> tuple[bytes, bytes]:
    fields: dict[str, object] = {
        "reporter_id": reporter,
        "nonce": f"{reporter}-1",
        "deployment_id": "amm-eth",
        "kind": IncidentKind.FLASH_LOAN,
        "occurred_at": NOW - timedelta(minutes=5),
        "loss": loss,
        "evidence": (TX,),
    }
    fields.update(kw)
    payload = IncidentReport(**fields).payload()  # type: ignore[arg-type]
    return payload, keys[reporter].sign(payload)


async def counts(store: Store) -> dict[str, int]:
    out = {}
    async with store.engine.connect() as conn:
        for t in TABLES:
            out[t] = (
                await conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[t]))
            ).scalar_one()
    return out


async def bind(
    store: Store,
    partner: str,
    key: str,
    *,
    cover_type: str = "protocol",
    limit: int = 100_000 * UNIT,
    days: int = 30,
    start: datetime | None = None,
) -> m.Cover:
    starts = start or NOW - timedelta(days=1)
    result = await store.bind_cover(
        m.CoverRequest(
            partner, key, "a1", cover_type, limit, UNIT, starts, starts + timedelta(days=days)
        )
    )
    return result.cover


def use_cases(store: Store, k: int = 2) -> tuple[Incidents, Claims, Started]:
    started = Started()
    claims = Claims(store, started)
    incidents = Incidents(store, QuorumPolicy(QuorumRule(k=k)), claims.open_for_incident)
    return incidents, claims, started


async def test_refused_reports_store_nothing(book: Store, world: dict) -> None:
    incidents, _, _ = use_cases(book)
    before = await counts(book)
    payload, sig = signed(world, "oracle-a")
    with pytest.raises(ReporterRefused) as unknown:
        await incidents.submit(ident("stranger"), payload, sig)
    assert unknown.value.reason == "unknown"
    with pytest.raises(BadSignature, match="does not verify"):
        await incidents.submit(ident("oracle-a"), payload, world["oracle-b"].sign(payload))
    with pytest.raises(ReporterRefused) as not_self:  # b signs a report naming a
        await incidents.submit(ident("oracle-b"), payload, world["oracle-b"].sign(payload))
    assert not_self.value.reason == "not_self"
    await book.set_oracle_active("oracle-a", False)
    with pytest.raises(ReporterRefused) as off:
        await incidents.submit(ident("oracle-a"), payload, sig)
    assert off.value.reason == "deactivated"
    assert await counts(book) == before


async def test_a_replayed_report_or_nonce_is_refused(book: Store, world: dict) -> None:
    incidents, _, _ = use_cases(book)
    payload, sig = signed(world, "oracle-a")
    await incidents.submit(ident("oracle-a"), payload, sig)
    before = await counts(book)
    with pytest.raises(ReplayedReport, match="the same signed report"):
        await incidents.submit(ident("oracle-a"), payload, sig)
    again, sig2 = signed(world, "oracle-a", loss=1)  # same nonce, other content
    with pytest.raises(ReplayedReport, match="nonce 'oracle-a-1'"):
        await incidents.submit(ident("oracle-a"), again, sig2)
    assert await counts(book) == before


async def test_a_stored_report_verifies_again_later(book: Store, world: dict) -> None:
    incidents, _, _ = use_cases(book)
    payload, sig = signed(world, "oracle-a")
    out = await incidents.submit(ident("oracle-a"), payload, sig)
    stored, stored_sig = await book.signed_report(out.report_hash)
    oracle = await book.get_oracle("oracle-a")
    verify_signature(oracle.public_key, stored, stored_sig)
    assert stored == payload


async def test_a_lone_report_alerts_and_pays_nothing(book: Store, world: dict) -> None:
    incidents, _, started = use_cases(book)
    await bind(book, "acme", "k1")
    out = await incidents.submit(ident("oracle-a"), *signed(world, "oracle-a"))
    assert out.incident.status is IncidentStatus.PENDING and not out.confirmed_now
    [(_, alerts)] = await incidents.list()
    assert [a.kind.value for a in alerts] == ["lone_report"]
    assert await book.list_claims() == [] and started.payments == []


async def test_disagreement_alerts_and_pays_nothing(book: Store, world: dict) -> None:
    incidents, _, started = use_cases(book)
    await bind(book, "acme", "k1")
    await incidents.submit(ident("oracle-a"), *signed(world, "oracle-a", loss=100 * UNIT))
    out = await incidents.submit(ident("oracle-b"), *signed(world, "oracle-b", loss=900 * UNIT))
    assert out.incident.status is IncidentStatus.PENDING
    kinds = [a.kind.value for a in await book.list_alerts(out.incident.incident_id)]
    assert kinds == ["lone_report", "disagreement"]
    assert await book.list_claims() == [] and started.payments == []


async def test_k_of_n_confirm_and_open_a_claim_per_touched_cover(book: Store, world: dict) -> None:
    incidents, _, started = use_cases(book, k=2)
    cover = await bind(book, "acme", "k1", limit=100_000 * UNIT)
    await bind(book, "other", "k2", cover_type="governance")  # not triggered by a flash loan
    await bind(book, "other", "k3", start=NOW + timedelta(days=1))  # not yet in force
    await incidents.submit(ident("oracle-a"), *signed(world, "oracle-a", loss=150_000 * UNIT))
    out = await incidents.submit(ident("oracle-b"), *signed(world, "oracle-b", loss=151_000 * UNIT))
    assert out.confirmed_now and out.incident.loss == 150_000 * UNIT
    [claim] = await book.list_claims()
    assert claim.cover_id == cover.cover_id and claim.status is ClaimStatus.PAYING
    assert claim.approved == 100_000 * UNIT  # capped at the limit
    [payment] = await book.list_payments()
    assert started.payments == [payment.payment_id] and payment.amount == 100_000 * UNIT
    # a third, agreeing report counts but confirms nothing twice
    third = await incidents.submit(
        ident("oracle-c"), *signed(world, "oracle-c", loss=150_500 * UNIT)
    )
    assert not third.confirmed_now and third.incident.reports == 3
    assert len(await book.list_claims()) == 1 and len(started.payments) == 1


async def confirmed(book: Store, world: dict, incidents: Incidents, loss: int, **kw: object) -> str:
    await incidents.submit(ident("oracle-a"), *signed(world, "oracle-a", loss=loss, **kw))
    out = await incidents.submit(ident("oracle-b"), *signed(world, "oracle-b", loss=loss, **kw))
    assert out.confirmed_now
    return out.incident.incident_id


async def test_bad_claims_are_refused_precisely_and_pay_nothing(book: Store, world: dict) -> None:
    incidents = Incidents(book, QuorumPolicy(QuorumRule(k=2)))  # no automatic claims
    claims = Claims(book, Started())
    mine = await bind(book, "acme", "k1")
    expired = await bind(book, "acme", "k2", start=NOW - timedelta(days=40), days=30)
    depeg = await bind(book, "acme", "k3", cover_type="governance")
    theirs = await bind(book, "other", "k4")
    iid = await confirmed(book, world, incidents, 50_000 * UNIT)
    before = await counts(book)
    with pytest.raises(ClaimRefused) as exp:
        await claims.file(ACME, expired.cover_id, iid, 10 * UNIT)
    assert exp.value.reason == RefusalReason.EXPIRED
    with pytest.raises(ClaimRefused) as kind:
        await claims.file(ACME, depeg.cover_id, iid, 10 * UNIT)
    assert kind.value.reason == RefusalReason.NOT_MATCHING
    with pytest.raises(NotHolder, match="only its holder may claim"):
        await claims.file(ACME, theirs.cover_id, iid, 10 * UNIT)
    with pytest.raises(NotHolder):
        await claims.file(ACME, "cov_nonexistent", iid, 10 * UNIT)
    assert await counts(book) == before
    opened = await claims.file(ACME, mine.cover_id, iid, 10 * UNIT)
    assert opened.created and opened.payment is not None
    assert opened.payment.amount == 10 * UNIT
    await claims.payment_landed(opened.payment.payment_id, "0x" + "01" * 32, 7)
    before = await counts(book)
    with pytest.raises(ClaimRefused) as paid:
        await claims.file(ACME, mine.cover_id, iid, 10 * UNIT)
    assert paid.value.reason == RefusalReason.ALREADY_PAID
    assert await counts(book) == before


async def test_a_pending_incident_is_not_claimable(book: Store, world: dict) -> None:
    incidents, claims, _ = use_cases(book)
    cover = await bind(book, "acme", "k1")
    out = await incidents.submit(ident("oracle-a"), *signed(world, "oracle-a"))
    with pytest.raises(ClaimRefused) as err:
        await claims.file(ACME, cover.cover_id, out.incident.incident_id, UNIT)
    assert err.value.reason == RefusalReason.NOT_CONFIRMED


async def test_undisputed_part_is_paid_and_the_rest_waits_for_an_operator(
    book: Store, world: dict
) -> None:
    incidents = Incidents(book, QuorumPolicy(QuorumRule(k=2)))
    started = Started()
    claims = Claims(book, started)
    cover = await bind(book, "acme", "k1", limit=100_000 * UNIT)
    iid = await confirmed(book, world, incidents, 30_000 * UNIT)
    opened = await claims.file(ACME, cover.cover_id, iid, 45_000 * UNIT)
    assert opened.payment is not None and opened.payment.amount == 30_000 * UNIT
    assert opened.claim.disputed == 15_000 * UNIT
    await claims.payment_landed(opened.payment.payment_id, "0x" + "02" * 32, 9)
    claim = await book.get_claim(opened.claim.claim_id)
    assert claim.status is ClaimStatus.DISPUTED and claim.paid == 30_000 * UNIT
    resolved = await claims.resolve(ALICE, claim.claim_id, 5_000 * UNIT, "loss proven")
    assert resolved.status is ClaimStatus.PAYING and resolved.approved == 35_000 * UNIT
    second = started.payments[-1]
    assert second != opened.payment.payment_id
    await claims.payment_landed(second, "0x" + "03" * 32, 10)
    done = await book.get_claim(claim.claim_id)
    assert done.status is ClaimStatus.PAID and done.paid == 35_000 * UNIT
    with pytest.raises(InvalidTransition, match="only a disputed claim"):
        await claims.resolve(ALICE, claim.claim_id, 0, "again")
    paid = await book.paid_by_cover([cover.cover_id])
    assert paid == {cover.cover_id: 35_000 * UNIT}


async def test_layered_covers_of_one_holder_pay_the_loss_once(book: Store, world: dict) -> None:
    incidents, _, _ = use_cases(book)
    await bind(book, "acme", "k1", limit=60_000 * UNIT)
    await bind(book, "acme", "k2", limit=60_000 * UNIT)
    await confirmed(book, world, incidents, 80_000 * UNIT)
    claims = await book.list_claims(partner_id="acme")
    assert sorted(c.approved for c in claims) == [20_000 * UNIT, 60_000 * UNIT]
    assert sum(c.approved for c in claims) == 80_000 * UNIT


async def test_recoverables_per_placed_cession(book: Store, world: dict) -> None:
    await book.upsert_vault(m.Vault("vault-a", "chain-a", "0x" + "77" * 20, "USDC", 10**12, 100))
    await book.record_cession(
        m.Cession("0x" + "c1" * 32, "vault-a", "a1", 40_000 * UNIT, UNIT, share_ppm=250_000)
    )
    incidents, claims, _ = use_cases(book)
    await bind(book, "acme", "k1", limit=100_000 * UNIT)
    await confirmed(book, world, incidents, 100_000 * UNIT)
    [payment] = await book.list_payments()
    [rec] = await claims.payment_landed(payment.payment_id, "0x" + "04" * 32, 11)
    assert rec.amount == 25_000 * UNIT and rec.status == "due"
    # landing twice records nothing more
    assert [r.recovery_id for r in await claims.payment_landed(payment.payment_id, "x", 11)] == [
        rec.recovery_id
    ]
    await claims.recovery_done(rec.recovery_id, True, "0x" + "05" * 32)
    assert (await book.get_recoverable(rec.recovery_id)).status == "collected"


async def test_an_operator_rejects_a_spam_incident(book: Store, world: dict) -> None:
    incidents, _, _ = use_cases(book)
    out = await incidents.submit(ident("oracle-a"), *signed(world, "oracle-a"))
    rejected = await incidents.reject(ALICE, out.incident.incident_id, "spam")
    assert rejected.status is IncidentStatus.REJECTED
    with pytest.raises(InvalidTransition, match="already rejected"):
        await incidents.reject(ALICE, out.incident.incident_id, "spam")
    # the next agreeing report opens a new incident rather than confirming the rejected one
    nxt = await incidents.submit(ident("oracle-b"), *signed(world, "oracle-b"))
    assert nxt.incident.incident_id != out.incident.incident_id
    assert nxt.incident.status is IncidentStatus.PENDING


async def test_interim_terms_come_from_the_cover(book: Store) -> None:
    cover = await bind(book, "acme", "k1", limit=5 * UNIT)
    t = claim_terms(cover, paid=UNIT)
    assert (t.limit, t.per_event_max, t.deductible, t.remaining) == (
        5 * UNIT,
        5 * UNIT,
        0,
        4 * UNIT,
    )
    assert PaymentStatus.PENDING.value == "pending"


async def test_a_paid_claim_no_longer_locks_its_covers_capital(book: Store, world: dict) -> None:
    incidents, claims, _ = use_cases(book)
    cover = await bind(book, "acme", "k1", limit=100_000 * UNIT)
    await confirmed(book, world, incidents, 30_000 * UNIT)
    [payment] = await book.list_payments()
    # decided, not yet paid on chain: the whole limit is still locked
    assert [c.limit_amount for c in await book.covers_in_force(pool_id="a1")] == [100_000 * UNIT]
    await claims.payment_landed(payment.payment_id, "0x" + "06" * 32, 12)
    [left] = await book.covers_in_force(pool_id="a1")
    assert left.limit_amount == 70_000 * UNIT
    assert (await book.active_cover_by_pool())["a1"] == 70_000 * UNIT
    assert (await book.paid_by_cover([cover.cover_id], final_only=True)) == {
        cover.cover_id: 30_000 * UNIT
    }


async def test_start_up_opens_the_claims_a_crash_left_unopened(book: Store, world: dict) -> None:
    """Confirmed, then the process died before the claims opened: reconciliation opens
    them and starts their payouts; run again, it opens and starts nothing twice."""
    incidents = Incidents(book, QuorumPolicy(QuorumRule(k=2)))  # the claims hook never ran
    await bind(book, "acme", "k1", limit=10_000 * UNIT)
    await confirmed(book, world, incidents, 5_000 * UNIT)
    assert await book.list_claims() == []
    started = Started()
    claims = Claims(book, started)
    assert await claims.reconcile() >= 1
    [payment] = await book.list_payments()
    assert payment.amount == 5_000 * UNIT and set(started.payments) == {payment.payment_id}
    await claims.reconcile()
    assert len(await book.list_claims()) == 1 and len(await book.list_payments()) == 1


async def test_a_payment_the_chain_refused_leaves_the_claim_for_an_operator(
    book: Store, world: dict
) -> None:
    incidents, claims, started = use_cases(book)
    await bind(book, "acme", "k1", limit=10_000 * UNIT)
    await confirmed(book, world, incidents, 4_000 * UNIT)
    [payment] = await book.list_payments()
    await claims.payment_failed(payment.payment_id, "PayoutOverCap")
    [claim] = await book.list_claims()
    assert claim.status is ClaimStatus.DISPUTED and claim.approved == 0
    assert claim.disputed == 4_000 * UNIT and "PayoutOverCap" in claim.reason
    assert await book.paid_by_cover() == {}  # a failed payment takes nothing of the cover
    resolved = await claims.resolve(ALICE, claim.claim_id, 4_000 * UNIT, "retry the payment")
    assert resolved.status is ClaimStatus.PAYING and len(started.payments) == 2

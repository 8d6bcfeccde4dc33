"""Incident reports: canonical signed payloads, Ed25519 verification, k-of-n confirmation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from router.domain.incidents import (
    AlertKind,
    IncidentKind,
    IncidentReport,
    IncidentStatus,
    QuorumRule,
    assess,
    parse_payload,
    verify_signature,
    within,
)
from router.errors import BadSignature, InvalidRecord, InvalidRequest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TX = "0x" + "ab" * 32


def report(reporter: str = "oracle-a", loss: int = 1_000_000, **kw: object) -> IncidentReport:
    base = {
        "reporter_id": reporter,
        "nonce": f"n-{reporter}",
        "deployment_id": "uniswap-eth",
        "kind": IncidentKind.FLASH_LOAN,
        "occurred_at": T0,
        "loss": loss,
        "evidence": (TX,),
    }
    base.update(kw)
    return IncidentReport(**base)  # type: ignore[arg-type]


def keypair() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    return key, pub


def test_a_payload_round_trips_and_only_the_canonical_form_is_accepted() -> None:
    r = report()
    assert parse_payload(r.payload()) == r
    spaced = r.payload().replace(b",", b", ")
    with pytest.raises(InvalidRequest, match="canonical"):
        parse_payload(spaced)
    with pytest.raises(InvalidRequest, match="format"):
        parse_payload(r.payload().replace(b"ballast.incident.v1", b"other.v1"))
    with pytest.raises(InvalidRequest, match="loss"):
        parse_payload(r.payload().replace(b'"loss":"1000000"', b'"loss":1000000'))


def test_a_report_needs_evidence_and_a_positive_loss() -> None:
    with pytest.raises(InvalidRecord, match="needs evidence"):
        report(evidence=())
    with pytest.raises(InvalidRecord, match="loss must be positive"):
        report(loss=0)
    with pytest.raises(InvalidRecord, match="evidence"):
        report(evidence=("not-a-hash",))
    assert report(evidence=(), snapshot="0x" + "cd" * 32).snapshot


def test_the_signature_verifies_under_the_registered_key_only() -> None:
    key, pub = keypair()
    _, other = keypair()
    payload = report().payload()
    sig = key.sign(payload)
    verify_signature(pub, payload, sig)
    with pytest.raises(BadSignature, match="does not verify"):
        verify_signature(other, payload, sig)
    with pytest.raises(BadSignature, match="does not verify"):
        verify_signature(pub, report(loss=2).payload(), sig)
    with pytest.raises(BadSignature, match="64-byte"):
        verify_signature(pub, payload, sig[:10])


RULE = QuorumRule(k=2, window=timedelta(hours=1), tolerance_bps=500)


def test_k_agreeing_reporters_confirm_at_the_lower_median() -> None:
    out = assess([report("a", 1_000_000), report("b", 1_020_000)], RULE)
    assert out.status is IncidentStatus.CONFIRMED
    assert out.loss == 1_000_000 and out.agreeing == ("a", "b") and out.alert is None


def test_a_lone_report_raises_an_alert_not_a_confirmation() -> None:
    out = assess([report("a")], RULE)
    assert out.status is IncidentStatus.PENDING and out.alert is AlertKind.LONE_REPORT


def test_disagreeing_figures_do_not_confirm() -> None:
    out = assess([report("a", 1_000_000), report("b", 2_000_000)], RULE)
    assert out.status is IncidentStatus.PENDING and out.alert is AlertKind.DISAGREEMENT
    assert "a=1000000" in out.detail and "b=2000000" in out.detail


def test_one_reporter_counts_once_however_often_it_reports() -> None:
    twice = [report("a"), replace(report("a"), nonce="n-2")]
    assert assess(twice, RULE).status is IncidentStatus.PENDING


def test_k_of_n_with_a_dissenter_confirms_and_flags_the_dissent() -> None:
    rule = QuorumRule(k=2, tolerance_bps=100)
    out = assess([report("a", 1000), report("b", 1005), report("c", 5000)], rule)
    assert out.status is IncidentStatus.CONFIRMED and out.dissenting == ("c",)
    assert out.alert is AlertKind.DISAGREEMENT
    strict = QuorumRule(k=3, tolerance_bps=100)
    assert assess([report("a", 1000), report("b", 1005)], strict).alert is (
        AlertKind.SHORT_OF_QUORUM
    )


@given(
    losses=st.lists(st.integers(1, 10**12), min_size=1, max_size=7),
    k=st.integers(1, 5),
    tolerance=st.integers(0, 2_000),
)
def test_confirmation_needs_k_distinct_agreeing_reporters(
    losses: list[int], k: int, tolerance: int
) -> None:
    reports = [report(f"r{i}", loss) for i, loss in enumerate(losses)]
    out = assess(reports, QuorumRule(k=k, tolerance_bps=tolerance))
    confirmed = out.status is IncidentStatus.CONFIRMED
    assert confirmed == (len(out.agreeing) >= k)
    assert set(out.agreeing).isdisjoint(out.dissenting)
    assert len(out.agreeing) + len(out.dissenting) == len(losses)
    agreeing = [losses[int(r[1:])] for r in out.agreeing]
    assert out.loss in agreeing  # a reported figure, never an invented one
    # within the tolerance of the median each: of each other within 2t/(1-t) <= 3t
    assert all(within(a, out.loss, 3 * tolerance) for a in agreeing)
    if not confirmed:
        assert out.alert is not None  # no payout without an alert saying why

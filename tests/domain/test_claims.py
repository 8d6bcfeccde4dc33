"""Claims: the refusal reasons, the payout formula's properties, recoveries per treaty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.domain.claims import (
    CLAIM_TRANSITIONS,
    ClaimStatus,
    ClaimTerms,
    ExcessLayer,
    QuotaShareCession,
    RefusalReason,
    check_claim,
    decide,
    payout,
    recoveries,
)
from router.domain.incidents import Incident, IncidentKind, IncidentStatus
from router.errors import ClaimRefused

T0 = datetime(2026, 3, 1, tzinfo=UTC)
amounts = st.integers(min_value=0, max_value=10**30)


def terms(**kw: object) -> ClaimTerms:
    base: dict[str, object] = {
        "cover_id": "cov_1",
        "partner_id": "acme",
        "pool_id": "p1",
        "chain_cover_id": "0x" + "11" * 32,
        "starts_at": T0,
        "ends_at": T0 + timedelta(days=30),
        "limit": 1_000,
        "per_event_max": 800,
        "deductible": 50,
        "triggers": frozenset({IncidentKind.FLASH_LOAN}),
        "deployments": frozenset({"amm-eth"}),
    }
    base.update(kw)
    return ClaimTerms(**base)  # type: ignore[arg-type]


def incident(**kw: object) -> Incident:
    base: dict[str, object] = {
        "incident_id": "inc_1",
        "deployment_id": "amm-eth",
        "kind": IncidentKind.FLASH_LOAN,
        "occurred_at": T0 + timedelta(days=3),
        "status": IncidentStatus.CONFIRMED,
        "loss": 500,
        "reporters": 2,
        "reports": 2,
    }
    base.update(kw)
    return Incident(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("t", "i", "reason"),
    [
        (terms(), incident(occurred_at=T0 + timedelta(days=30)), RefusalReason.EXPIRED),
        (terms(), incident(occurred_at=T0 - timedelta(seconds=1)), RefusalReason.NOT_STARTED),
        (terms(), incident(deployment_id="lend-eth"), RefusalReason.NOT_MATCHING),
        (terms(), incident(kind=IncidentKind.EXPLOIT), RefusalReason.NOT_MATCHING),
        (terms(), incident(status=IncidentStatus.PENDING), RefusalReason.NOT_CONFIRMED),
        (terms(), incident(status=IncidentStatus.REJECTED), RefusalReason.NOT_CONFIRMED),
        (terms(paid=1_000), incident(), RefusalReason.ALREADY_PAID),
    ],
)
def test_each_refusal_names_its_reason(t: ClaimTerms, i: Incident, reason: RefusalReason) -> None:
    with pytest.raises(ClaimRefused) as err:
        check_claim(t, i)
    assert err.value.reason == reason


def test_a_claim_on_the_last_second_of_the_period_is_valid() -> None:
    check_claim(terms(), incident(occurred_at=T0 + timedelta(days=30, seconds=-1)))
    check_claim(terms(deployments=None), incident(deployment_id="anything"))


def test_the_formula_on_examples() -> None:
    t = terms()
    assert payout(500, t) == 450  # loss - deductible
    assert payout(10_000, t) == 800  # per-event maximum
    assert payout(10_000, terms(per_event_max=5_000)) == 1_000  # limit
    assert payout(10_000, terms(per_event_max=5_000, paid=700)) == 300  # remaining aggregate
    assert payout(40, t) == 0  # within the deductible
    assert payout(500, t, paid_elsewhere=300) == 150  # the other layer paid first


@given(loss=amounts, limit=amounts, per_event=amounts, deductible=amounts, paid=amounts)
def test_the_payout_never_exceeds_any_cap(
    loss: int, limit: int, per_event: int, deductible: int, paid: int
) -> None:
    t = terms(limit=limit, per_event_max=per_event, deductible=deductible, paid=paid)
    p = payout(loss, t)
    assert 0 <= p <= max(0, loss - deductible)
    assert p <= limit and p <= per_event and p <= max(0, limit - paid)
    assert p == max(0, min(loss - deductible, limit, per_event, max(0, limit - paid)))


@given(loss=amounts, more=amounts, deductible=amounts)
def test_the_payout_is_monotone_in_the_loss(loss: int, more: int, deductible: int) -> None:
    t = terms(limit=10**25, per_event_max=10**24, deductible=deductible)
    assert payout(loss, t) <= payout(loss + more, t)


@given(
    loss=amounts,
    layers=st.lists(st.tuples(amounts, amounts, amounts), min_size=1, max_size=5),
)
def test_layered_covers_never_pay_one_loss_twice(
    loss: int, layers: list[tuple[int, int, int]]
) -> None:
    """Decided one after another with what the others paid taken off, the covers
    of one holder together pay at most the loss."""
    paid = 0
    for limit, per_event, deductible in layers:
        t = terms(limit=limit, per_event_max=per_event, deductible=deductible)
        paid += payout(loss, t, paid_elsewhere=paid)
    assert paid <= loss


@given(claimed=st.integers(1, 10**20), verified=st.integers(1, 10**20))
def test_only_the_claimed_loss_above_the_verified_one_is_disputed(
    claimed: int, verified: int
) -> None:
    d = decide(claimed, verified, terms(limit=10**21, per_event_max=10**21, deductible=0))
    assert d.pay_now == min(claimed, verified)
    assert d.disputed == max(0, claimed - verified)


def test_claim_states_end_in_paid_or_rejected() -> None:
    assert CLAIM_TRANSITIONS[ClaimStatus.PAID] == frozenset()
    assert CLAIM_TRANSITIONS[ClaimStatus.REJECTED] == frozenset()
    assert ClaimStatus.PAID not in CLAIM_TRANSITIONS[ClaimStatus.APPROVED]  # only via PAYING
    assert ClaimStatus.APPROVED in CLAIM_TRANSITIONS[ClaimStatus.DISPUTED]  # resolved: pay more


def test_recoveries_quota_share_first_then_the_layer_on_the_retained_loss() -> None:
    qs = QuotaShareCession("c-qs", "v1", 300_000, remaining=10**9)
    xl = ExcessLayer("c-xl", "v2", attachment=400, limit=200, remaining=10**9)
    out = {c.cession_id: a for c, a in recoveries(1_000, [xl, qs])}
    assert out == {"c-qs": 300, "c-xl": 200}  # retained 700: 300 above 400, capped at 200
    capped = QuotaShareCession("c-qs", "v1", 300_000, remaining=120)
    assert {c.cession_id: a for c, a in recoveries(1_000, [capped])} == {"c-qs": 120}
    assert recoveries(1_000, [ExcessLayer("x", "v", 2_000, 10, 10)]) == []


@given(
    paid=amounts,
    shares=st.lists(st.integers(0, 250_000), max_size=4),
    layers=st.lists(st.tuples(amounts, amounts, amounts), max_size=3),
)
def test_quota_shares_never_recover_more_than_paid(
    paid: int, shares: list[int], layers: list[tuple[int, int, int]]
) -> None:
    ceded = [QuotaShareCession(f"q{i}", "v", s, 10**31) for i, s in enumerate(shares)]
    out = recoveries(paid, ceded)
    assert sum(a for _, a in out) <= paid
    for c, a in out:
        assert isinstance(c, QuotaShareCession) and a == paid * c.share_ppm // 1_000_000
    layered = [ExcessLayer(f"x{i}", "v", at, lim, rem) for i, (at, lim, rem) in enumerate(layers)]
    for c, a in recoveries(paid, layered):
        assert isinstance(c, ExcessLayer) and 0 < a <= min(c.limit, c.remaining)

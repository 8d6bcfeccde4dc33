"""Change proposals: the proposer cannot approve, one operator counts once, nothing
applies before N approvals and the delay, a decided change never moves again."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from router.domain.changes import ChangeKind, ChangeProposal, ChangeStatus
from router.errors import Conflict, InvalidRecord, PreconditionFailed

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def proposal(required: int = 2) -> ChangeProposal:
    return ChangeProposal(
        change_id="chg-1",
        kind=ChangeKind.ALLOWLIST_ADD,
        payload='{"address":"0x' + "ab" * 20 + '","chain":"eth","label":""}',
        diff="+ allow-list",
        proposed_by="alice",
        reason="new pool",
        required=required,
        status=ChangeStatus.PROPOSED,
        proposed_at=T0,
        not_before=T0 + timedelta(hours=1),
        expires_at=T0 + timedelta(days=1),
    )


def test_the_proposer_cannot_approve_and_a_second_approval_counts_once() -> None:
    p = proposal()
    with pytest.raises(Conflict, match="'alice' proposed"):
        p.approved_by("alice", T0)
    once = p.approved_by("bob", T0)
    assert once.approvals == ("bob",) and once.status is ChangeStatus.PROPOSED
    assert once.approved_by("bob", T0) is once
    twice = once.approved_by("carol", T0)
    assert twice.status is ChangeStatus.APPROVED and twice.approvals == ("bob", "carol")


def test_nothing_applies_before_n_approvals_and_the_delay() -> None:
    p = proposal(required=1)
    assert "0 of 1 approval" in (p.why_not_applicable(T0 + timedelta(hours=2)) or "")
    ok = p.approved_by("bob", T0)
    assert "may not be applied before" in (ok.why_not_applicable(T0) or "")
    at = T0 + timedelta(hours=1)
    assert ok.why_not_applicable(at - timedelta(microseconds=1)) is not None
    assert ok.why_not_applicable(at) is None


def test_expired_and_decided_changes_take_nothing_more() -> None:
    p = proposal(required=1)
    late = T0 + timedelta(days=1)
    assert p.state_at(late) is ChangeStatus.EXPIRED
    with pytest.raises(PreconditionFailed, match="expired"):
        p.approved_by("bob", late)
    applied = p.approved_by("bob", T0).decided(ChangeStatus.APPLIED, "bob", T0 + timedelta(hours=1))
    with pytest.raises(PreconditionFailed, match="applied"):
        applied.approved_by("carol", T0)
    with pytest.raises(PreconditionFailed):
        applied.decided(ChangeStatus.REJECTED, "carol", T0)


def test_times_must_be_in_order() -> None:
    with pytest.raises(InvalidRecord):
        dataclasses.replace(proposal(), not_before=T0 - timedelta(seconds=1))

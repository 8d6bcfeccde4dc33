"""The ingestion rules themselves (``screen`` then ``decide``), with no store.

Each boundary is tested at the limit, one below and one above, on both
paths a report can take: the fast path (exact types, no block time) and the
full check (any report with a block time goes there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from router.domain.checks import MAX_AMOUNT, MAX_BLOCK
from router.domain.ingest import (
    MAX_BATCH,
    Decision,
    Outcome,
    Reject,
    ReportIn,
    StaticView,
    Vote,
    decide,
    screen,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = "0x" + "ab" * 32
H2 = "0x" + "cd" * 32
B58 = "4" * 43

STATIC = StaticView(
    pool_chain={"p1": "evm", "p2": "evm", "s1": "sol", "x1": "xchain"},
    reporters={
        "r-evm": ("evm", True),
        "a": ("sol", True),
        "b": ("sol", True),
        "c": ("sol", True),
        "banned": ("sol", False),
        "rx": ("xchain", True),
    },
    quorum={"evm": 1, "sol": 2},  # xchain has no entry: quorum 1
)


def evm(block: int = 10, amount: int = 1_000, **kw: object) -> ReportIn:
    base = ReportIn("evm", "p1", "r-evm", amount, block, H, True, T0)
    return replace(base, **kw)  # type: ignore[arg-type]


def sol(reporter: str, block: int = 100, amount: int = 5_000, bhash: str = B58) -> ReportIn:
    return ReportIn("sol", "s1", reporter, amount, block, bhash, True, T0)


def judge(
    reports: Sequence[object],
    latest: Mapping[str, Vote] | None = None,
    stored: Mapping[tuple[str, int], Mapping[str, Vote]] | None = None,
    not_after: datetime | None = None,
) -> Decision:
    rs: Sequence[ReportIn] = reports  # type: ignore[assignment]  # junk on purpose
    sc = screen(rs, STATIC, latest or {}, not_after=not_after)
    votes = {k: (stored or {}).get(k, {}) for k in sc.vote_keys}
    return decide(rs, sc, STATIC, votes)


def statuses(d: Decision) -> list[tuple[Outcome, str]]:
    return [(o.status, o.code) for o in d.outcomes]


OK = (Outcome.CONFIRMED, "")
BAD = (Outcome.REJECTED, Reject.MALFORMED.value)
#: A block time sends a report down the full check instead of the fast path.
PATHS = {"fast": {}, "full": {"block_time": T0}}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"amount": MAX_AMOUNT}, OK),
        ({"amount": MAX_AMOUNT + 1}, BAD),
        ({"amount": 0}, OK),
        ({"amount": True}, BAD),
        ({"amount": 1.0}, BAD),
        ({"block_number": 0}, OK),
        ({"block_number": -1}, BAD),
        ({"block_number": MAX_BLOCK}, OK),
        ({"block_number": MAX_BLOCK + 1}, BAD),
        ({"block_number": False}, BAD),
        ({"block_number": 10.0}, BAD),
        ({"block_hash": B58}, OK),
        ({"block_hash": "0x" + "ab" * 32 + "\n"}, BAD),  # end anchor
        ({"block_hash": "0x" + "ab" * 32 + "0"}, BAD),
        ({"block_hash": "0x" + "a" * 63}, BAD),
        ({"block_hash": "0x" + "AB" * 32}, BAD),
        ({"block_hash": 12}, BAD),
        ({"finalized": 1}, BAD),
        ({"observed_at": T0.replace(tzinfo=None)}, BAD),
        ({"observed_at": "2026-01-01T00:00:00Z"}, BAD),
        ({"chain": ""}, BAD),
        ({"pool_id": ""}, BAD),
        ({"reporter_id": ""}, BAD),
        ({"chain": 7}, BAD),
        ({"reporter_id": None}, BAD),
        ({"pool_id": "p" * 129}, BAD),
        ({"reporter_id": "r" * 129}, BAD),
        ({"chain": "c" * 129}, BAD),
        ({"pool_id": "p" * 128}, (Outcome.REJECTED, Reject.UNKNOWN_POOL.value)),
        ({"reporter_id": "r" * 128}, (Outcome.REJECTED, Reject.UNKNOWN_REPORTER.value)),
        ({"chain": "c" * 128}, (Outcome.REJECTED, Reject.REPORTER_NOT_ALLOWED.value)),
    ],
)
def test_report_format_at_its_limits(
    path: str, fields: dict[str, object], expected: tuple[Outcome, str]
) -> None:
    [outcome] = judge([evm(**{**PATHS[path], **fields})]).outcomes  # type: ignore[arg-type]
    assert (outcome.status, outcome.code) == expected
    assert outcome.accepted is (expected[0] is not Outcome.REJECTED)


def test_block_time_must_be_an_aware_datetime() -> None:
    assert statuses(judge([evm(block_time=T0.replace(tzinfo=None))])) == [BAD]
    assert statuses(judge([evm(block_time="yesterday")])) == [BAD]
    [out] = judge([evm(block_time=T0.replace(tzinfo=None))]).outcomes
    assert "block_time must be" in out.reason


def test_what_is_not_a_report_is_malformed() -> None:
    [out] = judge([("evm", "p1")]).outcomes
    assert (out.status, out.code, out.pool_id) == (Outcome.REJECTED, "malformed", "")
    assert out.reason == "report is not a ReportIn"
    [out] = judge([evm(pool_id=5)]).outcomes
    assert (out.code, out.pool_id) == ("malformed", "")


def test_reasons_name_what_is_wrong() -> None:
    reasons = [o.reason for o in judge([evm(amount=MAX_AMOUNT + 1), evm(finalized=None)]).outcomes]
    assert reasons == ["amount exceeds uint256", "finalized must be a bool"]


@pytest.mark.parametrize(
    ("report", "code"),
    [
        (evm(pool_id="nope"), Reject.UNKNOWN_POOL),
        (evm(reporter_id="ghost"), Reject.UNKNOWN_REPORTER),
        (evm(chain="sol"), Reject.REPORTER_NOT_ALLOWED),
        (replace(sol("banned")), Reject.REPORTER_NOT_ALLOWED),
        (evm(pool_id="s1"), Reject.WRONG_CHAIN),
        (evm(finalized=False), Reject.NOT_FINAL),
        (evm(amount=-1), Reject.NEGATIVE_AMOUNT),
    ],
)
def test_each_rule_rejects_with_its_code(report: ReportIn, code: Reject) -> None:
    [out] = judge([report]).outcomes
    assert (out.status, out.code) == (Outcome.REJECTED, code.value)


def test_reports_from_the_future_are_refused_at_the_clock_plus_skew() -> None:
    limit = T0 + timedelta(seconds=5)
    at = judge([evm(observed_at=limit)], not_after=limit)
    assert statuses(at) == [OK]
    late = judge([evm(observed_at=limit + timedelta(microseconds=1))], not_after=limit)
    assert statuses(late) == [(Outcome.REJECTED, "from_future")]
    mined_late = evm(block_time=limit + timedelta(microseconds=1))
    assert statuses(judge([mined_late], not_after=limit)) == [(Outcome.REJECTED, "from_future")]
    assert statuses(judge([evm(block_time=limit)], not_after=limit)) == [OK]
    far = evm(observed_at=T0 + timedelta(days=9))
    assert statuses(judge([far])) == [OK]  # no clock given: no future check


def test_confirmed_balance_only_moves_forward() -> None:
    latest = {"p1": Vote(10, H, 1_000)}
    d = judge([evm(block=9), evm(block=10), evm(block=10, amount=2), evm(block=11)], latest)
    assert statuses(d) == [
        (Outcome.REJECTED, "older_block"),
        (Outcome.DUPLICATE, ""),
        (Outcome.REJECTED, "conflicts_confirmed"),
        OK,
    ]
    assert d.disagreements == [("p1", 10, (f"confirmed={H}:1000", f"r-evm={H}:2"))]
    assert d.history == [3] and d.confirm == {"p1": (3, 1)}


def test_quorum_one_confirms_alone_and_later_reports_compare_with_it() -> None:
    d = judge([evm(block=10), evm(block=9), evm(block=10), evm(block=12), evm(block=12, amount=3)])
    assert statuses(d) == [
        OK,
        (Outcome.REJECTED, "older_block"),
        (Outcome.DUPLICATE, ""),
        OK,
        (Outcome.REJECTED, "conflicts_confirmed"),
    ]
    assert d.confirm == {"p1": (3, 1)}  # the highest block of the batch
    assert d.history == [0, 3]


def test_a_chain_without_a_quorum_entry_needs_one_reporter() -> None:
    x = ReportIn("xchain", "x1", "rx", 5, 1, H, True, T0)
    d = judge([x, replace(x, block_number=0)])
    assert statuses(d) == [OK, (Outcome.REJECTED, "older_block")]


def test_two_reporters_agreeing_confirm_with_no_disagreement() -> None:
    d = judge([sol("a"), sol("b")])
    assert statuses(d) == [OK, OK]
    assert [o.reason for o in d.outcomes] == ["2 of 2 reporters agree"] * 2
    assert d.disagreements == []  # unanimity is never a disagreement
    assert d.confirm == {"s1": (0, 2)} and d.history == [0, 1]  # the first report of it


def test_one_vote_is_pending_and_no_disagreement() -> None:
    d = judge([sol("a")])
    assert statuses(d) == [(Outcome.PENDING, "")]
    assert d.outcomes[0].reason == "1 of 2 reporters agree so far"
    assert d.disagreements == [] and d.confirm == {} and d.history == [0]


def test_a_stored_vote_completes_the_quorum() -> None:
    stored = {("s1", 100): {"a": Vote(100, B58, 5_000)}}
    d = judge([sol("b")], stored=stored)
    assert statuses(d) == [OK]
    assert d.disagreements == [] and d.confirm == {"s1": (0, 2)}


def test_disagreeing_votes_are_recorded_never_averaged() -> None:
    d = judge([sol("a"), sol("b", amount=6_000)])
    assert statuses(d) == [(Outcome.DISAGREEMENT, "")] * 2
    assert d.confirm == {}
    assert d.disagreements == [("s1", 100, (f"a={B58}:5000", f"b={B58}:6000"))]
    assert "others 4444444444444444444444444444444444444444444:6000 x1" in d.outcomes[0].reason


def test_a_quorum_confirms_despite_a_dissenter() -> None:
    d = judge([sol("a"), sol("c", amount=1), sol("b")])
    assert statuses(d) == [OK, (Outcome.DISAGREEMENT, ""), OK]
    assert d.confirm == {"s1": (0, 2)}
    assert len(d.disagreements) == 1


def test_one_reporter_twice_in_a_batch_on_a_quorum_chain() -> None:
    d = judge([sol("a"), sol("a"), sol("a", amount=7)])
    assert statuses(d) == [
        (Outcome.PENDING, ""),
        (Outcome.DUPLICATE, ""),
        (Outcome.REJECTED, "conflicting_resend"),
    ]
    assert d.outcomes[1].reason == "same report already in this batch"
    assert d.history == [0]


def test_a_reporter_contradicting_its_stored_vote() -> None:
    stored = {("s1", 100): {"a": Vote(100, B58, 5_000)}}
    d = judge([sol("a"), sol("a", amount=9)], stored=stored)
    assert statuses(d) == [(Outcome.DUPLICATE, ""), (Outcome.REJECTED, "conflicting_resend")]
    assert d.history == [] and d.confirm == {}


def test_two_blocks_confirmed_in_one_batch_keep_the_higher() -> None:
    up = judge([sol("a", 100), sol("b", 100), sol("a", 101), sol("b", 101)])
    assert up.confirm == {"s1": (2, 2)}
    down = judge([sol("a", 101), sol("b", 101), sol("a", 100), sol("b", 100)])
    assert statuses(down) == [OK] * 4
    assert down.confirm == {"s1": (0, 2)}


def test_batch_limit() -> None:
    assert MAX_BATCH == 10_000  # the API documents this figure


def test_quorum_one_keeps_each_pools_highest_block_apart() -> None:
    d = judge([evm(block=10), evm(block=99, pool_id="p2"), evm(block=12)])
    assert statuses(d) == [OK, OK, OK]
    assert d.confirm == {"p1": (2, 1), "p2": (1, 1)}

"""Acceptance and quorum rules for balance reports (pure: no I/O).

The store calls these inside one transaction per batch
(:meth:`router.store.Store.record_reports`); they decide, from cached static
data (pools, reporters, chain quorums), the latest confirmed balance of each
pool and the votes already stored, what every report means:

* rejected, with a code and a reason that says what is wrong: malformed,
  unknown pool, unknown reporter, reporter not allowed for that chain, pool of
  another chain, not final, negative amount, a block older than the confirmed
  one, a block equal to the confirmed one with other data, or a reporter
  contradicting its own earlier vote;
* a duplicate of what is already confirmed or voted (accepted, nothing new);
* a vote: confirmed once ``quorum`` distinct reporters of the chain agree on
  (block, hash, amount) for that pool; pending before that; a disagreement
  when votes at one block differ. Values are never averaged: a disagreement
  is recorded and surfaced, and only an agreeing quorum moves a balance.

A confirmed balance only moves forward in blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from router.domain.checks import BLOCK_HASH as _HASH
from router.domain.checks import MAX_AMOUNT as _MAX_AMOUNT
from router.domain.checks import MAX_BLOCK as _MAX_BLOCK

#: Most reports one batch may carry (the API documents it; agents split above it).
MAX_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class ReportIn:
    """One balance report as a reporter sent it (not yet trusted: judged here)."""

    chain: str
    pool_id: str
    reporter_id: str
    amount: int
    block_number: int  # EVM block number or Solana slot
    block_hash: str
    finalized: bool
    observed_at: datetime  # when the reporter read the chain (aware, UTC)
    #: The chain's own timestamp of that block, when the reporter sent it.
    block_time: datetime | None = None


class Outcome(StrEnum):
    CONFIRMED = "confirmed"  # this report completed a quorum: the balance moved
    PENDING = "pending_quorum"  # accepted as a vote; not enough reporters agree yet
    DUPLICATE = "duplicate"  # already confirmed or already voted: nothing new
    DISAGREEMENT = "disagreement"  # accepted as a vote; other reporters differ
    REJECTED = "rejected"  # nothing stored for it; ``code``/``reason`` say why


class Reject(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_POOL = "unknown_pool"
    UNKNOWN_REPORTER = "unknown_reporter"
    REPORTER_NOT_ALLOWED = "reporter_not_allowed"
    WRONG_CHAIN = "wrong_chain"
    NOT_FINAL = "not_final"
    NEGATIVE_AMOUNT = "negative_amount"
    OLDER_BLOCK = "older_block"
    CONFLICTS_CONFIRMED = "conflicts_confirmed"
    CONFLICTING_RESEND = "conflicting_resend"
    FROM_FUTURE = "from_future"


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    index: int  # position in the batch
    pool_id: str
    status: Outcome
    code: str = ""  # a Reject value when rejected, "" otherwise
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status is not Outcome.REJECTED


@dataclass(frozen=True, slots=True)
class Vote:
    """What one reporter (or the confirmed state) says about a pool at a block."""

    block_number: int
    block_hash: str
    amount: int


@dataclass(frozen=True, slots=True)
class StaticView:
    """The slow-changing data ingestion needs, cached by the store."""

    pool_chain: Mapping[str, str]  # pool_id -> chain
    reporters: Mapping[str, tuple[str, bool]]  # reporter_id -> (chain, allowed)
    quorum: Mapping[str, int]  # chain -> reporters that must agree


@dataclass(slots=True)
class Screening:
    outcomes: list[ReportOutcome | None]
    #: indexes of reports that are new votes (to be stored and tallied)
    candidates: list[int] = field(default_factory=list)
    #: (pool_id, block) pairs whose stored votes :func:`decide` needs (quorum > 1)
    vote_keys: set[tuple[str, int]] = field(default_factory=set)
    #: (pool_id, block, votes) where a report contradicts the confirmed balance
    conflicts: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)


@dataclass(slots=True)
class Decision:
    outcomes: list[ReportOutcome]
    #: indexes of reports to append to the history (each a new vote)
    history: list[int]
    #: pool_id -> (index of the report that sets it, agreeing reporters)
    confirm: dict[str, tuple[int, int]]
    #: (pool_id, block, "reporter=hash:amount" votes) to record as disagreements
    disagreements: list[tuple[str, int, tuple[str, ...]]]


def _reject(i: int, pool: object, code: Reject, reason: str) -> ReportOutcome:
    return ReportOutcome(
        i, pool if isinstance(pool, str) else "", Outcome.REJECTED, code.value, reason
    )


def _malformed(r: object) -> str | None:
    """Why a report is structurally wrong, or None. Negative amounts are their own rule."""
    if not isinstance(r, ReportIn):
        return "report is not a ReportIn"
    for name in ("chain", "pool_id", "reporter_id"):
        v = getattr(r, name)
        if not isinstance(v, str) or not v or len(v) > 128:
            return f"{name} must be a non-empty string of at most 128 characters"
    if isinstance(r.amount, bool) or not isinstance(r.amount, int):
        return "amount must be an integer in base units"
    if r.amount > _MAX_AMOUNT:
        return "amount exceeds uint256"
    b = r.block_number
    if isinstance(b, bool) or not isinstance(b, int) or not 0 <= b <= _MAX_BLOCK:
        return f"block_number must be an integer in [0, {_MAX_BLOCK}]"
    if not isinstance(r.block_hash, str) or not _HASH.match(r.block_hash):
        return "block_hash must be 0x + 64 lowercase hex (EVM) or base58 (Solana)"
    if not isinstance(r.finalized, bool):
        return "finalized must be a bool"
    if not isinstance(r.observed_at, datetime) or r.observed_at.tzinfo is None:
        return "observed_at must be a timezone-aware datetime"
    if r.block_time is not None and (
        not isinstance(r.block_time, datetime) or r.block_time.tzinfo is None
    ):
        return "block_time must be a timezone-aware datetime or None"
    return None


def _looks_right(r: object, hashes: set[str], times: set[datetime]) -> bool:
    """Fast path of :func:`_malformed` for the common case (exact types, shared
    block hash and read time per batch, each checked once); False means "ask
    _malformed", which is the authority."""
    if type(r) is not ReportIn:
        return False
    a, b, h, t = r.amount, r.block_number, r.block_hash, r.observed_at
    if not (
        type(a) is int
        and a <= _MAX_AMOUNT
        and type(b) is int
        and 0 <= b <= _MAX_BLOCK
        and type(r.finalized) is bool
        and type(r.chain) is str
        and 0 < len(r.chain) <= 128
        and type(r.pool_id) is str
        and 0 < len(r.pool_id) <= 128
        and type(r.reporter_id) is str
        and 0 < len(r.reporter_id) <= 128
        and type(h) is str
        and type(t) is datetime
        and r.block_time is None
    ):
        return False
    if h not in hashes:
        if not _HASH.match(h):
            return False
        hashes.add(h)
    if t not in times:
        if t.tzinfo is None:
            return False
        times.add(t)
    return True


def screen(
    reports: Sequence[ReportIn],
    static: StaticView,
    latest: Mapping[str, Vote],
    *,
    not_after: datetime | None = None,
) -> Screening:
    """Static rules plus the comparison with each pool's confirmed balance.

    ``latest`` maps pool_id to its confirmed balance before this batch. For
    quorum-1 chains a candidate confirms by itself, so later reports of the
    same pool in the batch are judged against it. A report read or mined
    after ``not_after`` (the router's clock plus the allowed skew) is from the
    future: a reporter's clock must never make a balance look fresher.
    """
    out = Screening(outcomes=[None] * len(reports))
    current: dict[str, Vote] = {}
    seen_votes: dict[tuple[str, int, str], Vote] = {}
    hashes: set[str] = set()
    times: set[datetime] = set()
    for i, r in enumerate(reports):
        if not _looks_right(r, hashes, times):
            bad = _malformed(r)
            if bad is not None:
                out.outcomes[i] = _reject(i, getattr(r, "pool_id", ""), Reject.MALFORMED, bad)
                continue
        pool = r.pool_id
        pool_chain = static.pool_chain.get(pool)
        if pool_chain is None:
            out.outcomes[i] = _reject(i, pool, Reject.UNKNOWN_POOL, f"unknown pool {pool!r}")
            continue
        rep = static.reporters.get(r.reporter_id)
        if rep is None:
            out.outcomes[i] = _reject(
                i, pool, Reject.UNKNOWN_REPORTER, f"unknown reporter {r.reporter_id!r}"
            )
            continue
        rep_chain, allowed = rep
        if rep_chain != r.chain or not allowed:
            out.outcomes[i] = _reject(
                i,
                pool,
                Reject.REPORTER_NOT_ALLOWED,
                f"reporter {r.reporter_id!r} is not allowed to report for chain {r.chain!r}",
            )
            continue
        if pool_chain != r.chain:
            out.outcomes[i] = _reject(
                i,
                pool,
                Reject.WRONG_CHAIN,
                f"pool {pool!r} is on chain {pool_chain!r}, not {r.chain!r}",
            )
            continue
        if not r.finalized:
            out.outcomes[i] = _reject(
                i,
                pool,
                Reject.NOT_FINAL,
                f"block {r.block_number} is not final: report only final blocks",
            )
            continue
        if not_after is not None and (
            r.observed_at > not_after or (r.block_time is not None and r.block_time > not_after)
        ):
            out.outcomes[i] = _reject(
                i,
                pool,
                Reject.FROM_FUTURE,
                f"observed_at {r.observed_at.isoformat()} (or the block time) is later than "
                f"the router's clock allows ({not_after.isoformat()}): fix the reporter's clock",
            )
            continue
        if r.amount < 0:
            out.outcomes[i] = _reject(
                i, pool, Reject.NEGATIVE_AMOUNT, f"amount must not be negative, got {r.amount}"
            )
            continue
        vote = Vote(r.block_number, r.block_hash, r.amount)
        known = current.get(pool) or latest.get(pool)
        if known is not None:
            if vote.block_number < known.block_number:
                out.outcomes[i] = _reject(
                    i,
                    pool,
                    Reject.OLDER_BLOCK,
                    f"block {vote.block_number} is older than the confirmed block "
                    f"{known.block_number} of pool {pool!r}",
                )
                continue
            if vote.block_number == known.block_number:
                if vote == known:
                    out.outcomes[i] = ReportOutcome(
                        i,
                        pool,
                        Outcome.DUPLICATE,
                        "",
                        f"block {vote.block_number} already confirmed",
                    )
                else:
                    out.outcomes[i] = _reject(
                        i,
                        pool,
                        Reject.CONFLICTS_CONFIRMED,
                        f"block {vote.block_number} of pool {pool!r} was confirmed as "
                        f"{known.block_hash}:{known.amount}, this report says "
                        f"{vote.block_hash}:{vote.amount}",
                    )
                    out.conflicts.append(
                        (
                            pool,
                            vote.block_number,
                            (
                                f"confirmed={known.block_hash}:{known.amount}",
                                f"{r.reporter_id}={vote.block_hash}:{vote.amount}",
                            ),
                        )
                    )
                continue
        if static.quorum.get(r.chain, 1) <= 1:
            # Confirms by itself: later reports of this pool compare with it.
            current[pool] = vote
            out.candidates.append(i)
            continue
        key = (pool, vote.block_number, r.reporter_id)
        earlier = seen_votes.get(key)
        if earlier is not None:
            if earlier == vote:
                out.outcomes[i] = ReportOutcome(
                    i, pool, Outcome.DUPLICATE, "", "same report already in this batch"
                )
            else:
                out.outcomes[i] = _reject(
                    i,
                    pool,
                    Reject.CONFLICTING_RESEND,
                    f"reporter {r.reporter_id!r} already reported block {vote.block_number} "
                    f"of pool {pool!r} with other data",
                )
            continue
        seen_votes[key] = vote
        out.candidates.append(i)
        out.vote_keys.add((pool, vote.block_number))
    return out


def decide(
    reports: Sequence[ReportIn],
    screening: Screening,
    static: StaticView,
    stored_votes: Mapping[tuple[str, int], Mapping[str, Vote]],
) -> Decision:
    """Tally votes and settle every candidate's outcome.

    ``stored_votes`` holds, for each key in ``screening.vote_keys``, the votes
    already in the history by reporter id (before this batch).
    """
    outcomes = screening.outcomes
    history: list[int] = []
    confirm: dict[str, tuple[int, int]] = {}
    disagreements = list(screening.conflicts)
    tallies: dict[tuple[str, int], dict[str, Vote]] = {
        k: dict(stored_votes.get(k, {})) for k in screening.vote_keys
    }
    votes_of: list[tuple[int, Vote]] = []
    quorums = static.quorum
    for i in screening.candidates:
        r = reports[i]
        if quorums.get(r.chain, 1) <= 1:
            history.append(i)
            prev = confirm.get(r.pool_id)  # keep the highest block per pool
            if prev is None or reports[prev[0]].block_number < r.block_number:
                confirm[r.pool_id] = (i, 1)
            outcomes[i] = ReportOutcome(i, r.pool_id, Outcome.CONFIRMED, "", "confirmed")
            continue
        vote = Vote(r.block_number, r.block_hash, r.amount)
        votes = tallies[(r.pool_id, r.block_number)]
        earlier = votes.get(r.reporter_id)
        if earlier is not None:
            if earlier == vote:
                outcomes[i] = ReportOutcome(
                    i, r.pool_id, Outcome.DUPLICATE, "", "this reporter already voted this block"
                )
            else:
                outcomes[i] = _reject(
                    i,
                    r.pool_id,
                    Reject.CONFLICTING_RESEND,
                    f"reporter {r.reporter_id!r} already reported block {r.block_number} "
                    f"of pool {r.pool_id!r} with other data",
                )
            continue
        votes[r.reporter_id] = vote
        history.append(i)
        votes_of.append((i, vote))
    for (pool, block), votes in tallies.items():
        if len(set(votes.values())) > 1:
            disagreements.append(
                (
                    pool,
                    block,
                    tuple(f"{rid}={v.block_hash}:{v.amount}" for rid, v in sorted(votes.items())),
                )
            )
    for i, vote in votes_of:
        r = reports[i]
        votes = tallies[(r.pool_id, r.block_number)]
        quorum = static.quorum[r.chain]
        counts: dict[Vote, int] = {}
        for v in votes.values():
            counts[v] = counts.get(v, 0) + 1
        winner = next((v for v, n in counts.items() if n >= quorum), None)
        agree = counts[vote]
        if winner == vote:
            _confirm(confirm, reports, r.pool_id, i, agree)
            outcomes[i] = ReportOutcome(
                i, r.pool_id, Outcome.CONFIRMED, "", f"{agree} of {quorum} reporters agree"
            )
        elif len(counts) > 1:
            others = ", ".join(
                f"{v.block_hash}:{v.amount} x{n}" for v, n in counts.items() if v != vote
            )
            outcomes[i] = ReportOutcome(
                i,
                r.pool_id,
                Outcome.DISAGREEMENT,
                "",
                f"reporters disagree on pool {r.pool_id!r} at block {r.block_number}: "
                f"this report {vote.block_hash}:{vote.amount} x{agree}, others {others}",
            )
        else:
            outcomes[i] = ReportOutcome(
                i, r.pool_id, Outcome.PENDING, "", f"{agree} of {quorum} reporters agree so far"
            )
    final: list[ReportOutcome] = []
    for o in outcomes:
        assert o is not None, "every report gets an outcome"
        final.append(o)
    return Decision(final, history, confirm, disagreements)


def _confirm(
    confirm: dict[str, tuple[int, int]], reports: Sequence[ReportIn], pool: str, i: int, n: int
) -> None:
    """Keep, per pool, the highest block confirmed in this batch."""
    prev = confirm.get(pool)
    if prev is None or reports[prev[0]].block_number < reports[i].block_number:
        confirm[pool] = (i, n)

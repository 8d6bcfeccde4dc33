"""Ingestion rules against a reference model, on generated report sequences.

Each example uses a fresh chain (random quorum) and pool in the shared store,
so examples never see each other's data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.base import ChainFamily
from router.domain import Chain, Pool, Reporter
from router.domain.ingest import Outcome, Reject, ReportIn
from router.store import Store
from tests.conftest import examples

from .conftest import T0, block_hash

_ids = itertools.count()
REPORTERS = ("ra", "rb", "rc")

report_st = st.tuples(
    st.sampled_from(REPORTERS),
    st.integers(min_value=1, max_value=6),  # block
    st.sampled_from([0, 1, 2**256 - 1]),  # amount
    st.integers(min_value=0, max_value=1),  # fork: block hash variant
)


@dataclass
class Model:
    """The rules restated as plainly as possible, one report at a time."""

    quorum: int
    confirmed: tuple[int, str, int] | None = None
    votes: dict[int, dict[str, tuple[str, int]]] = field(default_factory=dict)

    def apply(self, reporter: str, block: int, bhash: str, amount: int) -> tuple[str, str]:
        value = (bhash, amount)
        if self.confirmed is not None:
            cblock, chash, camount = self.confirmed
            if block < cblock:
                return Outcome.REJECTED, Reject.OLDER_BLOCK
            if block == cblock:
                if (chash, camount) == value:
                    return Outcome.DUPLICATE, ""
                return Outcome.REJECTED, Reject.CONFLICTS_CONFIRMED
        at = self.votes.setdefault(block, {})
        if reporter in at:
            if at[reporter] == value:
                return Outcome.DUPLICATE, ""
            return Outcome.REJECTED, Reject.CONFLICTING_RESEND
        at[reporter] = value
        agree = sum(1 for v in at.values() if v == value)
        if agree >= self.quorum:
            if self.confirmed is None or self.confirmed[0] < block:
                self.confirmed = (block, bhash, amount)
            return Outcome.CONFIRMED, ""
        if len(set(at.values())) > 1:
            return Outcome.DISAGREEMENT, ""
        return Outcome.PENDING, ""


@settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(quorum=st.integers(min_value=1, max_value=3), reports=st.lists(report_st, max_size=12))
async def test_store_matches_the_model(
    store: Store, quorum: int, reports: list[tuple[str, int, int, int]]
) -> None:
    n = next(_ids)
    chain, pool = f"chain-{n}", f"pool-{n}"
    await store.upsert_chain(Chain(chain, ChainFamily.EVM, quorum=quorum))
    await store.upsert_pool(Pool(pool, chain, "0xaddr", "0xasset"))
    for r in REPORTERS:
        await store.register_reporter(Reporter(f"{r}-{n}", chain))
    model = Model(quorum)
    for reporter, block, amount, fork in reports:
        bhash = block_hash(block, fork)
        report = ReportIn(chain, pool, f"{reporter}-{n}", amount, block, bhash, True, T0)
        [out] = await store.record_reports([report])
        expected = model.apply(f"{reporter}-{n}", block, bhash, amount)
        assert (out.status, out.code) == expected, (report, out.reason)
        bal = await store.latest_balance(pool)
        got = None if bal is None else (bal.block_number, bal.block_hash, bal.amount)
        assert got == model.confirmed


junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=True),
    st.text(max_size=200),
    st.lists(st.integers(), max_size=2),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.sampled_from(["evm", "p1", "r-evm", block_hash(1)]),
)


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(
        st.one_of(st.builds(ReportIn, junk, junk, junk, junk, junk, junk, junk, junk), junk),
        max_size=8,
    )
)
async def test_garbage_is_rejected_never_raised(world: Store, batch: list[object]) -> None:
    outcomes = await world.record_reports(batch)  # type: ignore[arg-type]
    assert [o.index for o in outcomes] == list(range(len(batch)))
    for report, out in zip(batch, outcomes, strict=True):
        if out.accepted:  # only a well-formed report of a known pool can pass
            assert isinstance(report, ReportIn) and report.pool_id in {"p1", "p2", "s1"}
        else:
            assert out.code in {r.value for r in Reject} and out.reason

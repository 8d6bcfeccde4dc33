"""The router follows governance: pool terms read from chain at final blocks.

Coverage limits, the pause, the covered-contract list, the premium model and
the oracle set of each pool live in its ``PoolTerms`` contract and change only
through a passed, time-locked proposal. :class:`TermsFollower` keeps the terms
of each pool as last read at a final block (``refresh``) and answers
``terms_in_force`` with that block. It never moves backwards: a read from an
endpoint that lags (an older block) is ignored, so the terms a quote sees
only ever advance.

How quotes and binds use them (:class:`GovernedCovers`, wired in ``router.app.covers``):

* a quote calls :func:`terms_for_cover` with ``terms_in_force(pool_id)``; the
  returned :class:`CoverTerms` names the block and version it used, and the
  quote shows them;
* a bind re-checks against the terms in force at bind time and stores the
  :class:`CoverTerms` with the cover. They are the cover's terms for life: a
  later proposal changes ``terms_in_force`` and so every *new* quote, never a
  bound cover (nothing reads a bound cover's terms back from chain).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from chains.errors import ChainError
from chains.evm_governance import CoverType, GovernedTerms, PremiumModel
from router.errors import CapacityExceeded, InvalidRequest, PreconditionFailed

log = logging.getLogger("ballast.router.app.governance")


class TermsSource(Protocol):
    """Reads one PoolTerms at a final block (``chains.evm_governance.read_terms``)."""

    async def read_terms(self, terms: str) -> GovernedTerms: ...


@dataclass(frozen=True, slots=True)
class CoverTerms:
    """The governed terms one cover was quoted or bound under (fixed at bind)."""

    pool_id: str
    terms: str  # the PoolTerms contract
    block_number: int  # the final block the terms were read at
    version: int
    cover_type: CoverType
    covered_contract: str | None
    limit: int  # base units: the coverage limit for this cover type
    premium: PremiumModel
    oracles: tuple[str, ...]
    oracle_threshold: int


class TermsFollower:
    """The governed terms of each pool, as of the latest final block read."""

    def __init__(self, source: TermsSource, pools: Mapping[str, str]) -> None:
        self._source = source
        self._pools = dict(pools)  # pool_id -> PoolTerms address
        self._held: dict[str, GovernedTerms] = {}

    async def refresh(self) -> dict[str, GovernedTerms]:
        """Read every pool's terms; keep a read only if it is at a newer block."""
        for pool_id, address in self._pools.items():
            read = await self._source.read_terms(address)
            held = self._held.get(pool_id)
            if held is None or read.block_number > held.block_number:
                self._held[pool_id] = read
        return dict(self._held)

    def terms_in_force(self, pool_id: str) -> GovernedTerms:
        """The terms last read at a final block (``block_number`` says which)."""
        if pool_id not in self._pools:
            raise InvalidRequest("pool_id", f"pool {pool_id!r} has no governed terms")
        held = self._held.get(pool_id)
        if held is None:
            raise PreconditionFailed(
                f"the governed terms of pool {pool_id} have not been read from chain yet"
            )
        return held


def terms_for_cover(
    pool_id: str,
    terms: GovernedTerms,
    cover_type: CoverType,
    amount: int,
    covered_contract: str | None = None,
) -> CoverTerms:
    """The terms a cover of ``amount`` base units gets, or why it gets none."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidRequest("amount", "the cover amount must be a positive integer")
    at = f"block {terms.block_number}, terms version {terms.version}"
    if terms.paused:
        raise PreconditionFailed(f"pool {pool_id} is paused by governance ({at})")
    if covered_contract is not None and covered_contract.lower() not in {
        c.lower() for c in terms.covered
    }:
        raise InvalidRequest(
            "covered_contract",
            f"{covered_contract} is not on pool {pool_id}'s covered-contract list ({at})",
        )
    limit = terms.limit(cover_type)
    if amount > limit:
        raise CapacityExceeded(
            pool_id,
            requested=amount,
            available=limit,
            limit=f"governed {cover_type.name.lower()} coverage limit",
            detail=at,
        )
    return CoverTerms(
        pool_id=pool_id,
        terms=terms.terms,
        block_number=terms.block_number,
        version=terms.version,
        cover_type=cover_type,
        covered_contract=covered_contract,
        limit=limit,
        premium=terms.premium,
        oracles=terms.oracles,
        oracle_threshold=terms.oracle_threshold,
    )


class BoundTermsBook(Protocol):
    """Where the terms a cover was bound under are kept (written once, at bind)."""

    async def record_cover_terms(
        self, cover_id: str, terms: str, block_number: int, version: int, limit: int
    ) -> None: ...
    async def cover_terms(self, cover_id: str) -> tuple[str, int, int, int] | None: ...


@dataclass(frozen=True, slots=True)
class TermsStamp:
    """Which governed terms a quote or bind used: 0 / empty without governance."""

    contract: str = ""
    block_number: int = 0
    version: int = 0


NO_TERMS = TermsStamp()


def chain_cover_type(cover_type: str) -> CoverType:
    """The router's cover type (``"protocol"``...) as PoolTerms numbers it."""
    try:
        return CoverType[str(cover_type).upper()]
    except KeyError:
        raise InvalidRequest("cover_type", f"{cover_type!r} has no governed limit") from None


class GovernedCovers:
    """Quotes and binds under the governed terms in force.

    Terms are refreshed periodically (:meth:`run`) and, when a quote finds them
    older than ``max_age``, on demand first; if that read fails, the quote is
    refused rather than priced on terms that may have changed. A pool with no
    PoolTerms in ``[governance]`` is not governed (nothing checked, stamp 0).
    """

    def __init__(
        self,
        follower: TermsFollower,
        book: BoundTermsBook,
        governed: Mapping[str, str],
        max_age: timedelta,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._follower = follower
        self._book = book
        self._governed = frozenset(governed)
        self._max_age = max_age.total_seconds()
        self._clock = clock
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def governs(self, pool_id: str) -> bool:
        return pool_id in self._governed

    async def refresh(self) -> None:
        async with self._lock:
            await self._follower.refresh()
            self._read_at = self._clock()

    def _stale(self) -> bool:
        return self._read_at is None or self._clock() - self._read_at > self._max_age

    async def _fresh(self, pool_id: str) -> GovernedTerms:
        read_at = self._read_at
        if self._stale():
            try:
                async with self._lock:  # concurrent quotes: one read, the others wait
                    if self._stale():
                        await self._follower.refresh()
                        self._read_at = self._clock()
            except (ChainError, OSError) as exc:
                why = f"{type(exc).__name__}: {str(exc)[:200]}"
                if read_at is None:
                    raise PreconditionFailed(
                        f"the governed terms of pool {pool_id} have not been read from "
                        f"chain at a final block yet ({why}); no quote or bind until they are"
                    ) from None
                raise PreconditionFailed(
                    f"the governed terms of pool {pool_id} are older than "
                    f"{self._max_age:g} s and reading them again failed ({why})"
                ) from None
        return self._follower.terms_in_force(pool_id)

    async def check(
        self, pool_id: str, cover_type: str, amount: int, addresses: Sequence[str]
    ) -> CoverTerms | None:
        """The governed terms a cover of ``amount`` on a deployment at ``addresses``
        gets now (every address must be a covered contract), or why it gets none."""
        if not self.governs(pool_id):
            return None
        terms = await self._fresh(pool_id)
        kind = chain_cover_type(cover_type)
        first = terms_for_cover(pool_id, terms, kind, amount, addresses[0] if addresses else None)
        for address in addresses[1:]:
            terms_for_cover(pool_id, terms, kind, amount, address)
        return first

    async def record(self, cover_id: str, terms: CoverTerms) -> None:
        await self._book.record_cover_terms(
            cover_id, terms.terms, terms.block_number, terms.version, terms.limit
        )

    async def bound(self, cover_id: str) -> TermsStamp:
        found = await self._book.cover_terms(cover_id)
        if found is None:
            return NO_TERMS
        return TermsStamp(found[0], found[1], found[2])

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Refresh every ``interval`` seconds until ``stop`` is set; a failed read
        is logged and retried at the next tick (quotes then refuse once stale)."""
        while not stop.is_set():
            try:
                await self.refresh()
            except (ChainError, OSError) as exc:
                log.warning("reading governed terms failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


def stamp(terms: CoverTerms | None) -> TermsStamp:
    if terms is None:
        return NO_TERMS
    return TermsStamp(terms.terms, terms.block_number, terms.version)

"""Opening a bound cover on chain: the bind records the opening in its own
transaction (status OPENING), and after the commit the executor's opening saga
(:mod:`router.execution.openings`, workflow id ``"open-" + cover id``) carries
out ``CoverOpening`` with the on-chain id :func:`router.domain.openings.chain_cover_id`
and marks it OPEN (certificate holder read back from chain) or FAILED (the
chain's reason, e.g. the payer did not approve the premium).

A cover bound without holder and payer has no opening: it lives in the
database only, as before. A cover whose opening is not OPEN is not claimable
(:func:`check_open_on_chain`).
"""

from __future__ import annotations

from typing import Protocol

from router import domain as m
from router.domain.claims import RefusalReason
from router.domain.openings import Opening, OpeningStatus, chain_cover_id
from router.errors import ClaimRefused, InvalidRequest

ADDRESS_MAX = 128


class OpeningStore(Protocol):
    async def record_opening(self, opening: Opening) -> Opening: ...
    async def openings(self, cover_ids: list[str]) -> dict[str, Opening]: ...
    async def openings_in(self, status: OpeningStatus) -> list[Opening]: ...


class OpeningStarter(Protocol):
    async def start_opening(self, cover_id: str) -> bool:
        """Start the cover's opening saga; False if it runs or ran."""
        ...


def parse_parties(holder: str, payer: str) -> tuple[str, str] | None:
    """Both or neither: None means a database-only bind."""
    holder, payer = holder.strip(), payer.strip()
    if not holder and not payer:
        return None
    for name, value in (("holder_address", holder), ("payer_address", payer)):
        if not value:
            raise InvalidRequest(name, "required when the other party is given (both or neither)")
        if len(value) > ADDRESS_MAX or not value.isprintable():
            raise InvalidRequest(name, "not an address")
    return holder, payer


class Openings:
    def __init__(self, store: OpeningStore, starter: OpeningStarter | None) -> None:
        self._store = store
        self._starter = starter

    async def record(self, cover: m.Cover, holder: str, payer: str) -> Opening:
        """In the bind's unit of work: the opening to carry out (all the limit is locked)."""
        return await self._store.record_opening(
            Opening(
                cover.cover_id, chain_cover_id(cover.cover_id), holder, payer, cover.limit_amount
            )
        )

    async def start(self, cover_id: str) -> Opening | None:
        """After the commit (and on every replay, which recovers a lost start)."""
        opening = (await self._store.openings([cover_id])).get(cover_id)
        if opening is not None and opening.status is OpeningStatus.OPENING and self._starter:
            await self._starter.start_opening(cover_id)
        return opening

    async def reconcile(self) -> int:
        """At start: every opening still OPENING has its saga (a start lost to a crash
        between the bind's commit and the start). Started ones are refused, so 0."""
        if self._starter is None:
            return 0
        started = 0
        for o in await self._store.openings_in(OpeningStatus.OPENING):
            started += await self._starter.start_opening(o.cover_id)
        return started

    async def of(self, cover_ids: list[str]) -> dict[str, Opening]:
        return await self._store.openings(cover_ids)


async def check_open_on_chain(store: OpeningStore, cover_id: str) -> None:
    """A cover with an opening that is not OPEN cannot be claimed on: refused precisely."""
    opening = (await store.openings([cover_id])).get(cover_id)
    if opening is None or opening.status is OpeningStatus.OPEN:
        return
    why = f": {opening.detail}" if opening.detail else " yet"
    raise ClaimRefused(
        RefusalReason.NOT_OPEN,
        f"cover {cover_id} is not open on chain (opening {opening.status.value}){why}",
    )

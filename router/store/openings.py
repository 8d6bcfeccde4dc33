"""What cover openings persist: one row per cover to open on chain.

Persists and decides nothing: the moves (opening -> open | failed) are the
use case's (:mod:`router.app.openings`). Joins the open unit of work, so a
bind records its opening in the bind's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from router.domain.checks import utcnow
from router.domain.openings import Opening, OpeningStatus
from router.errors import NotFound
from router.store._base import StoreBase
from router.store.tables import metadata

OPENINGS = metadata.tables["cover_openings"]


def _opening(r: object) -> Opening:
    row = r._mapping  # type: ignore[attr-defined]
    return Opening(
        cover_id=row["cover_id"],
        chain_cover_id=row["chain_cover_id"],
        holder=row["holder"],
        payer=row["payer"],
        locked=int(row["locked"]),
        status=OpeningStatus(row["status"]),
        tx_ref=row["tx_ref"],
        certificate_holder=row["certificate_holder"],
        detail=row["detail"],
    )


class OpeningsPart(StoreBase):
    async def record_opening(self, opening: Opening) -> Opening:
        """Insert once; a replay (the same cover) returns the stored row."""
        async with self._tx() as conn:
            found = (
                await conn.execute(
                    sa.select(OPENINGS).where(OPENINGS.c.cover_id == opening.cover_id)
                )
            ).first()
            if found is not None:
                return _opening(found)
            await conn.execute(
                OPENINGS.insert().values(
                    cover_id=opening.cover_id,
                    chain_cover_id=opening.chain_cover_id,
                    holder=opening.holder,
                    payer=opening.payer,
                    locked=opening.locked,
                    status=opening.status.value,
                    tx_ref=opening.tx_ref,
                    certificate_holder=opening.certificate_holder,
                    detail=opening.detail,
                    updated_at=utcnow(),
                )
            )
        return opening

    async def get_opening(self, cover_id: str) -> Opening:
        found = await self.openings([cover_id])
        if cover_id not in found:
            raise NotFound("cover opening", cover_id)
        return found[cover_id]

    async def openings(self, cover_ids: Sequence[str]) -> dict[str, Opening]:
        if not cover_ids:
            return {}
        async with self._tx() as conn:
            rows = await conn.execute(
                sa.select(OPENINGS).where(OPENINGS.c.cover_id.in_(list(cover_ids)))
            )
            return {o.cover_id: o for o in map(_opening, rows)}

    async def openings_in(self, status: OpeningStatus) -> list[Opening]:
        async with self._tx() as conn:
            rows = await conn.execute(
                sa.select(OPENINGS)
                .where(OPENINGS.c.status == status.value)
                .order_by(OPENINGS.c.updated_at)
            )
            return [_opening(r) for r in rows]

    async def set_opening(
        self,
        cover_id: str,
        status: OpeningStatus,
        *,
        tx_ref: str = "",
        certificate_holder: str = "",
        detail: str = "",
    ) -> None:
        async with self._tx() as conn:
            await conn.execute(
                OPENINGS.update()
                .where(OPENINGS.c.cover_id == cover_id)
                .values(
                    status=status.value,
                    tx_ref=tx_ref,
                    certificate_holder=certificate_holder,
                    detail=detail[:512],
                    updated_at=utcnow(),
                )
            )

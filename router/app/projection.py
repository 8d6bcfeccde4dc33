"""What a plan not yet executed would leave: every pool's capital, SCR and ratio
after all its steps, next to now. A projection, not a position: nothing has
moved, and the report labels it so.

Capital after = confirmed capital now, less what each step takes out of a pool
(a transfer's amount, a cession's premium), plus what a step out of a hub
brings to a pool. The SCR after comes from the same engine positions use, with
the plan's cessions counted as placed quota shares (capital does not change a
requirement, a cession does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from router import domain as m
from router.app.ports import Engine, PositionStore
from router.app.positions import exposures, read_state
from router.domain.drift import outflow

_HUB = "hub:"


@dataclass(frozen=True, slots=True)
class Projection:
    pool_id: str
    chain: str
    capital_now: int
    capital_after: int
    scr_now: int
    scr_after: int

    @staticmethod
    def _ratio(capital: int, scr: int) -> int | None:
        return capital * 10_000 // scr if scr > 0 else None

    @property
    def ratio_now_bps(self) -> int | None:
        return self._ratio(self.capital_now, self.scr_now)

    @property
    def ratio_after_bps(self) -> int | None:
        return self._ratio(self.capital_after, self.scr_after)


def capital_after(capital: dict[str, int], steps: tuple[m.PlanStep, ...]) -> dict[str, int]:
    """Each pool's capital once every step ran (pure; never below zero)."""
    out = dict(capital)
    for s in steps:
        if not s.src_pool.startswith(_HUB):
            out[s.src_pool] = max(0, out.get(s.src_pool, 0) - outflow(s))
        elif s.kind is m.StepKind.TRANSFER and s.dst_pool and not s.dst_pool.startswith(_HUB):
            out[s.dst_pool] = out.get(s.dst_pool, 0) + s.amount
    return out


def ceded_after(ceded: dict[str, int], steps: tuple[m.PlanStep, ...]) -> dict[str, int]:
    out = dict(ceded)
    for s in steps:
        if s.kind is m.StepKind.CESSION and s.share_ppm:
            out[s.src_pool] = min(1_000_000, out.get(s.src_pool, 0) + s.share_ppm)
    return out


async def project_plan(store: PositionStore, engine: Engine, plan: m.Plan) -> list[Projection]:
    """Every pool now and after ``plan``'s steps, sorted by (chain, pool)."""
    snap = await read_state(store)
    now_cap = {p.pool_id: snap.capital(p.pool_id) for p in snap.pools}
    now_ceded = snap.ceded_ppm()
    after_cap = capital_after(now_cap, plan.steps)
    after_ceded = ceded_after(now_ceded, plan.steps)
    # The simulation runs in a worker thread (numpy), off the event loop.
    before = await asyncio.to_thread(engine.requirements, exposures(snap))
    after = await asyncio.to_thread(engine.requirements, exposures(snap, after_cap, after_ceded))
    return [
        Projection(
            p.pool_id,
            p.chain,
            now_cap[p.pool_id],
            after_cap[p.pool_id],
            before[p.pool_id].scr,
            after[p.pool_id].scr,
        )
        for p in snap.pools
    ]

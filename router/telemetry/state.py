"""The state gauges' reading: positions from the router's own view, counts from the store.

Positions come from the :class:`~router.app.positions.PositionCache` the
API answers ``GetPosition`` from (built at most once per TTL, patched as
balances confirm), so a scrape shows what operators see and costs no
rebuild; plan and step counts are ``GROUP BY`` queries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from router import domain as m
from router.app.positions import PositionCache
from router.config import PolicyConfig
from router.telemetry.metrics import PoolReading, StateReading


class CountingStore(Protocol):
    async def count_plans_by_status(self) -> dict[str, int]: ...
    async def count_steps_by_status(self) -> dict[str, int]: ...
    async def count_pending_steps(self) -> int: ...


def pool_reading(view: m.PoolView, now: datetime, limit: timedelta) -> PoolReading:
    ratio = view.ratio_bps
    age = None if view.fresh_at is None else max(0.0, (now - view.fresh_at).total_seconds())
    return PoolReading(
        chain=view.pool.chain,
        pool=view.pool.pool_id,
        capital=view.capital,
        requirement=view.requirement.required,
        in_flight=view.in_flight,
        locked=view.locked,
        ratio=None if ratio is None else ratio / 10_000,
        staleness_seconds=age,
        stale=view.stale_at(now, limit),
    )


async def read_state(
    store: CountingStore, positions: PositionCache, policy: PolicyConfig
) -> StateReading:
    view = await positions.get()
    now = m.utcnow()
    limit = timedelta(seconds=policy.staleness_limit_seconds)
    in_transit: dict[tuple[str, str], int] = {}
    stuck: dict[str, int] = {}
    for t in view.transit:
        key = (t.chain, t.place)
        in_transit[key] = in_transit.get(key, 0) + t.amount
        if t.status == m.StepStatus.STUCK.value:
            stuck[t.chain] = stuck.get(t.chain, 0) + t.amount
    return StateReading(
        pools=tuple(pool_reading(v, now, limit) for v in view.views),
        plans=await store.count_plans_by_status(),
        steps=await store.count_steps_by_status(),
        pending_steps=await store.count_pending_steps(),
        in_transit=in_transit,
        stuck=stuck,
    )

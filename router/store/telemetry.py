"""Counts the metrics exporter reads at scrape time: plans and steps by state.

Aggregates in SQL (one ``GROUP BY`` each), so a scrape costs the same
whatever the history's length; the plans' ``status`` column is indexed.
"""

from __future__ import annotations

import sqlalchemy as sa

from router.domain.plans import PlanStatus, StepStatus
from router.store._base import PLANS, STEPS, StoreBase

#: Steps of an executing plan in these states still have work to do.
_PENDING_STEPS = (
    StepStatus.PENDING,
    StepStatus.SIGNED,
    StepStatus.SENT,
    StepStatus.DELIVERING,
    StepStatus.STUCK,
)


class TelemetryPart(StoreBase):
    async def count_plans_by_status(self) -> dict[str, int]:
        """Every plan status (zero where none), with how many plans are in it."""
        stmt = sa.select(PLANS.c.status, sa.func.count()).group_by(PLANS.c.status)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        out = {s.value: 0 for s in PlanStatus}
        out.update({str(status): int(n) for status, n in rows})
        return out

    async def count_steps_by_status(self) -> dict[str, int]:
        """Every step status (zero where none), with how many steps are in it."""
        stmt = sa.select(STEPS.c.status, sa.func.count()).group_by(STEPS.c.status)
        async with self._tx() as conn:
            rows = (await conn.execute(stmt)).all()
        out = {s.value: 0 for s in StepStatus}
        out.update({str(status): int(n) for status, n in rows})
        return out

    async def count_pending_steps(self) -> int:
        """Steps of executing plans that are not finished: the executor's backlog."""
        stmt = (
            sa.select(sa.func.count())
            .select_from(STEPS.join(PLANS, STEPS.c.plan_id == PLANS.c.plan_id))
            .where(PLANS.c.status == PlanStatus.EXECUTING.value)
            .where(STEPS.c.status.in_([s.value for s in _PENDING_STEPS]))
        )
        async with self._tx() as conn:
            return int((await conn.execute(stmt)).scalar_one())

"""Retention: the balance-report history is kept for a window, then pruned.

The server calls :meth:`Retention.tick` periodically (one bounded batch per
tick, so pruning never holds a long transaction beside ingestion);
``ballast prune`` calls :meth:`Retention.prune` (every batch, or only counts
with ``dry_run``). What may go is the store's rule (``router/README.md``,
Retention): never a pool's confirmed balance or the votes behind it, never
the audit log. The limits' consumptions of plans that ended go with the same
window (never inside the limits' rolling 24 hours, where they still count).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from router import domain as m
from router.app.ports import HistoryStore
from router.config import RetentionConfig
from router.errors import RouterError

log = logging.getLogger("ballast.router.app.retention")


@dataclass(frozen=True, slots=True)
class PruneReport:
    cutoff: datetime  # rows received before this are past the window
    removed: int  # rows deleted (would be deleted, on a dry run)
    kept: int  # history rows left (before the removal, on a dry run)
    dry_run: bool
    usage_removed: int = 0  # limit consumptions of ended plans deleted (would be)


class Retention:
    def __init__(self, store: HistoryStore, config: RetentionConfig) -> None:
        self._store = store
        self._config = config

    @property
    def enabled(self) -> bool:
        return self._config.history_days > 0

    def cutoff(self, now: datetime | None = None) -> datetime:
        return (now or m.utcnow()) - timedelta(days=self._config.history_days)

    async def tick(self, now: datetime | None = None) -> int:
        """Prune at most one batch; how many rows went (0 when retention is off)."""
        if not self.enabled:
            return 0
        cutoff, batch = self.cutoff(now), self._config.prune_batch
        usage = await self._store.prune_limit_usage(cutoff, limit=batch)
        return usage + await self._store.prune_history(cutoff, limit=batch)

    async def prune(self, *, now: datetime | None = None, dry_run: bool = False) -> PruneReport:
        """Everything past the window, batch by batch (each its own transaction)."""
        cutoff = self.cutoff(now)
        if not self.enabled:
            return PruneReport(cutoff, 0, await self._store.count_history(), dry_run)
        if dry_run:
            would = await self._store.count_prunable_history(cutoff)
            usage = await self._store.count_prunable_limit_usage(cutoff)
            return PruneReport(cutoff, would, await self._store.count_history(), True, usage)
        removed = await self._all(self._store.prune_history, cutoff)
        usage = await self._all(self._store.prune_limit_usage, cutoff)
        return PruneReport(cutoff, removed, await self._store.count_history(), False, usage)

    async def _all(self, prune: Callable[..., Awaitable[int]], cutoff: datetime) -> int:
        """Batch after batch (each its own transaction) until one comes back short."""
        removed = 0
        while True:
            n = await prune(cutoff, limit=self._config.prune_batch)
            removed += n
            if n < self._config.prune_batch:
                return removed

    async def run(self, stop: asyncio.Event) -> None:
        """Tick at once, then every ``prune_interval_seconds`` until ``stop``
        (the tick under way finishes first); a failed tick is retried."""
        while True:
            try:
                n = await self.tick()
                if n:
                    log.info("pruned %d rows (history, limit usage) past the window", n)
            except RouterError:  # the database away: try again next tick
                log.warning("history pruning failed; retrying next tick", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._config.prune_interval_seconds)
            if stop.is_set():
                return

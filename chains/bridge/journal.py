"""What a relayer must remember across restarts: one scan cursor per source chain,
and every transfer it has seen but not finished, with the delivery transaction
it signed for it (recorded **before** that transaction is broadcast).

The router keeps this in its store (one table, behind the same Protocol);
:class:`MemoryJournal` is for tests and one-shot runs, :class:`FileJournal`
for dev setups (one JSON file, replaced atomically on every change).

Invariants every implementation keeps:
- a cursor never moves backwards;
- a transfer is ``put`` before the cursor passes its block (the relayer's
  order), so a crash can never lose a send between "seen" and "tracked";
- ``done`` is the only removal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from chains.bridge.values import PendingDelivery
from chains.errors import InvalidInput


@runtime_checkable
class RelayerJournal(Protocol):
    async def cursor(self, chain: str) -> int | None:
        """The next height to scan on ``chain``; None before the first scan."""
        ...

    async def set_cursor(self, chain: str, height: int) -> None: ...

    async def pending(self) -> list[PendingDelivery]:
        """Every tracked, unfinished transfer, in the order first seen."""
        ...

    async def get(self, transfer_id: str) -> PendingDelivery | None: ...

    async def put(self, item: PendingDelivery) -> None:
        """Insert or replace the record of ``item.transfer_id``."""
        ...

    async def done(self, transfer_id: str) -> None: ...


class MemoryJournal:
    """A journal in memory: survives a relayer, not the process."""

    def __init__(self) -> None:
        self._cursors: dict[str, int] = {}
        self._items: dict[str, PendingDelivery] = {}

    async def cursor(self, chain: str) -> int | None:
        return self._cursors.get(chain)

    async def set_cursor(self, chain: str, height: int) -> None:
        self._cursors[chain] = max(height, self._cursors.get(chain, height))

    async def pending(self) -> list[PendingDelivery]:
        return list(self._items.values())

    async def get(self, transfer_id: str) -> PendingDelivery | None:
        return self._items.get(transfer_id)

    async def put(self, item: PendingDelivery) -> None:
        self._items[item.transfer_id] = item

    async def done(self, transfer_id: str) -> None:
        self._items.pop(transfer_id, None)


class FileJournal(MemoryJournal):
    """A journal in one JSON file (dev setups): every change rewrites it atomically
    (write a temporary file, fsync, rename), so a crash leaves the old or the new
    state, never half of one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self._path = Path(path)
        self._lock = asyncio.Lock()
        if self._path.exists():
            try:
                data = json.loads(self._path.read_text("utf-8"))
                self._cursors = {str(k): int(v) for k, v in data.get("cursors", {}).items()}
                for raw in data.get("pending", []):
                    item = PendingDelivery(**raw)
                    self._items[item.transfer_id] = item
            except (ValueError, TypeError, AttributeError) as exc:
                raise InvalidInput(
                    f"relayer journal {self._path.name} cannot be read ({type(exc).__name__}): "
                    "fix or move it; a relayer never starts on a journal it does not understand"
                ) from None

    async def set_cursor(self, chain: str, height: int) -> None:
        async with self._lock:
            await super().set_cursor(chain, height)
            await self._flush()

    async def put(self, item: PendingDelivery) -> None:
        async with self._lock:
            await super().put(item)
            await self._flush()

    async def done(self, transfer_id: str) -> None:
        async with self._lock:
            await super().done(transfer_id)
            await self._flush()

    async def _flush(self) -> None:
        state: dict[str, Any] = {
            "cursors": dict(self._cursors),
            "pending": [dataclasses.asdict(item) for item in self._items.values()],
        }
        await asyncio.to_thread(_write_atomically, self._path, json.dumps(state, indent=1))


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)

"""One nonce sequence per signing key per chain, shared by every adapter in the process.

Two adapters built for the same key and chain (a router and a worker in one
process, or a test that makes a second adapter) must never sign two
different transactions at one nonce, so the sequence lives here, keyed by
(chain id, address), not in an adapter. It remembers which nonces this
process signed (every attempt: a fee replacement shares its predecessor's
nonce) so that it can tell its own pending transactions from anybody else's:

- transactions pending on the key that this process did not sign are a
  :class:`~chains.errors.StuckTransaction` (another sender, or a previous run
  whose signed transactions were not handed back with :meth:`adopt`);
- a nonce this process signed but the node still lacks, after the configured
  number of blocks, is a :class:`~chains.errors.NonceGap`: every later nonce
  waits behind it until it is broadcast or cancelled.

Allocation is synchronous under a per-event-loop lock held by the caller
around "read the node's counts, allocate, sign", so concurrent prepares take
distinct nonces. One process runs one event loop; the lock map only keeps a
second loop (a test runner's) from tripping over a lock bound to the first.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass, field

from chains.errors import NonceGap, StuckTransaction


@dataclass(slots=True)
class _Issued:
    hashes: set[str] = field(default_factory=set)
    signed_at_block: int = 0
    broadcast: bool = False


class NonceManager:
    """The nonces of one key on one chain (see module docstring)."""

    def __init__(self, chain_id: int, address: str) -> None:
        self.chain_id = chain_id
        self.address = address
        self._next: int | None = None
        self._issued: dict[int, _Issued] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def lock(self) -> asyncio.Lock:
        """The lock to hold around reading the node's counts, allocating and signing."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def allocate(self, *, latest: int, pending: int, head: int, gap_blocks: int) -> int:
        """The next nonce, given the node's mined (``latest``) and pooled (``pending``)
        transaction counts of the key and its head block.

        Raises :class:`StuckTransaction` when nonces in ``[latest, pending)`` are
        pending that this process did not sign, and :class:`NonceGap` when the
        node still lacks a nonce this process signed ``gap_blocks`` blocks ago.
        """
        self._forget_below(latest)
        foreign = [n for n in range(latest, pending) if n not in self._issued]
        if foreign:
            raise StuckTransaction(
                f"{len(foreign)} transaction(s) not signed here are pending on {self.address} "
                f"at nonce(s) {_span(foreign)} (mined count {latest}, pending count {pending}): "
                "another sender uses this key, or a previous run left them; adopt them or "
                "cancel those nonces before sending",
                address=self.address,
                nonces=tuple(foreign),
                latest_nonce=latest,
                pending_nonce=pending,
            )
        missing = self._issued.get(pending)
        if missing is not None and head - missing.signed_at_block >= gap_blocks:
            raise NonceGap(
                f"nonce {pending} of {self.address} was signed at block "
                f"{missing.signed_at_block} but the node does not have it "
                f"({'broadcast and dropped' if missing.broadcast else 'never broadcast'}); "
                f"every later nonce waits behind it: broadcast or cancel it",
                address=self.address,
                nonces=(pending,),
                tx_hashes=tuple(sorted(missing.hashes)),
                latest_nonce=latest,
                pending_nonce=pending,
            )
        nonce = pending if self._next is None else max(pending, self._next)
        self._next = nonce + 1
        return nonce

    def record(self, nonce: int, tx_hash: str, *, signed_at_block: int) -> None:
        """A transaction was signed at ``nonce`` (a first attempt or a replacement)."""
        entry = self._issued.setdefault(nonce, _Issued(signed_at_block=signed_at_block))
        entry.hashes.add(tx_hash)
        entry.signed_at_block = max(entry.signed_at_block, signed_at_block)
        if self._next is None or self._next <= nonce:
            self._next = nonce + 1

    def adopt(
        self, nonce: int, tx_hash: str, *, signed_at_block: int, broadcast: bool = True
    ) -> None:
        """A transaction of ours signed elsewhere (an earlier run, another replica's
        record): count its nonce as ours from now on."""
        self.record(nonce, tx_hash, signed_at_block=signed_at_block)
        if broadcast:
            self._issued[nonce].broadcast = True

    def broadcast(self, nonce: int) -> None:
        entry = self._issued.get(nonce)
        if entry is not None:
            entry.broadcast = True

    def release(self, nonce: int, tx_hash: str) -> None:
        """A signed transaction was refused by the node and will never be sent again.

        If it was the last nonce handed out and no other attempt holds it, the
        nonce is reused; otherwise it stays a gap to broadcast or cancel.
        """
        entry = self._issued.get(nonce)
        if entry is None:
            return
        entry.hashes.discard(tx_hash)
        if not entry.hashes and self._next == nonce + 1:
            del self._issued[nonce]
            self._next = nonce

    def ours(self, nonce: int) -> frozenset[str]:
        """Hashes this process signed at ``nonce``."""
        entry = self._issued.get(nonce)
        return frozenset(entry.hashes) if entry else frozenset()

    def _forget_below(self, latest: int) -> None:
        for nonce in [n for n in self._issued if n < latest]:
            del self._issued[nonce]


def _span(nonces: list[int]) -> str:
    return str(nonces[0]) if len(nonces) == 1 else f"{nonces[0]}..{nonces[-1]}"


_registry: dict[tuple[int, str], NonceManager] = {}
_registry_lock = threading.Lock()


def nonce_manager(chain_id: int, address: str) -> NonceManager:
    """The process's one manager for this key on this chain id."""
    key = (chain_id, address.lower())
    with _registry_lock:
        manager = _registry.get(key)
        if manager is None:
            manager = _registry[key] = NonceManager(chain_id, address)
        return manager

"""A LiteSVM ledger with slots, commitment levels and a transaction index.

LiteSVM executes real SVM programs but has no blocks, no commitment levels and
no history queries. A JSON-RPC node needs all three, so this wraps it:

- Every executed transaction (and every back-door set-up write) lands in a new
  slot; ``height == slot`` (no skipped slots).
- ``confirmed`` and ``processed`` see the newest slot; ``finalized`` lags by
  ``finality_depth`` slots, as a real cluster's root does (~32 slots). Account
  states are versioned per slot for every account ever written, so a finalized
  read really returns the older state.
- Blockhashes are our own (one per slot) and stay valid for
  ``blockhash_validity`` blocks, like the real 150-block window; LiteSVM's
  single-hash check is switched off so the window is ours to model.
- Signatures are indexed by every account they touch, for
  ``getSignaturesForAddress`` and ``getTransaction``; SPL token accounts by
  their mint, for ``getTokenLargestAccounts`` (who holds a certificate mint).

Synchronous on purpose: LiteSVM calls are microseconds and the RPC server runs
them on its event loop between awaits, so each request sees one consistent state.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from solders.account import Account
from solders.hash import Hash
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import (
    FailedTransactionMetadata,
    SimulatedTransactionInfo,
    TransactionMetadata,
)

Tx = Transaction | VersionedTransaction
_TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
_TOKEN_ACCOUNT_LEN = 165

#: Transaction errors after which a real leader still records the transaction
#: (fees charged, signature queryable); others mean it never landed.
_LANDING_ERRORS = ("InstructionError", "InsufficientFundsForRent", "DuplicateInstruction")


class Commitment:
    PROCESSED = "processed"
    CONFIRMED = "confirmed"
    FINALIZED = "finalized"
    ALL = (PROCESSED, CONFIRMED, FINALIZED)


@dataclass(slots=True)
class TxRecord:
    signature: Signature
    slot: int
    tx: Tx
    meta: TransactionMetadata
    err: object | None  # solders TransactionErrorType, or None on success
    block_time: int
    memo: str | None = None


@dataclass(slots=True)
class Rejection:
    """A transaction the node refused before it landed (never in a block)."""

    err: object  # solders error value or a string like "BlockhashNotFound"
    logs: list[str] = field(default_factory=list)
    units: int = 0


class LiteSvmChain:
    """One local Solana cluster: LiteSVM state plus the slot history a node keeps."""

    def __init__(
        self,
        *,
        finality_depth: int = 32,
        blockhash_validity: int = 150,
        genesis_slot: int = 1,
        seed: bytes = b"",
    ) -> None:
        if finality_depth < 0 or blockhash_validity < 1:
            raise ValueError("finality_depth must be >= 0 and blockhash_validity >= 1")
        self.svm = LiteSVM().with_blockhash_check(False)
        self.finality_depth = finality_depth
        self.blockhash_validity = blockhash_validity
        self._seed = seed or hashlib.sha256(str(time.time_ns()).encode()).digest()
        self.slot = genesis_slot
        self._genesis = genesis_slot
        self._hashes: dict[int, Hash] = {}
        self._hash_slot: dict[Hash, int] = {}
        self._history: dict[Pubkey, list[tuple[int, Account | None]]] = {}
        self.txs: dict[Signature, TxRecord] = {}
        self._by_address: dict[Pubkey, list[Signature]] = {}
        self._by_mint: dict[Pubkey, set[Pubkey]] = {}
        self.processed_count = 0
        self._register_slot(genesis_slot)
        self.svm.warp_to_slot(genesis_slot)

    # -- slots and hashes -----------------------------------------------------

    def _register_slot(self, slot: int) -> None:
        h = Hash(hashlib.sha256(self._seed + slot.to_bytes(8, "little")).digest())
        self._hashes[slot] = h
        self._hash_slot[h] = slot

    def slot_at(self, commitment: str) -> int:
        if commitment == Commitment.FINALIZED:
            return max(self._genesis, self.slot - self.finality_depth)
        return self.slot

    def block_height_at(self, commitment: str) -> int:
        return self.slot_at(commitment)

    def blockhash_of(self, slot: int) -> Hash:
        return self._hashes[slot]

    def parent_of(self, slot: int) -> int:
        return max(self._genesis, slot - 1)

    def block_time(self, slot: int) -> int:
        return 1_700_000_000 + (slot - self._genesis) * 2 // 5  # 400 ms slots

    def advance(self, slots: int = 1) -> int:
        """Produce ``slots`` empty blocks: time passes, finality moves up."""
        for _ in range(slots):
            self.slot += 1
            self._register_slot(self.slot)
        self.svm.warp_to_slot(self.slot)
        self._prune()
        return self.slot

    def finalize(self) -> int:
        """Advance until everything done so far is final."""
        return self.advance(self.finality_depth + 1)

    def expire_blockhashes(self) -> int:
        """Advance until every blockhash handed out so far has expired at ``finalized``."""
        return self.advance(self.blockhash_validity + self.finality_depth + 1)

    def last_valid_height(self, blockhash: Hash) -> int | None:
        slot = self._hash_slot.get(blockhash)
        return None if slot is None else slot + self.blockhash_validity

    def blockhash_valid(self, blockhash: Hash, commitment: str) -> bool:
        """Known to the bank at ``commitment`` and not past its last valid height."""
        slot = self._hash_slot.get(blockhash)
        at = self.slot_at(commitment)
        return slot is not None and slot <= at <= slot + self.blockhash_validity

    # -- accounts -------------------------------------------------------------

    def _record(self, keys: Iterable[Pubkey], before: dict[Pubkey, Account | None]) -> None:
        for key in keys:
            versions = self._history.get(key)
            if versions is None:
                versions = self._history[key] = [(-1, before.get(key))]
            account = self.svm.get_account(key)
            versions.append((self.slot, account))
            if (
                account is not None
                and account.owner == _TOKEN_PROGRAM
                and len(account.data) == _TOKEN_ACCOUNT_LEN
            ):
                self._by_mint.setdefault(Pubkey.from_bytes(bytes(account.data[:32])), set()).add(
                    key
                )

    def token_accounts_of(self, mint: Pubkey) -> list[Pubkey]:
        """Every token account of ``mint`` ever written (read each at a commitment)."""
        return sorted(self._by_mint.get(mint, ()), key=bytes)

    def _prune(self) -> None:
        """Keep, per account, the newest version at or below finalized and all newer."""
        root = self.slot_at(Commitment.FINALIZED)
        for versions in self._history.values():
            keep_from = 0
            for i, (slot, _) in enumerate(versions):
                if slot <= root:
                    keep_from = i
                else:
                    break
            if keep_from:
                del versions[:keep_from]

    def account_at(self, key: Pubkey, commitment: str) -> Account | None:
        versions = self._history.get(key)
        if versions is None:  # never written since genesis (programs, sysvars)
            return self.svm.get_account(key)
        at = self.slot_at(commitment)
        for slot, account in reversed(versions):
            if slot <= at:
                return account
        return versions[0][1]

    def set_accounts(self, accounts: dict[Pubkey, Account]) -> int:
        """Back door for set-up: write accounts in one new slot, versioned like a block."""
        self.advance(1)
        before = {k: self.svm.get_account(k) for k in accounts if k not in self._history}
        for key, account in accounts.items():
            self.svm.set_account(key, account)
        self._record(accounts, before)
        return self.slot

    # -- transactions ---------------------------------------------------------

    def check(self, tx: Tx) -> Rejection | None:
        """What a node's front door refuses before simulating or executing."""
        sig = tx.signatures[0]
        if sig in self.txs:
            return Rejection("AlreadyProcessed")
        if not self.blockhash_valid(tx.message.recent_blockhash, Commitment.PROCESSED):
            return Rejection("BlockhashNotFound")
        return None

    def simulate(self, tx: Tx) -> Rejection | SimulatedTransactionInfo:
        rejected = self.check(tx)
        if rejected is not None:
            return rejected
        result = self.svm.simulate_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            return Rejection(result.err(), list(meta.logs()), meta.compute_units_consumed())
        return result

    def execute(self, tx: Tx, memo: str | None = None) -> TxRecord | Rejection:
        """Run ``tx`` in a new slot. Landed transactions (even failed ones) are indexed."""
        rejected = self.check(tx)
        if rejected is not None:
            return rejected
        keys = list(tx.message.account_keys)
        self.advance(1)
        before = {k: self.svm.get_account(k) for k in keys if k not in self._history}
        result = self.svm.send_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            err = result.err()
            meta = result.meta()
            if not _is_landing(err):
                return Rejection(err, list(meta.logs()), meta.compute_units_consumed())
        else:
            err, meta = None, result
        self._record(keys, before)
        record = TxRecord(tx.signatures[0], self.slot, tx, meta, err, self.block_time(self.slot))
        record.memo = memo
        self.txs[record.signature] = record
        for key in keys:
            self._by_address.setdefault(key, []).append(record.signature)
        self.processed_count += 1
        return record

    def signatures_for(self, key: Pubkey, commitment: str) -> list[TxRecord]:
        """Newest first, as a node answers ``getSignaturesForAddress``."""
        at = self.slot_at(commitment)
        sigs = self._by_address.get(key, [])
        return [self.txs[s] for s in reversed(sigs) if self.txs[s].slot <= at]

    def transaction(self, sig: Signature, commitment: str) -> TxRecord | None:
        record = self.txs.get(sig)
        if record is None or record.slot > self.slot_at(commitment):
            return None
        return record

    def is_finalized(self, slot: int) -> bool:
        return slot <= self.slot_at(Commitment.FINALIZED)


def _is_landing(err: object) -> bool:
    text = str(err).removeprefix("TransactionError")
    return text.startswith(_LANDING_ERRORS)

"""Solana adapter: SPL-token risk pools read and moved through solana-py.

Pools are SPL token accounts of the settlement mint owned by the treasury
authority. Reads use ``getMultipleAccounts`` (<= 100 keys per call) at
``finalized``, all chunks at one context slot. ``block_hash`` on Solana is the
blockhash of that finalized slot (``getLatestBlockhash`` at ``finalized``
answers it in the same round trip; it equals ``getBlock(slot).blockhash``).

A transfer is one transaction of three instructions:

1. System ``create_account_with_seed`` (base = treasury authority, seed = first
   32 hex digits of the transfer id): the *marker*. It fails if the account
   exists, so the chain itself refuses a second transaction for the same id.
2. SPL Token ``transfer_checked`` from the pool to the recipient token account.
3. Memo ``ballast:<transfer id>``: ``find_transfer`` reads it back.

``find_transfer`` asks ``getSignaturesForAddress`` of the marker: an index
keyed by the id, one entry per landed attempt.

Confirmation: a sent transaction whose outcome is unknown (lost response,
dropped by the leader) is never re-signed while its blockhash is still valid.
It is re-signed only when the *finalized* block height is past its
``lastValidBlockHeight`` and ``getSignatureStatuses`` (searching history)
still does not know it. Anything in between is a :class:`ConfirmationTimeout`
and the transfer stays in flight for the next call.

With ``witness_urls``, every snapshot's block hash is checked against the
other endpoints (``getBlock`` at that slot): a mismatch is
:class:`EndpointDisagreement`, never averaged or ignored.

Every solana-py / solders / httpx exception is mapped to :mod:`chains.errors`
here and in :mod:`chains.solana_rpc` (solders' ``PanicException`` included).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import SecretBytes
from solana.rpc.async_api import AsyncClient
from solders.account import Account
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.config import (
    RpcAccountInfoConfig,
    RpcBlockConfig,
    RpcContextConfig,
    RpcSendTransactionConfig,
    RpcSignaturesForAddressConfig,
    RpcSignatureStatusConfig,
    RpcTransactionConfig,
)
from solders.rpc.requests import (
    GetBlock,
    GetBlockHeight,
    GetLatestBlockhash,
    GetMinimumBalanceForRentExemption,
    GetMultipleAccounts,
    GetSignaturesForAddress,
    GetSignatureStatuses,
    GetTransaction,
    SendRawTransaction,
)
from solders.rpc.responses import (
    GetBlockHeightResp,
    GetBlockResp,
    GetLatestBlockhashResp,
    GetMinimumBalanceForRentExemptionResp,
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetTransactionResp,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.system_program import CreateAccountWithSeedParams, create_account_with_seed
from solders.token.state import Mint, TokenAccount, TokenAccountState
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import (
    TransactionConfirmationStatus,
    TransactionDetails,
    UiTransactionEncoding,
)

from chains.base import (
    BalanceReport,
    BalanceSnapshot,
    Commitment,
    PoolRef,
    Transfer,
    TransferReceipt,
    TransferStatus,
    check_transfer_id,
)
from chains.errors import (
    AccountMismatch,
    BlockhashExpired,
    ChainError,
    ConfirmationTimeout,
    DuplicateTransfer,
    EndpointDisagreement,
    InsufficientCapital,
    InvalidAddress,
    InvalidAmount,
    InvalidInput,
    MalformedResponse,
    NotFinal,
    RpcResponseError,
    RpcTimeout,
    RpcUnavailable,
    TransactionReverted,
    Unauthorized,
    UnknownChain,
    UnknownPool,
)
from chains.retry import DEFAULT_RETRY, RetryPolicy, with_retries
from chains.solana_rpc import SolanaRpc, redact

log = logging.getLogger("ballast.chains.solana")

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
U64_MAX = 2**64 - 1
TOKEN_ACCOUNT_LEN = 165
MINT_LEN = 82
MAX_KEYS_PER_CALL = 100
MEMO_PREFIX = "ballast:"
_TRANSFER_CHECKED = 12

PREFLIGHT_FAILURE = -32002

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class SolanaConfig:
    """Everything the adapter needs; parsed once, passed in, never read from env here.

    ``treasury_key`` is the 64-byte keypair of the treasury authority (owner of
    every pool token account and fee payer). It is a secret: never in repr,
    logs or errors.
    """

    chain: str
    rpc_url: str
    settlement_mint: str
    treasury_key: SecretBytes = field(repr=False)
    decimals: int = 6
    request_timeout: float = 10.0
    confirm_timeout: float = 60.0
    poll_interval: float = 0.4
    max_resigns: int = 3
    calls_per_request: int = 4  # JSON-RPC calls batched into one HTTP round trip
    same_slot_attempts: int = 3
    retry: RetryPolicy = DEFAULT_RETRY
    send_commitment: Commitment = Commitment.CONFIRMED  # when send_transfer returns
    skip_preflight: bool = False  # then chain-side failures surface from the status poll
    witness_urls: tuple[str, ...] = ()  # other endpoints that must agree on block hashes


def marker_seed(transfer_id: str) -> str:
    """32 chars (the seed limit): the first 128 bits of the id, as hex."""
    return transfer_id[2:34]


def marker_address(authority: Pubkey, transfer_id: str) -> Pubkey:
    return Pubkey.create_with_seed(authority, marker_seed(transfer_id), MEMO_PROGRAM_ID)


def parse_pubkey(value: object, *, what: str, chain: str | None = None) -> Pubkey:
    """A base-58 32-byte key, or :class:`InvalidAddress` naming what is wrong."""
    shown = repr(value)[:60]
    if not isinstance(value, str) or not 32 <= len(value) <= 44:
        raise InvalidAddress(f"{what} {shown} is not a base-58 Solana address", chain=chain)
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise InvalidAddress(
            f"{what} {shown} is not a base-58 Solana address", chain=chain
        ) from None


@dataclass(slots=True)
class _Pending:
    """A signed transfer whose outcome we do not know yet."""

    transfer: Transfer
    tx: Transaction
    last_valid_height: int

    @property
    def signature(self) -> Signature:
        return self.tx.signatures[0]


@dataclass(frozen=True, slots=True)
class _Token:
    mint: Pubkey
    owner: Pubkey
    amount: int


class SolanaAdapter:
    """:class:`chains.base.ChainAdapter` for SPL-token pools. Build with :func:`connect_solana`."""

    def __init__(
        self,
        config: SolanaConfig,
        rpc: SolanaRpc,
        signer: Keypair,
        rent: int,
        witnesses: Sequence[SolanaRpc] = (),
    ) -> None:
        self._config = config
        self._rpc = rpc
        self._witnesses = tuple(witnesses)
        self._signer = signer
        self._authority = signer.pubkey()
        self._mint = Pubkey.from_string(config.settlement_mint)
        self._marker_rent = rent
        self._inflight: dict[str, _Pending] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"SolanaAdapter(chain={self.chain!r}, endpoint={self._rpc.endpoint!r})"

    @property
    def chain(self) -> str:
        return self._config.chain

    @property
    def authority(self) -> str:
        return str(self._authority)

    @property
    def rpc_round_trips(self) -> int:
        return self._round_trips()

    async def aclose(self) -> None:
        for rpc in (self._rpc, *self._witnesses):
            await rpc.client.close()

    def _round_trips(self) -> int:
        return sum(rpc.round_trips for rpc in (self._rpc, *self._witnesses))

    # -- validation -----------------------------------------------------------

    def _pool_key(self, pool: PoolRef) -> Pubkey:
        if pool.chain != self.chain:
            raise UnknownChain(
                f"pool {pool.pool_id!r} is on chain {pool.chain!r}, not {self.chain!r}",
                chain=self.chain,
            )
        key = parse_pubkey(pool.address, what=f"pool {pool.pool_id!r} address", chain=self.chain)
        asset = parse_pubkey(pool.asset, what=f"pool {pool.pool_id!r} mint", chain=self.chain)
        if asset != self._mint:
            raise AccountMismatch(
                f"pool {pool.pool_id!r} names mint {asset}, settlement mint is {self._mint}",
                chain=self.chain,
            )
        return key

    def _token(self, account: Account | None, *, what: str, owner: Pubkey | None) -> _Token:
        """Decode an SPL token account of our mint; ``owner=None`` accepts any owner."""
        if account is None:
            raise UnknownPool(f"{what}: no account", chain=self.chain)
        data = bytes(account.data)
        if account.owner != TOKEN_PROGRAM_ID or len(data) != TOKEN_ACCOUNT_LEN:
            raise AccountMismatch(
                f"{what}: not an SPL token account (program {account.owner}, {len(data)} bytes)",
                chain=self.chain,
            )
        try:
            token = TokenAccount.from_bytes(data)
        except Exception:
            raise AccountMismatch(f"{what}: undecodable token account", chain=self.chain) from None
        if token.state != TokenAccountState.Initialized:
            raise AccountMismatch(f"{what}: token account is {token.state}", chain=self.chain)
        if token.mint != self._mint:
            raise AccountMismatch(
                f"{what}: holds mint {token.mint}, settlement mint is {self._mint}",
                chain=self.chain,
            )
        if owner is not None and token.owner != owner:
            raise AccountMismatch(
                f"{what}: owned by {token.owner}, not the treasury authority {owner}",
                chain=self.chain,
            )
        return _Token(token.mint, token.owner, int(token.amount))

    # -- reads ----------------------------------------------------------------

    async def read_balances(self, pools: Sequence[PoolRef]) -> BalanceSnapshot:
        keys = [self._pool_key(p) for p in pools]  # every check before any call
        before = self._round_trips()
        slot, blockhash, accounts = await with_retries(
            lambda: self._read_at_one_slot(keys), policy=self._config.retry
        )
        await asyncio.gather(*(self._witness(w, slot, blockhash) for w in self._witnesses))
        now = datetime.now(UTC)
        reports = []
        for pool, key in zip(pools, keys, strict=True):
            what = f"pool {pool.pool_id!r} ({key})"
            token = self._token(accounts[key], what=what, owner=self._authority)
            reports.append(
                BalanceReport(
                    chain=self.chain,
                    pool_id=pool.pool_id,
                    address=pool.address,
                    asset=pool.asset,
                    amount=token.amount,
                    block_number=slot,
                    block_hash=str(blockhash),
                    finalized=True,
                    observed_at=now,
                )
            )
        return BalanceSnapshot(
            chain=self.chain,
            block_number=slot,
            block_hash=str(blockhash),
            finalized=True,
            observed_at=now,
            reports=tuple(reports),
            rpc_calls=self._round_trips() - before,
        )

    async def _read_at_one_slot(
        self, keys: Sequence[Pubkey]
    ) -> tuple[int, Hash, dict[Pubkey, Account | None]]:
        unique = list(dict.fromkeys(keys))
        chunks = [
            unique[i : i + MAX_KEYS_PER_CALL] for i in range(0, len(unique), MAX_KEYS_PER_CALL)
        ]
        min_slot: int | None = None
        for _ in range(self._config.same_slot_attempts):
            answers = await self._gather(
                [
                    (
                        GetMultipleAccounts(
                            chunk,
                            RpcAccountInfoConfig(
                                encoding=UiAccountEncoding.Base64,
                                commitment=CommitmentLevel.Finalized,
                                min_context_slot=min_slot,
                            ),
                        ),
                        GetMultipleAccountsResp,
                    )
                    for chunk in chunks
                ]
                + [
                    (
                        GetLatestBlockhash(
                            RpcContextConfig(
                                commitment=CommitmentLevel.Finalized, min_context_slot=min_slot
                            )
                        ),
                        GetLatestBlockhashResp,
                    )
                ]
            )
            slots = {a.context.slot for a in answers}
            if len(slots) == 1:
                accounts: dict[Pubkey, Account | None] = {}
                for chunk, answer in zip(chunks, answers, strict=False):
                    if len(answer.value) != len(chunk):
                        raise MalformedResponse(
                            f"getMultipleAccounts: {len(answer.value)} accounts for "
                            f"{len(chunk)} keys",
                            endpoint=self._rpc.endpoint,
                            chain=self.chain,
                        )
                    accounts.update(zip(chunk, answer.value, strict=True))
                return slots.pop(), answers[-1].value.blockhash, accounts
            min_slot = max(slots)  # finality moved between chunks: read again at the newest
        raise NotFinal(
            f"could not read {len(unique)} accounts at one finalized slot", chain=self.chain
        )

    async def _witness(self, witness: SolanaRpc, slot: int, blockhash: Hash) -> None:
        """Another endpoint must have the same block at this finalized slot."""
        body = GetBlock(
            slot,
            RpcBlockConfig(
                encoding=UiTransactionEncoding.Base64,
                transaction_details=TransactionDetails.None_,
                rewards=False,
                commitment=CommitmentLevel.Finalized,
                max_supported_transaction_version=0,
            ),
        )
        resp = await with_retries(
            lambda: witness.call(body, GetBlockResp), policy=self._config.retry
        )
        theirs = None if resp.value is None else resp.value.blockhash
        if theirs != blockhash:
            raise EndpointDisagreement(
                f"finalized slot {slot}: {self._rpc.endpoint} has block {blockhash}, "
                f"{witness.endpoint} has {theirs}",
                chain=self.chain,
                slot=slot,
            )

    async def _gather(self, calls: Sequence[tuple[Any, type[Any]]]) -> list[Any]:
        """Calls batched ``calls_per_request`` per HTTP request, requests concurrent."""
        size = max(1, self._config.calls_per_request)
        groups = [list(calls[i : i + size]) for i in range(0, len(calls), size)]
        results = await asyncio.gather(*(self._rpc.batch(g) for g in groups))
        return [answer for group in results for answer in group]

    async def _call(self, body: Any, parser: type[R]) -> R:
        """One read-only call under the retry policy."""
        return await with_retries(lambda: self._rpc.call(body, parser), policy=self._config.retry)

    # -- transfers ------------------------------------------------------------

    async def send_transfer(self, transfer: Transfer) -> TransferReceipt:
        source = self._pool_key(transfer.source)
        if transfer.cross_chain:
            raise UnknownChain(
                f"no bridge route from {self.chain!r} to {transfer.dst_chain!r}", chain=self.chain
            )
        recipient = parse_pubkey(transfer.recipient, what="recipient", chain=self.chain)
        if transfer.amount > U64_MAX:
            raise InvalidAmount(
                f"amount {transfer.amount} exceeds the SPL token maximum {U64_MAX}",
                chain=self.chain,
            )
        if recipient == source:
            raise InvalidAddress("recipient is the source pool itself", chain=self.chain)
        lock = self._locks.setdefault(transfer.transfer_id, asyncio.Lock())
        try:
            async with lock:  # one send per id at a time in this process
                return await self._send_locked(transfer, source, recipient)
        finally:
            if not lock.locked():
                self._locks.pop(transfer.transfer_id, None)

    async def _send_locked(
        self, transfer: Transfer, source: Pubkey, recipient: Pubkey
    ) -> TransferReceipt:
        pending = self._inflight.get(transfer.transfer_id)
        if pending is not None and pending.transfer != transfer:
            raise DuplicateTransfer(
                "a different transfer with this id is in flight",
                chain=self.chain,
                transfer_id=transfer.transfer_id,
            )
        if pending is None:
            await self._precheck(transfer, source, recipient)
        for _ in range(self._config.max_resigns + 1):
            if pending is None:
                pending = await self._sign(transfer, source, recipient)
                self._inflight[transfer.transfer_id] = pending
                await self._broadcast(pending)
            receipt = await self._await_outcome(pending)
            if receipt is not None:
                self._inflight.pop(transfer.transfer_id, None)
                return receipt
            log.info(
                "transfer %s: blockhash expired, signature %s unknown: re-signing",
                transfer.transfer_id,
                pending.signature,
            )
            pending = None
        self._inflight.pop(transfer.transfer_id, None)
        raise BlockhashExpired(
            f"blockhash expired {self._config.max_resigns + 1} times without landing",
            chain=self.chain,
            transfer_id=transfer.transfer_id,
        )

    async def _precheck(self, transfer: Transfer, source: Pubkey, recipient: Pubkey) -> None:
        """Precise errors before signing; the chain enforces the same again."""
        marker = marker_address(self._authority, transfer.transfer_id)
        answer = await self._call(
            GetMultipleAccounts(
                [source, recipient, marker],
                RpcAccountInfoConfig(
                    encoding=UiAccountEncoding.Base64, commitment=CommitmentLevel.Confirmed
                ),
            ),
            GetMultipleAccountsResp,
        )
        if len(answer.value) != 3:
            raise MalformedResponse("getMultipleAccounts: wrong length", chain=self.chain)
        src_acc, dst_acc, marker_acc = answer.value
        pool = self._token(
            src_acc, what=f"pool {transfer.source.pool_id!r} ({source})", owner=self._authority
        )
        if dst_acc is None:
            raise AccountMismatch(
                f"recipient {recipient}: no token account of mint {self._mint}", chain=self.chain
            )
        self._token(dst_acc, what=f"recipient {recipient}", owner=None)
        if marker_acc is not None:
            raise DuplicateTransfer(
                f"transfer id already used (marker {marker} exists)",
                chain=self.chain,
                transfer_id=transfer.transfer_id,
            )
        if pool.amount < transfer.amount:
            raise InsufficientCapital(
                f"pool {transfer.source.pool_id!r} holds {pool.amount}, transfer needs "
                f"{transfer.amount}",
                chain=self.chain,
                transfer_id=transfer.transfer_id,
            )

    def _instructions(
        self, transfer: Transfer, source: Pubkey, recipient: Pubkey
    ) -> list[Instruction]:
        marker = marker_address(self._authority, transfer.transfer_id)
        data = bytes([_TRANSFER_CHECKED]) + transfer.amount.to_bytes(8, "little")
        data += bytes([self._config.decimals])
        return [
            create_account_with_seed(
                CreateAccountWithSeedParams(
                    from_pubkey=self._authority,
                    to_pubkey=marker,
                    base=self._authority,
                    seed=marker_seed(transfer.transfer_id),
                    lamports=self._marker_rent,
                    space=0,
                    owner=MEMO_PROGRAM_ID,
                )
            ),
            Instruction(
                TOKEN_PROGRAM_ID,
                data,
                [
                    AccountMeta(source, is_signer=False, is_writable=True),
                    AccountMeta(self._mint, is_signer=False, is_writable=False),
                    AccountMeta(recipient, is_signer=False, is_writable=True),
                    AccountMeta(self._authority, is_signer=True, is_writable=False),
                ],
            ),
            Instruction(
                MEMO_PROGRAM_ID,
                (MEMO_PREFIX + transfer.transfer_id).encode(),
                [AccountMeta(self._authority, is_signer=True, is_writable=False)],
            ),
        ]

    async def _sign(self, transfer: Transfer, source: Pubkey, recipient: Pubkey) -> _Pending:
        latest = await self._call(
            GetLatestBlockhash(RpcContextConfig(commitment=CommitmentLevel.Confirmed)),
            GetLatestBlockhashResp,
        )
        blockhash = latest.value.blockhash
        message = Message.new_with_blockhash(
            self._instructions(transfer, source, recipient), self._authority, blockhash
        )
        tx = Transaction([self._signer], message, blockhash)
        return _Pending(transfer, tx, latest.value.last_valid_block_height)

    async def _broadcast(self, pending: _Pending) -> None:
        """Send once. A lost answer is not an error here: the outcome is polled."""
        body = SendRawTransaction(
            bytes(pending.tx),
            RpcSendTransactionConfig(
                skip_preflight=self._config.skip_preflight,
                preflight_commitment=CommitmentLevel.Confirmed,
            ),
        )
        tid = pending.transfer.transfer_id
        try:
            await self._rpc.call(body, SendTransactionResp)
        except (RpcTimeout, RpcUnavailable, MalformedResponse) as exc:
            log.warning("transfer %s: send outcome unknown (%s): polling", tid, exc)
        except RpcResponseError as exc:
            if exc.code == PREFLIGHT_FAILURE:
                data = exc.fields.get("data")
                err = data.get("err") if isinstance(data, dict) else None
                logs = data.get("logs") if isinstance(data, dict) else None
                if err in ("AlreadyProcessed", "BlockhashNotFound"):
                    return  # landed before, or this node lags: the status poll decides
                self._inflight.pop(tid, None)
                raise self._tx_error(err, logs, tid) from None
            self._inflight.pop(tid, None)  # the node refused it: it was never forwarded
            raise

    def _tx_error(self, err: object, logs: object, tid: str) -> ChainError:
        """A transaction error (node JSON) as our typed error; logs kept, truncated."""
        kw: dict[str, Any] = {"chain": self.chain, "transfer_id": tid}
        if isinstance(logs, list):
            kw["logs"] = [str(line)[:200] for line in logs[-12:]]
        detail = err.get("InstructionError") if isinstance(err, dict) else None
        if isinstance(detail, list) and len(detail) == 2:
            index, why = detail
            custom = why.get("Custom") if isinstance(why, dict) else None
            if index == 0 and custom == 0:
                return DuplicateTransfer("transfer id already used (marker exists)", **kw)
            if index == 0 and custom == 1:
                return InsufficientCapital("treasury authority lacks SOL for fees/rent", **kw)
            if index == 1 and custom == 1:
                return InsufficientCapital("pool balance below the transfer amount", **kw)
            if index == 1 and custom == 4:
                return Unauthorized("treasury authority does not own the pool", **kw)
            if index == 1 and custom == 3:
                return AccountMismatch("recipient token account has another mint", **kw)
            return TransactionReverted(f"instruction {index} failed: {why}", **kw)
        if err == "InsufficientFundsForFee":
            return InsufficientCapital("treasury authority lacks SOL for fees", **kw)
        return TransactionReverted(f"transaction failed: {str(err)[:200]}", **kw)

    async def _statuses(self, sig: Signature) -> Any:
        resp = await self._call(
            GetSignatureStatuses([sig], RpcSignatureStatusConfig(search_transaction_history=True)),
            GetSignatureStatusesResp,
        )
        if len(resp.value) != 1:
            raise MalformedResponse("getSignatureStatuses: wrong length", chain=self.chain)
        return resp.value[0]

    async def _finalized_height(self) -> int:
        resp = await self._call(
            GetBlockHeight(RpcContextConfig(commitment=CommitmentLevel.Finalized)),
            GetBlockHeightResp,
        )
        return int(resp.value)

    async def _await_outcome(self, pending: _Pending) -> TransferReceipt | None:
        """The receipt once landed at ``send_commitment``; None once expired *and*
        unknown (the caller re-signs); :class:`ConfirmationTimeout` otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.confirm_timeout
        want_final = self._config.send_commitment is Commitment.FINALIZED
        while True:
            receipt = self._receipt_from_status(pending, await self._statuses(pending.signature))
            if receipt is not None and (
                receipt.status is TransferStatus.FINALIZED or not want_final
            ):
                return receipt
            if receipt is None and await self._finalized_height() > pending.last_valid_height:
                # Expired at finalized: it can never land now. Ask once more, then re-sign.
                receipt = self._receipt_from_status(
                    pending, await self._statuses(pending.signature)
                )
                if receipt is None:
                    return None
                continue  # it did land after all: wait for the commitment asked for
            if loop.time() >= deadline:
                landed = "landed, not yet final" if receipt else "blockhash still valid"
                raise ConfirmationTimeout(
                    f"signature {pending.signature} not {self._config.send_commitment} in "
                    f"{self._config.confirm_timeout}s ({landed}); not re-signed",
                    chain=self.chain,
                    transfer_id=pending.transfer.transfer_id,
                    signature=str(pending.signature),
                )
            await asyncio.sleep(self._config.poll_interval)

    def _receipt_from_status(self, pending: _Pending, status: Any) -> TransferReceipt | None:
        """A receipt for a landed signature (confirmed or finalized); None if unknown."""
        if status is None:
            return None
        if status.err is not None:
            self._inflight.pop(pending.transfer.transfer_id, None)
            raise self._tx_error(
                json.loads(status.to_json()).get("err"), None, pending.transfer.transfer_id
            )
        level = status.confirmation_status
        if level is None or level == TransactionConfirmationStatus.Processed:
            return None
        final = level == TransactionConfirmationStatus.Finalized
        return TransferReceipt(
            transfer_id=pending.transfer.transfer_id,
            chain=self.chain,
            tx_ref=str(pending.signature),
            status=TransferStatus.FINALIZED if final else TransferStatus.CONFIRMED,
            block_number=status.slot,
            amount=pending.transfer.amount,
        )

    async def find_transfer(self, transfer_id: str) -> TransferReceipt | None:
        check_transfer_id(transfer_id)
        marker = marker_address(self._authority, transfer_id)
        entries = await self._call(
            GetSignaturesForAddress(
                marker,
                RpcSignaturesForAddressConfig(limit=20, commitment=CommitmentLevel.Confirmed),
            ),
            GetSignaturesForAddressResp,
        )
        failed: TransferReceipt | None = None
        for entry in entries.value:
            found = await self._read_transfer(entry.signature, transfer_id)
            if found is None:
                continue
            slot, amount = found
            if entry.err is not None:
                failed = failed or TransferReceipt(
                    transfer_id, self.chain, str(entry.signature), TransferStatus.FAILED, slot, 0
                )
                continue
            final = entry.confirmation_status == TransactionConfirmationStatus.Finalized
            return TransferReceipt(
                transfer_id=transfer_id,
                chain=self.chain,
                tx_ref=str(entry.signature),
                status=TransferStatus.FINALIZED if final else TransferStatus.CONFIRMED,
                block_number=slot,
                amount=amount,
            )
        return failed

    async def _read_transfer(self, sig: Signature, transfer_id: str) -> tuple[int, int] | None:
        """(slot, amount) if this transaction is our transfer carrying this id's memo."""
        resp = await self._call(
            GetTransaction(
                sig,
                RpcTransactionConfig(
                    encoding=UiTransactionEncoding.Base64,
                    commitment=CommitmentLevel.Confirmed,
                    max_supported_transaction_version=0,
                ),
            ),
            GetTransactionResp,
        )
        if resp.value is None:
            return None
        try:
            tx = resp.value.transaction.transaction
            if not isinstance(tx, VersionedTransaction):
                return None
            keys = tx.message.account_keys
            memo, amount = None, None
            for ix in tx.message.instructions:
                program = keys[ix.program_id_index]
                data = bytes(ix.data)
                if program == MEMO_PROGRAM_ID:
                    memo = data.decode("utf-8", "replace")
                elif program == TOKEN_PROGRAM_ID and data[:1] == bytes([_TRANSFER_CHECKED]):
                    amount = int.from_bytes(data[1:9], "little")
        except (IndexError, ValueError, AttributeError):
            raise MalformedResponse(
                f"getTransaction {sig}: undecodable transaction", chain=self.chain
            ) from None
        if memo != MEMO_PREFIX + transfer_id or amount is None:
            return None
        return int(resp.value.slot), amount


async def connect_solana(config: SolanaConfig) -> SolanaAdapter:
    """Open the endpoint, check the settlement mint at ``finalized``, return the adapter.

    solana-py's own transport retry is off (``max_transport_retries=0``): a
    lost ``sendTransaction`` answer must reach us, not be silently re-posted.
    """
    endpoint = redact(config.rpc_url)
    if config.send_commitment is Commitment.LATEST:
        raise InvalidInput(
            "send_commitment must be confirmed or finalized: a processed transaction can "
            "still be dropped",
            chain=config.chain,
        )
    mint = parse_pubkey(config.settlement_mint, what="settlement mint", chain=config.chain)
    try:
        signer = Keypair.from_bytes(config.treasury_key.get_secret_value())
    except ValueError:
        raise InvalidAddress("treasury key is not a 64-byte keypair", chain=config.chain) from None
    client = AsyncClient(
        config.rpc_url, timeout=config.request_timeout, max_transport_retries=0, http2=False
    )
    rpc = SolanaRpc(client, endpoint=endpoint, chain=config.chain)
    try:
        rent_resp, mint_resp = await asyncio.gather(
            with_retries(
                lambda: rpc.call(
                    GetMinimumBalanceForRentExemption(0), GetMinimumBalanceForRentExemptionResp
                ),
                policy=config.retry,
            ),
            with_retries(
                lambda: rpc.call(
                    GetMultipleAccounts(
                        [mint],
                        RpcAccountInfoConfig(
                            encoding=UiAccountEncoding.Base64,
                            commitment=CommitmentLevel.Finalized,
                        ),
                    ),
                    GetMultipleAccountsResp,
                ),
                policy=config.retry,
            ),
        )
        account = mint_resp.value[0] if mint_resp.value else None
        if account is None:
            raise UnknownPool(
                f"settlement mint {mint} does not exist (finalized)", chain=config.chain
            )
        data = bytes(account.data)
        if account.owner != TOKEN_PROGRAM_ID or len(data) != MINT_LEN:
            raise AccountMismatch(f"settlement mint {mint} is not an SPL mint", chain=config.chain)
        decimals = Mint.from_bytes(data).decimals
        if decimals != config.decimals:
            raise AccountMismatch(
                f"settlement mint {mint} has {decimals} decimals, config says {config.decimals}",
                chain=config.chain,
            )
    except BaseException:
        await client.close()
        raise
    witnesses = [
        SolanaRpc(
            AsyncClient(url, timeout=config.request_timeout, max_transport_retries=0, http2=False),
            endpoint=redact(url),
            chain=config.chain,
        )
        for url in config.witness_urls
    ]
    return SolanaAdapter(config, rpc, signer, int(rent_resp.value), witnesses)

"""Transfers of the Solana adapter: one transaction per id, re-signed only when safe.

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
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.instruction import AccountMeta, Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.config import (
    RpcAccountInfoConfig,
    RpcContextConfig,
    RpcSendTransactionConfig,
    RpcSignaturesForAddressConfig,
    RpcSignatureStatusConfig,
    RpcTransactionConfig,
)
from solders.rpc.requests import (
    GetBlockHeight,
    GetLatestBlockhash,
    GetMultipleAccounts,
    GetSignaturesForAddress,
    GetSignatureStatuses,
    GetTransaction,
    SendRawTransaction,
)
from solders.rpc.responses import (
    GetBlockHeightResp,
    GetLatestBlockhashResp,
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetTransactionResp,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.system_program import CreateAccountWithSeedParams, create_account_with_seed
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, UiTransactionEncoding

from chains.base import Commitment, Transfer, TransferReceipt, TransferStatus, check_transfer_id
from chains.errors import (
    AccountMismatch,
    BlockhashExpired,
    ChainError,
    ConfirmationTimeout,
    DuplicateTransfer,
    InsufficientCapital,
    InvalidAddress,
    InvalidAmount,
    MalformedResponse,
    RpcResponseError,
    RpcTimeout,
    RpcUnavailable,
    TransactionReverted,
    Unauthorized,
    UnknownChain,
)
from chains.solana_core import (
    MEMO_PREFIX,
    MEMO_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    U64_MAX,
    Pending,
    SolanaCore,
    marker_address,
    marker_seed,
    parse_pubkey,
)

log = logging.getLogger("ballast.chains.solana")

_TRANSFER_CHECKED = 12

PREFLIGHT_FAILURE = -32002


class SolanaSends(SolanaCore):
    """Sends with on-chain idempotency by transfer id, and look-ups by that id."""

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

    async def _sign(self, transfer: Transfer, source: Pubkey, recipient: Pubkey) -> Pending:
        latest = await self._call(
            GetLatestBlockhash(RpcContextConfig(commitment=CommitmentLevel.Confirmed)),
            GetLatestBlockhashResp,
        )
        blockhash = latest.value.blockhash
        message = Message.new_with_blockhash(
            self._instructions(transfer, source, recipient), self._authority, blockhash
        )
        tx = Transaction([self._signer], message, blockhash)
        return Pending(transfer, tx, latest.value.last_valid_block_height)

    async def _broadcast(self, pending: Pending) -> None:
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

    async def _await_outcome(self, pending: Pending) -> TransferReceipt | None:
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

    def _receipt_from_status(self, pending: Pending, status: Any) -> TransferReceipt | None:
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

"""Broadcast, status and look-ups on Solana, and the one-call sends built from them.

``broadcast(signed)`` sends the signed bytes once. A lost answer is not an
error (the outcome is UNKNOWN: look with ``status``); "already processed" is
success; a preflight failure is the precise typed error.

``status(signed)`` asks ``getSignatureStatuses`` (searching history): FAILED
with the transaction error, INCLUDED at confirmed, FINAL at finalized. An
unknown signature is DROPPED only once the *finalized* block height is past
the transaction's ``lastValidBlockHeight`` and a second look still does not
know it: then it can never land and the effect may be signed again. Before
that it is UNKNOWN, and re-signing would risk a second transaction (the
marker would make the chain refuse it, but the refusal costs a fee).

``find_effect(effect)`` asks for the effect's marker account at finalized and
confirmed, and finds the transaction through the marker's signatures.

``send_transfer``/``complete_inbound`` are those ports composed: one
transaction per id in flight per adapter, re-signed only after the expiry
above; a :class:`~chains.errors.ConfirmationTimeout` leaves it in flight for
the next call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
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
    GetMultipleAccounts,
    GetSignaturesForAddress,
    GetSignatureStatuses,
    GetTransaction,
    SendRawTransaction,
)
from solders.rpc.responses import (
    GetBlockHeightResp,
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetTransactionResp,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, UiTransactionEncoding

from chains.base import (
    ChainFamily,
    Commitment,
    Effect,
    InboundTransfer,
    SignedTx,
    Transfer,
    TransferReceipt,
    TransferStatus,
    TxOutcome,
    TxState,
    check_transfer_id,
    effect_id,
)
from chains.errors import (
    AccountMismatch,
    BlockhashExpired,
    ChainError,
    ConfirmationTimeout,
    DuplicateTransfer,
    InsufficientCapital,
    MalformedResponse,
    RpcResponseError,
    RpcTimeout,
    RpcUnavailable,
    TransactionReverted,
    Unauthorized,
    UnknownChain,
)
from chains.solana_core import (
    MEMO_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    Pending,
    inbound_marker_address,
    marker_address,
)
from chains.solana_effects import TRANSFER_CHECKED, SolanaEffects, memo_matches

log = logging.getLogger("ballast.chains.solana")

PREFLIGHT_FAILURE = -32002


class SolanaSends(SolanaEffects):
    """Broadcast, status, look-ups by id, and the one-call sends."""

    # -- broadcast ------------------------------------------------------------------

    def _check_signed(self, signed: SignedTx) -> None:
        if signed.family is not ChainFamily.SOLANA or signed.chain != self.chain:
            raise UnknownChain(
                f"signed transaction of {signed.family} chain {signed.chain!r} given to the "
                f"adapter of {self.chain!r}",
                chain=self.chain,
            )

    def discard(self, signed: SignedTx) -> None:
        """Nothing to free on Solana: an unsent transaction dies with its blockhash."""
        self._check_signed(signed)

    async def broadcast(self, signed: SignedTx) -> TxOutcome:
        """Send the signed bytes once (module docstring for how answers are read)."""
        self._check_signed(signed)
        body = SendRawTransaction(
            signed.raw,
            RpcSendTransactionConfig(
                skip_preflight=self._config.skip_preflight,
                preflight_commitment=CommitmentLevel.Confirmed,
            ),
        )
        try:
            await self._rpc.call(body, SendTransactionResp)
        except (RpcTimeout, RpcUnavailable, MalformedResponse) as exc:
            log.warning("%s: send outcome unknown (%s): polling", signed.effect_id, exc)
            return self._outcome(signed, TxState.UNKNOWN, f"send outcome unknown: {exc.message}")
        except RpcResponseError as exc:
            if exc.code != PREFLIGHT_FAILURE:
                raise
            data = exc.fields.get("data")
            err = data.get("err") if isinstance(data, dict) else None
            logs = data.get("logs") if isinstance(data, dict) else None
            if err == "AlreadyProcessed":
                return await self.status(signed)
            if err == "BlockhashNotFound":  # this node lags, or it expired: status decides
                return self._outcome(
                    signed, TxState.UNKNOWN, "the node does not know its blockhash"
                )
            raise self._tx_error(
                err, logs, signed.effect_id or "", signed.tx_ref, signed=signed
            ) from None
        return self._outcome(signed, TxState.PENDING, f"accepted by {self._rpc.endpoint}")

    def _outcome(self, signed: SignedTx, state: TxState, detail: str, **kw: Any) -> TxOutcome:
        return TxOutcome(
            chain=self.chain,
            state=state,
            tx_ref=signed.tx_ref,
            effect_id=signed.effect_id,
            amount=signed.amount,
            detail=detail,
            **kw,
        )

    def _tx_error(
        self,
        err: object,
        logs: object,
        tid: str,
        sig: str | None = None,
        *,
        signed: SignedTx | None = None,
    ) -> ChainError:
        """A transaction error (node JSON) as our typed error; logs kept, truncated.
        With the signed transaction, its kind's own mapping goes first (``_effect_error``)."""
        kw: dict[str, Any] = {"chain": self.chain, "transfer_id": tid, "tx_hash": sig}
        if isinstance(logs, list):
            kw["logs"] = [str(line)[:200] for line in logs[-12:]]
        detail = err.get("InstructionError") if isinstance(err, dict) else None
        if isinstance(detail, list) and len(detail) == 2:
            index, why = detail
            if signed is not None and isinstance(index, int):
                mapped = self._effect_error(signed, index, why, kw)
                if mapped is not None:
                    return mapped
            custom = why.get("Custom") if isinstance(why, dict) else None
            if index == 0 and custom == 0:
                return DuplicateTransfer("transfer id already used (marker exists)", **kw)
            if index == 0 and custom == 1:
                return InsufficientCapital("treasury authority lacks SOL for fees/rent", **kw)
            if index == 1 and custom == 1:
                return InsufficientCapital("source balance below the transfer amount", **kw)
            if index == 1 and custom == 4:
                return Unauthorized("treasury authority does not own the source account", **kw)
            if index == 1 and custom == 3:
                return AccountMismatch("recipient token account has another mint", **kw)
            return TransactionReverted(f"instruction {index} failed: {why}", **kw)
        if err == "InsufficientFundsForFee":
            return InsufficientCapital("treasury authority lacks SOL for fees", **kw)
        return TransactionReverted(f"transaction failed: {str(err)[:200]}", **kw)

    def _effect_error(
        self, signed: SignedTx, index: int, why: object, kw: dict[str, Any]
    ) -> ChainError | None:
        """A failed instruction mapped by the effect's kind; None: the generic mapping."""
        return None

    # -- status ---------------------------------------------------------------------

    async def _signature_status(self, sig: Signature) -> Any:
        resp = await self._call(
            GetSignatureStatuses([sig], RpcSignatureStatusConfig(search_transaction_history=True)),
            GetSignatureStatusesResp,
        )
        if len(resp.value) != 1:
            raise MalformedResponse("getSignatureStatuses: wrong length", chain=self.chain)
        return resp.context.slot, resp.value[0]

    async def _finalized_height(self) -> int:
        resp = await self._call(
            GetBlockHeight(RpcContextConfig(commitment=CommitmentLevel.Finalized)),
            GetBlockHeightResp,
        )
        return int(resp.value)

    async def status(self, signed: SignedTx) -> TxOutcome:
        """Where this signature stands (module docstring)."""
        self._check_signed(signed)
        sig = Signature.from_string(signed.tx_ref)
        slot, status = await self._signature_status(sig)
        if status is None:
            height = await self._finalized_height()
            last_valid = signed.last_valid_block_height
            if last_valid is None or height <= last_valid:
                return self._outcome(
                    signed,
                    TxState.UNKNOWN,
                    f"signature unknown; its blockhash is valid until height {last_valid} "
                    f"(finalized height {height}): do not re-sign yet",
                    head=slot,
                )
            slot, status = await self._signature_status(sig)  # one more look, then it is gone
            if status is None:
                return self._outcome(
                    signed,
                    TxState.DROPPED,
                    f"blockhash expired at finalized height {height} > {last_valid} and the "
                    "signature is unknown: it can never land, sign the effect again",
                    head=slot,
                    final=True,
                )
        landed: dict[str, Any] = {"head": slot, "block_number": status.slot}
        if status.err is not None:
            err = json.loads(status.to_json()).get("err")
            error = self._tx_error(err, None, signed.effect_id or "", signed.tx_ref, signed=signed)
            final = status.confirmation_status == TransactionConfirmationStatus.Finalized
            return self._outcome(
                signed,
                TxState.FAILED,
                f"transaction {signed.tx_ref} failed in slot {status.slot}: {error.message}",
                revert=json.dumps(err, sort_keys=True),
                final=final,
                **landed,
            )
        level = status.confirmation_status
        if level is None or level == TransactionConfirmationStatus.Processed:
            return self._outcome(signed, TxState.PENDING, "processed, not yet confirmed", **landed)
        if level == TransactionConfirmationStatus.Finalized:
            return self._outcome(signed, TxState.FINAL, "finalized", final=True, **landed)
        return self._outcome(signed, TxState.INCLUDED, "confirmed", **landed)

    # -- by effect id -----------------------------------------------------------------

    def _marker_of(self, effect: Effect) -> Pubkey:
        self._plan(effect)  # the same checks as prepare (and UnsupportedEffect for vaults)
        if isinstance(effect, InboundTransfer):
            return inbound_marker_address(self._authority, effect.transfer_id)
        return marker_address(self._authority, effect_id(effect))

    async def find_effect(self, effect: Effect) -> TxOutcome:
        """The effect's marker at finalized / confirmed, and the transaction behind it."""
        eid = effect_id(effect)
        marker = self._marker_of(effect)
        answers = await self._gather(
            [
                (
                    GetMultipleAccounts(
                        [marker],
                        RpcAccountInfoConfig(encoding=UiAccountEncoding.Base64, commitment=level),
                    ),
                    GetMultipleAccountsResp,
                )
                for level in (CommitmentLevel.Finalized, CommitmentLevel.Confirmed)
            ]
        )
        at_final, at_confirmed = (a.value[0] if a.value else None for a in answers)
        head = int(answers[1].context.slot)
        if at_final is None and at_confirmed is None:
            return TxOutcome(
                chain=self.chain,
                state=TxState.UNKNOWN,
                effect_id=eid,
                head=head,
                detail=f"no marker {marker} for {eid}",
            )
        found = await self._find_by_marker(marker, eid)
        final = at_final is not None
        return TxOutcome(
            chain=self.chain,
            state=TxState.FINAL if final else TxState.INCLUDED,
            tx_ref=found.tx_ref if found else None,
            effect_id=eid,
            block_number=found.block_number if found else None,
            final=final,
            head=head,
            amount=found.amount if found else None,
            detail=f"marker {marker} exists",
        )

    async def find_transfer(self, transfer_id: str) -> TransferReceipt | None:
        check_transfer_id(transfer_id)
        return await self._find_by_marker(marker_address(self._authority, transfer_id), transfer_id)

    async def find_inbound(self, transfer_id: str) -> TransferReceipt | None:
        """The delivery of this transfer id on this chain (from the bridge escrow), if any."""
        check_transfer_id(transfer_id)
        marker = inbound_marker_address(self._authority, transfer_id)
        return await self._find_by_marker(marker, transfer_id)

    async def _find_by_marker(self, marker: Pubkey, transfer_id: str) -> TransferReceipt | None:
        """The successful transaction among the marker's signatures that carries the id
        (a failed one only if none succeeded)."""
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
        """(slot, amount) if this transaction is ours carrying this id's memo."""
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
                elif program == TOKEN_PROGRAM_ID and data[:1] == bytes([TRANSFER_CHECKED]):
                    amount = int.from_bytes(data[1:9], "little")
        except (IndexError, ValueError, AttributeError):
            raise MalformedResponse(
                f"getTransaction {sig}: undecodable transaction", chain=self.chain
            ) from None
        if not memo_matches(memo, transfer_id) or amount is None:
            return None
        return int(resp.value.slot), amount

    # -- one-call sends --------------------------------------------------------------------

    async def send_transfer(self, transfer: Transfer) -> TransferReceipt:
        return await self._execute(transfer)

    async def complete_inbound(self, inbound: InboundTransfer) -> TransferReceipt:
        """Deliver an inbound bridge transfer out of the bridge escrow (see solana_effects)."""
        return await self._execute(inbound)

    async def _execute(self, effect: Effect) -> TransferReceipt:
        self._require_signer()
        self._plan(effect)  # every input check before any call or lock
        eid = effect_id(effect)
        lock = self._locks.setdefault(eid, asyncio.Lock())
        try:
            async with lock:  # one send per id at a time in this process
                return await self._execute_locked(effect)
        finally:
            if not lock.locked():
                self._locks.pop(eid, None)

    async def _execute_locked(self, effect: Effect) -> TransferReceipt:
        eid = effect_id(effect)
        pending = self._inflight.get(eid)
        if pending is not None and pending.effect != effect:
            raise DuplicateTransfer(
                "a different effect with this id is in flight", chain=self.chain, transfer_id=eid
            )
        plan = self._plan(effect)
        if pending is None:
            await self._precheck(plan)
        for _ in range(self._config.max_resigns + 1):
            if pending is None:
                pending = Pending(effect, await self._sign(plan))
                self._inflight[eid] = pending
                try:
                    await self.broadcast(pending.signed)
                except ChainError:
                    self._inflight.pop(eid, None)  # refused: it was never forwarded
                    raise
            receipt = await self._await_outcome(pending)
            if receipt is not None:
                self._inflight.pop(eid, None)
                return receipt
            log.info("%s: blockhash expired, %s unknown: re-signing", eid, pending.signature)
            pending = None
        self._inflight.pop(eid, None)
        raise BlockhashExpired(
            f"blockhash expired {self._config.max_resigns + 1} times without landing",
            chain=self.chain,
            transfer_id=eid,
        )

    async def _await_outcome(self, pending: Pending) -> TransferReceipt | None:
        """The receipt once landed at ``send_commitment``; None once DROPPED (the
        caller re-signs); :class:`ConfirmationTimeout` otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.confirm_timeout
        want_final = self._config.send_commitment is Commitment.FINALIZED
        eid = effect_id(pending.effect)
        while True:
            outcome = await self.status(pending.signed)
            if outcome.state is TxState.FAILED:
                self._inflight.pop(eid, None)
                raise self._tx_error(
                    json.loads(outcome.revert or "null"),
                    None,
                    eid,
                    outcome.tx_ref,
                    signed=pending.signed,
                )
            if outcome.state is TxState.DROPPED:
                return None
            if outcome.state is TxState.FINAL or (outcome.landed and not want_final):
                return TransferReceipt(
                    transfer_id=eid,
                    chain=self.chain,
                    tx_ref=pending.signature,
                    status=TransferStatus.FINALIZED if outcome.final else TransferStatus.CONFIRMED,
                    block_number=outcome.block_number,
                    amount=pending.signed.amount,
                )
            if loop.time() >= deadline:
                landed = "landed, not yet final" if outcome.landed else "blockhash still valid"
                raise ConfirmationTimeout(
                    f"signature {pending.signature} not {self._config.send_commitment} in "
                    f"{self._config.confirm_timeout}s ({landed}); not re-signed",
                    chain=self.chain,
                    transfer_id=eid,
                    signature=pending.signature,
                    tx_hash=pending.signature,
                )
            await asyncio.sleep(self._config.poll_interval)

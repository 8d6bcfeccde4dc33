"""One-call sends on EVM, composed from the saga ports (prepare, broadcast, status).

For callers that do not record each step (the demo, tests, an operator's one-off
command): ``send_transfer``, ``complete_inbound``, ``cede`` and ``pay_recovery``
prepare, broadcast and wait until the transaction is included, exactly as a
durable executor would drive the ports, only without persisting in between:

- a transaction the node does not know is broadcast again (the same bytes);
- one not included after ``replace_after_blocks`` blocks, or refused as
  underpriced, is replaced at the same nonce with bumped fees, within the cap;
- a FAILED one raises its decoded revert with the transaction hash;
- a DROPPED one (its nonce went elsewhere) is looked up by effect id: if a
  replacement of ours carried the effect, that is the receipt; otherwise it is
  prepared again under a fresh nonce (the chain refuses the id twice anyway);
- past ``receipt_timeout``, :class:`~chains.errors.ConfirmationTimeout` names
  the last transaction: reconcile with ``status``/``find_effect`` before resending.
"""

from __future__ import annotations

import asyncio
import logging
import time

from chains.base import (
    Cession,
    Effect,
    InboundTransfer,
    Recovery,
    SignedTx,
    Transfer,
    TransferReceipt,
    TransferStatus,
    TxOutcome,
    TxState,
    effect_id,
)
from chains.errors import (
    ChainError,
    ConfirmationTimeout,
    FeeCapExceeded,
    NonceConflict,
    NonceGap,
    TransactionReverted,
    WrongChain,
)
from chains.evm_core import nonce_of
from chains.evm_sends import EvmSends

log = logging.getLogger("ballast.chains.evm")

_MAX_PREPARES = 3


class EvmFlow(EvmSends):
    """Prepare -> broadcast -> await inclusion, in one call per effect."""

    async def send_transfer(self, transfer: Transfer) -> TransferReceipt:
        return await self._execute(transfer)

    async def complete_inbound(self, inbound: InboundTransfer) -> TransferReceipt:
        """Deliver an attested cross-chain transfer on this (destination) chain."""
        return await self._execute(inbound)

    async def cede(self, cession: Cession) -> TransferReceipt:
        """``RiskPool.cede``: premium to the vault, capacity reserved for the cession."""
        return await self._execute(cession)

    async def pay_recovery(self, recovery: Recovery) -> TransferReceipt:
        """``ReinsuranceVault.payRecovery`` (the signer must be the vault's operator)."""
        return await self._execute(recovery)

    async def _execute(self, effect: Effect) -> TransferReceipt:
        deadline = time.monotonic() + self._config.receipt_timeout
        for _ in range(_MAX_PREPARES):
            signed = await self.prepare(effect)
            outcome = await self._first_broadcast(signed)
            while True:
                if outcome.landed:
                    return self._receipt(effect, outcome)
                if outcome.state is TxState.FAILED:
                    raise await self.failure_error(signed, outcome)
                if outcome.state is TxState.DROPPED:
                    found = await self.find_effect(effect)
                    if found.landed:
                        return self._receipt(effect, found)
                    log.warning("%s: %s; preparing again", effect_id(effect), outcome.detail)
                    break
                if time.monotonic() >= deadline:
                    raise ConfirmationTimeout(
                        f"transaction {signed.tx_ref} (nonce {signed.nonce}) not included within "
                        f"{self._config.receipt_timeout}s ({outcome.state}: {outcome.detail}); "
                        "reconcile with status/find_effect before resending",
                        chain=self.chain,
                        transfer_id=effect_id(effect),
                        tx_hash=signed.tx_ref,
                        nonce=signed.nonce,
                    )
                if self.due_for_replacement(signed, outcome):
                    signed = await self.replace(signed)
                    outcome = await self._first_broadcast(signed)
                    continue
                if outcome.state is TxState.UNKNOWN and outcome.waiting is None:
                    await self.broadcast(signed)  # the node lost it: the same bytes again
                await asyncio.sleep(self._config.poll_interval)
                outcome = await self.status(signed)
        raise NonceConflict(
            f"{effect_id(effect)}: the nonce went to another transaction {_MAX_PREPARES} times; "
            "is another process sending with this key?",
            chain=self.chain,
            transfer_id=effect_id(effect),
        )

    async def _first_broadcast(self, signed: SignedTx) -> TxOutcome:
        """Broadcast; a definitive refusal frees the nonce again (nothing will use it)."""
        try:
            outcome = await self.broadcast(signed)
        except (WrongChain, TransactionReverted, NonceConflict, NonceGap, FeeCapExceeded):
            self._nonces().release(nonce_of(signed), signed.tx_ref)
            raise
        except ChainError as exc:
            if exc.retryable:  # lost answers: the node may have it; look before acting
                return await self.status(signed)
            raise
        if outcome.state is TxState.PENDING:
            return await self.status(signed)
        return outcome

    def _receipt(self, effect: Effect, outcome: TxOutcome) -> TransferReceipt:
        return TransferReceipt(
            transfer_id=effect_id(effect),
            chain=self.chain,
            tx_ref=outcome.tx_ref or "",
            status=TransferStatus.FINALIZED if outcome.final else TransferStatus.CONFIRMED,
            block_number=outcome.block_number,
            amount=outcome.amount,
        )

"""Signing and broadcasting on EVM: prepare, replace, cancel, broadcast.

``prepare`` checks the effect (one batch: the pre-checks of
:mod:`chains.evm_effects`, a gas estimate, the head block's base fee, the key's
mined and pending transaction counts, the node's chain id), allocates a nonce
from the process-wide :mod:`chains.evm_nonce` manager and signs an EIP-1559
transaction for the configured chain id. Nothing is sent: the caller records
the :class:`~chains.base.SignedTx` first.

Fees follow :class:`~chains.evm_config.FeePolicy`: never above
``max_fee_per_gas``. A transaction that cannot be mined under the cap is not
signed (:class:`~chains.errors.FeeCapExceeded`, retryable), and one that is
waiting is replaced at the same nonce with bumped fees only while the cap
allows; at the cap it waits and its outcome says so.

``broadcast`` is idempotent: "already known" is success, "nonce too low" is
answered by looking the transaction up (ours mined: its outcome; another one
took the nonce: DROPPED), "replacement transaction underpriced" is a
:class:`~chains.errors.NonceConflict`, a nonce above the node's next one a
:class:`~chains.errors.NonceGap`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from chains.base import (
    ChainFamily,
    Effect,
    EffectKind,
    SignedTx,
    TxOutcome,
    TxState,
    WaitReason,
)
from chains.errors import (
    ChainError,
    FeeCapExceeded,
    InvalidInput,
    MalformedResponse,
    NonceConflict,
    NonceGap,
    RpcResponseError,
    WrongChain,
)
from chains.evm_core import Meter, decode_signed, nonce_of
from chains.evm_effects import EvmEffects, Judge
from chains.evm_reconcile import EvmReconcile
from chains.evm_rpc import Call, EvmEndpoint, RevertedCall
from chains.evm_rpc import as_int as _int

log = logging.getLogger("ballast.chains.evm")

_KNOWN_TEXT = ("already known", "already imported", "known transaction")
_LOW_TEXT = ("nonce too low", "nonce has already been used", "already been used")
_HIGH_TEXT = ("nonce too high",)
_REPLACE_TEXT = ("replacement transaction underpriced", "replacement underpriced")
_FEE_TEXT = (
    "less than block base fee",
    "lower than block's base fee",
    "fee cap less than",
    "transaction underpriced",
    "max fee per gas less than",
)
_CHAIN_TEXT = ("chain id", "chainid", "invalid sender", "replay")
#: py-evm: "Invalid transaction nonce: Expected 3, but got 5".
_EXPECTED = re.compile(r"expected (\d+), but got (\d+)")
_CANCEL_GAS = 21_000


class EvmSends(EvmEffects, EvmReconcile):
    """The signing half of the saga ports (tracking is in ``evm_reconcile``)."""

    # -- prepare -------------------------------------------------------------

    async def prepare(self, effect: Effect) -> SignedTx:
        """Check, price and sign one effect's transaction; send nothing."""
        self._require_signer()
        plan = self._plan(effect)  # every input check before any call
        return await self._sign_new(
            plan.kind, plan.effect_id, plan.to, plan.data, plan.amount, plan.prechecks, plan.judge
        )

    async def _sign_new(
        self,
        kind: EffectKind,
        eid: str | None,
        to: str,
        data: str,
        amount: int,
        prechecks: tuple[Call, ...],
        judge: Judge,
    ) -> SignedTx:
        ep, meter = self._endpoints[0], Meter()
        sender = self.operator
        manager = self._nonces()
        async with manager.lock():
            calls: list[Call] = [
                *prechecks,
                ("eth_estimateGas", [{"from": sender, "to": to, "data": data}]),
                ("eth_getBlockByNumber", ["latest", False]),
                ("eth_gasPrice", []),
                ("eth_getTransactionCount", [sender, "latest"]),
                ("eth_getTransactionCount", [sender, "pending"]),
                ("eth_chainId", []),
            ]
            results = await self._batch(ep, calls, meter, strict=False)
            estimate, head, gas_price, latest, pending, chain_id = results[len(prechecks) :]
            self._check_chain_id(ep, chain_id, eid)
            judge(list(results[: len(prechecks)]))
            if isinstance(estimate, RevertedCall):
                raise self._revert_error(estimate.data, eid)
            for r in (estimate, head, gas_price, latest, pending):
                if isinstance(r, ChainError):
                    raise r
            gas = int(_int(estimate, "gas estimate") * self._config.fees.gas_headroom) + 10_000
            head_number, base_fee = _head_fees(head, gas_price)
            max_fee, tip = self._fresh_fees(base_fee, eid)
            nonce = manager.allocate(
                latest=_int(latest, "mined nonce"),
                pending=_int(pending, "pending nonce"),
                head=head_number,
                gap_blocks=self._config.fees.replace_after_blocks,
            )
            return self._sign(
                kind, eid, to, data, amount, nonce, gas, max_fee, tip, head_number, replaces=None
            )

    def _check_chain_id(self, ep: EvmEndpoint, chain_id: Any, eid: str | None) -> None:
        if isinstance(chain_id, ChainError):
            raise chain_id
        seen = _int(chain_id, "eth_chainId")
        if seen != self._config.chain_id:
            raise WrongChain(
                f"endpoint {ep.name} serves chain id {seen}, this adapter signs for "
                f"{self._config.chain_id}: nothing signed",
                chain=self.chain,
                transfer_id=eid,
            )

    def _fresh_fees(self, base_fee: int, eid: str | None) -> tuple[int, int]:
        """(max fee, tip) for a new transaction, or FeeCapExceeded if the next block's
        base fee plus the tip is above the cap (nothing is signed then)."""
        policy = self._config.fees
        next_base = -(-base_fee * 9 // 8)  # a block raises the base fee by 12.5 % at most
        if next_base + policy.priority_fee > policy.max_fee_per_gas:
            raise FeeCapExceeded(
                f"the base fee ({base_fee} wei/gas, up to {next_base} next block) plus the "
                f"tip {policy.priority_fee} is above the configured cap "
                f"{policy.max_fee_per_gas}: nothing signed, try again when fees fall",
                chain=self.chain,
                transfer_id=eid,
                base_fee=base_fee,
                max_fee_per_gas=policy.max_fee_per_gas,
            )
        wanted = base_fee * policy.base_fee_multiplier + policy.priority_fee
        return min(policy.max_fee_per_gas, max(wanted, next_base + policy.priority_fee)), (
            policy.priority_fee
        )

    def _sign(
        self,
        kind: EffectKind,
        eid: str | None,
        to: str,
        data: str,
        amount: int,
        nonce: int,
        gas: int,
        max_fee: int,
        tip: int,
        head: int,
        *,
        replaces: str | None,
    ) -> SignedTx:
        signer = self._require_signer()
        tx: dict[str, Any] = {
            "chainId": self._config.chain_id,
            "nonce": nonce,
            "to": to,
            "data": data,
            "value": 0,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": min(tip, max_fee),
            "type": 2,
        }
        signed = signer.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        self._nonces().record(nonce, tx_hash, signed_at_block=head)
        return SignedTx(
            chain=self.chain,
            family=ChainFamily.EVM,
            kind=kind,
            effect_id=eid,
            tx_ref=tx_hash,
            raw_tx="0x" + bytes(signed.raw_transaction).hex(),
            sender=str(signer.address),
            amount=amount,
            signed_at_block=head,
            nonce=nonce,
            gas_limit=gas,
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=min(tip, max_fee),
            replaces=replaces,
        )

    # -- same nonce, new fees ------------------------------------------------------

    async def replace(self, signed: SignedTx) -> SignedTx:
        """The same call at the same nonce with both fees raised by the policy's bump
        (and at least to what the current base fee needs), never above the cap.

        Raises :class:`FeeCapExceeded` when the cap leaves no room for a bump the
        nodes accept (the transaction then waits at its fees), and
        :class:`NonceConflict` when the nonce is already mined.
        """
        self._check_signed(signed)
        fields = decode_signed(signed)
        head, base_fee = await self._head_and_unmined(signed)
        max_fee, tip = self._bumped_fees(signed, base_fee)
        async with self._nonces().lock():
            return self._sign(
                signed.kind,
                signed.effect_id,
                fields["to"],
                fields["data"],
                signed.amount,
                nonce_of(signed),
                fields["gas"],
                max_fee,
                tip,
                head,
                replaces=signed.tx_ref,
            )

    async def cancel(self, target: SignedTx | int) -> SignedTx:
        """A zero-value transfer to ourselves at ``target``'s nonce: ends a stuck
        transaction of ours (bumped over its fees), or fills a missing nonce."""
        sender = self.operator
        if isinstance(target, SignedTx):
            self._check_signed(target)
            nonce, eid, replaces = nonce_of(target), target.effect_id, target.tx_ref
        else:
            if isinstance(target, bool) or not isinstance(target, int) or target < 0:
                raise InvalidInput(f"a nonce is a non-negative int, got {target!r}")
            nonce, eid, replaces = target, None, None
        ep = self._endpoints[0]
        head_raw, price = await self._batch(
            ep, [("eth_getBlockByNumber", ["latest", False]), ("eth_gasPrice", [])], Meter()
        )
        head, base_fee = _head_fees(head_raw, price)
        if isinstance(target, SignedTx):
            max_fee, tip = self._bumped_fees(target, base_fee)
        else:
            max_fee, tip = self._fresh_fees(base_fee, None)
        async with self._nonces().lock():
            return self._sign(
                EffectKind.NONCE_CANCEL,
                eid,
                sender,
                "0x",
                0,
                nonce,
                _CANCEL_GAS,
                max_fee,
                tip,
                head,
                replaces=replaces,
            )

    def _bumped_fees(self, signed: SignedTx, base_fee: int) -> tuple[int, int]:
        policy = self._config.fees
        old_max = signed.max_fee_per_gas or 0
        old_tip = signed.max_priority_fee_per_gas or 0
        tip = max(policy.bumped(old_tip), policy.priority_fee)
        wanted = max(policy.bumped(old_max), base_fee * policy.base_fee_multiplier + tip)
        max_fee = min(wanted, policy.max_fee_per_gas)
        tip = min(tip, max_fee)
        floor_max, floor_tip = -(-old_max * 11 // 10), -(-old_tip * 11 // 10)  # nodes: +10 %
        if max_fee < floor_max or tip < floor_tip or max_fee <= old_max:
            raise FeeCapExceeded(
                f"transaction {signed.tx_ref} pays up to {old_max} wei/gas; a replacement "
                f"nodes accept needs {floor_max}, above the configured cap "
                f"{policy.max_fee_per_gas}: it waits at its fees",
                chain=self.chain,
                transfer_id=signed.effect_id,
                tx_hash=signed.tx_ref,
                base_fee=base_fee,
                max_fee_per_gas=policy.max_fee_per_gas,
            )
        return max_fee, tip

    async def _head_and_unmined(self, signed: SignedTx) -> tuple[int, int]:
        ep = self._endpoints[0]
        head_raw, price, mined = await self._batch(
            ep,
            [
                ("eth_getBlockByNumber", ["latest", False]),
                ("eth_gasPrice", []),
                ("eth_getTransactionCount", [signed.sender, "latest"]),
            ],
            Meter(),
        )
        if _int(mined, "mined nonce") > nonce_of(signed):
            raise NonceConflict(
                f"nonce {signed.nonce} of {signed.sender} is already mined: look the "
                "transaction up (status) instead of replacing it",
                chain=self.chain,
                transfer_id=signed.effect_id,
                tx_hash=signed.tx_ref,
                nonce=signed.nonce,
            )
        return _head_fees(head_raw, price)

    def due_for_replacement(self, signed: SignedTx, outcome: TxOutcome) -> bool:
        """Whether a waiting transaction should now get a bumped same-nonce successor:
        the node refused its fee as too low, or it has not been included for
        ``replace_after_blocks`` blocks; never when it waits at the cap or on a nonce
        problem a bump cannot fix."""
        if outcome.state not in (TxState.PENDING, TxState.UNKNOWN) or outcome.fee_capped:
            return False
        if outcome.waiting in (WaitReason.NONCE_GAP, WaitReason.BEHIND_OTHER):
            return False
        if (signed.max_fee_per_gas or 0) >= self._config.fees.max_fee_per_gas:
            return False
        if outcome.waiting is WaitReason.UNDERPRICED:
            return True
        waited = (outcome.head or 0) - signed.signed_at_block
        return waited >= self._config.fees.replace_after_blocks

    # -- broadcast -----------------------------------------------------------------

    async def broadcast(self, signed: SignedTx) -> TxOutcome:
        """Hand the signed bytes to the node. The same bytes again are no second
        transaction; see the module docstring for how refusals are read."""
        self._check_signed(signed)
        nonce = nonce_of(signed)
        manager = self._nonces()
        manager.adopt(nonce, signed.tx_ref, signed_at_block=signed.signed_at_block, broadcast=False)
        ep = self._endpoints[0]
        try:
            answer = await self._rpc(ep, "eth_sendRawTransaction", [signed.raw_tx], Meter())
        except RpcResponseError as exc:
            return await self._refused(ep, signed, exc)
        manager.broadcast(nonce)
        if isinstance(answer, str) and answer.lower() != signed.tx_ref:
            log.warning("endpoint %s answered hash %s for %s", ep.name, answer, signed.tx_ref)
        return self._outcome(signed, TxState.PENDING, detail=f"accepted by {ep.name}")

    async def _refused(self, ep: EvmEndpoint, signed: SignedTx, exc: RpcResponseError) -> TxOutcome:
        text = exc.message.lower()
        nonce = nonce_of(signed)
        kw: dict[str, Any] = {
            "chain": self.chain,
            "transfer_id": signed.effect_id,
            "tx_hash": signed.tx_ref,
            "nonce": nonce,
        }
        expected = _EXPECTED.search(text)
        if any(t in text for t in _KNOWN_TEXT):
            self._nonces().broadcast(nonce)
            return self._outcome(signed, TxState.PENDING, detail=f"{ep.name} already has it")
        if any(t in text for t in _REPLACE_TEXT):
            ours = self._nonces().ours(nonce) - {signed.tx_ref}
            holder = "an earlier attempt of ours" if ours else "a transaction not signed here"
            raise NonceConflict(
                f"nonce {nonce} of {signed.sender} is held by {holder} with a higher fee "
                f"({exc.message}); {signed.tx_ref} was not accepted",
                holder_is_ours=bool(ours),
                **kw,
            ) from None
        too_low = any(t in text for t in _LOW_TEXT) or (
            expected is not None and int(expected.group(2)) < int(expected.group(1))
        )
        if too_low:
            # A retried send whose first attempt landed looks like this too.
            return await self.status(signed)
        if any(t in text for t in _HIGH_TEXT) or expected is not None:
            first = int(expected.group(1)) if expected else None
            raise NonceGap(
                f"the node refused nonce {nonce}: it expects "
                f"{first if first is not None else 'a lower nonce'} first ({exc.message})",
                missing_from=first,
                **kw,
            ) from None
        if any(t in text for t in _FEE_TEXT):
            capped = (signed.max_fee_per_gas or 0) >= self._config.fees.max_fee_per_gas
            if capped:
                raise FeeCapExceeded(
                    f"{ep.name} refused {signed.tx_ref}: its max fee is below the base fee "
                    f"and already at the configured cap ({exc.message}); it waits",
                    **kw,
                ) from None
            return self._outcome(
                signed,
                TxState.UNKNOWN,
                waiting=WaitReason.UNDERPRICED,
                detail=f"{ep.name} refused the fee as too low ({exc.message}): replace it",
            )
        if any(t in text for t in _CHAIN_TEXT):
            raise WrongChain(
                f"endpoint {ep.name} refused a transaction signed for chain id "
                f"{self._config.chain_id}: {exc.message}",
                **kw,
            ) from exc
        if isinstance(exc, RevertedCall):
            raise self._revert_error(exc.data, signed.effect_id, tx_hash=signed.tx_ref) from exc
        raise exc

    def discard(self, signed: SignedTx) -> None:
        """The caller will never broadcast ``signed``: its nonce is handed out again if
        it was the last one (otherwise the nonce stays a gap: ``cancel`` it)."""
        self._check_signed(signed)
        if self._signer is not None:
            self._nonces().release(nonce_of(signed), signed.tx_ref)

    def adopt(self, signed: SignedTx) -> None:
        """Count an already signed transaction of ours (recorded before a restart)
        in the key's nonce sequence, so new sends queue after it, not on it."""
        self._check_signed(signed)
        self._nonces().adopt(
            nonce_of(signed), signed.tx_ref, signed_at_block=signed.signed_at_block
        )


def _head_fees(head: Any, gas_price: Any) -> tuple[int, int]:
    """The head block's number and base fee (the gas price on chains without one)."""
    if not isinstance(head, Mapping):
        raise MalformedResponse(f"latest block is not a block: {head!r:.80}")
    number = _int(head.get("number"), "block number")
    base = head.get("baseFeePerGas")
    if base is None:
        if isinstance(gas_price, ChainError):
            raise gas_price
        return number, _int(gas_price, "gas price")
    return number, _int(base, "base fee")

"""Reconciliation on EVM: where a transaction stands, whether an effect happened.

``status(signed)`` reads the receipt, the transaction, the key's mined and
pending counts, the head and the final block in two round trips: included (and
final only at or below the final block of the chain's finality rule, so a
reorg can only undo what was never called final), failed with its hash and
decoded revert, dropped (its nonce went to another transaction; final once
that happened in a final block), pending (and why it waits), or unknown to the
node (safe to broadcast the same bytes again).

``find_effect(effect)`` asks the contract that enforces the effect's id
(``RiskPool.transferUsed``, ``BridgeEndpoint.delivered``,
``ReinsuranceVault.recoveryPaid``, ``RiskPool.coverOf`` for a cover binding)
at the final block and at the head, then
finds the transaction through the event carrying the id. An event is only
emitted by a successful transaction, so it is proof the effect happened.

Also here: the older look-ups by transfer id alone (``find_transfer``,
``find_inbound``), the vault reads (``vault_state``, ``cession_of``) and the
cover reads (``certificate_holder``, ``cover_state``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eth_utils import to_checksum_address

from chains.base import (
    Cession,
    CessionRecord,
    ClaimPayment,
    CoverOpening,
    CoverState,
    Effect,
    InboundTransfer,
    PoolRef,
    Recovery,
    SignedTx,
    Transfer,
    TransferReceipt,
    TransferStatus,
    TxOutcome,
    TxState,
    VaultState,
    WaitReason,
    check_id,
    check_transfer_id,
    effect_id,
)
from chains.errors import ChainError, InvalidAddress, MalformedResponse, UnknownPool
from chains.evm_abi import decode_revert
from chains.evm_config import checked_address
from chains.evm_core import Block, EvmCore, Meter, decode_signed, nonce_of
from chains.evm_rpc import Call, EvmEndpoint, RevertedCall
from chains.evm_rpc import as_hash as _hash
from chains.evm_rpc import as_int as _int
from chains.evm_rpc import hex_bytes as _hexbytes

log = logging.getLogger("ballast.chains.evm")

_NOT_FOUND = -32001  # eth-tester's "transaction not found"


def _found(value: Any) -> Mapping[str, Any] | None:
    """A receipt/transaction, or None when the node does not have it."""
    if isinstance(value, ChainError):
        if getattr(value, "code", None) == _NOT_FOUND:
            return None
        raise value
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise MalformedResponse(f"expected an object, got {value!r:.80}")
    return value


class EvmReconcile(EvmCore):
    """Look-ups for reconciling after an unknown outcome, and vault reads."""

    # -- by transaction ------------------------------------------------------------

    async def status(self, signed: SignedTx) -> TxOutcome:
        """Where this transaction stands (module docstring). Also counts it as ours
        in the key's nonce sequence, so reconciling after a restart adopts it."""
        self._check_signed(signed)
        nonce = nonce_of(signed)
        ep, meter = self._endpoints[0], Meter()
        final = await self._final_block(ep, meter)
        results = await self._batch(
            ep,
            [
                ("eth_getTransactionReceipt", [signed.tx_ref]),
                ("eth_getTransactionByHash", [signed.tx_ref]),
                ("eth_getTransactionCount", [signed.sender, "latest"]),
                ("eth_getTransactionCount", [signed.sender, "pending"]),
                ("eth_getBlockByNumber", ["latest", False]),
                ("eth_getTransactionCount", [signed.sender, hex(final.number)]),
            ],
            meter,
            strict=False,
        )
        receipt, tx = _found(results[0]), _found(results[1])
        for r in results[2:]:
            if isinstance(r, ChainError):
                raise r
        mined, pooled = _int(results[2], "mined nonce"), _int(results[3], "pending nonce")
        head_block, final_count = results[4], _int(results[5], "final nonce")
        head = _int(head_block.get("number"), "head") if isinstance(head_block, Mapping) else None
        if self._signer is not None and signed.sender == self._signer.address:
            self._nonces().adopt(
                nonce, signed.tx_ref, signed_at_block=signed.signed_at_block, broadcast=bool(tx)
            )
        if receipt is None and mined > nonce:  # mined between the calls? ask once more
            receipt = _found(
                await self._rpc(ep, "eth_getTransactionReceipt", [signed.tx_ref], meter)
            )
        if receipt is not None and receipt.get("blockNumber") is not None:
            return await self._included(ep, signed, receipt, final, head, meter)
        if mined > nonce:
            ours = self._nonces().ours(nonce) - {signed.tx_ref} if self._signer else frozenset()
            by = f" (our attempt {', '.join(sorted(ours))}?)" if ours else ""
            return TxOutcome(
                chain=self.chain,
                state=TxState.DROPPED,
                tx_ref=signed.tx_ref,
                effect_id=signed.effect_id,
                final=final_count > nonce,
                head=head,
                nonce=nonce,
                amount=signed.amount,
                detail=f"nonce {nonce} of {signed.sender} was taken by another transaction{by}"
                + ("" if final_count > nonce else "; not final yet"),
            )
        waiting, detail, capped = self._why_waiting(signed, mined, pooled, head_block)
        state = TxState.PENDING if tx is not None else TxState.UNKNOWN
        if state is TxState.UNKNOWN and not detail:
            detail = f"{ep.name} does not know it: broadcasting the same bytes again is safe"
        return self._outcome(
            signed, state, waiting=waiting, detail=detail, head=head, fee_capped=capped
        )

    def _why_waiting(
        self, signed: SignedTx, mined: int, pooled: int, head_block: Any
    ) -> tuple[WaitReason | None, str, bool]:
        nonce = nonce_of(signed)
        if pooled < nonce:
            return (
                WaitReason.NONCE_GAP,
                f"nonce {pooled} of {signed.sender} is missing on the node; {nonce} waits "
                "behind it: broadcast or cancel the missing nonce",
                False,
            )
        ours = self._nonces() if self._signer is not None else None
        others = [n for n in range(mined, nonce) if ours is None or not ours.ours(n)]
        if others:
            return (
                WaitReason.BEHIND_OTHER,
                f"nonces {others[0]}..{others[-1]} ahead of it are held by transactions "
                "not signed here",
                False,
            )
        base = head_block.get("baseFeePerGas") if isinstance(head_block, Mapping) else None
        max_fee = signed.max_fee_per_gas or 0
        if base is not None and max_fee < _int(base, "base fee"):
            capped = max_fee >= self._config.fees.max_fee_per_gas
            why = (
                "it is at the configured cap: it waits until fees fall"
                if capped
                else "a replacement with a higher fee is due"
            )
            return (
                WaitReason.UNDERPRICED,
                f"its max fee {max_fee} is below the base fee {_int(base, 'base fee')}; {why}",
                capped,
            )
        return None, "", False

    async def _included(
        self,
        ep: EvmEndpoint,
        signed: SignedTx,
        receipt: Mapping[str, Any],
        final: Block,
        head: int | None,
        meter: Meter,
    ) -> TxOutcome:
        number = _int(receipt.get("blockNumber"), "receipt block")
        is_final = number <= final.number
        common: dict[str, Any] = {
            "chain": self.chain,
            "tx_ref": signed.tx_ref,
            "effect_id": signed.effect_id,
            "block_number": number,
            "block_hash": _hash(receipt.get("blockHash"), "receipt block hash"),
            "final": is_final,
            "head": head,
            "nonce": signed.nonce,
            "amount": signed.amount,
        }
        if _int(receipt.get("status"), "receipt status") == 1:
            return TxOutcome(state=TxState.FINAL if is_final else TxState.INCLUDED, **common)
        name, args = await self._revert_of(ep, signed, number, meter)
        used = _int(receipt.get("gasUsed"), "gas used") if receipt.get("gasUsed") else None
        why = f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
        if name == "unknown" and used is not None and used >= (signed.gas_limit or 0):
            why = f"out of gas ({used} used of {signed.gas_limit})"
        return TxOutcome(
            state=TxState.FAILED,
            revert=name,
            detail=f"transaction {signed.tx_ref} failed in block {number}: {why}",
            **common,
        )

    async def _revert_of(
        self, ep: EvmEndpoint, signed: SignedTx, block: int, meter: Meter
    ) -> tuple[str, dict[str, Any]]:
        """Replay the failed call just before its block for its revert data. Any
        failure of the replay itself is "unknown": the failure stays reported."""
        fields = decode_signed(signed)
        call = {
            "from": signed.sender,
            "to": fields["to"],
            "data": fields["data"],
            "gas": hex(fields["gas"]),
        }
        try:
            await self._rpc(ep, "eth_call", [call, hex(max(block - 1, 0))], meter)
        except RevertedCall as exc:
            return decode_revert(exc.data, self._errors)
        except ChainError as exc:
            return "unknown", {"replay": exc.message[:120]}
        return "unknown", {}

    async def failure_error(self, signed: SignedTx, outcome: TxOutcome) -> ChainError:
        """The typed error of a FAILED outcome (revert mapped by selector, hash attached)."""
        ep, meter = self._endpoints[0], Meter()
        name, args = await self._revert_of(ep, signed, outcome.block_number or 0, meter)
        from chains.evm_abi import error_for_revert

        return error_for_revert(
            (name, args),
            chain=self.chain,
            transfer_id=signed.effect_id or "",
            tx_hash=signed.tx_ref,
        )

    # -- by effect id ---------------------------------------------------------------

    def _id_source(self, effect: Effect) -> tuple[str, str, list[str]]:
        """(contract, flag calldata, event topics) that record this effect's id."""
        eid = effect_id(effect)
        raw = bytes.fromhex(eid[2:])
        if isinstance(effect, Transfer | Cession):
            pool, _ = self._check_pool(effect.source)
            ev = self._pool_abi.events
            topics = [ev["CapitalSent"], ev["CapitalBridged"], ev["ExposureCeded"]]
            return pool, self._pool_abi.fn("transferUsed").encode(raw), topics
        if isinstance(effect, InboundTransfer):
            bridge = self._config.bridge_endpoint
            if bridge is None:
                raise UnknownPool("no bridge endpoint configured", chain=self.chain)
            flag = self._bridge_abi.fn("delivered").encode(raw)
            return bridge, flag, [self._bridge_abi.events["BridgeDelivered"]]
        if isinstance(effect, Recovery):
            vault = checked_address(effect.vault, what="vault", chain=self.chain)
            flag = self._vault_abi.fn("recoveryPaid").encode(raw)
            return vault, flag, [self._vault_abi.events["RecoveryPaid"]]
        if isinstance(effect, ClaimPayment):
            pool, _ = self._check_pool(effect.pool)
            flag = self._pool_abi.fn("transferUsed").encode(raw)
            return pool, flag, [self._pool_abi.events["ClaimPaidToHolder"]]
        if isinstance(effect, CoverOpening):  # coverOf is all zeros until the cover exists
            pool, _ = self._check_pool(effect.pool)
            flag = self._pool_abi.fn("coverOf").encode(raw)
            return pool, flag, [self._pool_abi.events["CoverBound"]]
        raise UnknownPool(f"not an effect: {type(effect).__name__}", chain=self.chain)

    async def find_effect(self, effect: Effect) -> TxOutcome:
        """Whether the contract enforcing this effect's id has recorded it (see module)."""
        eid = effect_id(effect)
        contract, flag, events = self._id_source(effect)
        ep, meter = self._endpoints[0], Meter()
        final = await self._final_block(ep, meter)
        at_final, at_head, head = await self._batch(
            ep,
            [
                ("eth_call", [{"to": contract, "data": flag}, hex(final.number)]),
                ("eth_call", [{"to": contract, "data": flag}, "latest"]),
                ("eth_blockNumber", []),
            ],
            meter,
        )
        head_number = _int(head, "eth_blockNumber")
        used_final = int.from_bytes(_hexbytes(at_final, "id flag") or b"\0", "big") != 0
        used_head = int.from_bytes(_hexbytes(at_head, "id flag") or b"\0", "big") != 0
        if not (used_final or used_head):
            return TxOutcome(
                chain=self.chain,
                state=TxState.UNKNOWN,
                effect_id=eid,
                head=head_number,
                detail=f"{contract} has no record of {eid}",
            )
        entries = await self._logs(ep, contract, [[event, eid] for event in events], meter)
        entry = entries[0] if entries else None
        tx_ref = block_number = block_hash = amount = None
        detail = f"{contract} recorded {eid}"
        if entry is not None:
            tx_ref = _hash(entry.get("transactionHash"), "log tx hash")
            block_number = _int(entry.get("blockNumber"), "log block")
            block_hash = _hash(entry.get("blockHash"), "log block hash")
            payload = _hexbytes(entry.get("data"), "log data")
            amount = int.from_bytes(payload[-32:], "big") if len(payload) >= 32 else None
        else:
            detail += " (its event is outside the searched block range)"
        return TxOutcome(
            chain=self.chain,
            state=TxState.FINAL if used_final else TxState.INCLUDED,
            tx_ref=tx_ref,
            effect_id=eid,
            block_number=block_number,
            block_hash=block_hash,
            final=used_final,
            head=head_number,
            amount=amount,
            detail=detail,
        )

    # -- by transfer id alone (older look-ups) -------------------------------------------

    async def find_transfer(self, transfer_id: str) -> TransferReceipt | None:
        """The capital-out event of one of our pools with this id (a log is only
        emitted by a successful transaction), FINALIZED once its block is final."""
        check_transfer_id(transfer_id)
        ep, meter = self._endpoints[0], Meter()
        events = self._pool_abi.events
        topics = [[events["CapitalSent"], transfer_id], [events["CapitalBridged"], transfer_id]]
        for entry in await self._logs(ep, None, topics, meter):
            try:
                emitter = checked_address(entry.get("address"), what="log address")
            except InvalidAddress as exc:  # the node's data, not our caller's input
                raise MalformedResponse(exc.message, endpoint=ep.name, chain=self.chain) from None
            if not await self._is_our_pool(ep, emitter, meter):
                log.warning("ignoring log for %s from foreign contract %s", transfer_id, emitter)
                continue
            return await self._receipt_from_log(ep, transfer_id, entry, meter)
        return None

    async def find_inbound(self, transfer_id: str) -> TransferReceipt | None:
        """The delivery of an inbound transfer on this chain's bridge endpoint, if any."""
        check_transfer_id(transfer_id)
        bridge = self._config.bridge_endpoint
        if bridge is None:
            return None
        ep, meter = self._endpoints[0], Meter()
        topics = [[self._bridge_abi.events["BridgeDelivered"], transfer_id]]
        for entry in await self._logs(ep, bridge, topics, meter):
            return await self._receipt_from_log(ep, transfer_id, entry, meter)
        return None

    async def _logs(
        self, ep: EvmEndpoint, address: str | None, topic_sets: list[list[Any]], meter: Meter
    ) -> list[Mapping[str, Any]]:
        """Logs for each topic filter, from ``log_from_block`` to the head, in one batch;
        ranges are split by ``log_block_range`` for nodes that cap them."""
        start, step = self._config.log_from_block, self._config.log_block_range
        ranges: list[tuple[str, str]] = [(hex(start), "latest")]
        if step is not None:
            head = _int(await self._rpc(ep, "eth_blockNumber", [], meter), "eth_blockNumber")
            ranges = [
                (hex(lo), hex(min(lo + step - 1, head))) for lo in range(start, head + 1, step)
            ]
        calls: list[Call] = []
        for topics in topic_sets:
            for lo, hi in ranges:
                flt: dict[str, Any] = {"fromBlock": lo, "toBlock": hi, "topics": topics}
                if address is not None:
                    flt["address"] = address
                calls.append(("eth_getLogs", [flt]))
        found: list[Mapping[str, Any]] = []
        for logs in await self._batch(ep, calls, meter):
            if not isinstance(logs, list):
                raise MalformedResponse("eth_getLogs did not return a list", chain=self.chain)
            found.extend(e for e in logs if isinstance(e, Mapping) and not e.get("removed"))
        return found

    async def _receipt_from_log(
        self, ep: EvmEndpoint, transfer_id: str, entry: Mapping[str, Any], meter: Meter
    ) -> TransferReceipt:
        block = _int(entry.get("blockNumber"), "log block")
        final = await self._final_block(ep, meter)
        payload = _hexbytes(entry.get("data"), "log data")
        return TransferReceipt(
            transfer_id=transfer_id,
            chain=self.chain,
            tx_ref=_hash(entry.get("transactionHash"), "log tx hash"),
            status=TransferStatus.FINALIZED if block <= final.number else TransferStatus.CONFIRMED,
            block_number=block,
            amount=int.from_bytes(payload[-32:], "big") if len(payload) >= 32 else None,
        )

    async def _is_our_pool(self, ep: EvmEndpoint, address: str, meter: Meter) -> bool:
        expected = self._config.settlement_asset
        if expected is None:
            return True
        call = {"to": address, "data": self._pool_abi.fn("asset").encode()}
        try:
            raw = _hexbytes(await self._rpc(ep, "eth_call", [call, "latest"], meter), "asset()")
        except RevertedCall:
            return False
        return len(raw) == 32 and to_checksum_address(raw[12:]) == expected

    # -- vaults ---------------------------------------------------------------------

    async def vault_state(self, vault: str) -> VaultState:
        """A vault's assets and free capacity at the final block (capacity comes
        from chain, not from config)."""
        address = checked_address(vault, what="vault", chain=self.chain)
        ep, meter = self._endpoints[0], Meter()
        final = await self._final_block(ep, meter)
        fn = self._vault_abi.fn
        names = ("asset", "totalAssets", "freeCapacity", "reservedCapacity")
        answers = await self._batch(
            ep,
            [
                ("eth_call", [{"to": address, "data": fn(n).encode()}, hex(final.number)])
                for n in names
            ],
            meter,
            strict=False,
        )
        words: list[int] = []
        for name, raw in zip(names, answers, strict=True):
            data = b"" if isinstance(raw, ChainError) else _hexbytes(raw, name)
            if len(data) != 32:
                raise UnknownPool(
                    f"no reinsurance vault at {address} at the final block #{final.number}",
                    chain=self.chain,
                    vault=address,
                )
            words.append(int.from_bytes(data, "big"))
        asset = to_checksum_address(words[0].to_bytes(32, "big")[12:])
        return VaultState(
            chain=self.chain,
            vault=address,
            asset=asset,
            total_assets=words[1],
            free_capacity=words[2],
            reserved_capacity=words[3],
            block_number=final.number,
            block_hash=final.hash,
            finalized=True,
        )

    async def cession_of(self, vault: str, cession_id: str) -> CessionRecord | None:
        """``cessionOf`` at the head; ``finalized`` when the final block says the same.
        None when the vault has no such cession."""
        address = checked_address(vault, what="vault", chain=self.chain)
        check_id(cession_id, what="cession id")
        ep, meter = self._endpoints[0], Meter()
        final = await self._final_block(ep, meter)
        fn = self._vault_abi.fn("cessionOf")
        data = fn.encode(bytes.fromhex(cession_id[2:]))
        head_raw, final_raw, head = await self._batch(
            ep,
            [
                ("eth_call", [{"to": address, "data": data}, "latest"]),
                ("eth_call", [{"to": address, "data": data}, hex(final.number)]),
                ("eth_blockNumber", []),
            ],
            meter,
        )
        try:
            at_head = fn.decode(_hexbytes(head_raw, "cessionOf"))
            at_final = fn.decode(_hexbytes(final_raw, "cessionOf"))
        except Exception:
            raise MalformedResponse(
                f"cessionOf at {address} does not decode (is it a vault?)", chain=self.chain
            ) from None
        cedent, ceded, remaining, premium, is_open = at_head
        if int(cedent, 16) == 0:
            return None
        return CessionRecord(
            chain=self.chain,
            vault=address,
            cession_id=cession_id,
            cedent=to_checksum_address(cedent),
            ceded=int(ceded),
            remaining=int(remaining),
            premium=int(premium),
            open=bool(is_open),
            block_number=_int(head, "eth_blockNumber"),
            finalized=tuple(at_final) == tuple(at_head),
        )

    # -- covers ---------------------------------------------------------------------

    async def certificate_holder(self, pool: PoolRef, cover_id: str) -> str | None:
        """``RiskPool.certificateHolder`` at the head: who a claim payment now pays."""
        address, _ = self._check_pool(pool)
        check_id(cover_id, what="cover id")
        call = self._pool_abi.fn("certificateHolder").encode(bytes.fromhex(cover_id[2:]))
        ep, meter = self._endpoints[0], Meter()
        raw = _hexbytes(
            await self._rpc(ep, "eth_call", [{"to": address, "data": call}, "latest"], meter),
            "certificateHolder",
        )
        if len(raw) != 32:
            raise UnknownPool(f"no risk pool at {address}", chain=self.chain, pool_id=pool.pool_id)
        return None if not any(raw) else to_checksum_address(raw[12:])

    async def cover_state(self, pool: PoolRef, cover_id: str) -> CoverState | None:
        """``coverOf`` and the holder at the head; ``finalized`` when the final block
        says the same. None when the pool never opened this cover."""
        address, _ = self._check_pool(pool)
        check_id(cover_id, what="cover id")
        cid = bytes.fromhex(cover_id[2:])
        ep, meter = self._endpoints[0], Meter()
        final = await self._final_block(ep, meter)
        fn = self._pool_abi.fn
        cover, holder = fn("coverOf").encode(cid), fn("certificateHolder").encode(cid)
        head_raw, final_raw, holder_raw, head = await self._batch(
            ep,
            [
                ("eth_call", [{"to": address, "data": cover}, "latest"]),
                ("eth_call", [{"to": address, "data": cover}, hex(final.number)]),
                ("eth_call", [{"to": address, "data": holder}, "latest"]),
                ("eth_blockNumber", []),
            ],
            meter,
        )
        try:
            at_head = fn("coverOf").decode(_hexbytes(head_raw, "coverOf"))
            at_final = fn("coverOf").decode(_hexbytes(final_raw, "coverOf"))
            (holder_address,) = fn("certificateHolder").decode(
                _hexbytes(holder_raw, "certificateHolder")
            )
        except Exception:
            raise UnknownPool(
                f"no risk pool at {address} (coverOf does not decode)",
                chain=self.chain,
                pool_id=pool.pool_id,
            ) from None
        limit, locked, paid, status = (int(v) for v in at_head)
        if status == 0:
            return None
        return CoverState(
            chain=self.chain,
            pool_id=pool.pool_id,
            cover_id=cover_id,
            holder=None if int(holder_address, 16) == 0 else to_checksum_address(holder_address),
            remaining=limit - paid,
            open=status == 1,
            block_number=_int(head, "eth_blockNumber"),
            finalized=tuple(at_final) == tuple(at_head),
            limit=limit,
            locked=locked,
            paid=paid,
        )

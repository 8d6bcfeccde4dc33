"""Sends of the EVM adapter: pre-checked, locally signed, nonce-managed.

``transferOut`` (same chain) or ``sendToBridge`` (other chain) from the pool,
and ``deliver`` on the bridge endpoint for inbound transfers, signed locally
for the configured chain id, nonce from a local cache under a lock (resynced
from the node's pending count when the node says it is wrong). Before
signing, one batch checks the node's chain id, pre-checks ``transferUsed``,
``freeCapital`` and the pool's asset, and estimates gas, so bad requests cost
nothing and nothing is signed for a node of another chain. The chain still
enforces all of it; reverts are mapped by custom-error selector whether they
come back from estimation, as an error payload, or as a mined receipt with
status 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from eth_utils import to_checksum_address

from chains.base import (
    InboundTransfer,
    Transfer,
    TransferReceipt,
    TransferStatus,
    check_amount,
    check_transfer_id,
)
from chains.errors import (
    AccountMismatch,
    ChainError,
    ConfirmationTimeout,
    DuplicateTransfer,
    InsufficientCapital,
    RpcResponseError,
    TransactionError,
    TransactionReverted,
    UnknownChain,
    UnknownPool,
    WrongChain,
)
from chains.evm_abi import decode_revert, error_for_revert
from chains.evm_config import checked_address, recipient_bytes32
from chains.evm_core import EvmCore, Meter
from chains.evm_rpc import Call, EvmEndpoint, RevertedCall
from chains.evm_rpc import as_int as _int
from chains.evm_rpc import hex_bytes as _hexbytes

log = logging.getLogger("ballast.chains.evm")

_NONCE_TEXT = ("nonce too low", "invalid transaction nonce", "nonce has already been used")
_KNOWN_TEXT = ("already known", "already imported", "known transaction")
_CHAIN_TEXT = ("chain id", "chainid", "invalid sender", "replay")


class EvmSends(EvmCore):
    """Outbound transfers and inbound deliveries: one transaction each, under the nonce lock."""

    async def send_transfer(self, transfer: Transfer) -> TransferReceipt:
        check_transfer_id(transfer.transfer_id)
        check_amount(transfer.amount)
        pool, _asset = self._check_pool(transfer.source)
        tid = bytes.fromhex(transfer.transfer_id[2:])
        if transfer.cross_chain:
            route = self._config.routes.get(transfer.dst_chain)
            if route is None or self._config.bridge_endpoint is None:
                raise UnknownChain(
                    f"no bridge route from {self.chain} to {transfer.dst_chain!r}",
                    chain=self.chain,
                    transfer_id=transfer.transfer_id,
                )
            rcpt = recipient_bytes32(transfer.recipient, route.family, chain=self.chain)
            data = self._pool_abi.fn("sendToBridge").encode(
                tid, self._config.bridge_endpoint, route.chain_id, rcpt, transfer.amount
            )
        else:
            to = checked_address(transfer.recipient, what="recipient", chain=self.chain)
            data = self._pool_abi.fn("transferOut").encode(tid, to, transfer.amount)
        pool_fn = self._pool_abi.fn
        prechecks: list[Call] = [
            ("eth_call", [{"to": pool, "data": pool_fn("asset").encode()}, "latest"]),
            ("eth_call", [{"to": pool, "data": pool_fn("transferUsed").encode(tid)}, "latest"]),
            ("eth_call", [{"to": pool, "data": pool_fn("freeCapital").encode()}, "latest"]),
        ]

        def judge(results: list[Any]) -> None:
            asset_raw, used_raw, free_raw = results
            if isinstance(asset_raw, ChainError) or len(_hexbytes(asset_raw, "asset()")) != 32:
                raise UnknownPool(
                    f"pool {transfer.source.pool_id}: no risk pool at {pool}",
                    chain=self.chain,
                    pool_id=transfer.source.pool_id,
                )
            seen = to_checksum_address(_hexbytes(asset_raw, "asset()")[12:])
            if seen != checked_address(transfer.source.asset):
                raise AccountMismatch(
                    f"pool {transfer.source.pool_id} holds {seen}, "
                    f"expected {transfer.source.asset}",
                    chain=self.chain,
                    pool_id=transfer.source.pool_id,
                )
            for raw in (used_raw, free_raw):
                if isinstance(raw, ChainError):
                    raise raw
            if int.from_bytes(_hexbytes(used_raw, "transferUsed"), "big"):
                raise DuplicateTransfer(
                    f"transfer id {transfer.transfer_id} was already used by pool {pool}",
                    chain=self.chain,
                    transfer_id=transfer.transfer_id,
                )
            free = int.from_bytes(_hexbytes(free_raw, "freeCapital"), "big")
            if free < transfer.amount:
                raise InsufficientCapital(
                    f"pool {transfer.source.pool_id} has {free} free, "
                    f"transfer needs {transfer.amount}",
                    chain=self.chain,
                    transfer_id=transfer.transfer_id,
                    requested=transfer.amount,
                    free=free,
                )

        return await self._submit(
            pool, data, transfer.transfer_id, transfer.amount, prechecks, judge
        )

    async def complete_inbound(self, inbound: InboundTransfer) -> TransferReceipt:
        """Deliver an attested cross-chain transfer on this (destination) chain."""
        check_transfer_id(inbound.transfer_id)
        check_amount(inbound.amount)
        if inbound.dst_chain != self.chain:
            raise UnknownChain(
                f"inbound transfer for {inbound.dst_chain!r} sent to {self.chain!r}",
                chain=self.chain,
            )
        route = self._config.routes.get(inbound.src_chain)
        if route is None or self._config.bridge_endpoint is None:
            raise UnknownChain(f"no bridge route from {inbound.src_chain!r}", chain=self.chain)
        recipient = checked_address(inbound.recipient, what="recipient", chain=self.chain)
        if not isinstance(inbound.attestation, bytes) or len(inbound.attestation) != 65:
            raise TransactionReverted(
                "attestation must be a 65-byte signature",
                chain=self.chain,
                transfer_id=inbound.transfer_id,
            )
        tid = bytes.fromhex(inbound.transfer_id[2:])
        bridge = self._config.bridge_endpoint
        data = self._bridge_abi.fn("deliver").encode(
            tid, route.chain_id, recipient, inbound.amount, inbound.attestation
        )
        prechecks: list[Call] = [
            (
                "eth_call",
                [{"to": bridge, "data": self._bridge_abi.fn("delivered").encode(tid)}, "latest"],
            )
        ]

        def judge(results: list[Any]) -> None:
            (raw,) = results
            if isinstance(raw, ChainError):
                raise raw
            if int.from_bytes(_hexbytes(raw, "delivered"), "big"):
                raise DuplicateTransfer(
                    f"transfer id {inbound.transfer_id} was already delivered on {self.chain}",
                    chain=self.chain,
                    transfer_id=inbound.transfer_id,
                )

        return await self._submit(
            bridge, data, inbound.transfer_id, inbound.amount, prechecks, judge
        )

    async def _submit(
        self,
        to: str,
        data: str,
        transfer_id: str,
        amount: int,
        prechecks: list[Call],
        judge: Callable[[list[Any]], None],
    ) -> TransferReceipt:
        """Pre-check, estimate, sign, send and wait: one transaction, under the nonce lock.

        ``judge`` sees the answers to ``prechecks`` and raises the precise error
        for a request the chain would refuse; nothing is signed before it passes.
        """
        ep = self._endpoints[0]
        meter = Meter()
        sender = self.operator
        async with self._send_lock:
            calls = [
                *prechecks,
                ("eth_estimateGas", [{"from": sender, "to": to, "data": data}]),
                ("eth_gasPrice", []),
                ("eth_getTransactionCount", [sender, "pending"]),
                ("eth_chainId", []),
            ]
            results = await self._batch(ep, calls, meter, strict=False)
            estimate, gas_price, pending, chain_id = results[len(prechecks) :]
            if isinstance(chain_id, ChainError):
                raise chain_id
            if _int(chain_id, "eth_chainId") != self._config.chain_id:
                raise WrongChain(
                    f"endpoint {ep.name} serves chain id {_int(chain_id, 'eth_chainId')}, "
                    f"this adapter signs for {self._config.chain_id}: nothing sent",
                    chain=self.chain,
                    transfer_id=transfer_id,
                )
            judge(results[: len(prechecks)])
            if isinstance(estimate, RevertedCall):
                raise self._revert_error(estimate.data, transfer_id)
            for r in (estimate, gas_price, pending):
                if isinstance(r, ChainError):
                    raise r
            gas = int(_int(estimate, "gas estimate") * self._config.gas_headroom) + 10_000
            price = _int(gas_price, "gas price")
            if self._nonce is None:
                self._nonce = _int(pending, "pending nonce")
            for _attempt in range(3):
                tx = {
                    "chainId": self._config.chain_id,
                    "nonce": self._nonce,
                    "to": to,
                    "data": data,
                    "value": 0,
                    "gas": gas,
                    "maxFeePerGas": price * 2,
                    "maxPriorityFeePerGas": min(price, 10**9),
                    "type": 2,
                }
                signed = self._signer.sign_transaction(tx)
                raw = "0x" + bytes(signed.raw_transaction).hex()
                tx_hash = "0x" + bytes(signed.hash).hex()
                try:
                    await self._rpc(ep, "eth_sendRawTransaction", [raw], meter)
                except RpcResponseError as exc:
                    text = exc.message.lower()
                    if any(t in text for t in _KNOWN_TEXT):
                        break  # an earlier attempt of ours got through
                    if any(t in text for t in _NONCE_TEXT):
                        # A retried send whose first attempt did land looks like this too.
                        mine = await self._rpc(ep, "eth_getTransactionByHash", [tx_hash], meter)
                        if isinstance(mine, Mapping):
                            break
                        self._nonce = _int(
                            await self._rpc(
                                ep, "eth_getTransactionCount", [sender, "pending"], meter
                            ),
                            "pending nonce",
                        )
                        continue
                    if any(t in text for t in _CHAIN_TEXT):
                        raise WrongChain(
                            f"endpoint {ep.name} refused a transaction signed for chain id "
                            f"{self._config.chain_id}: {exc.message}",
                            chain=self.chain,
                            transfer_id=transfer_id,
                        ) from exc
                    if isinstance(exc, RevertedCall):
                        raise self._revert_error(exc.data, transfer_id) from exc
                    raise
                except ChainError:
                    self._nonce = None  # outcome unknown: ask the node next time
                    raise
                break
            else:
                raise TransactionError(
                    f"could not find a usable nonce for {sender} after 3 attempts",
                    chain=self.chain,
                    transfer_id=transfer_id,
                )
            self._nonce += 1
        receipt = await self._wait_receipt(ep, tx_hash, transfer_id, meter)
        block = _int(receipt.get("blockNumber"), "receipt block")
        if _int(receipt.get("status"), "receipt status") != 1:
            replay = {"from": sender, "to": to, "data": data, "gas": hex(gas)}
            try:
                await self._rpc(ep, "eth_call", [replay, hex(max(block - 1, 0))], meter)
            except RevertedCall as exc:
                raise self._revert_error(exc.data, transfer_id, tx_hash=tx_hash) from exc
            raise TransactionReverted(
                f"transaction {tx_hash} was mined but failed",
                chain=self.chain,
                transfer_id=transfer_id,
            )
        return TransferReceipt(
            transfer_id=transfer_id,
            chain=self.chain,
            tx_ref=tx_hash,
            status=TransferStatus.CONFIRMED,
            block_number=block,
            amount=amount,
        )

    async def _wait_receipt(
        self, ep: EvmEndpoint, tx_hash: str, transfer_id: str, meter: Meter
    ) -> Mapping[str, Any]:
        deadline = time.monotonic() + self._config.receipt_timeout
        while True:
            receipt = await self._rpc(ep, "eth_getTransactionReceipt", [tx_hash], meter)
            if isinstance(receipt, Mapping) and receipt.get("blockNumber") is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise ConfirmationTimeout(
                    f"transaction {tx_hash} not mined within {self._config.receipt_timeout}s; "
                    "reconcile with find_transfer before resending",
                    chain=self.chain,
                    transfer_id=transfer_id,
                    tx_hash=tx_hash,
                )
            await asyncio.sleep(self._config.poll_interval)

    def _revert_error(
        self, data: bytes, transfer_id: str, *, tx_hash: str | None = None
    ) -> ChainError:
        return error_for_revert(
            decode_revert(data, self._errors),
            chain=self.chain,
            transfer_id=transfer_id,
            tx_hash=tx_hash,
        )

"""Reconciliation of the EVM adapter: find a transfer or a delivery by its id.

A capital-out or delivery event is only emitted by a successful transaction,
so a log carrying the transfer id is proof it happened; it is FINALIZED once
its block is final. Logs from contracts that are not our pools are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eth_utils import to_checksum_address

from chains.base import TransferReceipt, TransferStatus, check_transfer_id
from chains.errors import InvalidAddress, MalformedResponse
from chains.evm_config import checked_address
from chains.evm_core import EvmCore, Meter
from chains.evm_rpc import Call, EvmEndpoint, RevertedCall
from chains.evm_rpc import as_hash as _hash
from chains.evm_rpc import as_int as _int
from chains.evm_rpc import hex_bytes as _hexbytes

log = logging.getLogger("ballast.chains.evm")


class EvmReconcile(EvmCore):
    """Look-ups by transfer id, for reconciling after an unknown outcome."""

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
        self, ep: EvmEndpoint, address: str | None, topic_sets: list[list[str]], meter: Meter
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

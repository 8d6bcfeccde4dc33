"""The bridge's view of one EVM chain: its ``BridgeEndpoint``'s sends, read at
final blocks (the chain as a source), and the digest its ``deliver`` checks
(the chain as a destination).

A send is the endpoint's ``BridgeSent(transferId, sender, dstChainId,
recipient, amount)`` event in a final block. ``send`` is open to anyone, so
only sends whose ``sender`` is one of our pools (``pools``) are ours: others
are logged and never attested (the endpoint's own invariant). ``find_send``
first asks the endpoint's ``senderOf(transferId)`` at the final block and at
the head (so "not final yet" and "never sent" are told apart), then reads the
event on every configured endpoint, which must agree.

Read-only: built from the chain's :class:`~chains.evm.EvmChainConfig` with the
operator key dropped; the relayer delivers through the destination's own
adapter.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_utils import to_checksum_address

from chains.base import ChainFamily, check_transfer_id
from chains.bridge.values import SentTransfer
from chains.errors import (
    EndpointDisagreement,
    ForeignSend,
    InvalidAddress,
    InvalidInput,
    MalformedResponse,
    NotFinal,
    NotYetFinal,
    Unauthorized,
    UnknownLane,
    UnknownSend,
)
from chains.evm_config import EvmChainConfig, checked_address
from chains.evm_core import Meter
from chains.evm_reconcile import EvmReconcile
from chains.evm_rpc import Call, EvmEndpoint
from chains.evm_rpc import as_hash as _hash
from chains.evm_rpc import as_int as _int
from chains.evm_rpc import hex_bytes as _hexbytes

log = logging.getLogger("ballast.chains.bridge")


class EvmBridgeChain(EvmReconcile):
    """One EVM chain as the bridge sees it (module docstring). Read-only."""

    def __init__(
        self,
        config: EvmChainConfig,
        endpoints: Sequence[EvmEndpoint] | None = None,
        *,
        pools: Iterable[str],
    ) -> None:
        if config.bridge_endpoint is None:
            raise InvalidInput("the bridge needs the chain's bridge endpoint", chain=config.chain)
        super().__init__(dataclasses.replace(config, operator_key=None), endpoints)
        self._endpoint = config.bridge_endpoint
        self._pools = frozenset(checked_address(p, what="pool", chain=config.chain) for p in pools)
        self._names = {route.chain_id: name for name, route in config.routes.items()}
        self._families = {name: route.family for name, route in config.routes.items()}

    def __repr__(self) -> str:
        return (
            f"EvmBridgeChain(chain={self.chain!r}, endpoint={self._endpoint}, "
            f"pools={len(self._pools)})"
        )

    # -- as a source -----------------------------------------------------------------

    @property
    def origin(self) -> int:
        return self._config.log_from_block

    @property
    def pools(self) -> frozenset[str]:
        return self._pools

    def trust(self, pools: Iterable[str]) -> None:
        """Sends by these pools are ours from now on (the router adds a pool). The set
        only grows: a send once attested stays attestable."""
        added = {checked_address(p, what="pool", chain=self.chain) for p in pools}
        self._pools = self._pools | added

    async def final_height(self) -> int:
        return (await self._final_block(self._endpoints[0], Meter())).number

    async def sends(self, from_height: int, to_height: int) -> list[SentTransfer]:
        """Every ``BridgeSent`` of our pools in ``[from_height, to_height]`` (final)."""
        ep, meter = self._endpoints[0], Meter()
        final = await self._final_block(ep, meter)
        if to_height > final.number:
            raise NotFinal(
                f"block {to_height} is above the final block {final.number}", chain=self.chain
            )
        if from_height > to_height:
            return []
        entries = await self._sent_logs(ep, from_height, to_height, None, meter)
        out: list[SentTransfer] = []
        for entry in entries:
            sent = self._decode(entry)
            if sent.sender not in self._pools:
                log.warning(
                    "%s: bridge send %s by %s, not one of our pools: not attested",
                    self.chain,
                    sent.transfer_id,
                    sent.sender,
                )
                continue
            out.append(sent)
        return out

    async def find_send(self, transfer_id: str, *, near: int | None = None) -> SentTransfer:
        """The send with this id at a final block, read on every endpoint (which must
        agree). ``near``: the block to search first (then the whole range)."""
        check_transfer_id(transfer_id)
        found = await self._on_every_endpoint(lambda ep: self._find_on(ep, transfer_id, near))
        first = found[0]
        for other, ep in zip(found[1:], self._endpoints[1:], strict=True):
            if other != first:
                raise EndpointDisagreement(
                    f"bridge send {transfer_id}: {self._endpoints[0].name} and {ep.name} "
                    "disagree on it",
                    chain=self.chain,
                    transfer_id=transfer_id,
                    what="bridge_send",
                )
        if first.sender not in self._pools:
            raise ForeignSend(
                f"bridge send {transfer_id} was made by {first.sender}, not one of our pools",
                chain=self.chain,
                transfer_id=transfer_id,
                sender=first.sender,
            )
        return first

    async def _find_on(self, ep: EvmEndpoint, transfer_id: str, near: int | None) -> SentTransfer:
        meter = Meter()
        final = await self._final_block(ep, meter)
        sender_of = self._bridge_abi.fn("senderOf").encode(bytes.fromhex(transfer_id[2:]))
        at_final, at_head = await self._batch(
            ep,
            [
                ("eth_call", [{"to": self._endpoint, "data": sender_of}, hex(final.number)]),
                ("eth_call", [{"to": self._endpoint, "data": sender_of}, "latest"]),
            ],
            meter,
        )
        if not _word(at_final, "senderOf"):
            if _word(at_head, "senderOf"):
                raise NotYetFinal(
                    f"bridge send {transfer_id} is at the head, not yet at the final block "
                    f"#{final.number}",
                    chain=self.chain,
                    transfer_id=transfer_id,
                )
            raise UnknownSend(
                f"no bridge send {transfer_id} on {self.chain} (endpoint {self._endpoint})",
                chain=self.chain,
                transfer_id=transfer_id,
            )
        entries: list[Mapping[str, Any]] = []
        if near is not None and self.origin <= near <= final.number:
            entries = await self._sent_logs(ep, near, near, transfer_id, meter)
        if not entries:  # no hint, or a wrong one: the whole range
            entries = await self._sent_logs(ep, self.origin, final.number, transfer_id, meter)
        if not entries:
            raise UnknownSend(
                f"the endpoint recorded {transfer_id} but its BridgeSent event is not in blocks "
                f"{self.origin}..{final.number} (is log_from_block too high?)",
                chain=self.chain,
                transfer_id=transfer_id,
            )
        return self._decode(entries[0])

    async def _sent_logs(
        self, ep: EvmEndpoint, lo: int, hi: int, transfer_id: str | None, meter: Meter
    ) -> list[Mapping[str, Any]]:
        """``BridgeSent`` logs of our endpoint in ``[lo, hi]``, oldest first; the range is
        split by ``log_block_range`` for nodes that cap it, the pieces in one batch."""
        topics: list[Any] = [self._bridge_abi.events["BridgeSent"]]
        if transfer_id is not None:
            topics.append(transfer_id)
        step = self._config.log_block_range or (hi - lo + 1)
        calls: list[Call] = [
            (
                "eth_getLogs",
                [
                    {
                        "address": self._endpoint,
                        "fromBlock": hex(start),
                        "toBlock": hex(min(start + step - 1, hi)),
                        "topics": topics,
                    }
                ],
            )
            for start in range(lo, hi + 1, step)
        ]
        found: list[Mapping[str, Any]] = []
        for logs in await self._batch(ep, calls, meter):
            if not isinstance(logs, list):
                raise MalformedResponse("eth_getLogs did not return a list", chain=self.chain)
            found.extend(e for e in logs if isinstance(e, Mapping) and not e.get("removed"))
        return sorted(
            found,
            key=lambda e: (_int(e.get("blockNumber"), "log block"), _int(e.get("logIndex"), "i")),
        )

    def _decode(self, entry: Mapping[str, Any]) -> SentTransfer:
        """A ``BridgeSent`` log as a send; anything else from the node is malformed."""
        try:
            emitter = checked_address(entry.get("address"), what="log address")
        except InvalidAddress:
            raise MalformedResponse("BridgeSent log without an address", chain=self.chain) from None
        topics = [_hexbytes(t, "log topic") for t in entry.get("topics") or []]
        data = _hexbytes(entry.get("data"), "log data")
        sig = bytes.fromhex(self._bridge_abi.events["BridgeSent"][2:])
        if emitter != self._endpoint or len(topics) != 3 or topics[0] != sig or len(data) != 96:
            raise MalformedResponse(
                f"not a BridgeSent log of {self._endpoint}: {dict(entry)!r:.200}", chain=self.chain
            )
        dst_id = int.from_bytes(data[:32], "big")
        return SentTransfer(
            transfer_id="0x" + topics[1].hex(),
            src_chain=self.chain,
            dst_chain=self._names.get(dst_id),
            dst_chain_id=dst_id,
            recipient="0x" + data[32:64].hex(),
            amount=int.from_bytes(data[64:96], "big"),
            sender=to_checksum_address(topics[2][12:]),
            block_number=_int(entry.get("blockNumber"), "log block"),
            tx_ref=_hash(entry.get("transactionHash"), "log tx hash"),
            block_hash=_hash(entry.get("blockHash"), "log block hash"),
        )

    # -- as a destination -----------------------------------------------------------

    @property
    def chain_id(self) -> int:
        return self._config.chain_id

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def route_id(self, other: str) -> int:
        """The chain id this chain's endpoint uses for ``other`` (``srcChainId`` of a
        delivery from it, ``dstChainId`` of a send to it)."""
        route = self._config.routes.get(other)
        if route is None:
            raise UnknownLane(
                f"no bridge route between {self.chain} and {other!r}", chain=self.chain
            )
        return route.chain_id

    def route_family(self, other: str) -> ChainFamily:
        self.route_id(other)
        return self._families[other]

    def recipient(self, word: bytes, *, transfer_id: str | None = None) -> str:
        """A send's 32-byte recipient as an address here (12 zero bytes, then 20)."""
        if len(word) != 32 or any(word[:12]):
            raise InvalidAddress(
                f"recipient 0x{word.hex()} is not an EVM address padded to 32 bytes",
                chain=self.chain,
                transfer_id=transfer_id,
            )
        return str(to_checksum_address(word[12:]))

    def digest(self, transfer_id: str, src_chain_id: int, recipient: str, amount: int) -> bytes:
        """``BridgeEndpoint.attestationDigest`` as the contract here computes it."""
        from contracts import attestation_digest

        return attestation_digest(
            self._endpoint,
            self._config.chain_id,
            bytes.fromhex(transfer_id[2:]),
            src_chain_id,
            recipient,
            amount,
        )

    async def check_attester(self, attester: str) -> None:
        """The endpoint must name ``attester`` as its attester, or every delivery fails."""
        ep = self._endpoints[0]
        call = {"to": self._endpoint, "data": self._bridge_abi.fn("attester").encode()}
        raw = await self._rpc(ep, "eth_call", [call, "latest"], Meter())
        onchain = to_checksum_address(_word(raw, "attester()").to_bytes(32, "big")[12:])
        if onchain != checked_address(attester):
            raise Unauthorized(
                f"the bridge endpoint {self._endpoint} on {self.chain} accepts attestations of "
                f"{onchain}, not of this bridge's attester {attester}",
                chain=self.chain,
            )


def _word(raw: Any, what: str) -> int:
    data = _hexbytes(raw, what)
    if len(data) < 32:
        raise MalformedResponse(f"{what}: no answer (is there a bridge endpoint?)")
    return int.from_bytes(data[:32], "big")

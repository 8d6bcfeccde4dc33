"""The EVM chain adapter: final-block balance reads in a few round trips, safe sends.

Reads: for every endpoint of the chain, fetch the final block header (number
and hash, by the chain's finality rule) together with ``eth_chainId``, then
every pool's asset and balance at that block number through
``BatchReader.poolStates`` (chunked; chunks go out as one JSON-RPC batch).
Pools whose immutable asset a read has verified are later read with
``BatchReader.balancesOf`` (a third of the EVM work). With no reader
deployed, JSON-RPC batches of ``asset()``/``balanceOf`` calls do the same.
Several endpoints must agree on chain id, final block number and hash, and
every balance; otherwise :class:`~chains.errors.EndpointDisagreement`
names who differs and how. Nothing is averaged or picked.

Sends: ``transferOut`` (same chain) or ``sendToBridge`` (other chain) from the
pool, signed locally for the configured chain id, nonce from a local cache
under a lock (resynced from the node's pending count when the node says it is
wrong). Before signing, one batch checks the node's chain id, pre-checks
``transferUsed``, ``freeCapital`` and the pool's asset, and estimates gas, so
bad requests cost nothing and nothing is signed for a node of another chain. The chain
still enforces all of it; reverts are mapped by custom-error selector whether
they come back from estimation, as an error payload, or as a mined receipt
with status 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from eth_account import Account
from eth_utils import to_checksum_address

from chains.base import (
    BalanceReport,
    BalanceSnapshot,
    InboundTransfer,
    PoolRef,
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
    EndpointDisagreement,
    InsufficientCapital,
    MalformedResponse,
    NotFinal,
    RpcResponseError,
    TransactionError,
    TransactionReverted,
    UnknownChain,
    UnknownPool,
    WrongChain,
)
from chains.evm_abi import (
    ContractAbi,
    decode_pool_states,
    decode_revert,
    decode_uint_array,
    encode_address_array,
    encode_balances_of,
    error_for_revert,
)
from chains.evm_config import (
    FINALIZED,
    BridgeRoute,
    Confirmations,
    EvmChainConfig,
    FinalityRule,
    FinalizedTag,
    checked_address,
    recipient_bytes32,
)
from chains.evm_rpc import (
    Call,
    EvmEndpoint,
    HttpEndpoint,
    RevertedCall,
)
from chains.evm_rpc import (
    as_hash as _hash,
)
from chains.evm_rpc import (
    as_int as _int,
)
from chains.evm_rpc import (
    hex_bytes as _hexbytes,
)
from chains.retry import with_retries

__all__ = [
    "FINALIZED",
    "BridgeRoute",
    "Confirmations",
    "EvmAdapter",
    "EvmChainConfig",
    "FinalityRule",
    "FinalizedTag",
    "checked_address",
    "connect_evm",
    "recipient_bytes32",
]

log = logging.getLogger("ballast.chains.evm")

T = TypeVar("T")

_ZERO = "0x" + "0" * 40


# ----------------------------------------------------------------- internals


@dataclass(slots=True)
class _Meter:
    calls: int = 0


@dataclass(frozen=True, slots=True)
class _Block:
    number: int
    hash: str


@dataclass(frozen=True, slots=True)
class _EndpointRead:
    endpoint: str
    block: _Block
    states: tuple[tuple[str, int], ...]  # (asset or zero address, balance) per pool
    calls: int


_NONCE_TEXT = ("nonce too low", "invalid transaction nonce", "nonce has already been used")
_KNOWN_TEXT = ("already known", "already imported", "known transaction")
_CHAIN_TEXT = ("chain id", "chainid", "invalid sender", "replay")


# -------------------------------------------------------------------- adapter


class EvmAdapter:
    """``ChainAdapter`` + ``BridgeInbound`` for one EVM chain (see module docstring)."""

    def __init__(self, config: EvmChainConfig, endpoints: Sequence[EvmEndpoint] | None = None):
        if endpoints is None:
            endpoints = [HttpEndpoint(url, timeout=config.rpc_timeout) for url in config.endpoints]
        if not endpoints:
            raise ValueError(f"chain {config.chain}: no RPC endpoint configured")
        self._config = config
        self._endpoints = tuple(endpoints)
        self._signer = Account.from_key(config.operator_key.get_secret_value())
        self._pool_abi = ContractAbi(load_abi("RiskPool"))
        self._token_abi = ContractAbi(load_abi("SettlementToken"))
        self._bridge_abi = ContractAbi(load_abi("BridgeEndpoint"))
        self._reader_abi = ContractAbi(load_abi("BatchReader"))
        self._errors = {
            **self._token_abi.errors,
            **self._bridge_abi.errors,
            **self._pool_abi.errors,
        }
        self._send_lock = asyncio.Lock()
        self._nonce: int | None = None
        # (pool, asset) pairs whose asset a read has verified. A RiskPool's asset is
        # immutable and code cannot change at an address, so later reads only need
        # balances: one sub-call per pool instead of three.
        self._verified: set[tuple[str, str]] = set()

    # -- identity ----------------------------------------------------------

    @property
    def chain(self) -> str:
        return self._config.chain

    @property
    def config(self) -> EvmChainConfig:
        return self._config

    @property
    def operator(self) -> str:
        """The operator's address (public): the pools' ``operator`` must be this."""
        return str(self._signer.address)

    @property
    def endpoint_names(self) -> tuple[str, ...]:
        return tuple(ep.name for ep in self._endpoints)

    async def aclose(self) -> None:
        for ep in self._endpoints:
            try:
                await ep.aclose()
            except ChainError as exc:
                log.warning("closing %s failed: %s", ep.name, exc)

    # -- RPC plumbing --------------------------------------------------------

    async def _rpc(self, ep: EvmEndpoint, method: str, params: list[Any], meter: _Meter) -> Any:
        async def once() -> Any:
            meter.calls += 1
            return await ep.request(method, params)

        return await self._retry(once)

    async def _batch(
        self, ep: EvmEndpoint, calls: Sequence[Call], meter: _Meter, *, strict: bool = True
    ) -> list[Any]:
        """One round trip (a plain request for one call); ``strict`` raises the first failure."""

        async def once() -> list[Any]:
            meter.calls += 1
            if len(calls) == 1:
                try:
                    results = [await ep.request(*calls[0])]
                except ChainError as exc:
                    if not strict and not exc.retryable:
                        return [exc]
                    raise
            else:
                results = await ep.batch(calls)
            if strict or any(isinstance(r, ChainError) and r.retryable for r in results):
                for r in results:
                    if isinstance(r, ChainError) and (strict or r.retryable):
                        raise r
            return results

        return await self._retry(once)

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await with_retries(call, policy=self._config.retry)
        except ChainError as exc:
            if exc.chain is None:
                exc.chain = self.chain
            raise

    # -- validation ----------------------------------------------------------

    def _check_pool(self, pool: PoolRef) -> tuple[str, str]:
        if pool.chain != self.chain:
            raise UnknownChain(
                f"pool {pool.pool_id} is on chain {pool.chain!r}, this adapter "
                f"serves {self.chain!r}",
                chain=self.chain,
                pool_id=pool.pool_id,
            )
        address = checked_address(
            pool.address, what=f"pool {pool.pool_id} address", chain=self.chain
        )
        asset = checked_address(pool.asset, what=f"pool {pool.pool_id} asset", chain=self.chain)
        expected = self._config.settlement_asset
        if expected is not None and asset != expected:
            raise AccountMismatch(
                f"pool {pool.pool_id} claims asset {asset}, "
                f"the settlement asset here is {expected}",
                chain=self.chain,
                pool_id=pool.pool_id,
            )
        return address, asset

    # -- reads ---------------------------------------------------------------

    async def read_balances(self, pools: Sequence[PoolRef]) -> BalanceSnapshot:
        checked = [self._check_pool(p) for p in pools]
        reads = await asyncio.gather(*(self._read_on(ep, checked) for ep in self._endpoints))
        self._require_agreement(pools, reads)
        ref = reads[0]
        now = datetime.now(UTC)
        reports = []
        for pool, (address, asset), (seen_asset, amount) in zip(
            pools, checked, ref.states, strict=True
        ):
            if seen_asset == _ZERO:
                raise UnknownPool(
                    f"pool {pool.pool_id}: no risk pool at {address} (no code or not a pool)",
                    chain=self.chain,
                    pool_id=pool.pool_id,
                    address=address,
                )
            if seen_asset != asset.lower():
                raise AccountMismatch(
                    f"pool {pool.pool_id} at {address} holds "
                    f"{to_checksum_address(seen_asset)}, expected {asset}",
                    chain=self.chain,
                    pool_id=pool.pool_id,
                    address=address,
                )
            self._verified.add((address, asset))
            reports.append(
                BalanceReport(
                    chain=self.chain,
                    pool_id=pool.pool_id,
                    address=address,
                    asset=asset,
                    amount=amount,
                    block_number=ref.block.number,
                    block_hash=ref.block.hash,
                    finalized=True,
                    observed_at=now,
                )
            )
        return BalanceSnapshot(
            chain=self.chain,
            block_number=ref.block.number,
            block_hash=ref.block.hash,
            finalized=True,
            observed_at=now,
            reports=tuple(reports),
            rpc_calls=sum(r.calls for r in reads),
        )

    async def final_block(self) -> tuple[int, str]:
        """Number and hash of the block this adapter currently treats as final (first endpoint)."""
        block = await self._final_block(self._endpoints[0], _Meter())
        return block.number, block.hash

    async def _final_block(self, ep: EvmEndpoint, meter: _Meter) -> _Block:
        rule = self._config.finality
        first: Call = (
            ("eth_getBlockByNumber", ["finalized", False])
            if isinstance(rule, FinalizedTag)
            else ("eth_blockNumber", [])
        )
        chain_id, head = await self._batch(ep, [("eth_chainId", []), first], meter)
        if _int(chain_id, "eth_chainId") != self._config.chain_id:
            raise EndpointDisagreement(
                f"endpoint {ep.name} serves chain id {_int(chain_id, 'eth_chainId')}, "
                f"configured {self._config.chain_id}",
                chain=self.chain,
                endpoints=(ep.name,),
                what="chain_id",
            )
        if isinstance(rule, Confirmations):
            number = _int(head, "eth_blockNumber") - rule.n
            if number < 0:
                raise NotFinal(
                    f"endpoint {ep.name}: head {number + rule.n} "
                    f"has fewer than {rule.n} confirmations",
                    chain=self.chain,
                )
            head = await self._rpc(ep, "eth_getBlockByNumber", [hex(number), False], meter)
        if not isinstance(head, Mapping):
            raise NotFinal(f"endpoint {ep.name} has no final block yet", chain=self.chain)
        return _Block(
            _int(head.get("number"), "block number"), _hash(head.get("hash"), "block hash")
        )

    async def _read_on(self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]]) -> _EndpointRead:
        meter = _Meter()
        block = await self._final_block(ep, meter)
        if not pools:
            return _EndpointRead(ep.name, block, (), meter.calls)
        assets = {asset for _, asset in pools}
        if self._config.batch_reader is not None:
            if len(assets) == 1 and all(p in self._verified for p in pools):
                states = await self._balances_via_reader(ep, pools, block.number, meter)
            else:
                states = await self._states_via_reader(ep, pools, block.number, meter)
        else:
            states = await self._states_via_batch(ep, pools, block.number, meter)
        return _EndpointRead(ep.name, block, tuple(states), meter.calls)

    async def _states_via_reader(
        self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]], number: int, meter: _Meter
    ) -> list[tuple[str, int]]:
        selector = self._reader_abi.fn("poolStates").selector
        size = self._config.chunk_size
        chunks = [[a for a, _ in pools[i : i + size]] for i in range(0, len(pools), size)]
        reader = self._config.batch_reader
        calls: list[Call] = [
            (
                "eth_call",
                [{"to": reader, "data": encode_address_array(selector, chunk)}, hex(number)],
            )
            for chunk in chunks
        ]
        results = await self._batch(ep, calls, meter)
        states: list[tuple[str, int]] = []
        for chunk, raw in zip(chunks, results, strict=True):
            try:
                assets, balances = decode_pool_states(_hexbytes(raw, "poolStates result"))
            except ValueError as exc:
                raise MalformedResponse(
                    f"endpoint {ep.name}: poolStates answer does not decode ({len(chunk)} pools)",
                    endpoint=ep.name,
                    chain=self.chain,
                ) from exc
            if len(assets) != len(chunk):
                raise MalformedResponse(
                    f"endpoint {ep.name}: poolStates length mismatch", endpoint=ep.name
                )
            states.extend(zip(assets, balances, strict=True))
        return states

    async def _balances_via_reader(
        self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]], number: int, meter: _Meter
    ) -> list[tuple[str, int]]:
        """Pools verified before, all of one asset: ``balancesOf`` in chunks, one batch."""
        selector = self._reader_abi.fn("balancesOf").selector
        asset = pools[0][1]
        size = self._config.chunk_size
        chunks = [[a for a, _ in pools[i : i + size]] for i in range(0, len(pools), size)]
        reader = self._config.batch_reader
        calls: list[Call] = [
            (
                "eth_call",
                [{"to": reader, "data": encode_balances_of(selector, asset, c)}, hex(number)],
            )
            for c in chunks
        ]
        lowered = asset.lower()
        states: list[tuple[str, int]] = []
        for chunk, raw in zip(chunks, await self._batch(ep, calls, meter), strict=True):
            try:
                balances = decode_uint_array(_hexbytes(raw, "balancesOf result"))
            except ValueError as exc:
                raise MalformedResponse(
                    f"endpoint {ep.name}: balancesOf answer does not decode", endpoint=ep.name
                ) from exc
            if len(balances) != len(chunk):
                raise MalformedResponse(
                    f"endpoint {ep.name}: balancesOf length mismatch", endpoint=ep.name
                )
            states.extend((lowered, b) for b in balances)
        return states

    async def _states_via_batch(
        self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]], number: int, meter: _Meter
    ) -> list[tuple[str, int]]:
        """No reader deployed: two calls per pool (``asset()``, ``balanceOf``), batched."""
        asset_fn = self._pool_abi.fn("asset")
        bal_fn = self._token_abi.fn("balanceOf")
        block = hex(number)
        calls: list[Call] = []
        for address, asset in pools:
            calls.append(("eth_call", [{"to": address, "data": asset_fn.encode()}, block]))
            calls.append(("eth_call", [{"to": asset, "data": bal_fn.encode(address)}, block]))
        size = self._config.chunk_size * 2
        results: list[Any] = []
        for i in range(0, len(calls), size):
            results.extend(await self._batch(ep, calls[i : i + size], meter, strict=False))
        states: list[tuple[str, int]] = []
        for i in range(len(pools)):
            asset_raw, bal_raw = results[2 * i], results[2 * i + 1]
            if isinstance(asset_raw, ChainError) or isinstance(bal_raw, ChainError):
                states.append((_ZERO, 0))
                continue
            a, b = _hexbytes(asset_raw, "asset()"), _hexbytes(bal_raw, "balanceOf")
            if len(a) != 32 or len(b) != 32 or a[:12] != bytes(12):
                states.append((_ZERO, 0))
                continue
            states.append(("0x" + a[12:].hex(), int.from_bytes(b, "big")))
        return states

    def _require_agreement(self, pools: Sequence[PoolRef], reads: Sequence[_EndpointRead]) -> None:
        ref = reads[0]
        for other in reads[1:]:
            if other.block != ref.block:
                behind = other if other.block.number < ref.block.number else ref
                detail = (
                    f"{ref.endpoint} has #{ref.block.number} {ref.block.hash}, "
                    f"{other.endpoint} has #{other.block.number} {other.block.hash}"
                )
                lag = (
                    ""
                    if other.block.number == ref.block.number
                    else f"; {behind.endpoint} is behind"
                )
                raise EndpointDisagreement(
                    f"endpoints disagree on the final block: {detail}{lag}",
                    chain=self.chain,
                    endpoints=(ref.endpoint, other.endpoint),
                    what="block",
                )
            differing = [
                p.pool_id for p, a, b in zip(pools, ref.states, other.states, strict=True) if a != b
            ]
            if differing:
                raise EndpointDisagreement(
                    f"endpoints {ref.endpoint} and {other.endpoint} agree on block "
                    f"#{ref.block.number} but disagree on pools {', '.join(differing[:10])}",
                    chain=self.chain,
                    endpoints=(ref.endpoint, other.endpoint),
                    what="balances",
                    pools=tuple(differing),
                )

    # -- sends ---------------------------------------------------------------

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

        receipt, block = await self._submit(pool, data, transfer.transfer_id, prechecks, judge)
        return TransferReceipt(
            transfer_id=transfer.transfer_id,
            chain=self.chain,
            tx_ref=receipt,
            status=TransferStatus.CONFIRMED,
            block_number=block,
            amount=transfer.amount,
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

        tx_hash, block = await self._submit(bridge, data, inbound.transfer_id, prechecks, judge)
        return TransferReceipt(
            transfer_id=inbound.transfer_id,
            chain=self.chain,
            tx_ref=tx_hash,
            status=TransferStatus.CONFIRMED,
            block_number=block,
            amount=inbound.amount,
        )

    async def _submit(
        self,
        to: str,
        data: str,
        transfer_id: str,
        prechecks: list[Call],
        judge: Callable[[list[Any]], None],
    ) -> tuple[str, int]:
        """Pre-check, estimate, sign, send and wait: one transaction, under the nonce lock."""
        ep = self._endpoints[0]
        meter = _Meter()
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
        return tx_hash, block

    async def _wait_receipt(
        self, ep: EvmEndpoint, tx_hash: str, transfer_id: str, meter: _Meter
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

    # -- reconciliation --------------------------------------------------------

    async def find_transfer(self, transfer_id: str) -> TransferReceipt | None:
        """The capital-out event of one of our pools with this id (a log is only
        emitted by a successful transaction), FINALIZED once its block is final."""
        check_transfer_id(transfer_id)
        ep, meter = self._endpoints[0], _Meter()
        events = self._pool_abi.events
        topics = [[events["CapitalSent"], transfer_id], [events["CapitalBridged"], transfer_id]]
        for entry in await self._logs(ep, None, topics, meter):
            emitter = checked_address(entry.get("address"), what="log address")
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
        ep, meter = self._endpoints[0], _Meter()
        topics = [[self._bridge_abi.events["BridgeDelivered"], transfer_id]]
        for entry in await self._logs(ep, bridge, topics, meter):
            return await self._receipt_from_log(ep, transfer_id, entry, meter)
        return None

    async def _logs(
        self, ep: EvmEndpoint, address: str | None, topic_sets: list[list[str]], meter: _Meter
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
        self, ep: EvmEndpoint, transfer_id: str, entry: Mapping[str, Any], meter: _Meter
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

    async def _is_our_pool(self, ep: EvmEndpoint, address: str, meter: _Meter) -> bool:
        expected = self._config.settlement_asset
        if expected is None:
            return True
        call = {"to": address, "data": self._pool_abi.fn("asset").encode()}
        try:
            raw = _hexbytes(await self._rpc(ep, "eth_call", [call, "latest"], meter), "asset()")
        except RevertedCall:
            return False
        return len(raw) == 32 and to_checksum_address(raw[12:]) == expected


def load_abi(name: str) -> tuple[dict[str, Any], ...]:
    from contracts import load_artifact

    return load_artifact(name).abi


async def connect_evm(config: EvmChainConfig) -> EvmAdapter:
    """An adapter over the config's RPC URLs, after checking each serves the chain id."""
    adapter = EvmAdapter(config)
    try:
        for ep in adapter._endpoints:
            await adapter._final_block(ep, _Meter())
    except BaseException:
        await adapter.aclose()
        raise
    return adapter

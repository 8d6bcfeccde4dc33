"""Final-block balance reads of the EVM adapter, in a few round trips.

Two phases, each on every endpoint at once:

1. the final block header (number and hash, by the chain's finality rule)
   together with ``eth_chainId``. Endpoints must agree on it *before* anything
   is decoded: a node of another chain that shares the chain id differs here,
   and is an :class:`~chains.errors.EndpointDisagreement`, not a garbled answer;
2. every pool's asset and balance at that block number through
   ``BatchReader.poolStates`` (chunked; chunks go out as one JSON-RPC batch).
   Pools whose immutable asset a read has verified are later read with
   ``BatchReader.balancesOf`` (a third of the EVM work). With no reader
   deployed, JSON-RPC batches of ``asset()``/``balanceOf`` calls do the same.

The first failure on any endpoint cancels the requests still in flight on the
others. Endpoints must also agree on every balance; nothing is averaged or
picked. A pool that is not there at the final block but has code at the head
(deployed moments ago) is :class:`~chains.errors.NotFinal` (retryable), only a
pool with no code at the head either is :class:`~chains.errors.UnknownPool`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address

from chains.base import BalanceReport, BalanceSnapshot, PoolRef
from chains.errors import (
    AccountMismatch,
    ChainError,
    EndpointDisagreement,
    MalformedResponse,
    NotFinal,
    UnknownPool,
)
from chains.evm_abi import (
    decode_pool_states,
    decode_uint_array,
    encode_address_array,
    encode_balances_of,
)
from chains.evm_core import Block, EvmCore, Meter
from chains.evm_rpc import Call, EvmEndpoint
from chains.evm_rpc import hex_bytes as _hexbytes

_ZERO = "0x" + "0" * 40


@dataclass(frozen=True, slots=True)
class _EndpointRead:
    endpoint: str
    block: Block
    states: tuple[tuple[str, int], ...]  # (asset or zero address, balance) per pool
    calls: int


class EvmReads(EvmCore):
    """Balance reads at a final block, checked across endpoints."""

    async def read_balances(self, pools: Sequence[PoolRef]) -> BalanceSnapshot:
        checked = [self._check_pool(p) for p in pools]
        meters = {ep.name: Meter() for ep in self._endpoints}
        blocks = await self._on_every_endpoint(lambda ep: self._final_block(ep, meters[ep.name]))
        self._require_same_block(
            [(ep.name, block) for ep, block in zip(self._endpoints, blocks, strict=True)]
        )
        block = blocks[0]
        reads = await self._on_every_endpoint(
            lambda ep: self._read_on(ep, checked, block, meters[ep.name])
        )
        self._require_agreement(pools, reads)
        ref = reads[0]
        await self._refuse_missing(pools, checked, ref)
        now = datetime.now(UTC)
        reports = []
        for pool, (address, asset), (seen_asset, amount) in zip(
            pools, checked, ref.states, strict=True
        ):
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
            rpc_calls=sum(m.calls for m in meters.values()),
            block_time=(
                datetime.fromtimestamp(ref.block.timestamp, UTC)
                if ref.block.timestamp is not None
                else None
            ),
        )

    async def _refuse_missing(
        self, pools: Sequence[PoolRef], checked: Sequence[tuple[str, str]], read: _EndpointRead
    ) -> None:
        """No pool at the final block: NotFinal if it has code at the head, else UnknownPool."""
        missing = [
            (pool, address)
            for pool, (address, _), (seen, _amount) in zip(pools, checked, read.states, strict=True)
            if seen == _ZERO
        ]
        if not missing:
            return
        ep = self._endpoints[0]
        codes = await self._batch(
            ep, [("eth_getCode", [address, "latest"]) for _, address in missing], Meter()
        )
        young = [
            pool.pool_id
            for (pool, _), code in zip(missing, codes, strict=True)
            if len(_hexbytes(code, "eth_getCode")) > 0
        ]
        if young:
            raise NotFinal(
                f"pools {', '.join(young[:10])} exist at the head but not yet at the final "
                f"block #{read.block.number}: read again once they are final",
                chain=self.chain,
                pools=tuple(young),
                block_number=read.block.number,
            )
        pool, address = missing[0]
        raise UnknownPool(
            f"pool {pool.pool_id}: no risk pool at {address} (no code or not a pool)",
            chain=self.chain,
            pool_id=pool.pool_id,
            address=address,
            pools=tuple(p.pool_id for p, _ in missing),
        )

    async def final_block(self) -> tuple[int, str]:
        """Number and hash of the block this adapter currently treats as final (first endpoint)."""
        block = await self._final_block(self._endpoints[0], Meter())
        return block.number, block.hash

    async def _read_on(
        self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]], block: Block, meter: Meter
    ) -> _EndpointRead:
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
        self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]], number: int, meter: Meter
    ) -> list[tuple[str, int]]:
        """Each pool's asset and balance: ``poolStates`` in chunks, one batch."""
        selector = self._reader_abi.fn("poolStates").selector

        def decode(raw: bytes) -> list[tuple[str, int]]:
            assets, balances = decode_pool_states(raw)
            return list(zip(assets, balances, strict=True))

        return await self._call_reader(
            ep,
            pools,
            number,
            meter,
            "poolStates",
            lambda c: encode_address_array(selector, c),
            decode,
        )

    async def _balances_via_reader(
        self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]], number: int, meter: Meter
    ) -> list[tuple[str, int]]:
        """Pools verified before, all of one asset: ``balancesOf`` in chunks, one batch."""
        selector = self._reader_abi.fn("balancesOf").selector
        asset = pools[0][1]
        lowered = asset.lower()
        return await self._call_reader(
            ep,
            pools,
            number,
            meter,
            "balancesOf",
            lambda c: encode_balances_of(selector, asset, c),
            lambda raw: [(lowered, b) for b in decode_uint_array(raw)],
        )

    async def _call_reader(
        self,
        ep: EvmEndpoint,
        pools: Sequence[tuple[str, str]],
        number: int,
        meter: Meter,
        what: str,
        encode: Callable[[list[str]], str],
        decode: Callable[[bytes], list[tuple[str, int]]],
    ) -> list[tuple[str, int]]:
        """One ``BatchReader`` call per ``chunk_size`` pools at block ``number``, all in
        one batch; every answer must decode to exactly one state per pool of its chunk."""
        size = self._config.chunk_size
        chunks = [[a for a, _ in pools[i : i + size]] for i in range(0, len(pools), size)]
        reader = self._config.batch_reader
        calls: list[Call] = [
            ("eth_call", [{"to": reader, "data": encode(chunk)}, hex(number)]) for chunk in chunks
        ]
        states: list[tuple[str, int]] = []
        for chunk, raw in zip(chunks, await self._batch(ep, calls, meter), strict=True):
            try:
                decoded = decode(_hexbytes(raw, f"{what} result"))
            except ValueError as exc:
                raise MalformedResponse(
                    f"endpoint {ep.name}: {what} answer does not decode ({len(chunk)} pools)",
                    endpoint=ep.name,
                    chain=self.chain,
                ) from exc
            if len(decoded) != len(chunk):
                raise MalformedResponse(
                    f"endpoint {ep.name}: {what} length mismatch",
                    endpoint=ep.name,
                    chain=self.chain,
                )
            states.extend(decoded)
        return states

    async def _states_via_batch(
        self, ep: EvmEndpoint, pools: Sequence[tuple[str, str]], number: int, meter: Meter
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

    def _require_same_block(self, blocks: Sequence[tuple[str, Block]]) -> None:
        """Every endpoint's final block is the first one's, number and hash."""
        ref_name, ref = blocks[0]
        for name, other in blocks[1:]:
            if other == ref:
                continue
            behind = name if other.number < ref.number else ref_name
            detail = (
                f"{ref_name} has #{ref.number} {ref.hash}, {name} has #{other.number} {other.hash}"
            )
            lag = "" if other.number == ref.number else f"; {behind} is behind"
            raise EndpointDisagreement(
                f"endpoints disagree on the final block: {detail}{lag}",
                chain=self.chain,
                endpoints=(ref_name, name),
                what="block",
            )

    def _require_agreement(self, pools: Sequence[PoolRef], reads: Sequence[_EndpointRead]) -> None:
        ref = reads[0]
        for other in reads[1:]:
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

"""What every part of the EVM adapter shares: endpoints, retries, metering, pool checks.

:class:`EvmCore` owns the endpoints, the signer and the ABIs; reads, sends and
reconciliation (``evm_reads``, ``evm_sends``, ``evm_reconcile``) build on it and
meet in :class:`chains.evm.EvmAdapter`. Every JSON-RPC round trip goes through
``_rpc``/``_batch`` so it is counted and retried in one place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chains.base import ChainFamily, PoolRef, SignedTx, TxOutcome, TxState, WaitReason
from chains.errors import (
    AccountMismatch,
    ChainError,
    EndpointDisagreement,
    InvalidInput,
    NotFinal,
    ReadOnlyAdapter,
    UnknownChain,
)
from chains.evm_abi import ContractAbi, decode_revert, error_for_revert
from chains.evm_config import Confirmations, EvmChainConfig, FinalizedTag, checked_address
from chains.evm_nonce import NonceManager, nonce_manager
from chains.evm_rpc import Call, EvmEndpoint, HttpEndpoint
from chains.evm_rpc import as_hash as _hash
from chains.evm_rpc import as_int as _int
from chains.retry import with_retries

log = logging.getLogger("ballast.chains.evm")

T = TypeVar("T")


@dataclass(slots=True)
class Meter:
    """Round trips one operation cost (retries included): snapshots report it."""

    calls: int = 0


@dataclass(frozen=True, slots=True)
class Block:
    """A block this adapter treats as final, by the chain's finality rule."""

    number: int
    hash: str
    timestamp: int | None = None  # the block's own time (seconds), when the header has it


class EvmCore:
    """State and plumbing shared by the reads, sends and reconciliation of one EVM chain."""

    def __init__(self, config: EvmChainConfig, endpoints: Sequence[EvmEndpoint] | None = None):
        if endpoints is None:
            endpoints = [HttpEndpoint(url, timeout=config.rpc_timeout) for url in config.endpoints]
        if not endpoints:
            raise InvalidInput("no RPC endpoint configured", chain=config.chain)
        self._config = config
        self._endpoints = tuple(endpoints)
        self._signer: LocalAccount | None = None
        if config.operator_key is not None:
            try:
                self._signer = Account.from_key(config.operator_key.get_secret_value())
            except ValueError:  # eth-account's own error; its text never reaches ours
                raise InvalidInput(
                    "operator key is not a 32-byte hex private key", chain=config.chain
                ) from None
        self._pool_abi = ContractAbi(load_abi("RiskPool"))
        self._token_abi = ContractAbi(load_abi("SettlementToken"))
        self._bridge_abi = ContractAbi(load_abi("BridgeEndpoint"))
        self._vault_abi = ContractAbi(load_abi("ReinsuranceVault"))
        self._reader_abi = ContractAbi(load_abi("BatchReader"))
        self._cert_abi = ContractAbi(load_abi("PolicyCertificate"))
        self._errors = {
            **self._cert_abi.errors,
            **self._token_abi.errors,
            **self._bridge_abi.errors,
            **self._vault_abi.errors,
            **self._pool_abi.errors,
        }
        # (pool, asset) pairs whose asset a read has verified. A RiskPool's asset is
        # immutable and code cannot change at an address, so later reads only need
        # balances: one sub-call per pool instead of three.
        self._verified: set[tuple[str, str]] = set()

    # -- identity ----------------------------------------------------------

    @property
    def chain(self) -> str:
        return self._config.chain

    @property
    def family(self) -> ChainFamily:
        return ChainFamily.EVM

    @property
    def config(self) -> EvmChainConfig:
        return self._config

    @property
    def can_sign(self) -> bool:
        return self._signer is not None

    @property
    def operator(self) -> str:
        """The operator's address (public): the pools' ``operator`` must be this."""
        return str(self._require_signer().address)

    def __repr__(self) -> str:
        mode = "signing" if self._signer is not None else "read-only"
        return f"EvmAdapter(chain={self.chain!r}, endpoints={self.endpoint_names!r}, {mode})"

    def _require_signer(self) -> LocalAccount:
        if self._signer is None:
            raise ReadOnlyAdapter(
                "this adapter was built without an operator key: it reads balances only",
                chain=self.chain,
            )
        return self._signer

    def _nonces(self) -> NonceManager:
        return nonce_manager(self._config.chain_id, self._require_signer().address)

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

    async def _rpc(self, ep: EvmEndpoint, method: str, params: list[Any], meter: Meter) -> Any:
        async def once() -> Any:
            meter.calls += 1
            return await ep.request(method, params)

        return await self._retry(once)

    async def _batch(
        self, ep: EvmEndpoint, calls: Sequence[Call], meter: Meter, *, strict: bool = True
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

    async def _on_every_endpoint(
        self, fn: Callable[[EvmEndpoint], Coroutine[Any, Any, T]]
    ) -> list[T]:
        """``fn`` on every endpoint at once, results in endpoint order.

        The first failure cancels the requests still in flight on the other
        endpoints (nothing keeps talking to a node after the read has failed)
        and is raised as itself, not as an exception group.
        """
        if len(self._endpoints) == 1:
            return [await fn(self._endpoints[0])]
        try:
            async with asyncio.TaskGroup() as group:
                tasks: list[asyncio.Task[T]] = [group.create_task(fn(ep)) for ep in self._endpoints]
        except BaseExceptionGroup as failed:
            raise _first_error(failed) from None
        return [task.result() for task in tasks]

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await with_retries(call, policy=self._config.retry)
        except ChainError as exc:
            if exc.chain is None:
                exc.chain = self.chain
            raise

    # -- signed transactions ---------------------------------------------------

    def _check_signed(self, signed: SignedTx) -> None:
        if signed.family is not ChainFamily.EVM or signed.chain != self.chain:
            raise UnknownChain(
                f"signed transaction of {signed.family} chain {signed.chain!r} given to the "
                f"adapter of {self.chain!r}",
                chain=self.chain,
            )
        if signed.nonce is None:
            raise InvalidInput("an EVM signed transaction carries its nonce", chain=self.chain)

    def _outcome(
        self,
        signed: SignedTx,
        state: TxState,
        *,
        waiting: WaitReason | None = None,
        detail: str = "",
        head: int | None = None,
        fee_capped: bool = False,
    ) -> TxOutcome:
        return TxOutcome(
            chain=self.chain,
            state=state,
            tx_ref=signed.tx_ref,
            effect_id=signed.effect_id,
            nonce=signed.nonce,
            amount=signed.amount,
            head=head,
            waiting=waiting,
            fee_capped=fee_capped,
            detail=detail,
        )

    def _revert_error(
        self, data: bytes, transfer_id: str | None, *, tx_hash: str | None = None
    ) -> ChainError:
        return error_for_revert(
            decode_revert(data, self._errors),
            chain=self.chain,
            transfer_id=transfer_id or "",
            tx_hash=tx_hash,
        )

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

    async def _final_block(self, ep: EvmEndpoint, meter: Meter) -> Block:
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
        stamp = head.get("timestamp")
        return Block(
            _int(head.get("number"), "block number"),
            _hash(head.get("hash"), "block hash"),
            _int(stamp, "block timestamp") if stamp is not None else None,
        )


def nonce_of(signed: SignedTx) -> int:
    if signed.nonce is None:
        raise InvalidInput("an EVM signed transaction carries its nonce", chain=signed.chain)
    return signed.nonce


def decode_signed(signed: SignedTx) -> dict[str, Any]:
    """to, data and gas of our own signed transaction, read back from its bytes."""
    from eth_account.typed_transactions import TypedTransaction
    from eth_utils import to_checksum_address
    from hexbytes import HexBytes

    try:
        fields = TypedTransaction.from_bytes(HexBytes(signed.raw)).as_dict()
    except Exception:
        raise InvalidInput(
            f"signed transaction {signed.tx_ref} does not decode as an EIP-1559 transaction",
            chain=signed.chain,
        ) from None
    to = fields.get("to")
    return {
        "to": to_checksum_address(bytes(to)) if to else None,
        "data": "0x" + bytes(fields.get("data", b"")).hex(),
        "gas": int(fields["gas"]),
    }


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group, ours preferred, nested groups flattened."""
    flat: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            stack[:0] = list(exc.exceptions)
        else:
            flat.append(exc)
    return next((e for e in flat if isinstance(e, ChainError)), flat[0])


def load_abi(name: str) -> tuple[dict[str, Any], ...]:
    from contracts import load_artifact

    return load_artifact(name).abi

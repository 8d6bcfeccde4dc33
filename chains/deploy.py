"""Deploy Ballast's contracts to any EVM JSON-RPC node, with standard methods only.

:func:`deploy_contracts` deploys, in order: the settlement token (unless an
existing one is named, e.g. a real USDC), the bridge endpoint, the batch
reader, the risk pools and the reinsurance vaults; then makes the bridge a
token minter (only for a token it deployed) and approves every pool as a
cedent of every vault. Each transaction is signed locally (EIP-1559, the
chain id checked first, fees under the :class:`~chains.evm_config.FeePolicy`
cap), broadcast with ``eth_sendRawTransaction`` and awaited by receipt; every
contract's code is checked at its computed address. Only standard JSON-RPC
methods are used (no ``anvil_*``/``hardhat_*``/``evm_*``), so the same call
works against anvil, a testnet or a production node.

The result, :class:`DeployedContracts`, is plain data the router writes into
a config file (:meth:`DeployedContracts.as_dict`). A deployment interrupted
half-way is not resumed: run it again (new addresses) and discard the old ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from chains.errors import (
    ChainError,
    ConfirmationTimeout,
    FeeCapExceeded,
    InsufficientCapital,
    InvalidInput,
    MalformedResponse,
    RpcResponseError,
    TransactionReverted,
    WrongChain,
)
from chains.evm_abi import ContractAbi
from chains.evm_config import FeePolicy, checked_address
from chains.evm_nonce import nonce_manager
from chains.evm_rpc import Call, EvmEndpoint, HttpEndpoint
from chains.evm_rpc import as_int as _int
from chains.retry import DEFAULT_RETRY, RetryPolicy, with_retries

_KNOWN = ("already known", "already imported", "known transaction")


@dataclass(frozen=True, slots=True)
class DeployOptions:
    """What to deploy and who holds which role (addresses default to the deployer)."""

    chain_id: int | None = None  # if given, the node must serve this chain id
    pools: int = 1
    vaults: int = 1
    operator: str | None = None  # the pools' operator (the router's signer)
    vault_operator: str | None = None  # pays recoveries (defaults to ``operator``)
    attester: str | None = None  # signs bridge deliveries
    settlement_asset: str | None = None  # an existing token: do not deploy one
    token_name: str = "Ballast USD"
    token_symbol: str = "bUSD"
    fees: FeePolicy = field(default_factory=FeePolicy)
    rpc_timeout: float = 10.0
    receipt_timeout: float = 120.0
    poll_interval: float = 0.5
    retry: RetryPolicy = DEFAULT_RETRY

    def __post_init__(self) -> None:
        for what, n in (("pools", self.pools), ("vaults", self.vaults)):
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 1_000:
                raise InvalidInput(f"{what} must be an int within 0..1000, got {n!r}")
        for what in ("operator", "vault_operator", "attester", "settlement_asset"):
            value = getattr(self, what)
            if value is not None:
                object.__setattr__(self, what, checked_address(value, what=what))


@dataclass(frozen=True, slots=True)
class DeployedContracts:
    """Addresses of one deployment: what a chain's config needs."""

    chain_id: int
    deployer: str
    settlement_asset: str
    token_deployed: bool
    bridge_endpoint: str
    batch_reader: str
    pools: tuple[str, ...]
    vaults: tuple[str, ...]
    operator: str
    vault_operator: str
    attester: str
    block_number: int  # the block of the last deployment transaction
    transactions: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain data (str/int/lists) for a TOML or JSON config file."""
        return {
            "chain_id": self.chain_id,
            "deployer": self.deployer,
            "settlement_asset": self.settlement_asset,
            "token_deployed": self.token_deployed,
            "bridge_endpoint": self.bridge_endpoint,
            "batch_reader": self.batch_reader,
            "pools": list(self.pools),
            "vaults": list(self.vaults),
            "operator": self.operator,
            "vault_operator": self.vault_operator,
            "attester": self.attester,
            "block_number": self.block_number,
        }


async def deploy_contracts(
    target: str | EvmEndpoint,
    deployer_key: SecretStr,
    options: DeployOptions | None = None,
) -> DeployedContracts:
    """Deploy to ``target`` (an RPC URL, or an endpoint object such as an embedded
    chain's) with ``deployer_key`` paying gas and holding every admin role."""
    options = options or DeployOptions()
    if not isinstance(deployer_key, SecretStr):
        raise InvalidInput("the deployer key must be a SecretStr")
    try:
        account = Account.from_key(deployer_key.get_secret_value())
    except ValueError:
        raise InvalidInput("the deployer key is not a 32-byte hex private key") from None
    owned = isinstance(target, str)
    endpoint: EvmEndpoint = (
        HttpEndpoint(target, timeout=options.rpc_timeout) if isinstance(target, str) else target
    )
    try:
        return await _Deployer(endpoint, account, options).run()
    finally:
        if owned:
            await endpoint.aclose()


def _artifact(name: str) -> tuple[str, ContractAbi]:
    from contracts import load_artifact

    art = load_artifact(name)
    return art.bytecode, ContractAbi(art.abi)


class _Deployer:
    def __init__(self, endpoint: EvmEndpoint, account: LocalAccount, options: DeployOptions):
        self.ep = endpoint
        self.account = account
        self.options = options
        self.chain_id = 0
        self.sent: list[str] = []
        self.last_block = 0

    async def run(self) -> DeployedContracts:
        o = self.options
        me = str(self.account.address)
        self.chain_id = _int(await self._rpc("eth_chainId", []), "eth_chainId")
        if o.chain_id is not None and o.chain_id != self.chain_id:
            raise WrongChain(
                f"{self.ep.name} serves chain id {self.chain_id}, the deployment is for "
                f"{o.chain_id}: nothing deployed"
            )
        operator = o.operator or me
        vault_operator = o.vault_operator or operator
        attester = o.attester or me
        three = ["address", "address", "address"]
        token = o.settlement_asset
        if token is None:
            token = await self._create(
                "SettlementToken",
                ["string", "string", "address"],
                [o.token_name, o.token_symbol, me],
            )
        bridge = await self._create("BridgeEndpoint", three, [token, me, attester])
        reader = await self._create("BatchReader", [], [])
        pools = [
            await self._create("RiskPool", three, [token, me, operator]) for _ in range(o.pools)
        ]
        vaults = [
            await self._create("ReinsuranceVault", three, [token, me, vault_operator])
            for _ in range(o.vaults)
        ]
        if o.settlement_asset is None:
            set_minter = _artifact("SettlementToken")[1].fn("setMinter")
            await self._call(token, set_minter.encode(bridge, True))
        set_cedent = _artifact("ReinsuranceVault")[1].fn("setCedent")
        for vault in vaults:
            for pool in pools:
                await self._call(vault, set_cedent.encode(pool, True))
        return DeployedContracts(
            chain_id=self.chain_id,
            deployer=me,
            settlement_asset=token,
            token_deployed=o.settlement_asset is None,
            bridge_endpoint=bridge,
            batch_reader=reader,
            pools=tuple(pools),
            vaults=tuple(vaults),
            operator=operator,
            vault_operator=vault_operator,
            attester=attester,
            block_number=self.last_block,
            transactions=tuple(self.sent),
        )

    async def _rpc(self, method: str, params: list[Any]) -> Any:
        return await with_retries(
            lambda: self.ep.request(method, params), policy=self.options.retry
        )

    async def _create(self, name: str, types: Sequence[str], args: Sequence[Any]) -> str:
        bytecode, _ = _artifact(name)
        receipt = await self._send(None, bytecode + encode(list(types), list(args)).hex(), name)
        address = receipt.get("contractAddress")
        if not isinstance(address, str):
            raise MalformedResponse(f"{name}: the receipt names no contract address")
        address = checked_address(address, what=f"{name} address")
        code = await self._rpc("eth_getCode", [address, "latest"])
        if not isinstance(code, str) or len(code) <= 2:
            raise TransactionReverted(f"{name}: no code at {address} after deployment")
        return address

    async def _call(self, to: str, data: str) -> None:
        await self._send(to, data, "call")

    async def _send(self, to: str | None, data: str, what: str) -> Mapping[str, Any]:
        me = str(self.account.address)
        tx_call: dict[str, Any] = {"from": me, "data": data}
        if to is not None:
            tx_call["to"] = to
        calls: list[Call] = [
            ("eth_estimateGas", [tx_call]),
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_gasPrice", []),
            ("eth_getTransactionCount", [me, "latest"]),
            ("eth_getTransactionCount", [me, "pending"]),
        ]
        manager = nonce_manager(self.chain_id, me)
        async with manager.lock():
            answers = await with_retries(lambda: self.ep.batch(calls), policy=self.options.retry)
            for answer in answers:
                if isinstance(answer, ChainError):
                    raise answer
            estimate, head, price, latest, pending = answers
            base = head.get("baseFeePerGas") if isinstance(head, Mapping) else None
            base_fee = _int(base if base is not None else price, "base fee")
            max_fee, tip = self._fees(base_fee)
            nonce = manager.allocate(
                latest=_int(latest, "nonce"),
                pending=_int(pending, "nonce"),
                head=_int(head.get("number"), "block number"),
                gap_blocks=self.options.fees.replace_after_blocks,
            )
            tx: dict[str, Any] = {
                "chainId": self.chain_id,
                "nonce": nonce,
                "data": data,
                "value": 0,
                "gas": int(_int(estimate, "gas estimate") * self.options.fees.gas_headroom)
                + 10_000,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
                "type": 2,
            }
            if to is not None:
                tx["to"] = to
            signed = self.account.sign_transaction(tx)
            tx_hash = "0x" + bytes(signed.hash).hex()
            manager.record(nonce, tx_hash, signed_at_block=_int(head.get("number"), "block"))
            await self._broadcast("0x" + bytes(signed.raw_transaction).hex(), tx_hash)
            manager.broadcast(nonce)
        self.sent.append(tx_hash)
        receipt = await self._receipt(tx_hash, what)
        self.last_block = _int(receipt.get("blockNumber"), "receipt block")
        return receipt

    def _fees(self, base_fee: int) -> tuple[int, int]:
        policy = self.options.fees
        next_base = -(-base_fee * 9 // 8)
        if next_base + policy.priority_fee > policy.max_fee_per_gas:
            raise FeeCapExceeded(
                f"base fee {base_fee} plus tip is above the cap {policy.max_fee_per_gas}: "
                "nothing signed",
                base_fee=base_fee,
            )
        wanted = max(base_fee * policy.base_fee_multiplier, next_base) + policy.priority_fee
        return min(policy.max_fee_per_gas, wanted), policy.priority_fee

    async def _broadcast(self, raw: str, tx_hash: str) -> None:
        try:
            await self._rpc("eth_sendRawTransaction", [raw])
        except RpcResponseError as exc:
            text = exc.message.lower()
            if any(t in text for t in _KNOWN):
                return
            if "insufficient funds" in text:
                raise InsufficientCapital(
                    f"the deployer {self.account.address} lacks native currency for gas",
                    tx_hash=tx_hash,
                ) from None
            raise

    async def _receipt(self, tx_hash: str, what: str) -> Mapping[str, Any]:
        deadline = time.monotonic() + self.options.receipt_timeout
        while True:
            receipt = await self._rpc("eth_getTransactionReceipt", [tx_hash])
            if isinstance(receipt, Mapping) and receipt.get("blockNumber") is not None:
                if _int(receipt.get("status"), "receipt status") != 1:
                    raise TransactionReverted(
                        f"deployment step {what} failed in transaction {tx_hash}", tx_hash=tx_hash
                    )
                return receipt
            if time.monotonic() >= deadline:
                raise ConfirmationTimeout(
                    f"deployment step {what}: {tx_hash} not mined within "
                    f"{self.options.receipt_timeout}s",
                    tx_hash=tx_hash,
                )
            await asyncio.sleep(self.options.poll_interval)

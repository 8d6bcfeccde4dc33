"""Test harness for the EVM adapter on both backends: embedded py-evm and a real anvil.

Both chain kinds offer the same back door (deploy, create and fund pools, read a
balance without the adapter, finalize); :class:`EvmHarness` turns either into
the conformance suite's ``ChainHarness``. The anvil node runs as a child process
on 127.0.0.1 with a free port, is polled until it answers, and is killed after.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import SecretStr

from chains.base import PoolRef
from chains.embedded.evm import EvmDeployment, contract_address
from chains.evm import FINALIZED, EvmAdapter, EvmChainConfig
from chains.evm_abi import ContractAbi
from chains.evm_rpc import HttpEndpoint, as_int
from chains.retry import RetryPolicy
from chains.testing import FaultyEndpoint
from contracts import load_artifact
from tests.conftest import node_tool, selected_backends

FAST_RETRY = RetryPolicy(attempts=4, max_seconds=5.0, initial_wait=0.01, max_wait=0.05)
NO_RETRY = RetryPolicy(attempts=1, max_seconds=5.0, initial_wait=0.01, max_wait=0.01)


def skip_unless_selected(config: pytest.Config, backend: str) -> None:
    chosen = selected_backends(config)
    if chosen is not None and backend not in chosen:
        pytest.skip(f"backend {backend!r} not selected (--backend {' '.join(sorted(chosen))})")


class BackDoor(Protocol):
    name: str
    adapter: EvmAdapter
    deployment: EvmDeployment

    async def create_pools(
        self, amounts: Sequence[int], *, asset: str | None = None
    ) -> list[PoolRef]: ...

    async def token_balance(self, address: str) -> int: ...

    async def finalize(self) -> None: ...

    def deploy(self, name: str, types: Sequence[str], args: Sequence[Any]) -> Any: ...


@dataclass
class EvmHarness:
    """The conformance suite's view of one EVM chain (embedded or anvil)."""

    back: Any
    adapter: EvmAdapter
    _wallets: dict[str, LocalAccount] = field(default_factory=dict)

    @property
    def chain(self) -> str:
        return str(self.back.name)

    async def create_pools(self, amounts: Sequence[int]) -> list[PoolRef]:
        return list(await self.back.create_pools(amounts))

    async def token_balance(self, address: str) -> int:
        return int(await self.back.token_balance(address))

    async def new_recipient(self) -> str:
        return str(Account.create().address)

    async def finalize(self) -> None:
        await self.back.finalize()

    def unknown_pool(self) -> PoolRef:
        address = Account.create().address
        return PoolRef(self.chain, "ghost", address, self.back.deployment.token)

    def malformed_pool(self) -> PoolRef:
        return PoolRef(self.chain, "malformed", "0x12345", self.back.deployment.token)

    # -- what the saga-port conformance tests need -----------------------------

    async def advance(self, blocks: int) -> None:
        """Mine ``blocks`` blocks (empty unless transactions wait)."""
        await self.back.mine(blocks)

    async def onchain_nonce(self) -> int | None:
        """The operator key's mined transaction count, read without the adapter."""
        raw = await self.back.endpoint.request(
            "eth_getTransactionCount", [self.back.operator.address, "latest"]
        )
        return as_int(raw, "nonce")

    async def read_only_adapter(self) -> Any:
        return self.back.new_adapter(operator_key=None)

    async def adapter_losing_broadcast_answers(self) -> Any:
        """An adapter whose node executes every broadcast but whose answer is lost."""
        faulty = FaultyEndpoint(self.back.endpoint, label="lossy")
        faulty.lose_response(100, ["eth_sendRawTransaction"])
        return self.back.new_adapter([faulty], retry=NO_RETRY)

    def faulty_adapter(self, **overrides: Any) -> tuple[EvmAdapter, FaultyEndpoint]:
        faulty = FaultyEndpoint(self.back.endpoint, label="faulty")
        return self.back.new_adapter([faulty], **overrides), faulty

    @property
    def vault(self) -> str:
        return str(self.back.deployment.vault)

    async def approve_cedent(self, pool: str) -> None:
        await self.back.approve_cedent(pool)

    async def fund_vault(self, amount: int) -> None:
        await self.back.fund_vault(amount)

    # -- what the cover conformance tests need ----------------------------------

    async def new_wallet(self) -> str:
        account: LocalAccount = Account.create()
        self._wallets[account.address] = account
        if hasattr(self.back, "fund_gas"):  # embedded
            await self.back.fund_gas(account.address)
        else:  # anvil
            await self.back.rpc("anvil_setBalance", [account.address, hex(10**20)])
        return str(account.address)

    async def fund_payer(self, payer: str, pool: PoolRef, amount: int, approve: int) -> None:
        token = self.back.deployment.token
        await _maybe_await(self.back.mint(payer, amount))
        await approve_premium(
            self.back.endpoint, self._wallets[payer], token, pool.address, approve
        )

    async def wallet_balance(self, wallet: str) -> int:
        return await self.token_balance(wallet)

    async def transfer_certificate(
        self, pool: PoolRef, cover_id: str, holder: str, to: str
    ) -> None:
        abi = ContractAbi(load_artifact("RiskPool").abi)
        raw = await self.back.endpoint.request(
            "eth_call", [{"to": pool.address, "data": abi.fn("certificate").encode()}, "latest"]
        )
        certificate = to_checksum_address(bytes.fromhex(raw[2:])[12:])
        cert_abi = ContractAbi(load_artifact("PolicyCertificate").abi)
        data = cert_abi.fn("safeTransferFrom").encode(holder, to, int(cover_id, 16), b"")
        await send_as(self.back.endpoint, self._wallets[holder], certificate, data)

    async def wrong_asset_pool(self) -> PoolRef:
        other = await _maybe_await(
            self.back.deploy(
                "SettlementToken",
                ["string", "string", "address"],
                ["Other", "OTH", self.back.admin.address],
            )
        )
        (pool,) = await self.back.create_pools([0], asset=other)
        return PoolRef(self.chain, "other-asset", pool.address, self.back.deployment.token)


async def send_as(endpoint: Any, account: LocalAccount, to: str, data: str) -> None:
    """One transaction signed by ``account`` (which pays its gas), mined and checked."""
    chain_id = as_int(await endpoint.request("eth_chainId", []), "chain id")
    nonce = as_int(
        await endpoint.request("eth_getTransactionCount", [account.address, "pending"]), "nonce"
    )
    price = as_int(await endpoint.request("eth_gasPrice", []), "gas price")
    tx = {
        "chainId": chain_id,
        "nonce": nonce,
        "to": to,
        "data": data,
        "value": 0,
        "gas": 300_000,
        "gasPrice": price * 2,
    }
    raw = "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()
    tx_hash = await endpoint.request("eth_sendRawTransaction", [raw])
    receipt = None
    for _ in range(200):  # anvil mines on arrival, but a busy node may answer first
        receipt = await endpoint.request("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        await asyncio.sleep(0.05)
    if receipt is None or as_int(receipt["status"], "status") != 1:
        why = "not mined in 10 s" if receipt is None else "reverted"
        raise RuntimeError(f"set-up transaction of {account.address} {why}: {tx_hash}")


async def approve_premium(
    endpoint: Any, payer: LocalAccount, token: str, pool: str, amount: int
) -> None:
    """The payer lets the pool collect ``amount`` (what ``bindCover`` pulls as the premium)."""
    abi = ContractAbi(load_artifact("SettlementToken").abi)
    await send_as(endpoint, payer, token, abi.fn("approve").encode(pool, amount))


async def _maybe_await(value: Any) -> Any:
    if asyncio.iscoroutine(value):
        return await value
    return value


# ------------------------------------------------------------------- anvil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def anvil_node(chain_id: int) -> AsyncIterator[str]:
    """Start anvil on 127.0.0.1 (finalized = head - 2), yield its URL, kill it after.

    The free port is picked before anvil binds it; if another process wins that
    race anvil exits at once and we try another port.
    """
    binary = node_tool("anvil")
    for _attempt in range(3):
        port = free_port()
        proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
            [
                str(binary),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--chain-id",
                str(chain_id),
                "--slots-in-an-epoch",
                "1",
                "--gas-limit",
                "1000000000",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # .bin/anvil is a Node wrapper that spawns the real node: give them
            # a process group of their own and end the whole group after.
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        probe = HttpEndpoint(url, timeout=1.0)
        try:
            ready = await _wait_ready(proc, probe)
            if ready:
                yield url
                return
        finally:
            await probe.aclose()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            if proc.stderr is not None:
                proc.stderr.close()
    raise RuntimeError("anvil could not start on a free port in 3 attempts")


async def _wait_ready(proc: subprocess.Popen[bytes], probe: HttpEndpoint) -> bool:
    """Poll the RPC until anvil answers (bounded); False if it exited first."""
    for _ in range(400):
        if proc.poll() is not None:
            return False
        try:
            await probe.request("eth_chainId", [])
            return True
        except Exception:
            await asyncio.sleep(0.05)
    raise RuntimeError("anvil did not answer within 20 s")


@dataclass
class AnvilChain:
    """Our contracts on a real anvil node, deployed over JSON-RPC with local keys."""

    name: str
    chain_id: int
    url: str
    endpoint: HttpEndpoint
    admin: LocalAccount = field(default_factory=Account.create)
    operator: LocalAccount = field(default_factory=Account.create)
    attester: LocalAccount = field(default_factory=Account.create)
    deployment: EvmDeployment | None = None
    adapter: Any = None
    _nonce: int = 0
    _abis: dict[str, ContractAbi] = field(default_factory=dict)

    def abi(self, name: str) -> ContractAbi:
        from contracts import load_artifact

        if name not in self._abis:
            self._abis[name] = ContractAbi(load_artifact(name).abi)
        return self._abis[name]

    async def rpc(self, method: str, params: list[Any]) -> Any:
        return await self.endpoint.request(method, params)

    def _sign(self, to: str | None, data: str, gas: int) -> str:
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": self._nonce,
            "data": data,
            "value": 0,
            "gas": gas,
            "maxFeePerGas": 10 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "type": 2,
        }
        if to is not None:
            tx["to"] = to
        self._nonce += 1
        return "0x" + bytes(self.admin.sign_transaction(tx).raw_transaction).hex()

    async def bulk(self, txs: Sequence[tuple[str | None, str, int]]) -> None:
        """Send pre-signed transactions in JSON-RPC batches, mine, check every receipt.

        Automine is off meanwhile: anvil handles a batch's items concurrently,
        so nonces can arrive out of order; the pool orders them for ``evm_mine``.
        """
        hashes: list[str] = []
        await self.rpc("evm_setAutomine", [False])
        try:
            for i in range(0, len(txs), 50):  # anvil refuses very large batch bodies
                raws = [self._sign(to, data, gas) for to, data, gas in txs[i : i + 50]]
                results = await self.endpoint.batch([("eth_sendRawTransaction", [r]) for r in raws])
                for r in results:
                    if isinstance(r, Exception):
                        raise r
                    hashes.append(str(r))
            pending = hashes
            for _ in range(len(txs) + 5):  # every mine includes at least one transaction
                await self.rpc("evm_mine", [])
                receipts = await self.endpoint.batch(
                    [("eth_getTransactionReceipt", [h]) for h in pending]
                )
                for receipt in receipts:
                    if isinstance(receipt, dict) and int(receipt["status"], 16) != 1:
                        raise RuntimeError(f"anvil set-up transaction failed: {receipt!r:.300}")
                pending = [
                    h for h, r in zip(pending, receipts, strict=True) if not isinstance(r, dict)
                ]
                if not pending:
                    return
            raise RuntimeError(f"{len(pending)} anvil set-up transactions never mined")
        finally:
            await self.rpc("evm_setAutomine", [True])

    async def deploy(self, name: str, types: Sequence[str], args: Sequence[Any]) -> str:
        from contracts import load_artifact

        address = contract_address(self.admin.address, self._nonce)
        code = load_artifact(name).bytecode + encode(list(types), list(args)).hex()
        await self.bulk([(None, code, 5_000_000)])
        return address

    async def setup(self) -> None:
        for acct in (self.admin, self.operator, self.attester):
            await self.rpc("anvil_setBalance", [acct.address, hex(10**22)])
        self._nonce = 0
        three = ["address", "address", "address"]
        token = await self.deploy(
            "SettlementToken",
            ["string", "string", "address"],
            ["Ballast USD", "bUSD", self.admin.address],
        )
        bridge = await self.deploy(
            "BridgeEndpoint", three, [token, self.admin.address, self.attester.address]
        )
        vault = await self.deploy(
            "ReinsuranceVault", three, [token, self.admin.address, self.operator.address]
        )
        reader = await self.deploy("BatchReader", [], [])
        set_minter = self.abi("SettlementToken").fn("setMinter")
        await self.bulk(
            [
                (token, set_minter.encode(self.admin.address, True), 200_000),
                (token, set_minter.encode(bridge, True), 200_000),
            ]
        )
        self.deployment = EvmDeployment(token=token, bridge=bridge, vault=vault, reader=reader)
        self.adapter = EvmAdapter(self.config(), [self.endpoint])

    def config(self, **overrides: Any) -> EvmChainConfig:
        assert self.deployment is not None
        values: dict[str, Any] = {
            "chain": self.name,
            "chain_id": self.chain_id,
            "operator_key": SecretStr("0x" + bytes(self.operator.key).hex()),
            "endpoints": (self.url,),
            "settlement_asset": self.deployment.token,
            "batch_reader": self.deployment.reader,
            "bridge_endpoint": self.deployment.bridge,
            "finality": FINALIZED,
            "retry": FAST_RETRY,
            "poll_interval": 0.01,
            "receipt_timeout": 10.0,
        }
        values.update(overrides)
        return EvmChainConfig(**values)

    def new_adapter(self, endpoints: Sequence[Any] | None = None, **overrides: Any) -> EvmAdapter:
        return EvmAdapter(self.config(**overrides), endpoints or [self.endpoint])

    async def create_pools(
        self, amounts: Sequence[int], *, asset: str | None = None
    ) -> list[PoolRef]:
        from contracts import load_artifact

        assert self.deployment is not None
        token = asset or self.deployment.token
        ctor = encode(
            ["address", "address", "address"], [token, self.admin.address, self.operator.address]
        )
        code = load_artifact("RiskPool").bytecode + ctor.hex()
        first = self._nonce
        await self.bulk([(None, code, 3_000_000)] * len(amounts))
        addresses = [contract_address(self.admin.address, first + i) for i in range(len(amounts))]
        mint = self.abi("SettlementToken").fn("mint")
        await self.bulk(
            [
                (token, mint.encode(a, amt), 200_000)
                for a, amt in zip(addresses, amounts, strict=True)
                if amt
            ]
        )
        tag = os.urandom(3).hex()
        return [
            PoolRef(self.name, f"{self.name}-{tag}-{i}", a, self.deployment.token)
            for i, a in enumerate(addresses)
        ]

    async def token_balance(self, address: str) -> int:
        assert self.deployment is not None
        fn = self.abi("SettlementToken").fn("balanceOf")
        raw = await self.rpc(
            "eth_call", [{"to": self.deployment.token, "data": fn.encode(address)}, "latest"]
        )
        return int(raw, 16)

    async def mint(self, to: str, amount: int) -> None:
        assert self.deployment is not None
        fn = self.abi("SettlementToken").fn("mint")
        await self.bulk([(self.deployment.token, fn.encode(to, amount), 200_000)])

    async def finalize(self) -> None:
        await self.rpc("anvil_mine", ["0x3"])  # finalized = head - 2 with one slot per epoch

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", [hex(blocks)])

    async def approve_cedent(self, pool: str) -> None:
        assert self.deployment is not None
        fn = self.abi("ReinsuranceVault").fn("setCedent")
        await self.bulk([(self.deployment.vault, fn.encode(pool, True), 200_000)])

    async def fund_vault(self, amount: int) -> None:
        assert self.deployment is not None
        token, vault = self.deployment.token, self.deployment.vault
        mint = self.abi("SettlementToken").fn("mint").encode(self.admin.address, amount)
        approve = self.abi("SettlementToken").fn("approve").encode(vault, amount)
        deposit = self.abi("ReinsuranceVault").fn("deposit").encode(amount, self.admin.address)
        await self.bulk([(token, mint, 200_000)])
        await self.bulk([(token, approve, 200_000)])
        await self.bulk([(vault, deposit, 300_000)])


@asynccontextmanager
async def anvil_chain(name: str, chain_id: int) -> AsyncIterator[AnvilChain]:
    async with anvil_node(chain_id) as url:
        endpoint = HttpEndpoint(url, timeout=10.0)
        chain = AnvilChain(name=name, chain_id=chain_id, url=url, endpoint=endpoint)
        try:
            await chain.setup()
            yield chain
        finally:
            if chain.adapter is not None:
                await chain.adapter.aclose()
            await endpoint.aclose()

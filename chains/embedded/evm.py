"""Embedded EVM chains: N independent py-evm chains in one process, contracts deployed.

Each chain gets its own chain id (eth-tester fixes one id for every chain: we
set the backend chain's id, which the EVM's CHAINID opcode reads, and answer
``eth_chainId`` to match from a copied endpoint table), then the settlement
token, a bridge endpoint (made a token minter), a reinsurance vault, the batch
reader and funded risk pools. The adapter on top is the real
:class:`~chains.evm.EvmAdapter`; only set-up (deploying, minting, mining) uses
the back door here.

Bulk set-up (``create_pools`` with many amounts) applies signed transactions
straight to the pending block and mines once per batch, so 1,000 funded pools
take seconds, not a minute.

::

    async with embedded_evm_chains([EmbeddedChainSpec("ethereum", 31001, pools=(10**9,))]) as env:
        snap = await env["ethereum"].adapter.read_balances(env["ethereum"].pools)

(``EmbeddedChainSpec`` is also exported as ``ChainSpec``, its former name, for
callers not yet moved; :class:`chains.factory.ChainSpec` is the config of a
real chain.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import SecretStr

from chains.base import InboundTransfer, PoolRef
from chains.evm import BridgeRoute, Confirmations, EvmAdapter, EvmChainConfig, FinalityRule
from chains.evm_abi import ContractAbi
from chains.evm_rpc import EthTesterEndpoint
from chains.retry import RetryPolicy

#: Gas limit of embedded blocks: room for a few hundred deployments per block.
BLOCK_GAS_LIMIT = 1_000_000_000
_GAS_PRICE = 2 * 10**9
_DEPLOY_GAS = 3_000_000
_CALL_GAS = 300_000
_BULK_BLOCK = 8

#: Retries in-process are for injected faults only: keep them quick.
EMBEDDED_RETRY = RetryPolicy(attempts=4, max_seconds=5.0, initial_wait=0.01, max_wait=0.1)


@dataclass(frozen=True, slots=True)
class EmbeddedChainSpec:
    """One embedded chain: its name, its own chain id and its pools' opening balances."""

    name: str
    chain_id: int
    pools: Sequence[int] = ()
    confirmations: int = 2
    batch_reader: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "pools", tuple(self.pools))


#: The former name, kept while callers move to ``EmbeddedChainSpec``.
ChainSpec = EmbeddedChainSpec


@dataclass(frozen=True, slots=True)
class EvmDeployment:
    """Addresses of one chain's contracts."""

    token: str
    bridge: str
    vault: str
    reader: str | None


def _artifact(name: str) -> tuple[str, ContractAbi]:
    from contracts import load_artifact

    art = load_artifact(name)
    return art.bytecode, ContractAbi(art.abi)


@dataclass(slots=True)
class EmbeddedEvmChain:
    """One py-evm chain with our contracts, its adapter and a back door for set-up."""

    spec: EmbeddedChainSpec
    w3: Any
    endpoint: EthTesterEndpoint
    admin: LocalAccount
    operator: LocalAccount
    attester: LocalAccount
    deployment: EvmDeployment = field(init=False)
    adapter: EvmAdapter = field(init=False)
    pools: list[PoolRef] = field(default_factory=list)
    routes: dict[str, BridgeRoute] = field(default_factory=dict)
    #: Keys made by ``new_payer`` (so a test can sign as them).
    wallets: dict[str, LocalAccount] = field(default_factory=dict)
    _nonces: dict[str, int] = field(default_factory=dict)
    _abis: dict[str, ContractAbi] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def chain_id(self) -> int:
        return self.spec.chain_id

    @property
    def tester(self) -> Any:
        return self.w3.provider.ethereum_tester

    # -- configuration -------------------------------------------------------

    def config(self, **overrides: Any) -> EvmChainConfig:
        """An adapter config for this chain (operator key included)."""
        values: dict[str, Any] = {
            "chain": self.name,
            "chain_id": self.chain_id,
            "operator_key": SecretStr("0x" + bytes(self.operator.key).hex()),
            "settlement_asset": self.deployment.token,
            "batch_reader": self.deployment.reader,
            "bridge_endpoint": self.deployment.bridge,
            "finality": Confirmations(self.spec.confirmations),
            "routes": dict(self.routes),
            "retry": EMBEDDED_RETRY,
            "poll_interval": 0.0,
            "receipt_timeout": 5.0,
        }
        values.update(overrides)
        return EvmChainConfig(**values)

    def new_adapter(self, endpoints: Sequence[Any] | None = None, **overrides: Any) -> EvmAdapter:
        """Another adapter on this chain, e.g. over fault-injecting endpoints."""
        return EvmAdapter(self.config(**overrides), endpoints or [self.endpoint])

    @property
    def finality(self) -> FinalityRule:
        return Confirmations(self.spec.confirmations)

    # -- back door -----------------------------------------------------------

    def abi(self, name: str) -> ContractAbi:
        if name not in self._abis:
            self._abis[name] = _artifact(name)[1]
        return self._abis[name]

    def _sign(self, account: LocalAccount, to: str | None, data: str, gas: int) -> bytes:
        nonce = self._nonces.get(account.address)
        if nonce is None:
            nonce = self.tester.get_nonce(account.address)
        tx: dict[str, Any] = {
            "chainId": self.chain_id,
            "nonce": nonce,
            "data": data,
            "value": 0,
            "gas": gas,
            "gasPrice": _GAS_PRICE,
        }
        if to is not None:
            tx["to"] = to
        self._nonces[account.address] = nonce + 1
        return bytes(account.sign_transaction(tx).raw_transaction)

    def transact(
        self, account: LocalAccount, to: str | None, data: str, gas: int = _CALL_GAS
    ) -> Any:
        """Send one transaction, mine it, return its receipt; raise if it failed."""
        tx_hash = self.tester.send_raw_transaction("0x" + self._sign(account, to, data, gas).hex())
        receipt = self.tester.get_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"embedded set-up transaction failed on {self.name}: {tx_hash}")
        return receipt

    def bulk(self, account: LocalAccount, txs: Sequence[tuple[str | None, str, int]]) -> list[str]:
        """Apply many transactions to pending blocks of a few each; their hashes.

        No receipt lookups (eth-tester finds a receipt by scanning blocks from
        the head, which makes per-transaction lookups quadratic); callers check
        the resulting state instead.
        """
        backend = self.tester.backend
        hashes: list[str] = []
        in_block = 0
        for to, data, gas in txs:
            # py-evm rebuilds the pending block's tries on every transaction.
            if in_block == _BULK_BLOCK:
                self.tester.mine_blocks(1)
                in_block = 0
            hashes.append(
                "0x" + backend.send_raw_transaction(self._sign(account, to, data, gas)).hex()
            )
            in_block += 1
        self.tester.mine_blocks(1)
        return hashes

    def deploy(self, name: str, types: Sequence[str], args: Sequence[Any]) -> str:
        bytecode, _ = _artifact(name)
        receipt = self.transact(
            self.admin, None, bytecode + encode(list(types), list(args)).hex(), _DEPLOY_GAS
        )
        return to_checksum_address(receipt["contract_address"])

    def call(self, to: str, data: str) -> bytes:
        raw = self.tester.call({"from": self.admin.address, "to": to, "data": data})
        return bytes.fromhex(raw[2:]) if isinstance(raw, str) else bytes(raw)

    async def token_balance(self, address: str) -> int:
        """Balance at the head, read without the adapter."""
        fn = self.abi("SettlementToken").fn("balanceOf")
        return int(fn.decode(self.call(self.deployment.token, fn.encode(address)))[0])

    async def mint(self, to: str, amount: int) -> None:
        self.transact(
            self.admin,
            self.deployment.token,
            self.abi("SettlementToken").fn("mint").encode(to, amount),
        )

    async def create_pools(
        self, amounts: Sequence[int], *, asset: str | None = None
    ) -> list[PoolRef]:
        """Deploy one pool per amount (of ``asset``, default ours) and fund it by minting."""
        bytecode, _ = _artifact("RiskPool")
        token = asset or self.deployment.token
        owners = [token, self.admin.address, self.operator.address]
        ctor = encode(["address", "address", "address"], owners)
        first_nonce = self._nonces.get(self.admin.address) or self.tester.get_nonce(
            self.admin.address
        )
        self.bulk(self.admin, [(None, bytecode + ctor.hex(), _DEPLOY_GAS)] * len(amounts))
        addresses = [
            contract_address(self.admin.address, first_nonce + i) for i in range(len(amounts))
        ]
        mint = self.abi("SettlementToken").fn("mint")
        funding = [
            (token, mint.encode(a, amt), 100_000)
            for a, amt in zip(addresses, amounts, strict=True)
            if amt
        ]
        self.bulk(self.admin, funding)
        self._check_funded(token, addresses, amounts)
        first = len(self.pools)
        refs = [
            PoolRef(self.name, f"{self.name}-pool-{first + i}", addr, self.deployment.token)
            for i, addr in enumerate(addresses)
        ]
        if asset is None:
            self.pools.extend(refs)
        return refs

    def _check_funded(self, token: str, pools: Sequence[str], amounts: Sequence[int]) -> None:
        """Every pool has code and exactly its balance (one reader call per 500 pools)."""
        for address in pools:
            if self.tester.get_code(address) in ("0x", b""):
                raise RuntimeError(f"embedded set-up: pool deployment failed on {self.name}")
        got: list[int] = []
        if self.deployment.reader is not None:
            fn = self.abi("BatchReader").fn("balancesOf")
            for i in range(0, len(pools), 500):
                chunk = list(pools[i : i + 500])
                got.extend(fn.decode(self.call(self.deployment.reader, fn.encode(token, chunk)))[0])
        else:
            fn = self.abi("SettlementToken").fn("balanceOf")
            got = [int(fn.decode(self.call(token, fn.encode(a)))[0]) for a in pools]
        if list(got) != list(amounts):
            raise RuntimeError(f"embedded set-up: pools on {self.name} not funded as asked")

    async def approve_cedent(self, pool: str) -> None:
        """The vault's admin lets ``pool`` cede to the vault."""
        fn = self.abi("ReinsuranceVault").fn("setCedent")
        self.transact(self.admin, self.deployment.vault, fn.encode(pool, True))

    async def fund_vault(self, amount: int) -> None:
        """A reinsurer (the admin here) deposits ``amount`` into the vault."""
        token, vault = self.deployment.token, self.deployment.vault
        await self.mint(self.admin.address, amount)
        approve = self.abi("SettlementToken").fn("approve")
        self.transact(self.admin, token, approve.encode(vault, amount))
        deposit = self.abi("ReinsuranceVault").fn("deposit")
        self.transact(self.admin, vault, deposit.encode(amount, self.admin.address))

    async def fund_gas(self, address: str, wei: int = 10**20) -> None:
        """Give an account native currency for gas (e.g. a second, unauthorised key)."""
        funder = self.tester.get_accounts()[0]
        self.tester.send_transaction({"from": funder, "to": address, "value": wei, "gas": 21_000})

    async def new_payer(self, pool: str, amount: int, *, approve: int | None = None) -> str:
        """A premium payer: a new key with gas and ``amount`` of the token that has
        approved ``pool`` for ``approve`` (default: all of it), as ``bindCover`` needs."""
        payer = Account.create()
        await self.fund_gas(payer.address)
        if amount:
            await self.mint(payer.address, amount)
        approval = (
            self.abi("SettlementToken")
            .fn("approve")
            .encode(pool, amount if approve is None else approve)
        )
        self.transact(payer, self.deployment.token, approval)
        self.wallets[payer.address] = payer
        return str(payer.address)

    async def deposit(self, pool: str, amount: int) -> str:
        """A capital provider (a new key with ``amount`` of the token) deposits it into
        ``pool`` through ``RiskPool.deposit``; the provider's address."""
        provider = await self.new_payer(pool, amount)
        fn = self.abi("RiskPool").fn("deposit")
        self.transact(self.wallets[provider], pool, fn.encode(amount))
        return provider

    async def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    async def finalize(self) -> None:
        """Mine enough empty blocks that everything so far is final under the rule."""
        self.tester.mine_blocks(self.spec.confirmations + 1)

    def attest(self, transfer_id: str, src_chain_id: int, recipient: str, amount: int) -> bytes:
        """The attester's signature for delivering a transfer on this chain."""
        from contracts import attestation_digest

        digest = attestation_digest(
            self.deployment.bridge,
            self.chain_id,
            bytes.fromhex(transfer_id[2:]),
            src_chain_id,
            recipient,
            amount,
        )
        signed = self.attester.sign_message(encode_defunct(primitive=digest))
        return bytes(signed.signature)


@dataclass(slots=True)
class EmbeddedEvmEnv:
    """All embedded chains of one process, by name."""

    chains: dict[str, EmbeddedEvmChain]

    def __getitem__(self, name: str) -> EmbeddedEvmChain:
        return self.chains[name]

    def __iter__(self) -> Any:
        return iter(self.chains.values())

    def inbound(
        self, src: str, dst: str, transfer_id: str, recipient: str, amount: int
    ) -> InboundTransfer:
        """What a relayer builds once ``transfer_id`` left ``src``: an attested delivery."""
        src_chain, dst_chain = self.chains[src], self.chains[dst]
        signature = dst_chain.attest(transfer_id, src_chain.chain_id, recipient, amount)
        return InboundTransfer(transfer_id, src, dst, recipient, amount, signature)


def contract_address(sender: str, nonce: int) -> str:
    import rlp
    from eth_utils import keccak

    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


def _new_w3(chain_id: int) -> Any:
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import AsyncWeb3
    from web3.providers.eth_tester import AsyncEthereumTesterProvider

    from chains.embedded.gas import install as install_gas_estimator

    params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": BLOCK_GAS_LIMIT})
    backend = PyEVMBackend(genesis_parameters=params)
    backend.chain.chain_id = chain_id  # read by CHAINID and by tx building
    install_gas_estimator(backend.chain)  # two executions per eth_estimateGas, not ~18
    provider = AsyncEthereumTesterProvider()
    provider.ethereum_tester = EthereumTester(backend)
    # The endpoint table is shared module state and cannot be deep-copied:
    # copy two levels down and answer our own chain id.
    table = {ns: dict(methods) for ns, methods in provider.api_endpoints.items()}
    table["eth"]["chainId"] = lambda *_: chain_id
    table["net"]["version"] = lambda *_: str(chain_id)
    provider.api_endpoints = table
    return AsyncWeb3(provider, middleware=[])


async def start_chain(
    spec: EmbeddedChainSpec, *, admin_key: bytes | None = None
) -> EmbeddedEvmChain:
    """Start one embedded chain, deploy our contracts and the spec's pools."""
    w3 = _new_w3(spec.chain_id)
    tester = w3.provider.ethereum_tester
    admin = Account.from_key(admin_key) if admin_key else Account.create()
    operator, attester = Account.create(), Account.create()
    funder = tester.get_accounts()[0]
    for acct in (admin, operator, attester):
        tester.send_transaction(
            {"from": funder, "to": acct.address, "value": 10**22, "gas": 21_000}
        )
    chain = EmbeddedEvmChain(
        spec=spec,
        w3=w3,
        endpoint=EthTesterEndpoint(w3, name=f"embedded:{spec.name}"),
        admin=admin,
        operator=operator,
        attester=attester,
    )
    address = ["address", "address", "address"]
    token = chain.deploy(
        "SettlementToken", ["string", "string", "address"], ["Ballast USD", "bUSD", admin.address]
    )
    bridge = chain.deploy("BridgeEndpoint", address, [token, admin.address, attester.address])
    vault = chain.deploy("ReinsuranceVault", address, [token, admin.address, operator.address])
    reader = chain.deploy("BatchReader", [], []) if spec.batch_reader else None
    set_minter = chain.abi("SettlementToken").fn("setMinter")
    chain.transact(admin, token, set_minter.encode(admin.address, True))
    chain.transact(admin, token, set_minter.encode(bridge, True))
    chain.deployment = EvmDeployment(token=token, bridge=bridge, vault=vault, reader=reader)
    chain.adapter = EvmAdapter(chain.config(), [chain.endpoint])
    if spec.pools:
        await chain.create_pools(spec.pools)
    return chain


@asynccontextmanager
async def embedded_evm_chains(specs: Sequence[EmbeddedChainSpec]) -> AsyncIterator[EmbeddedEvmEnv]:
    """Start every chain, wire bridge routes between them, finalize, and tear down after."""
    names = [s.name for s in specs]
    ids = [s.chain_id for s in specs]
    if len(set(names)) != len(names) or len(set(ids)) != len(ids):
        raise ValueError("embedded chains need distinct names and distinct chain ids")
    chains: dict[str, EmbeddedEvmChain] = {}
    try:
        for spec in specs:
            chains[spec.name] = await start_chain(spec)
        for chain in chains.values():
            chain.routes = {
                o.name: BridgeRoute(o.chain_id) for o in chains.values() if o is not chain
            }
            chain.adapter = EvmAdapter(chain.config(), [chain.endpoint])
            await chain.finalize()
        yield EmbeddedEvmEnv(chains)
    finally:
        for chain in chains.values():
            if hasattr(chain, "adapter"):
                await chain.adapter.aclose()

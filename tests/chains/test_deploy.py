"""Deploying our contracts to a node with standard JSON-RPC only, then using them
through an adapter built from the result (anvil, and embedded py-evm)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from chains import errors
from chains.base import ChainFamily, PoolRef, Transfer
from chains.deploy import DeployOptions, deploy_contracts
from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmChain, start_chain
from chains.evm import Confirmations, EvmAdapter
from chains.evm_abi import ContractAbi
from chains.evm_rpc import EvmEndpoint, HttpEndpoint
from chains.factory import ChainSpec, connect, evm_config
from chains.testing import FaultyEndpoint
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import FAST_RETRY, anvil_node, skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")

STANDARD = {
    "eth_chainId",
    "eth_estimateGas",
    "eth_getBlockByNumber",
    "eth_gasPrice",
    "eth_getTransactionCount",
    "eth_sendRawTransaction",
    "eth_getTransactionReceipt",
    "eth_getCode",
}


def _abi(name: str) -> ContractAbi:
    from contracts import load_artifact

    return ContractAbi(load_artifact(name).abi)


async def _transact(
    endpoint: EvmEndpoint, chain_id: int, who: LocalAccount, to: str, data: str
) -> None:
    """A plain signed call (the test's own back door: minting as the token admin)."""
    nonce = await endpoint.request("eth_getTransactionCount", [who.address, "pending"])
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": int(str(nonce), 0),
        "to": to,
        "data": data,
        "value": 0,
        "gas": 300_000,
        "maxFeePerGas": 50 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "type": 2,
    }
    raw = "0x" + bytes(who.sign_transaction(tx).raw_transaction).hex()
    tx_hash = await endpoint.request("eth_sendRawTransaction", [raw])
    receipt = await endpoint.request("eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None and int(str(receipt["status"]), 0) == 1


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    skip_unless_selected(request.config, "anvil")
    async with anvil_node(32_000_001) as url:
        yield url


async def test_deploy_to_a_node_with_standard_methods_only_then_use_it(anvil_url: str) -> None:
    deployer, operator = Account.create(), Account.create()
    setup = HttpEndpoint(anvil_url, timeout=5.0)  # funding keys: the test's back door
    for who in (deployer, operator):
        await setup.request("anvil_setBalance", [who.address, hex(10**21)])
    recorded = FaultyEndpoint(HttpEndpoint(anvil_url, timeout=10.0), label="recorded")
    result = await deploy_contracts(
        recorded,
        SecretStr("0x" + bytes(deployer.key).hex()),
        DeployOptions(chain_id=32_000_001, pools=2, vaults=1, operator=operator.address),
    )
    assert set(recorded.methods_seen) <= STANDARD  # no anvil_*, evm_*, hardhat_*
    assert result.chain_id == 32_000_001 and result.token_deployed
    assert result.operator == result.vault_operator == operator.address
    assert result.attester == result.deployer == deployer.address
    assert len(result.pools) == 2 and len(result.vaults) == 1
    config = result.as_dict()
    assert (
        config["pools"] == list(result.pools)
        and config["bridge_endpoint"] == result.bridge_endpoint
    )
    for address in (result.settlement_asset, result.bridge_endpoint, result.batch_reader):
        assert len(await setup.request("eth_getCode", [address, "latest"])) > 2
    vault = _abi("ReinsuranceVault").fn("isCedent")
    for pool in result.pools:
        raw = await setup.request(
            "eth_call", [{"to": result.vaults[0], "data": vault.encode(pool)}, "latest"]
        )
        assert int(raw, 16) == 1  # every pool may cede to every vault
    # The config the router writes is enough to run: mint to a pool, read it, move it.
    token = _abi("SettlementToken")
    become_minter = token.fn("setMinter").encode(deployer.address, True)
    await _transact(setup, result.chain_id, deployer, result.settlement_asset, become_minter)
    mint = token.fn("mint").encode(result.pools[0], 5_000)
    await _transact(setup, result.chain_id, deployer, result.settlement_asset, mint)
    spec = ChainSpec(
        family=ChainFamily.EVM,
        name="deployed",
        rpc_urls=(anvil_url,),
        settlement_asset=result.settlement_asset,
        chain_id=result.chain_id,
        signer_key=SecretStr("0x" + bytes(operator.key).hex()),
        batch_reader=result.batch_reader,
        bridge_endpoint=result.bridge_endpoint,
        finality=Confirmations(0),
        retry=FAST_RETRY,
    )
    adapter = await connect(spec)
    try:
        pool = PoolRef("deployed", "p0", result.pools[0], result.settlement_asset)
        assert [r.amount for r in (await adapter.read_balances([pool])).reports] == [5_000]
        await adapter.send_transfer(Transfer(tid(), pool, "deployed", operator.address, 1_000))
        assert [r.amount for r in (await adapter.read_balances([pool])).reports] == [4_000]
        state = await adapter.vault_state(result.vaults[0])  # type: ignore[attr-defined]
        assert state.total_assets == 0 and state.asset == result.settlement_asset
    finally:
        await adapter.aclose()
        await setup.aclose()


async def test_deploy_refuses_a_node_of_another_chain(anvil_url: str) -> None:
    deployer = Account.create()
    with pytest.raises(errors.WrongChain):
        await deploy_contracts(
            anvil_url,
            SecretStr("0x" + bytes(deployer.key).hex()),
            DeployOptions(chain_id=1),
        )


async def test_deploy_without_gas_money_is_a_typed_error(anvil_url: str) -> None:
    broke = Account.create()
    with pytest.raises((errors.InsufficientCapital, errors.RpcResponseError)) as caught:
        await deploy_contracts(anvil_url, SecretStr("0x" + bytes(broke.key).hex()))
    assert bytes(broke.key).hex() not in str(caught.value)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedded(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedEvmChain]:
    skip_unless_selected(request.config, "embedded")
    yield await start_chain(EmbeddedChainSpec("deploy-embedded", 32_000_002))


async def test_deploy_to_an_embedded_chain(embedded: EmbeddedEvmChain) -> None:
    deployer = Account.create()
    await embedded.fund_gas(deployer.address)
    result = await deploy_contracts(
        embedded.endpoint,
        SecretStr("0x" + bytes(deployer.key).hex()),
        DeployOptions(
            pools=1,
            vaults=2,
            operator=embedded.operator.address,
            settlement_asset=embedded.deployment.token,  # an existing token: not redeployed
        ),
    )
    assert not result.token_deployed and result.settlement_asset == embedded.deployment.token
    assert len(result.vaults) == 2
    spec = ChainSpec(
        family=ChainFamily.EVM,
        name="deploy-embedded",
        rpc_urls=("unused://embedded",),
        settlement_asset=result.settlement_asset,
        chain_id=embedded.chain_id,
        signer_key=SecretStr("0x" + bytes(embedded.operator.key).hex()),
        batch_reader=result.batch_reader,
        finality=Confirmations(0),
    )
    adapter = EvmAdapter(evm_config(spec), [embedded.endpoint])
    await embedded.mint(result.pools[0], 777)
    pool = PoolRef("deploy-embedded", "p", result.pools[0], result.settlement_asset)
    assert [r.amount for r in (await adapter.read_balances([pool])).reports] == [777]

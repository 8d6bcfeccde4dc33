"""Adapters built from a ChainSpec in one place; read-only adapters; secrets kept out
of reprs, errors and logs (ours and the libraries' underneath)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from eth_account import Account
from pydantic import SecretBytes, SecretStr

from chains import errors
from chains.base import ChainFamily, Transfer
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.evm import Confirmations, EvmAdapter, FeePolicy
from chains.evm_rpc import HttpEndpoint
from chains.factory import ChainSpec, connect
from chains.logs import RedactUrls, quiet_third_party_logs, redact_urls
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import FAST_RETRY, AnvilChain, anvil_chain, skip_unless_selected
from tests.chains.solana_harness import skip_unless_selected as skip_unless_litesvm

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil(request: pytest.FixtureRequest) -> AsyncIterator[AnvilChain]:
    skip_unless_selected(request.config, "anvil")
    async with anvil_chain("factory-evm", 31_900_001) as chain:
        yield chain


@pytest_asyncio.fixture(loop_scope="module")
async def solana(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedSolana]:
    skip_unless_litesvm(request.config)
    async with embedded_solana(pools=[7_000]) as env:
        yield env


def evm_spec(chain: AnvilChain, **changes: object) -> ChainSpec:
    assert chain.deployment is not None
    values: dict[str, object] = {
        "family": ChainFamily.EVM,
        "name": chain.name,
        "rpc_urls": (chain.url,),
        "settlement_asset": chain.deployment.token,
        "chain_id": chain.chain_id,
        "signer_key": SecretStr("0x" + bytes(chain.operator.key).hex()),
        "batch_reader": chain.deployment.reader,
        "bridge_endpoint": chain.deployment.bridge,
        "finality": Confirmations(3),
        "rpc_timeout": 5.0,
        "retry": FAST_RETRY,
        "fees": FeePolicy(max_fee_per_gas=100 * 10**9, replace_after_blocks=2),
    }
    values.update(changes)
    return ChainSpec(**values)  # type: ignore[arg-type]


async def test_an_evm_adapter_comes_from_its_spec_with_its_finality_rule(
    anvil: AnvilChain,
) -> None:
    spec = evm_spec(anvil)
    adapter = await connect(spec)
    try:
        assert isinstance(adapter, EvmAdapter)
        assert adapter.family is ChainFamily.EVM and adapter.can_sign
        assert adapter.config.finality == Confirmations(3)
        assert adapter.config.fees.replace_after_blocks == 2
        assert adapter.config.rpc_timeout == 5.0
        (pool,) = await anvil.create_pools([42])
        await anvil.mine(4)
        head = int(await anvil.rpc("eth_blockNumber", []), 16)
        snap = await adapter.read_balances([pool])
        assert snap.block_number == head - 3  # three confirmations, as configured
        assert [r.amount for r in snap.reports] == [42]
        receipt = await adapter.send_transfer(
            Transfer(tid(), pool, anvil.name, Account.create().address, 2)
        )
        assert receipt.amount == 2
    finally:
        await adapter.aclose()


async def test_a_spec_without_a_key_reads_and_never_signs(anvil: AnvilChain) -> None:
    spec = evm_spec(anvil).without_signer()
    assert spec.read_only and spec.signer_key is None
    adapter = await connect(spec)
    try:
        (pool,) = await anvil.create_pools([9])
        await anvil.finalize()
        assert [r.amount for r in (await adapter.read_balances([pool])).reports] == [9]
        assert not adapter.can_sign and "read-only" in repr(adapter)
        with pytest.raises(errors.ReadOnlyAdapter):
            await adapter.send_transfer(
                Transfer(tid(), pool, anvil.name, Account.create().address, 1)
            )
    finally:
        await adapter.aclose()


async def test_the_key_never_shows_in_a_spec_an_adapter_or_an_error(anvil: AnvilChain) -> None:
    key_hex = bytes(anvil.operator.key).hex()
    spec = evm_spec(anvil)
    adapter = await connect(spec)
    try:
        for text in (repr(spec), str(spec), repr(adapter)):
            assert key_hex not in text
    finally:
        await adapter.aclose()
    bad = "0x" + "zz" * 32
    with pytest.raises(errors.InvalidInput) as caught:
        await connect(evm_spec(anvil, signer_key=SecretStr(bad)))
    assert "zz" * 8 not in str(caught.value) and "zz" * 8 not in repr(caught.value.fields)
    with pytest.raises(errors.InvalidInput):  # a plain string is refused, not wrapped
        evm_spec(anvil, signer_key="0x" + key_hex)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"chain_id": None}, "chain id"),
        ({"rpc_urls": ()}, "RPC URL"),
        ({"rpc_timeout": 0}, "rpc_timeout"),
        ({"family": "cosmos"}, "family"),
        ({"name": ""}, "name"),
    ],
)
async def test_bad_specs_are_typed_errors(
    anvil: AnvilChain, changes: dict[str, object], match: str
) -> None:
    with pytest.raises(errors.InvalidInput, match=match):
        evm_spec(anvil, **changes)


def solana_spec(env: EmbeddedSolana, key: SecretStr | SecretBytes | None) -> ChainSpec:
    return ChainSpec(
        family=ChainFamily.SOLANA,
        name=env.chain_name,
        rpc_urls=(env.config.rpc_url,),
        settlement_asset=str(env.mint),
        signer_key=key,
        rpc_timeout=5.0,
    )


async def test_a_solana_adapter_comes_from_its_spec_with_any_key_encoding(
    solana: EmbeddedSolana,
) -> None:
    keypair = solana.authority
    for key in (
        SecretStr(str(keypair)),  # base58, as wallets export it
        SecretStr(bytes(keypair).hex()),
        SecretBytes(bytes(keypair)),
    ):
        adapter = await connect(solana_spec(solana, key))
        try:
            assert adapter.family is ChainFamily.SOLANA and adapter.can_sign
            snap = await adapter.read_balances(solana.pools)
            assert [r.amount for r in snap.reports] == [7_000]
            assert str(keypair) not in repr(adapter)
        finally:
            await adapter.aclose()
    reader = await connect(solana_spec(solana, SecretStr(str(keypair))).without_signer())
    try:
        assert not reader.can_sign
        assert [r.amount for r in (await reader.read_balances(solana.pools)).reports] == [7_000]
    finally:
        await reader.aclose()
    with pytest.raises(errors.InvalidInput) as caught:
        await connect(solana_spec(solana, SecretStr("not-a-keypair-0OIl")))
    assert "not-a-keypair" not in str(caught.value)


# -------------------------------------------------------------------- logs


async def test_urls_lose_credentials_paths_and_queries() -> None:
    text = "POST https://user:pw@rpc.example.com:8443/v3/k3y?apikey=s3cret done, wss://a.b/x"
    assert redact_urls(text) == "POST https://rpc.example.com:8443 done, wss://a.b"


async def test_third_party_url_logs_are_quiet_and_redacted(
    anvil: AnvilChain, caplog: pytest.LogCaptureFixture
) -> None:
    port = anvil.url.rsplit(":", 1)[1]
    secret_url = f"http://user:s3cret@127.0.0.1:{port}/?apikey=k3y"
    web3_logger = logging.getLogger("web3")
    before = web3_logger.level
    caplog.set_level(logging.DEBUG)
    try:
        quiet_third_party_logs()  # what the service calls after configuring logging
        endpoint = HttpEndpoint(secret_url, timeout=5.0)
        await endpoint.request("eth_chainId", [])
        await endpoint.aclose()  # web3 logs the full URL at INFO here
        assert not [r for r in caplog.records if r.name.startswith("web3")]
        quiet_third_party_logs(debug=True)  # verbose: their lines show, URLs redacted
        assert any(
            isinstance(f, RedactUrls) for h in logging.getLogger().handlers for f in h.filters
        )
        endpoint = HttpEndpoint(secret_url, timeout=5.0)
        await endpoint.request("eth_chainId", [])
        await endpoint.aclose()
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("web3")]
        assert lines and any(f"127.0.0.1:{port}" in line for line in lines)
        for secret in ("s3cret", "k3y", "user:"):
            assert secret not in caplog.text
    finally:
        web3_logger.setLevel(before)
        for handler in logging.getLogger().handlers:
            for f in [f for f in handler.filters if isinstance(f, RedactUrls)]:
                handler.removeFilter(f)

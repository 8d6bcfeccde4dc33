"""What only a real node shows: chain-id replay protection, JSON-RPC revert payloads
and HTTP-level faults (through a small proxy in front of anvil)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web
from eth_account import Account

from chains import errors
from chains.base import Transfer
from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmChain, embedded_evm_chains
from chains.evm_rpc import HttpEndpoint
from chains.testing import FaultyEndpoint
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import AnvilChain, anvil_chain, free_port, skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANVIL_ID = 31_600_001


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil(request: pytest.FixtureRequest) -> AsyncIterator[AnvilChain]:
    skip_unless_selected(request.config, "anvil")
    async with anvil_chain("anvil", ANVIL_ID) as chain:
        yield chain


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedded(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedEvmChain]:
    skip_unless_selected(request.config, "embedded")
    async with embedded_evm_chains([EmbeddedChainSpec("embedded", 31_600_002)]) as env:
        yield env["embedded"]


# ------------------------------------------------------------ replay protection


async def test_transaction_signed_for_another_chain_is_refused_by_anvil(
    anvil: AnvilChain,
) -> None:
    (pool,) = await anvil.create_pools([1_000_000])
    recipient = Account.create().address
    # A node (or proxy) that lies about its chain id gets the adapter to sign
    # for the wrong chain; the real node refuses the signature.
    lying = FaultyEndpoint(anvil.endpoint, label="lying-proxy")
    lying.answer(1, "eth_chainId", hex(ANVIL_ID + 1))
    adapter = anvil.new_adapter([lying], chain_id=ANVIL_ID + 1)
    with pytest.raises(errors.WrongChain) as caught:
        await adapter.send_transfer(Transfer(tid(), pool, "anvil", recipient, 10))
    assert "chain id" in str(caught.value)
    assert await anvil.token_balance(pool.address) == 1_000_000


async def test_py_evm_accepts_a_transaction_signed_for_another_chain(
    embedded: EmbeddedEvmChain,
) -> None:
    """Known gap of the embedded backend (py-evm does not check the signature's
    chain id); the adapter's own chain-id check is what protects there."""
    (pool,) = await embedded.create_pools([1_000_000])
    lying = FaultyEndpoint(embedded.endpoint, label="lying-proxy")
    lying.answer(100, "eth_chainId", embedded.chain_id + 1)  # it keeps lying
    adapter = embedded.new_adapter([lying], chain_id=embedded.chain_id + 1)
    await adapter.send_transfer(Transfer(tid(), pool, "embedded", Account.create().address, 10))
    assert await embedded.token_balance(pool.address) == 1_000_000 - 10


@pytest.mark.parametrize("backend", ["anvil", "embedded"])
async def test_adapter_refuses_to_sign_for_a_node_of_another_chain(
    request: pytest.FixtureRequest, backend: str
) -> None:
    chain = request.getfixturevalue(backend)
    (pool,) = await chain.create_pools([1_000])
    counted = FaultyEndpoint(chain.endpoint, label="counted")
    adapter = chain.new_adapter([counted], chain_id=chain.chain_id + 7)
    with pytest.raises(errors.WrongChain):
        await adapter.send_transfer(Transfer(tid(), pool, chain.name, Account.create().address, 1))
    assert "eth_sendRawTransaction" not in counted.methods_seen
    assert await chain.token_balance(pool.address) == 1_000


# ------------------------------------------------------------ revert payloads


async def test_revert_payload_from_anvil_is_mapped_by_selector(anvil: AnvilChain) -> None:
    (pool,) = await anvil.create_pools([1_000_000])
    stranger = Account.create()
    await anvil.rpc("anvil_setBalance", [stranger.address, hex(10**20)])
    adapter = anvil.new_adapter(operator_key="0x" + bytes(stranger.key).hex())
    with pytest.raises(errors.Unauthorized) as caught:
        await adapter.send_transfer(Transfer(tid(), pool, "anvil", stranger.address, 10))
    assert caught.value.fields["revert"] == "Unauthorized"
    # Past a lying estimate the transaction is mined and fails: still mapped.
    lying = FaultyEndpoint(anvil.endpoint, label="lying")
    lying.answer(1, "eth_estimateGas", hex(200_000))
    adapter = anvil.new_adapter([lying], operator_key="0x" + bytes(stranger.key).hex())
    with pytest.raises(errors.Unauthorized) as caught:
        await adapter.send_transfer(Transfer(tid(), pool, "anvil", stranger.address, 10))
    assert caught.value.fields["tx_hash"]
    assert await anvil.token_balance(pool.address) == 1_000_000


# ------------------------------------------------------------------ HTTP faults


@pytest_asyncio.fixture(loop_scope="module")
async def proxy(anvil: AnvilChain) -> AsyncIterator[Callable[[list[int | str]], str]]:
    """An HTTP proxy to anvil answering a script first: a status code, or "garbage"."""
    script: list[int | str] = []
    session = ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        if script:
            step = script.pop(0)
            if step == "garbage":
                return web.Response(text="<html>bad gateway</html>", status=200)
            return web.Response(text="fault", status=int(step))
        async with session.post(
            anvil.url, data=await request.read(), headers={"content-type": "application/json"}
        ) as upstream:
            return web.Response(body=await upstream.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    def arm(steps: list[int | str]) -> str:
        script[:] = steps
        return f"http://127.0.0.1:{port}/"

    yield arm
    await runner.cleanup()
    await session.close()


async def test_http_503_and_429_are_retried(
    anvil: AnvilChain, proxy: Callable[[list[int | str]], str]
) -> None:
    (pool,) = await anvil.create_pools([42])
    await anvil.finalize()
    url = proxy([503, 429])
    adapter = anvil.new_adapter([HttpEndpoint(url, timeout=5.0)])
    snap = await adapter.read_balances([pool])
    assert snap.reports[0].amount == 42
    await adapter.aclose()


async def test_http_client_error_and_garbage_are_typed_and_not_retried(
    anvil: AnvilChain, proxy: Callable[[list[int | str]], str]
) -> None:
    adapter = anvil.new_adapter([HttpEndpoint(proxy([400, 400, 400, 400]), timeout=5.0)])
    with pytest.raises(errors.RpcResponseError) as caught:
        await adapter.final_block()
    assert caught.value.code == 400 and not caught.value.retryable
    await adapter.aclose()
    adapter = anvil.new_adapter([HttpEndpoint(proxy(["garbage"] * 4), timeout=5.0)])
    with pytest.raises(errors.MalformedResponse):
        await adapter.final_block()
    await adapter.aclose()


async def test_unreachable_endpoint_is_unavailable_after_bounded_retries(
    anvil: AnvilChain,
) -> None:
    dead = HttpEndpoint(f"http://127.0.0.1:{free_port()}", timeout=2.0)
    counted = FaultyEndpoint(dead, label="dead")
    adapter = anvil.new_adapter([counted])
    with pytest.raises(errors.RpcUnavailable):
        await adapter.final_block()
    assert counted.round_trips == adapter.config.retry.attempts
    await adapter.aclose()


async def test_endpoint_url_secrets_never_appear_in_errors() -> None:
    endpoint = HttpEndpoint(f"http://user:s3cret@127.0.0.1:{free_port()}/v3/apikey123", timeout=1.0)
    with pytest.raises(errors.RpcUnavailable) as caught:
        await endpoint.request("eth_chainId", [])
    assert "s3cret" not in str(caught.value) and "apikey123" not in str(caught.value)
    await endpoint.aclose()


async def test_connect_checks_every_configured_endpoint(anvil: AnvilChain) -> None:
    from chains.evm import connect_evm

    adapter = await connect_evm(anvil.config())
    assert adapter.endpoint_names == ("http://127.0.0.1:" + anvil.url.rsplit(":", 1)[1],)
    await adapter.aclose()
    with pytest.raises(errors.EndpointDisagreement):
        await connect_evm(anvil.config(chain_id=ANVIL_ID + 3))

"""EVM adapter defects found when the adapter was driven as an outside integrator would.

Each test here failed before its fix: a stalled endpoint held a call for
web3's 30 s whatever ``rpc_timeout`` said; a node of another chain sharing
the chain id gave ``MalformedResponse`` and the other endpoints' requests ran
on after the read had failed; a transaction mined with a failure was reported
without its hash; one pool not yet final failed the whole read as a permanent
``UnknownPool``; "replacement transaction underpriced" was an anonymous RPC
error instead of a nonce conflict.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from eth_account import Account

from chains import errors
from chains.base import Transfer
from chains.embedded.evm import (
    EmbeddedChainSpec,
    EmbeddedEvmChain,
    embedded_evm_chains,
    start_chain,
)
from chains.evm import EvmAdapter, EvmChainConfig
from chains.evm_rpc import HttpEndpoint
from chains.testing import FaultyEndpoint
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import (
    NO_RETRY,
    AnvilChain,
    anvil_chain,
    skip_unless_selected,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHAIN_ID = 31_700_001


class StalledNode:
    """An HTTP server that accepts requests and never answers; it notices when the
    client gives up on a connection (the injected fault: a hung node)."""

    def __init__(self) -> None:
        self.connections = 0
        self.request_arrived = asyncio.Event()
        self.closed_by_client = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while await reader.read(65_536):  # read the request, answer nothing
            self.request_arrived.set()
        self.closed_by_client.set()

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest_asyncio.fixture(loop_scope="module")
async def stalled() -> AsyncIterator[tuple[StalledNode, str]]:
    node = StalledNode()
    url = await node.start()
    yield node, url
    await node.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedded(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedEvmChain]:
    skip_unless_selected(request.config, "embedded")
    async with embedded_evm_chains([EmbeddedChainSpec("main", CHAIN_ID, pools=(9_000,))]) as env:
        yield env["main"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil(request: pytest.FixtureRequest) -> AsyncIterator[AnvilChain]:
    skip_unless_selected(request.config, "anvil")
    async with anvil_chain("anvil", CHAIN_ID + 1) as chain:
        yield chain


# ------------------------------------------------------------------ rpc_timeout


async def test_a_stalled_endpoint_times_out_after_the_configured_rpc_timeout(
    stalled: tuple[StalledNode, str],
) -> None:
    node, url = stalled
    config = EvmChainConfig(
        chain="hung", chain_id=1, endpoints=(url,), rpc_timeout=0.3, retry=NO_RETRY
    )
    adapter = EvmAdapter(config)
    try:
        # web3 puts its own 30 s timeout on every request; a configured 0.3 s
        # must win, so the call ends long before this bound.
        async with asyncio.timeout(10):
            with pytest.raises(errors.RpcTimeout):
                await adapter.final_block()
    finally:
        await adapter.aclose()
    assert node.connections == 1


# ------------------------------------------------- endpoints that disagree


async def test_another_chain_with_the_same_chain_id_is_a_disagreement_not_garbage(
    embedded: EmbeddedEvmChain,
) -> None:
    # Same chain id, another deployer: the reader and the pools are not at these
    # addresses over there, so decoding its answers would fail. The block hashes
    # differ first, and that is what must be reported.
    impostor = await start_chain(EmbeddedChainSpec("main", CHAIN_ID, pools=(5,)))
    await impostor.finalize()
    await embedded.finalize()
    adapter = embedded.new_adapter([embedded.endpoint, impostor.endpoint])
    with pytest.raises(errors.EndpointDisagreement) as caught:
        await adapter.read_balances(embedded.pools)
    assert caught.value.fields["what"] == "block"
    assert impostor.endpoint.name in str(caught.value)


async def test_a_failed_read_cancels_the_other_endpoints_requests(
    embedded: EmbeddedEvmChain,
) -> None:
    failing = FaultyEndpoint(embedded.endpoint, label="failing")
    failing.error_payload(10, -32602, "invalid params", methods=["eth_chainId"])
    slow = FaultyEndpoint(embedded.endpoint, label="slow")
    slow.stall(["eth_chainId", "eth_blockNumber"])
    adapter = embedded.new_adapter([slow, failing])
    with pytest.raises(errors.RpcResponseError):
        await adapter.read_balances(embedded.pools)
    # By the time the error reaches the caller, the slow endpoint's request has
    # been cancelled: it never went on to the node.
    assert slow.stalled == 1 and slow.cancelled == 1
    slow.release()
    await asyncio.sleep(0)  # let a request that survived (the defect) run on
    assert slow.forwarded_after_stall == 0


class FailsOnceHung:
    """An endpoint that fails (a permanent error) once the hung node holds a request."""

    name = "fails-later"

    def __init__(self, node: StalledNode) -> None:
        self.node = node

    async def request(self, method: str, params: list[object]) -> object:
        raise AssertionError("the adapter batches its first calls")

    async def batch(self, calls: object) -> list[object]:
        await self.node.request_arrived.wait()
        raise errors.RpcResponseError("invalid params (injected)", code=-32602)

    async def aclose(self) -> None:
        return None


async def test_a_failed_read_closes_the_connection_to_a_hung_node(
    embedded: EmbeddedEvmChain, stalled: tuple[StalledNode, str]
) -> None:
    node, url = stalled
    hung = HttpEndpoint(url, timeout=60.0)
    adapter = embedded.new_adapter([hung, FailsOnceHung(node)])
    try:
        with pytest.raises(errors.RpcResponseError):
            await adapter.read_balances(embedded.pools)
        # The request to the hung node was abandoned, not left to run for 60 s.
        await asyncio.wait_for(node.closed_by_client.wait(), timeout=10)
    finally:
        await hung.aclose()


# ------------------------------------------------------- finality of pools


async def test_a_pool_not_yet_final_is_retryable_not_unknown(embedded: EmbeddedEvmChain) -> None:
    (young,) = await embedded.create_pools([4_000])  # exists at the head only
    pools = [embedded.pools[0], young]
    with pytest.raises(errors.NotFinal) as caught:
        await embedded.adapter.read_balances(pools)
    assert caught.value.retryable
    assert caught.value.fields["pools"] == (young.pool_id,)
    await embedded.finalize()
    snap = await embedded.adapter.read_balances(pools)
    assert [r.amount for r in snap.reports] == [9_000, 4_000]
    ghost = type(young)("main", "ghost", Account.create().address, young.asset)
    with pytest.raises(errors.UnknownPool):  # no code at the head either: really unknown
        await embedded.adapter.read_balances([ghost])


# ---------------------------------------------------- failures carry their hash


async def _mined_failure_is_reported_with_its_hash(chain: EmbeddedEvmChain | AnvilChain) -> None:
    (pool,) = await chain.create_pools([1_000_000])
    lying = FaultyEndpoint(chain.endpoint, label="lying")
    lying.answer(1, "eth_estimateGas", hex(20_000))  # too little gas: runs out, mined
    adapter = chain.new_adapter([lying])
    with pytest.raises(errors.TransactionError) as caught:
        await adapter.send_transfer(Transfer(tid(), pool, chain.name, Account.create().address, 5))
    tx_hash = caught.value.fields.get("tx_hash")
    assert tx_hash and tx_hash in str(caught.value)
    receipt = await chain.endpoint.request("eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None and int(str(receipt["status"]), 0) == 0  # mined, failed
    assert await chain.token_balance(pool.address) == 1_000_000


async def test_a_failure_mined_by_py_evm_is_reported_with_its_hash(
    embedded: EmbeddedEvmChain,
) -> None:
    await _mined_failure_is_reported_with_its_hash(embedded)


async def test_a_failure_mined_by_anvil_is_reported_with_its_hash(anvil: AnvilChain) -> None:
    """anvil answers the replayed call with "out of gas", not revert data: the
    failure must still come out typed and with the hash."""
    await _mined_failure_is_reported_with_its_hash(anvil)


# ---------------------------------------------------------- nonce conflicts


async def test_replacement_underpriced_is_a_nonce_conflict(embedded: EmbeddedEvmChain) -> None:
    (pool,) = await embedded.create_pools([1_000])
    node = FaultyEndpoint(embedded.endpoint, label="busy")
    node.error_payload(
        1, -32000, "replacement transaction underpriced", methods=["eth_sendRawTransaction"]
    )
    adapter = embedded.new_adapter([node])
    transfer = Transfer(tid(), pool, "main", Account.create().address, 10)
    with pytest.raises(errors.NonceConflict) as caught:
        await adapter.send_transfer(transfer)
    assert caught.value.fields["nonce"] is not None
    assert await embedded.token_balance(pool.address) == 1_000
    await adapter.send_transfer(transfer)  # the refused nonce was handed back, not a gap
    assert await embedded.token_balance(pool.address) == 990

"""Several embedded EVM chains in one process, and capital moved between them.

Two py-evm chains with their own chain ids; a pool on one sends through its
bridge endpoint; the destination delivers only with the attester's signature
and never twice for one transfer id.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from eth_account import Account

from chains import errors
from chains.base import (
    BridgeInbound,
    ChainAdapter,
    ChainFamily,
    InboundTransfer,
    Transfer,
    TransferStatus,
)
from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmEnv, embedded_evm_chains
from chains.evm import recipient_bytes32
from chains.testing import FaultyEndpoint
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")

IDS = {"ethereum": 31_500_001, "base": 31_500_002, "arbitrum": 31_500_003}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedEvmEnv]:
    skip_unless_selected(request.config, "embedded")
    specs = [EmbeddedChainSpec(name, cid, pools=(3_000_000,)) for name, cid in IDS.items()]
    async with embedded_evm_chains(specs) as env:
        yield env


async def test_each_chain_has_its_own_chain_id(env: EmbeddedEvmEnv) -> None:
    for chain in env:
        assert isinstance(chain.adapter, ChainAdapter)
        assert isinstance(chain.adapter, BridgeInbound)
        answered = await chain.endpoint.request("eth_chainId", [])
        assert (answered if isinstance(answered, int) else int(answered, 16)) == IDS[chain.name]
        # The EVM itself (CHAINID opcode) agrees with what the node answers.
        assert chain.deployment.reader is not None
        fn = chain.abi("BatchReader").fn("getChainId")
        assert fn.decode(chain.call(chain.deployment.reader, fn.encode()))[0] == IDS[chain.name]
    snaps = [await c.adapter.read_balances(c.pools) for c in env]
    assert len({s.block_hash for s in snaps}) == len(IDS)  # independent chains
    assert all(s.reports[0].amount == 3_000_000 for s in snaps)


async def test_capital_crosses_chains_once_with_an_attestation(env: EmbeddedEvmEnv) -> None:
    src, dst = env["ethereum"], env["base"]
    (pool,) = await src.create_pools([2_000_000])
    recipient = Account.create().address
    transfer_id = tid()
    sent = await src.adapter.send_transfer(Transfer(transfer_id, pool, "base", recipient, 750_000))
    assert sent.status is TransferStatus.CONFIRMED
    assert await src.token_balance(pool.address) == 1_250_000
    assert await src.token_balance(src.deployment.bridge) >= 750_000
    await src.finalize()
    found = await src.adapter.find_transfer(transfer_id)
    assert found is not None and found.status is TransferStatus.FINALIZED
    assert found.amount == 750_000 and found.tx_ref == sent.tx_ref

    inbound = env.inbound("ethereum", "base", transfer_id, recipient, 750_000)
    assert await dst.adapter.find_inbound(transfer_id) is None
    delivered = await dst.adapter.complete_inbound(inbound)
    assert delivered.transfer_id == transfer_id and delivered.chain == "base"
    assert await dst.token_balance(recipient) == 750_000
    await dst.finalize()
    again = await dst.adapter.find_inbound(transfer_id)
    assert again is not None and again.tx_ref == delivered.tx_ref
    assert again.status is TransferStatus.FINALIZED and again.amount == 750_000
    # Nodes that cap log ranges: the same answer, asked in small ranges.
    chunked = await dst.new_adapter(log_block_range=7).find_inbound(transfer_id)
    assert chunked is not None
    assert (chunked.tx_ref, chunked.status, chunked.block_number, chunked.amount) == (
        again.tx_ref,
        again.status,
        again.block_number,
        again.amount,
    )

    with pytest.raises(errors.DuplicateTransfer):
        await dst.adapter.complete_inbound(inbound)
    assert await dst.token_balance(recipient) == 750_000


async def test_delivery_replayed_past_the_precheck_is_refused_on_chain(
    env: EmbeddedEvmEnv,
) -> None:
    dst = env["arbitrum"]
    recipient = Account.create().address
    inbound = env.inbound("ethereum", "arbitrum", tid(), recipient, 1_000)
    await dst.adapter.complete_inbound(inbound)
    lying = FaultyEndpoint(dst.endpoint, label="stale-view")
    lying.answer(1, "eth_call", "0x" + "00" * 32)  # "not delivered yet"
    with pytest.raises(errors.DuplicateTransfer) as caught:
        await dst.new_adapter([lying]).complete_inbound(inbound)
    assert caught.value.fields["revert"] == "TransferIdUsed"
    assert await dst.token_balance(recipient) == 1_000


async def test_forged_attestation_moves_nothing(env: EmbeddedEvmEnv) -> None:
    dst = env["base"]
    recipient = Account.create().address
    transfer_id = tid()
    good = env.inbound("ethereum", "base", transfer_id, recipient, 5_000)
    for forged in (
        # signed by someone who is not the attester
        bytes(Account.create().unsafe_sign_hash(os.urandom(32)).signature),
        # the attester's signature for another amount
        env.inbound("ethereum", "base", transfer_id, recipient, 5_001).attestation,
        # the attester's signature for another destination chain
        env.inbound("ethereum", "arbitrum", transfer_id, recipient, 5_000).attestation,
    ):
        bad = InboundTransfer(transfer_id, "ethereum", "base", recipient, 5_000, forged)
        with pytest.raises(errors.TransactionReverted) as caught:
            await dst.adapter.complete_inbound(bad)
        assert caught.value.fields["revert"] == "InvalidAttestation"
    assert await dst.token_balance(recipient) == 0
    await dst.adapter.complete_inbound(good)  # the real one still goes through
    assert await dst.token_balance(recipient) == 5_000


async def test_unknown_destination_or_source_is_refused_before_sending(
    env: EmbeddedEvmEnv,
) -> None:
    src = env["ethereum"]
    (pool,) = await src.create_pools([1_000])
    with pytest.raises(errors.UnknownChain):
        await src.adapter.send_transfer(
            Transfer(tid(), pool, "nowhere", Account.create().address, 10)
        )
    inbound = env.inbound("base", "ethereum", tid(), Account.create().address, 10)
    with pytest.raises(errors.UnknownChain):
        await env["base"].adapter.complete_inbound(inbound)  # wrong destination adapter
    stray = InboundTransfer(
        tid(), "nowhere", "ethereum", Account.create().address, 10, b"\x00" * 65
    )
    with pytest.raises(errors.UnknownChain):
        await src.adapter.complete_inbound(stray)
    assert await src.token_balance(pool.address) == 1_000


async def test_capital_can_leave_for_a_solana_recipient(env: EmbeddedEvmEnv) -> None:
    from solders.pubkey import Pubkey

    from chains.evm import BridgeRoute

    src = env["ethereum"]
    (pool,) = await src.create_pools([10_000])
    owner = Pubkey.from_bytes(os.urandom(32))
    routes = {**src.routes, "solana": BridgeRoute(900_001, ChainFamily.SOLANA)}
    adapter = src.new_adapter(routes=routes)
    transfer_id = tid()
    await adapter.send_transfer(Transfer(transfer_id, pool, "solana", str(owner), 4_000))
    logs = await src.endpoint.request(
        "eth_getLogs",
        [{"fromBlock": "0x0", "toBlock": "latest", "topics": [None, transfer_id]}],
    )
    bridged = [entry for entry in logs if entry["address"] == pool.address]
    assert len(bridged) == 1
    data = bytes.fromhex(bridged[0]["data"][2:])
    # CapitalBridged data: dstChainId, recipient (bytes32), amount
    assert int.from_bytes(data[:32], "big") == 900_001
    assert data[32:64] == bytes(owner)
    assert int.from_bytes(data[64:96], "big") == 4_000
    with pytest.raises(errors.InvalidAddress):
        await adapter.send_transfer(Transfer(tid(), pool, "solana", "0xnot-base58", 1))
    assert await src.token_balance(pool.address) == 6_000


async def test_bridge_recipients_are_32_bytes_per_family() -> None:
    evm = recipient_bytes32("0x000000000000000000000000000000000000dEaD", ChainFamily.EVM)
    assert evm == bytes(12) + bytes.fromhex("000000000000000000000000000000000000dead")
    # The system program id: 32 zero bytes in base58.
    assert recipient_bytes32("1" * 32, ChainFamily.SOLANA) == bytes(32)
    with pytest.raises(errors.InvalidAddress):
        recipient_bytes32("0xdead", ChainFamily.EVM)
    with pytest.raises(errors.InvalidAddress):
        recipient_bytes32("not-base58-0OIl", ChainFamily.SOLANA)


async def test_embedded_chains_need_distinct_ids() -> None:
    with pytest.raises(ValueError, match="distinct"):
        async with embedded_evm_chains([EmbeddedChainSpec("a", 7), EmbeddedChainSpec("b", 7)]):
            pass

"""What only a node with a real transaction pool shows (anvil, automine off):
a transaction priced out by a base-fee spike, replaced within the fee cap or
left waiting at it; a transaction of another sender stuck on our key; a
"replacement transaction underpriced" refusal from the pool itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from eth_account import Account

from chains import errors
from chains.base import Transfer, TxState, WaitReason
from chains.evm import FeePolicy
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import AnvilChain, anvil_chain, skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")

GWEI = 10**9


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil(request: pytest.FixtureRequest) -> AsyncIterator[AnvilChain]:
    skip_unless_selected(request.config, "anvil")
    async with anvil_chain("pool-node", 31_800_001) as chain:
        yield chain


async def _foreign(chain: AnvilChain, nonce: int, max_fee: int, tip: int) -> str:
    """A transaction signed with the operator key outside the adapter (another sender)."""
    tx: dict[str, Any] = {
        "chainId": chain.chain_id,
        "nonce": nonce,
        "to": Account.create().address,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    raw = chain.operator.sign_transaction(tx).raw_transaction
    return str(await chain.rpc("eth_sendRawTransaction", ["0x" + bytes(raw).hex()]))


async def _next_nonce(chain: AnvilChain) -> int:
    return int(await chain.rpc("eth_getTransactionCount", [chain.operator.address, "pending"]), 16)


async def test_a_priced_out_transaction_is_replaced_within_the_cap(anvil: AnvilChain) -> None:
    (pool,) = await anvil.create_pools([1_000_000])
    recipient = Account.create().address
    transfer = Transfer(tid(), pool, anvil.name, recipient, 300_000)
    adapter = anvil.new_adapter()
    await anvil.rpc("evm_setAutomine", [False])
    try:
        signed = await adapter.prepare(transfer)
        assert (await adapter.broadcast(signed)).state is TxState.PENDING
        assert signed.max_fee_per_gas is not None
        # The base fee jumps over what the transaction offers: it stays in the pool.
        await anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(signed.max_fee_per_gas * 3)])
        await anvil.rpc("evm_mine", [])
        waiting = await adapter.status(signed)
        # Kept in the pool (geth) or evicted (anvil): either way it waits, and says why.
        assert waiting.state in (TxState.PENDING, TxState.UNKNOWN)
        assert waiting.waiting is WaitReason.UNDERPRICED
        assert not waiting.fee_capped and adapter.due_for_replacement(signed, waiting)
        # With the cap at its current fee it cannot be bumped: it waits, and says so.
        capped = anvil.new_adapter(
            fees=FeePolicy(max_fee_per_gas=signed.max_fee_per_gas, priority_fee=1)
        )
        at_cap = await capped.status(signed)
        assert at_cap.fee_capped and "cap" in at_cap.detail
        assert not capped.due_for_replacement(signed, at_cap)
        with pytest.raises(errors.FeeCapExceeded):
            await capped.replace(signed)
        # Under the default cap it is re-priced at the same nonce and mined.
        bumped = await adapter.replace(signed)
        assert bumped.nonce == signed.nonce and bumped.max_fee_per_gas is not None
        assert bumped.max_fee_per_gas > signed.max_fee_per_gas * 3
        assert bumped.max_fee_per_gas <= adapter.config.fees.max_fee_per_gas
        await adapter.broadcast(bumped)
        await anvil.rpc("evm_mine", [])
        assert (await adapter.status(bumped)).landed
        assert (await adapter.status(signed)).state is TxState.DROPPED
    finally:
        await anvil.rpc("evm_setAutomine", [True])
    assert await anvil.token_balance(recipient) == 300_000
    assert await anvil.token_balance(pool.address) == 700_000


async def test_a_transaction_of_another_sender_on_the_key_is_stuck_not_queued_behind(
    anvil: AnvilChain,
) -> None:
    (pool,) = await anvil.create_pools([1_000])
    adapter = anvil.new_adapter()
    transfer = Transfer(tid(), pool, anvil.name, Account.create().address, 10)
    await anvil.rpc("evm_setAutomine", [False])
    try:
        nonce = await _next_nonce(anvil)
        head = await anvil.rpc("eth_getBlockByNumber", ["latest", False])
        await _foreign(anvil, nonce, max_fee=2 * int(head["baseFeePerGas"], 16), tip=GWEI // 10)
        with pytest.raises(errors.StuckTransaction) as caught:
            await adapter.prepare(transfer)
        assert caught.value.fields["nonces"] == (nonce,)
        # The operator ends it: a bumped no-op at that nonce takes its place.
        cancel = await adapter.cancel(nonce)
        assert cancel.nonce == nonce and cancel.amount == 0
        await adapter.broadcast(cancel)
        await anvil.rpc("evm_mine", [])
        assert (await adapter.status(cancel)).landed
    finally:
        await anvil.rpc("evm_setAutomine", [True])
    receipt = await adapter.send_transfer(transfer)  # nothing is in the way any more
    assert receipt.amount == 10


async def test_a_pool_refusing_our_replacement_is_a_nonce_conflict(anvil: AnvilChain) -> None:
    (pool,) = await anvil.create_pools([1_000])
    adapter = anvil.new_adapter()
    transfer = Transfer(tid(), pool, anvil.name, Account.create().address, 10)
    await anvil.rpc("evm_setAutomine", [False])
    try:
        signed = await adapter.prepare(transfer)
        assert signed.nonce is not None and signed.max_fee_per_gas is not None
        # Between our signing and our broadcast, another sender takes the nonce, paying more.
        await _foreign(anvil, signed.nonce, signed.max_fee_per_gas * 2, signed.max_fee_per_gas)
        with pytest.raises(errors.NonceConflict) as caught:
            await adapter.broadcast(signed)
        assert caught.value.fields["holder_is_ours"] is False
        assert caught.value.tx_hash == signed.tx_ref
        await anvil.rpc("evm_mine", [])
    finally:
        await anvil.rpc("evm_setAutomine", [True])
    dropped = await adapter.status(signed)
    assert dropped.state is TxState.DROPPED and not dropped.final
    await anvil.finalize()
    assert (await adapter.status(signed)).final
    assert (await adapter.find_effect(transfer)).state is TxState.UNKNOWN  # never happened
    await adapter.send_transfer(transfer)  # so it is prepared again, under a fresh nonce
    assert await anvil.token_balance(pool.address) == 990

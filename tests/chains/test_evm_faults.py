"""EVM adapter under injected faults and disagreeing endpoints (embedded py-evm).

Faults come from :class:`chains.testing.FaultyEndpoint` in front of a real
embedded chain: timeouts, error payloads, a lagging view, a lying node. A
second chain with the same chain id and the same contract addresses poses as
another endpoint of the first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from eth_account import Account

from chains import errors
from chains.base import PoolRef, Transfer
from chains.embedded.evm import (
    EMBEDDED_RETRY,
    EmbeddedChainSpec,
    EmbeddedEvmChain,
    embedded_evm_chains,
    start_chain,
)
from chains.testing import FaultyEndpoint
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.evm_harness import skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHAIN_ID = 31_400_001


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chain(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedEvmChain]:
    skip_unless_selected(request.config, "embedded")
    async with embedded_evm_chains(
        [EmbeddedChainSpec("main", CHAIN_ID, pools=(5_000_000, 7))]
    ) as env:
        yield env["main"]


@pytest.fixture
def faulty(chain: EmbeddedEvmChain) -> FaultyEndpoint:
    return FaultyEndpoint(chain.endpoint, label="flaky")


async def test_timeouts_then_success_are_retried(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    clean = await chain.adapter.read_balances(chain.pools)
    faulty.time_out(2)
    snap = await chain.new_adapter([faulty]).read_balances(chain.pools)
    assert [r.amount for r in snap.reports] == [5_000_000, 7]
    assert (snap.block_number, snap.block_hash) == (clean.block_number, clean.block_hash)
    assert faulty.round_trips == clean.rpc_calls + 2
    assert snap.rpc_calls == clean.rpc_calls + 2


async def test_endless_timeouts_give_up_after_the_policy(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    faulty.time_out(1_000)
    with pytest.raises(errors.RpcTimeout) as caught:
        await chain.new_adapter([faulty]).read_balances(chain.pools)
    assert faulty.round_trips == EMBEDDED_RETRY.attempts
    assert caught.value.chain == "main"


async def test_transient_error_payload_is_retried(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    faulty.error_payload(1, -32000, "header not found", methods=["eth_call"])
    snap = await chain.new_adapter([faulty]).read_balances(chain.pools)
    assert [r.amount for r in snap.reports] == [5_000_000, 7]


async def test_permanent_error_payload_is_typed_and_not_retried(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    faulty.error_payload(10, -32602, "invalid argument 0: hex string without 0x prefix")
    with pytest.raises(errors.RpcResponseError) as caught:
        await chain.new_adapter([faulty]).read_balances(chain.pools)
    assert caught.value.code == -32602
    assert not caught.value.retryable
    assert faulty.round_trips == 1
    assert "flaky" in str(caught.value)


async def test_endpoint_serving_an_older_block_is_named(chain: EmbeddedEvmChain) -> None:
    lagging = FaultyEndpoint(chain.endpoint, label="lagging-node", lag=3)
    honest = FaultyEndpoint(chain.endpoint, label="honest-node")
    adapter = chain.new_adapter([honest, lagging])
    with pytest.raises(errors.EndpointDisagreement) as caught:
        await adapter.read_balances(chain.pools)
    message = str(caught.value)
    assert "lagging-node is behind" in message
    assert caught.value.fields["what"] == "block"
    assert set(caught.value.fields["endpoints"]) == {"honest-node", "lagging-node"}


async def test_agreeing_endpoints_each_answer_and_costs_add_up(chain: EmbeddedEvmChain) -> None:
    one = await chain.adapter.read_balances(chain.pools)
    a, b = FaultyEndpoint(chain.endpoint, label="a"), FaultyEndpoint(chain.endpoint, label="b")
    snap = await chain.new_adapter([a, b]).read_balances(chain.pools)
    assert [r.amount for r in snap.reports] == [r.amount for r in one.reports]
    assert a.round_trips == b.round_trips == one.rpc_calls
    assert snap.rpc_calls == 2 * one.rpc_calls


async def test_another_chain_posing_as_this_one_is_a_disagreement(
    chain: EmbeddedEvmChain,
) -> None:
    # Same chain id, same deployer key: same contract and pool addresses, other state.
    impostor = await start_chain(
        EmbeddedChainSpec("main", CHAIN_ID, pools=(5_000_000, 7)), admin_key=bytes(chain.admin.key)
    )
    assert [p.address for p in impostor.pools] == [p.address for p in chain.pools[:2]]
    await impostor.finalize()
    adapter = chain.new_adapter([chain.endpoint, impostor.endpoint])
    with pytest.raises(errors.EndpointDisagreement) as caught:
        await adapter.read_balances(chain.pools)
    assert impostor.endpoint.name in str(caught.value)


async def test_endpoint_of_another_chain_id_is_refused(chain: EmbeddedEvmChain) -> None:
    other = await start_chain(EmbeddedChainSpec("other", CHAIN_ID + 1))
    adapter = chain.new_adapter([chain.endpoint, other.endpoint])
    with pytest.raises(errors.EndpointDisagreement) as caught:
        await adapter.read_balances(chain.pools)
    assert caught.value.fields["what"] == "chain_id"
    assert str(CHAIN_ID + 1) in str(caught.value)


async def test_send_survives_a_timeout_and_moves_capital_once(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    (pool,) = await chain.create_pools([1_000_000])
    recipient = Account.create().address
    faulty.time_out(1, methods=["eth_sendRawTransaction"])
    faulty.time_out(1, methods=["eth_getTransactionReceipt"])
    adapter = chain.new_adapter([faulty])
    await adapter.send_transfer(Transfer(tid(), pool, "main", recipient, 250_000))
    assert await chain.token_balance(recipient) == 250_000
    assert await chain.token_balance(pool.address) == 750_000
    assert faulty.methods_seen.count("eth_sendRawTransaction") == 2


async def test_send_whose_answer_was_lost_is_not_sent_twice(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    (pool,) = await chain.create_pools([1_000_000])
    recipient = Account.create().address
    faulty.lose_response(1, methods=["eth_sendRawTransaction"])
    adapter = chain.new_adapter([faulty])
    transfer = Transfer(tid(), pool, "main", recipient, 300_000)
    receipt = await adapter.send_transfer(transfer)
    assert await chain.token_balance(recipient) == 300_000
    assert await chain.token_balance(pool.address) == 700_000
    # The resend was refused as a used nonce, recognised as our own landed transaction.
    assert "eth_getTransactionByHash" in faulty.methods_seen
    found = await adapter.find_transfer(transfer.transfer_id)
    assert found is not None and found.tx_ref == receipt.tx_ref


async def test_concurrent_sends_from_one_adapter_take_distinct_nonces(
    chain: EmbeddedEvmChain,
) -> None:
    import asyncio

    pools = await chain.create_pools([1_000] * 5)
    adapter = chain.new_adapter()
    recipients = [Account.create().address for _ in pools]
    receipts = await asyncio.gather(
        *(
            adapter.send_transfer(Transfer(tid(), p, "main", r, 100 + i))
            for i, (p, r) in enumerate(zip(pools, recipients, strict=True))
        )
    )
    assert len({r.tx_ref for r in receipts}) == 5
    for i, (p, r) in enumerate(zip(pools, recipients, strict=True)):
        assert await chain.token_balance(r) == 100 + i
        assert await chain.token_balance(p.address) == 1_000 - 100 - i


async def test_nonce_cache_resyncs_after_someone_else_used_the_key(
    chain: EmbeddedEvmChain,
) -> None:
    (pool,) = await chain.create_pools([1_000_000])
    first, second = chain.new_adapter(), chain.new_adapter()
    await first.send_transfer(Transfer(tid(), pool, "main", Account.create().address, 1))
    await second.send_transfer(Transfer(tid(), pool, "main", Account.create().address, 1))
    # ``first`` still caches the nonce ``second`` consumed: the node refuses, it resyncs.
    await first.send_transfer(Transfer(tid(), pool, "main", Account.create().address, 1))
    assert await chain.token_balance(pool.address) == 1_000_000 - 3


async def test_revert_from_estimation_is_mapped_by_selector(chain: EmbeddedEvmChain) -> None:
    (pool,) = await chain.create_pools([1_000_000])
    stranger = Account.create()
    await chain.fund_gas(stranger.address)
    adapter = chain.new_adapter(operator_key="0x" + bytes(stranger.key).hex())
    with pytest.raises(errors.Unauthorized) as caught:
        await adapter.send_transfer(Transfer(tid(), pool, "main", stranger.address, 10))
    assert caught.value.fields["revert"] == "Unauthorized"
    assert await chain.token_balance(pool.address) == 1_000_000


async def test_mined_but_failed_transaction_is_mapped_by_selector(
    chain: EmbeddedEvmChain,
) -> None:
    (pool,) = await chain.create_pools([1_000_000])
    stranger = Account.create()
    await chain.fund_gas(stranger.address)
    lying = FaultyEndpoint(chain.endpoint, label="lying")
    lying.answer(1, "eth_estimateGas", hex(200_000))  # hides the revert from the pre-check
    adapter = chain.new_adapter([lying], operator_key="0x" + bytes(stranger.key).hex())
    with pytest.raises(errors.Unauthorized) as caught:
        await adapter.send_transfer(Transfer(tid(), pool, "main", stranger.address, 10))
    assert caught.value.fields["revert"] == "Unauthorized"
    assert caught.value.fields["tx_hash"] in str(caught.value)  # names the mined transaction
    assert await chain.token_balance(pool.address) == 1_000_000


async def test_pool_ref_claiming_a_foreign_asset_is_refused_before_any_call(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    pool = chain.pools[0]
    foreign = PoolRef("main", pool.pool_id, pool.address, Account.create().address)
    with pytest.raises(errors.AccountMismatch):
        await chain.new_adapter([faulty]).read_balances([foreign])
    assert faulty.round_trips == 0


async def test_mixed_case_address_with_bad_checksum_is_invalid(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    pool = chain.pools[0]
    body = pool.address[2:]
    flipped = next(i for i, ch in enumerate(body) if ch.isalpha())
    bad = "0x" + body[:flipped] + body[flipped].swapcase() + body[flipped + 1 :]
    with pytest.raises(errors.InvalidAddress):
        await chain.new_adapter([faulty]).read_balances(
            [PoolRef("main", pool.pool_id, bad, pool.asset)]
        )
    assert faulty.round_trips == 0


async def test_reads_without_a_batch_reader_use_json_rpc_batches(chain: EmbeddedEvmChain) -> None:
    pools = await chain.create_pools([11, 0, 13])
    await chain.finalize()
    counted = FaultyEndpoint(chain.endpoint, label="counted")
    adapter = chain.new_adapter([counted], batch_reader=None)
    snap = await adapter.read_balances(pools)
    assert [r.amount for r in snap.reports] == [11, 0, 13]
    assert snap.rpc_calls == counted.round_trips == 3  # head, final block, one batch
    with pytest.raises(errors.UnknownPool):
        await adapter.read_balances(
            [PoolRef("main", "x", Account.create().address, pools[0].asset)]
        )


async def test_endpoints_agreeing_on_the_block_but_not_on_balances_name_the_pools(
    chain: EmbeddedEvmChain,
) -> None:
    from eth_abi import encode

    pools = chain.pools[:2]
    await chain.finalize()
    honest = await chain.adapter.read_balances(pools)
    forged = encode(
        ["address[]", "uint256[]", "uint256[]"],
        [[p.asset for p in pools], [honest.reports[0].amount, 999], [0, 0]],
    )
    liar = FaultyEndpoint(chain.endpoint, label="liar")
    liar.answer(1, "eth_call", "0x" + forged.hex())
    with pytest.raises(errors.EndpointDisagreement) as caught:
        await chain.new_adapter([chain.endpoint, liar]).read_balances(pools)
    assert caught.value.fields["what"] == "balances"
    assert caught.value.fields["pools"] == (pools[1].pool_id,)
    assert "liar" in str(caught.value)


async def test_malformed_reader_answer_is_typed(chain: EmbeddedEvmChain) -> None:
    liar = FaultyEndpoint(chain.endpoint, label="garbled")
    liar.answer(1, "eth_call", "0x1234")
    with pytest.raises(errors.MalformedResponse):
        await chain.new_adapter([liar]).read_balances(chain.pools[:2])


async def test_revert_data_is_recovered_from_every_payload_shape() -> None:
    from chains.evm_rpc import RevertedCall, error_from_payload

    data = "0x8e4a23d6" + "00" * 12 + "11" * 20
    shapes = [
        {"code": 3, "message": "execution reverted", "data": data},
        {"code": -32000, "message": "execution reverted", "data": {"data": data}},
        {"code": -32015, "message": f"VM Exception: reverted with custom error {data}"},
    ]
    for shape in shapes:
        err = error_from_payload(shape, endpoint="node")
        assert isinstance(err, RevertedCall)
        assert err.data == bytes.fromhex(data[2:])
    plain = error_from_payload({"code": -32602, "message": "invalid params"}, endpoint="node")
    assert not isinstance(plain, RevertedCall) and not plain.retryable
    limited = error_from_payload({"code": 429, "message": "rate limited"}, endpoint="node")
    assert limited.retryable


async def test_operator_key_never_shows_in_config_errors_or_logs(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    key_hex = bytes(chain.operator.key).hex()
    config = chain.config(operator_key=bytes(chain.operator.key))
    assert config.operator_key.get_secret_value() == "0x" + key_hex
    assert key_hex not in repr(config) and key_hex not in str(config)
    (pool,) = await chain.create_pools([100])
    faulty.time_out(1_000)
    caplog.set_level("DEBUG")
    with pytest.raises(errors.RpcTimeout) as caught:
        await chain.new_adapter([faulty]).send_transfer(
            Transfer(tid(), pool, "main", Account.create().address, 1)
        )
    assert key_hex not in str(caught.value) and key_hex not in repr(caught.value.fields)
    assert key_hex not in caplog.text
    assert any(r.name == "ballast.chains.retry" for r in caplog.records)  # retries logged


async def test_a_chain_shorter_than_its_confirmations_is_not_final(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    from chains.evm import Confirmations

    adapter = chain.new_adapter([faulty], finality=Confirmations(1_000_000))
    with pytest.raises(errors.NotFinal) as caught:
        await adapter.read_balances(chain.pools[:1])
    # Finality will come: retryable for the caller, but the adapter does not
    # spin waiting for it (one round trip, then the typed error).
    assert caught.value.retryable
    assert faulty.round_trips == 1


async def test_bad_operator_key_or_no_endpoint_is_a_typed_error(chain: EmbeddedEvmChain) -> None:
    from chains.evm import EvmAdapter

    bad_key = "0x" + "zz" * 32
    with pytest.raises(errors.InvalidInput) as caught:
        EvmAdapter(chain.config(operator_key=bad_key), [chain.endpoint])
    assert bad_key not in str(caught.value) and "zz" not in repr(caught.value.fields)
    with pytest.raises(errors.InvalidInput, match="no RPC endpoint"):
        EvmAdapter(chain.config(), [])


async def test_log_from_a_malformed_emitter_is_a_malformed_answer(
    chain: EmbeddedEvmChain, faulty: FaultyEndpoint
) -> None:
    """A node's bad data is the node's fault (MalformedResponse), not bad input of ours."""
    entry = {"address": "0xnot-an-address", "blockNumber": "0x1", "data": "0x", "topics": []}
    faulty.answer(1, "eth_getLogs", [entry])
    with pytest.raises(errors.MalformedResponse, match="log address"):
        await chain.new_adapter([faulty]).find_transfer(tid())


async def test_bad_config_values_are_typed_errors(chain: EmbeddedEvmChain) -> None:
    from chains.evm import Confirmations

    with pytest.raises(errors.InvalidInput, match="confirmations"):
        Confirmations(-1)
    with pytest.raises(errors.InvalidInput, match="positive chain id"):
        chain.config(chain_id=0)
    with pytest.raises(errors.InvalidInput, match="chunk_size"):
        chain.config(chunk_size=0)

"""Solana reads: batching, one slot per snapshot, finality, account checks, bad input."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
from solders.keypair import Keypair

from chains import errors
from chains.base import PoolRef, Transfer
from chains.embedded.litesvm_chain import LiteSvmChain
from chains.embedded.litesvm_http import Fault, FaultKind
from chains.embedded.solana_rpc import SolanaRpcServer
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.retry import RetryPolicy
from tests.chains.conformance import new_transfer_id
from tests.chains.solana_harness import connected, skip_unless_selected


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedSolana]:
    skip_unless_selected(request.config)
    async with embedded_solana(pools=[1_000, 2_000]) as e:
        yield e


@pytest.mark.parametrize(("n", "per_request"), [(250, 4), (250, 1), (100, 4), (101, 2)])
async def test_many_pools_read_in_ceil_n_over_100_calls_at_one_slot(
    env: EmbeddedSolana, n: int, per_request: int
) -> None:
    pools = env.create_pools(list(range(1, n + 1)))
    env.finalize()
    async with connected(env.config, calls_per_request=per_request) as adapter:
        before = env.server.calls.copy()
        http_before = env.server.http.http_requests
        snap = await adapter.read_balances(pools)
    chunks = math.ceil(n / 100)
    assert env.server.calls["getMultipleAccounts"] - before["getMultipleAccounts"] == chunks
    assert env.server.calls["getLatestBlockhash"] - before["getLatestBlockhash"] == 1
    assert snap.rpc_calls == math.ceil((chunks + 1) / per_request)
    assert env.server.http.http_requests - http_before == snap.rpc_calls
    assert [r.amount for r in snap.reports] == list(range(1, n + 1))
    assert snap.block_number == env.ledger.slot_at("finalized")
    assert snap.block_hash == str(env.ledger.blockhash_of(snap.block_number))


async def test_chunks_at_different_slots_are_read_again_at_one_slot(env: EmbeddedSolana) -> None:
    pools = env.create_pools([5] * 250)
    env.finalize()
    async with connected(env.config, calls_per_request=1) as adapter:
        # Finality moves by 3 slots right after the first chunk is answered.
        env.server.inject(Fault(FaultKind.ADVANCE, method="getMultipleAccounts", payload=3))
        start = env.ledger.slot_at("finalized")
        before = env.server.calls["getMultipleAccounts"]
        snap = await adapter.read_balances(pools)
    assert snap.block_number == start + 3
    assert env.server.calls["getMultipleAccounts"] - before == 6  # 3 chunks, twice
    assert {r.block_number for r in snap.reports} == {start + 3}


async def test_finalized_read_lags_a_new_balance_until_final(env: EmbeddedSolana) -> None:
    (pool,) = env.create_pools([42])
    with pytest.raises(errors.UnknownPool):  # created, not final yet
        await env.adapter.read_balances([pool])
    env.finalize()
    assert (await env.adapter.read_balances([pool])).reports[0].amount == 42


@pytest.mark.parametrize("wrong", ["mint", "owner"])
async def test_account_of_wrong_mint_or_owner_is_a_mismatch(
    env: EmbeddedSolana, wrong: str
) -> None:
    pool = env.foreign_pool(wrong=wrong)
    env.finalize()
    with pytest.raises(errors.AccountMismatch, match=wrong if wrong == "mint" else "owned by"):
        await env.adapter.read_balances([env.pools[0], pool])


async def test_non_token_account_is_a_mismatch(env: EmbeddedSolana) -> None:
    system_account = PoolRef(env.chain_name, "sys", str(env.authority.pubkey()), str(env.mint))
    with pytest.raises(errors.AccountMismatch, match="not an SPL token account"):
        await env.adapter.read_balances([system_account])


async def test_pool_naming_another_mint_is_refused_before_any_call(env: EmbeddedSolana) -> None:
    other = PoolRef(env.chain_name, "p", env.pools[0].address, str(Keypair().pubkey()))
    before = sum(env.server.calls.values())
    with pytest.raises(errors.AccountMismatch):
        await env.adapter.read_balances([other])
    assert sum(env.server.calls.values()) == before


BAD_KEYS = [
    "",
    "short",
    "0" * 44,  # '0' is not base-58
    "O" * 32,
    "I" * 32,
    "l" * 32,
    "1" * 45,
    "z" * 44,  # base-58 but decodes past 32 bytes
    "0x" + "ab" * 20,  # an EVM address
    " " + "1" * 32,
]


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_invalid_pubkeys_are_refused_before_any_call(env: EmbeddedSolana, bad: str) -> None:
    before = sum(env.server.calls.values())
    with pytest.raises(errors.InvalidAddress):
        await env.adapter.read_balances([PoolRef(env.chain_name, "p", bad, str(env.mint))])
    with pytest.raises(errors.InvalidAddress):
        await env.adapter.read_balances([PoolRef(env.chain_name, "p", env.pools[0].address, bad)])
    with pytest.raises(errors.InvalidAddress):
        await env.adapter.send_transfer(
            Transfer(new_transfer_id(), env.pools[0], env.chain_name, bad, 1)
        )
    assert sum(env.server.calls.values()) == before


async def test_one_bad_pool_among_good_ones_fails_the_read_before_any_call(
    env: EmbeddedSolana,
) -> None:
    before = sum(env.server.calls.values())
    foreign = PoolRef("other-chain", "x", env.pools[0].address, str(env.mint))
    with pytest.raises(errors.UnknownChain):
        await env.adapter.read_balances([env.pools[0], foreign])
    assert sum(env.server.calls.values()) == before


async def test_witness_endpoint_that_agrees_is_asked_once(env: EmbeddedSolana) -> None:
    witness = await SolanaRpcServer(env.ledger).start()  # same cluster, another node
    try:
        async with connected(env.config, witness_urls=(witness.url,)) as adapter:
            snap = await adapter.read_balances(env.pools)
    finally:
        await witness.close()
    assert [r.amount for r in snap.reports] == [1_000, 2_000]
    assert witness.calls["getBlock"] == 1
    assert snap.rpc_calls == 2


async def test_witness_on_another_fork_is_a_disagreement(env: EmbeddedSolana) -> None:
    other = LiteSvmChain(finality_depth=env.ledger.finality_depth)
    other.advance(env.ledger.slot + 100)
    witness = await SolanaRpcServer(other).start()
    try:
        async with connected(env.config, witness_urls=(witness.url,)) as adapter:
            with pytest.raises(errors.EndpointDisagreement) as caught:
                await adapter.read_balances(env.pools)
    finally:
        await witness.close()
    assert caught.value.fields["slot"] == env.ledger.slot_at("finalized")


async def test_lagging_witness_is_a_transient_error(env: EmbeddedSolana) -> None:
    witness = await SolanaRpcServer(LiteSvmChain()).start()  # far behind our slot
    try:
        async with connected(
            env.config, witness_urls=(witness.url,), retry=RetryPolicy(attempts=1)
        ) as adapter:
            with pytest.raises(errors.RpcResponseError) as caught:
                await adapter.read_balances(env.pools)
    finally:
        await witness.close()
    assert caught.value.code == -32004
    assert caught.value.retryable

"""Solana transfers: lost confirmations, blockhash expiry, chain-enforced ids.

Faults are injected into the embedded node on purpose (a dropped answer, a
transaction the leader lost); everything else is the real SVM.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from solders.keypair import Keypair

from chains import errors
from chains.base import Commitment, PoolRef, Transfer, TransferStatus
from chains.embedded.litesvm_http import Fault, FaultKind
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.solana import connect_solana, marker_address
from tests.chains.conformance import new_transfer_id
from tests.chains.solana_harness import connected, skip_unless_selected


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedSolana]:
    skip_unless_selected(request.config)
    async with embedded_solana(pools=[5_000_000], confirm_timeout=0.2) as e:
        yield e


def transfer(env: EmbeddedSolana, amount: int = 1_000, tid: str | None = None) -> Transfer:
    recipient = env.new_token_account()
    return Transfer(tid or new_transfer_id(), env.pools[0], env.chain_name, str(recipient), amount)


async def test_lost_confirmation_is_found_again_and_never_resent(env: EmbeddedSolana) -> None:
    t = transfer(env, 250_000)
    env.server.inject(Fault(FaultKind.DROP_RESPONSE, method="sendTransaction"))
    receipt = await env.adapter.send_transfer(t)
    # The answer was lost after the node executed it: the adapter polled the
    # signature it signed instead of sending again.
    assert env.server.sends_received == 1
    assert env.ledger.processed_count == 1
    assert receipt.status is TransferStatus.CONFIRMED
    assert env.token_balance(t.recipient) == 250_000
    env.finalize()
    found = await env.adapter.find_transfer(t.transfer_id)
    assert found is not None
    assert found.tx_ref == receipt.tx_ref
    assert found.amount == 250_000
    assert found.status is TransferStatus.FINALIZED


async def test_dropped_transaction_is_not_resigned_while_blockhash_valid(
    env: EmbeddedSolana,
) -> None:
    t = transfer(env)
    env.server.inject(Fault(FaultKind.SWALLOW, method="sendTransaction"))
    with pytest.raises(errors.ConfirmationTimeout) as caught:
        await env.adapter.send_transfer(t)
    assert caught.value.transfer_id == t.transfer_id
    # Asking again while the blockhash is valid only polls: no second send.
    env.ledger.advance(env.ledger.blockhash_validity // 2)
    with pytest.raises(errors.ConfirmationTimeout):
        await env.adapter.send_transfer(t)
    assert env.server.sends_received == 1
    assert env.ledger.processed_count == 0
    assert env.token_balance(t.recipient) == 0
    assert await env.adapter.find_transfer(t.transfer_id) is None


async def test_resigned_only_after_expiry_at_finalized_with_signature_unknown(
    env: EmbeddedSolana,
) -> None:
    t = transfer(env, 3_000)
    env.server.inject(Fault(FaultKind.SWALLOW, method="sendTransaction"))
    with pytest.raises(errors.ConfirmationTimeout) as caught:
        await env.adapter.send_transfer(t)
    first_sig = caught.value.fields["signature"]
    # Expired at processed but not yet at finalized: still not re-signed.
    env.ledger.advance(env.ledger.blockhash_validity + 1)
    with pytest.raises(errors.ConfirmationTimeout):
        await env.adapter.send_transfer(t)
    assert env.server.sends_received == 1
    # Past its last valid height at finalized and unknown: re-signed once.
    env.expire_blockhashes()
    before = env.server.calls["getSignatureStatuses"]
    receipt = await env.adapter.send_transfer(t)
    assert receipt.tx_ref != first_sig
    assert env.server.calls["getSignatureStatuses"] - before >= 2  # asked before re-signing
    assert env.server.sends_received == 2
    assert env.ledger.processed_count == 1
    assert env.token_balance(t.recipient) == 3_000
    assert env.token_balance(env.pools[0].address) == 5_000_000 - 3_000


async def test_landed_transfer_is_reported_not_resigned_after_expiry(env: EmbeddedSolana) -> None:
    """Lost answer, then the blockhash expires: the signature is known, so no re-sign."""
    t = transfer(env, 7)
    env.server.inject(Fault(FaultKind.DROP_RESPONSE, method="sendTransaction"))
    env.server.inject(
        Fault(
            FaultKind.ERROR,
            method="getSignatureStatuses",
            payload={"code": -32602, "message": "Invalid params"},
        )
    )
    with pytest.raises(errors.RpcResponseError):
        await env.adapter.send_transfer(t)
    env.expire_blockhashes()
    receipt = await env.adapter.send_transfer(t)
    assert receipt.status is TransferStatus.FINALIZED
    assert env.server.sends_received == 1
    assert env.token_balance(t.recipient) == 7


async def test_two_senders_with_one_id_move_capital_once(env: EmbeddedSolana) -> None:
    """Two router replicas race on one id: identical signatures, one transaction."""
    async with connected(env.config) as other:
        t = transfer(env, 1_000_000)
        results = await asyncio.gather(env.adapter.send_transfer(t), other.send_transfer(t))
    assert results[0].tx_ref == results[1].tx_ref  # ed25519 is deterministic
    assert env.ledger.processed_count == 1
    assert env.token_balance(t.recipient) == 1_000_000
    assert env.token_balance(env.pools[0].address) == 4_000_000


async def test_chain_refuses_a_second_transaction_for_one_id(env: EmbeddedSolana) -> None:
    """A replica whose node lags misses the marker in its pre-check: the chain refuses."""
    t = transfer(env, 1_000_000)
    env.finalize()
    await env.adapter.send_transfer(t)
    async with connected(env.config) as other:
        env.server.inject(Fault(FaultKind.STALE, method="getMultipleAccounts"))
        with pytest.raises(errors.DuplicateTransfer) as caught:
            await other.send_transfer(t)
    assert "marker" in str(caught.value)
    assert env.server.sends_received == 2  # the second one really reached the chain
    assert env.token_balance(t.recipient) == 1_000_000
    assert env.token_balance(env.pools[0].address) == 4_000_000


async def test_marker_is_derived_from_the_id(env: EmbeddedSolana) -> None:
    t = transfer(env)
    await env.adapter.send_transfer(t)
    marker = marker_address(env.authority.pubkey(), t.transfer_id)
    assert env.ledger.svm.get_account(marker) is not None


async def test_wrong_owner_pool_cannot_send(env: EmbeddedSolana) -> None:
    pool = env.foreign_pool(wrong="owner")
    recipient = env.new_token_account()
    with pytest.raises(errors.AccountMismatch, match="not the treasury authority"):
        await env.adapter.send_transfer(
            Transfer(new_transfer_id(), pool, env.chain_name, str(recipient), 10)
        )
    assert env.server.sends_received == 0


async def test_recipient_of_another_mint_is_refused(env: EmbeddedSolana) -> None:
    recipient = env.new_token_account(mint=Keypair().pubkey())
    with pytest.raises(errors.AccountMismatch, match="mint"):
        await env.adapter.send_transfer(
            Transfer(new_transfer_id(), env.pools[0], env.chain_name, str(recipient), 10)
        )
    with pytest.raises(errors.AccountMismatch, match="no token account"):
        await env.adapter.send_transfer(
            Transfer(new_transfer_id(), env.pools[0], env.chain_name, str(Keypair().pubkey()), 10)
        )
    assert env.server.sends_received == 0
    assert env.token_balance(env.pools[0].address) == 5_000_000


async def test_amount_above_u64_is_refused_before_any_call(env: EmbeddedSolana) -> None:
    before = sum(env.server.calls.values())
    with pytest.raises(errors.InvalidAmount, match="SPL token maximum"):
        await env.adapter.send_transfer(transfer(env, 2**64))
    assert sum(env.server.calls.values()) == before


async def test_cross_chain_transfer_has_no_route(env: EmbeddedSolana) -> None:
    t = Transfer(new_transfer_id(), env.pools[0], "evm-1", "0x" + "11" * 20, 10)
    with pytest.raises(errors.UnknownChain):
        await env.adapter.send_transfer(t)


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        ({"InstructionError": [1, {"Custom": 1}]}, errors.InsufficientCapital),
        ({"InstructionError": [0, {"Custom": 0}]}, errors.DuplicateTransfer),
        ({"InstructionError": [1, {"Custom": 4}]}, errors.Unauthorized),
        ({"InstructionError": [2, "InvalidArgument"]}, errors.TransactionReverted),
        ("InsufficientFundsForFee", errors.InsufficientCapital),
        ({"InstructionError": "garbage"}, errors.TransactionReverted),
        (None, errors.TransactionReverted),
    ],
)
async def test_preflight_failures_are_typed_and_nothing_moves(
    env: EmbeddedSolana, err: object, expected: type[Exception]
) -> None:
    t = transfer(env)
    payload = {
        "code": -32002,
        "message": "Transaction simulation failed",
        "data": {"err": err, "logs": ["Program log: x"]},
    }
    env.server.inject(Fault(FaultKind.ERROR, method="sendTransaction", payload=payload))
    with pytest.raises(expected):
        await env.adapter.send_transfer(t)
    assert env.ledger.processed_count == 0
    # Not left in flight: the same transfer can be sent afterwards, once.
    receipt = await env.adapter.send_transfer(t)
    assert receipt.amount == 1_000
    assert env.token_balance(t.recipient) == 1_000


async def test_secret_key_never_shows(env: EmbeddedSolana) -> None:
    secret = bytes(env.authority)
    texts = [repr(env.config), repr(env.adapter), str(env.config)]
    try:
        await env.adapter.send_transfer(transfer(env, 10**12))
    except errors.ChainError as exc:
        texts += [str(exc), repr(exc.fields)]
    for text in texts:
        assert secret.hex() not in text
        assert str(list(secret[:8]))[1:-1] not in text
        assert str(env.authority) not in text  # solders renders the keypair as base58


async def test_unknown_pool_on_send_is_typed(env: EmbeddedSolana) -> None:
    ghost = PoolRef(env.chain_name, "ghost", str(Keypair().pubkey()), str(env.mint))
    with pytest.raises(errors.UnknownPool):
        await env.adapter.send_transfer(
            Transfer(new_transfer_id(), ghost, env.chain_name, str(env.new_token_account()), 1)
        )


async def test_concurrent_sends_of_one_id_in_one_adapter_move_once(env: EmbeddedSolana) -> None:
    t = transfer(env, 500)
    results = await asyncio.gather(
        env.adapter.send_transfer(t), env.adapter.send_transfer(t), return_exceptions=True
    )
    kinds = sorted(type(r).__name__ for r in results)
    assert kinds == ["DuplicateTransfer", "TransferReceipt"]
    assert env.server.sends_received == 1
    assert env.token_balance(t.recipient) == 500


async def test_pool_cannot_pay_itself(env: EmbeddedSolana) -> None:
    pool = env.pools[0]
    with pytest.raises(errors.InvalidAddress):
        await env.adapter.send_transfer(
            Transfer(new_transfer_id(), pool, env.chain_name, pool.address, 1)
        )


async def test_send_waits_for_finalized_when_asked(request: pytest.FixtureRequest) -> None:
    skip_unless_selected(request.config)
    async with embedded_solana(
        pools=[9_000], confirm_timeout=0.1, send_commitment=Commitment.FINALIZED
    ) as env:
        t = transfer(env, 4_000)
        with pytest.raises(errors.ConfirmationTimeout, match="landed, not yet final"):
            await env.adapter.send_transfer(t)
        assert env.token_balance(t.recipient) == 4_000
        env.finalize()
        receipt = await env.adapter.send_transfer(t)  # resumes the one in flight
        assert receipt.status is TransferStatus.FINALIZED
        assert env.server.sends_received == 1


async def test_failure_on_chain_without_preflight_is_typed(request: pytest.FixtureRequest) -> None:
    """Preflight skipped and the pre-check fooled by a lagging node: the transaction
    lands, fails on the marker, and the status poll reports DuplicateTransfer."""
    skip_unless_selected(request.config)
    async with embedded_solana(pools=[9_000], skip_preflight=True) as env:
        t = transfer(env, 1_000)
        env.finalize()
        first = await env.adapter.send_transfer(t)
        async with connected(env.config) as other:
            env.server.inject(Fault(FaultKind.STALE, method="getMultipleAccounts"))
            with pytest.raises(errors.DuplicateTransfer):
                await other.send_transfer(t)
        assert env.ledger.processed_count == 2  # the failed one landed too
        assert env.token_balance(t.recipient) == 1_000
        found = await env.adapter.find_transfer(t.transfer_id)
        assert found is not None and found.tx_ref == first.tx_ref


async def test_latest_is_not_a_send_commitment(env: EmbeddedSolana) -> None:
    with pytest.raises(errors.InvalidInput):
        await connect_solana(replace(env.config, send_commitment=Commitment.LATEST))

"""The bridge on Solana: sends into the escrow with the destination in the memo,
deliveries out of it under an inbound marker; cessions are EVM only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from eth_account import Account

from chains import errors
from chains.base import Cession, EffectKind, InboundTransfer, Recovery, Transfer, TxState
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.solana import (
    U64_MAX,
    SolanaAdapter,
    inbound_marker_address,
    marker_address,
)
from tests.chains.conformance import new_transfer_id as tid
from tests.chains.solana_harness import connected, skip_unless_selected

EVM_CHAIN, EVM_ID = "evm-1", 31_001


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedSolana]:
    skip_unless_selected(request.config)
    async with embedded_solana(pools=[5_000_000]) as e:
        yield e


@pytest.fixture
async def bridged(env: EmbeddedSolana) -> AsyncIterator[SolanaAdapter]:
    escrow = env.create_escrow(2_000_000)
    env.finalize()
    async with connected(env.config, bridge_escrow=str(escrow), routes={EVM_CHAIN: EVM_ID}) as a:
        yield a


def _escrow(adapter: SolanaAdapter) -> str:
    assert adapter._config.bridge_escrow is not None
    return adapter._config.bridge_escrow


async def test_a_bridge_send_pays_the_escrow_and_names_the_destination(
    env: EmbeddedSolana, bridged: SolanaAdapter
) -> None:
    recipient = Account.create().address
    transfer = Transfer(tid(), env.pools[0], EVM_CHAIN, recipient, 1_500)
    signed = await bridged.prepare(transfer)
    assert signed.kind is EffectKind.BRIDGE_SEND
    await bridged.broadcast(signed)
    assert (await bridged.status(signed)).landed
    assert env.token_balance(_escrow(bridged)) == 2_000_000 + 1_500
    assert env.token_balance(env.pools[0].address) == 5_000_000 - 1_500
    marker = marker_address(env.authority.pubkey(), transfer.transfer_id)
    (record,) = env.ledger.signatures_for(marker, "confirmed")
    padded = "00" * 12 + recipient[2:].lower()
    memo = f"ballast:{transfer.transfer_id}:to:{EVM_ID}:{padded}"
    assert record.memo == f"[{len(memo)}] {memo}"  # as a node renders memos
    found = await bridged.find_effect(transfer)
    assert found.landed and found.tx_ref == signed.tx_ref and found.amount == 1_500


async def test_a_delivery_pays_out_of_the_escrow_once(
    env: EmbeddedSolana, bridged: SolanaAdapter
) -> None:
    recipient = str(env.new_token_account())
    inbound = InboundTransfer(tid(), EVM_CHAIN, env.chain_name, recipient, 600_000, b"")
    receipt = await bridged.complete_inbound(inbound)
    assert receipt.amount == 600_000
    assert env.token_balance(recipient) == 600_000
    assert env.token_balance(_escrow(bridged)) == 2_000_000 - 600_000
    with pytest.raises(errors.DuplicateTransfer):  # the inbound marker exists
        await bridged.complete_inbound(inbound)
    env.finalize()
    found = await bridged.find_inbound(inbound.transfer_id)
    assert found is not None and found.tx_ref == receipt.tx_ref and found.amount == 600_000
    effect = await bridged.find_effect(inbound)
    assert effect.state is TxState.FINAL
    # The same id leaving this chain is another direction, another marker.
    assert await bridged.find_transfer(inbound.transfer_id) is None
    assert inbound_marker_address(env.authority.pubkey(), inbound.transfer_id) != (
        marker_address(env.authority.pubkey(), inbound.transfer_id)
    )
    assert env.token_balance(recipient) == 600_000


async def test_a_delivery_beyond_the_escrow_moves_nothing(
    env: EmbeddedSolana, bridged: SolanaAdapter
) -> None:
    recipient = str(env.new_token_account())
    inbound = InboundTransfer(tid(), EVM_CHAIN, env.chain_name, recipient, 2_000_001, b"")
    with pytest.raises(errors.InsufficientCapital, match="escrow"):
        await bridged.prepare(inbound)
    assert env.token_balance(recipient) == 0


async def test_without_an_escrow_or_a_route_there_is_no_bridge(
    env: EmbeddedSolana, bridged: SolanaAdapter
) -> None:
    recipient = str(env.new_token_account())
    with pytest.raises(errors.UnknownChain):  # the plain adapter has no escrow
        await env.adapter.prepare(
            InboundTransfer(tid(), EVM_CHAIN, env.chain_name, recipient, 1, b"")
        )
    with pytest.raises(errors.UnknownChain):  # no route from there
        await bridged.prepare(
            InboundTransfer(tid(), "elsewhere", env.chain_name, recipient, 1, b"")
        )
    with pytest.raises(errors.UnknownChain):
        await bridged.prepare(
            Transfer(tid(), env.pools[0], "elsewhere", Account.create().address, 1)
        )


async def test_cessions_and_recoveries_are_evm_only(env: EmbeddedSolana) -> None:
    cession = Cession(tid(), env.pools[0], Account.create().address, 10, 1)
    recovery = Recovery(tid(), env.chain_name, Account.create().address, tid(), 10)
    for effect in (cession, recovery):
        with pytest.raises(errors.UnsupportedEffect, match="EVM only"):
            await env.adapter.prepare(effect)
        with pytest.raises(errors.UnsupportedEffect):
            await env.adapter.find_effect(effect)


async def test_spl_amounts_are_checked_at_u64(env: EmbeddedSolana) -> None:
    recipient = str(env.new_token_account())
    widest = Transfer(tid(), env.pools[0], env.chain_name, recipient, U64_MAX)
    with pytest.raises(errors.InsufficientCapital):  # the width is fine; the pool is short
        await env.adapter.prepare(widest)
    before = sum(env.server.calls.values())
    with pytest.raises(errors.InvalidAmount, match="SPL"):
        await env.adapter.prepare(
            Transfer(tid(), env.pools[0], env.chain_name, recipient, U64_MAX + 1)
        )
    assert sum(env.server.calls.values()) == before  # refused before any call

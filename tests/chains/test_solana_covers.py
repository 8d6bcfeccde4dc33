"""Solana covers beyond the shared suite: the certificate is really a one-of-one
mint, the chain (not only the pre-checks) refuses a second opening and an
over-limit payment, and a burnt certificate leaves nobody to pay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount

from chains import errors
from chains.base import ClaimPayment, CoverOpening, TxState
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.solana import TOKEN_PROGRAM_ID
from chains.solana_covers import (
    allowance_account,
    associated_token_address,
    certificate_mint,
    limit_mint,
)
from tests.chains.conformance import new_transfer_id
from tests.chains.solana_harness import skip_unless_selected


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedSolana]:
    skip_unless_selected(request.config)
    async with embedded_solana(pools=[5_000_000]) as env:
        yield env


def opening_for(env: EmbeddedSolana, holder: Pubkey, *, limit: int = 1_000_000) -> CoverOpening:
    payer = env.new_payer(50_000)
    return CoverOpening(
        new_transfer_id(), env.pools[0], limit, 0, 10_000, str(payer.pubkey()), str(holder)
    )


async def land(env: EmbeddedSolana, effect: CoverOpening | ClaimPayment) -> None:
    signed = await env.adapter.prepare(effect)
    await env.adapter.broadcast(signed)
    assert (await env.adapter.status(signed)).landed


async def test_certificate_is_a_one_of_one_mint_in_the_holders_ata(env: EmbeddedSolana) -> None:
    holder = Keypair().pubkey()
    opening = opening_for(env, holder)
    await land(env, opening)
    authority = env.authority.pubkey()
    mint_account = env.ledger.svm.get_account(certificate_mint(authority, opening.cover_id))
    assert mint_account is not None and mint_account.owner == TOKEN_PROGRAM_ID
    mint = Mint.from_bytes(bytes(mint_account.data))
    assert (mint.supply, mint.decimals, mint.mint_authority) == (1, 0, None)
    assert mint.freeze_authority is None
    ata = associated_token_address(holder, certificate_mint(authority, opening.cover_id))
    held = env.ledger.svm.get_account(ata)
    assert held is not None
    token = TokenAccount.from_bytes(bytes(held.data))
    assert (token.owner, token.amount) == (holder, 1)
    allowance = env.ledger.svm.get_account(allowance_account(authority, opening.cover_id))
    assert allowance is not None
    state = TokenAccount.from_bytes(bytes(allowance.data))
    assert (state.mint, state.owner, state.amount) == (limit_mint(authority), authority, 1_000_000)
    # A second cover reuses the limit mint created by the first.
    await land(env, opening_for(env, holder))
    assert await env.adapter.certificate_holder(env.pools[0], opening.cover_id) == str(holder)


async def test_the_chain_refuses_a_second_opening_and_an_over_limit_payment(
    env: EmbeddedSolana,
) -> None:
    opening = opening_for(env, Keypair().pubkey(), limit=500_000)
    twin = CoverOpening(
        opening.cover_id, opening.pool, 700_000, 0, 10_000, opening.payer, opening.holder
    )
    first, second = await env.adapter.prepare(opening), await env.adapter.prepare(twin)
    await env.adapter.broadcast(first)
    with pytest.raises(errors.DuplicateTransfer):  # both passed the pre-checks
        await env.adapter.broadcast(second)
    cover, pool = opening.cover_id, opening.pool
    pay = [
        await env.adapter.prepare(ClaimPayment(new_transfer_id(), pool, cover, amount))
        for amount in (300_000, 300_000)
    ]
    await env.adapter.broadcast(pay[0])
    with pytest.raises(errors.PayoutOverCap):
        await env.adapter.broadcast(pay[1])
    assert (await env.adapter.status(pay[1])).state is TxState.UNKNOWN  # never landed
    state = await env.adapter.cover_state(pool, cover)
    assert state is not None and state.remaining == 200_000 and state.limit is None


async def test_a_burnt_certificate_leaves_nobody_to_pay(env: EmbeddedSolana) -> None:
    holder = env.new_payer(0)  # a wallet with SOL of its own
    opening = opening_for(env, holder.pubkey())
    await land(env, opening)
    mint = certificate_mint(env.authority.pubkey(), opening.cover_id)
    burn = Instruction(
        TOKEN_PROGRAM_ID,
        bytes([15]) + (1).to_bytes(8, "little") + bytes([0]),  # burn_checked 1, 0 decimals
        [
            AccountMeta(associated_token_address(holder.pubkey(), mint), False, True),
            AccountMeta(mint, False, True),
            AccountMeta(holder.pubkey(), True, False),
        ],
    )
    env.run_as(holder, [burn])
    assert await env.adapter.certificate_holder(opening.pool, opening.cover_id) is None
    with pytest.raises(errors.UnknownCover):
        await env.adapter.prepare(
            ClaimPayment(new_transfer_id(), opening.pool, opening.cover_id, 1)
        )


async def test_payer_without_a_token_account_is_premium_unpaid(env: EmbeddedSolana) -> None:
    payer, holder = Keypair().pubkey(), Keypair().pubkey()
    opening = CoverOpening(new_transfer_id(), env.pools[0], 10, 0, 1, str(payer), str(holder))
    with pytest.raises(errors.PremiumUnpaid):
        await env.adapter.prepare(opening)

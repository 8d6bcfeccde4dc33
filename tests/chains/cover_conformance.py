"""Covers and claim payments: one suite for both chain families.

A backend's conformance class mixes in :class:`CoverConformance`; its harness
adds the :class:`CoverHarness` back door (wallets that can sign, a payer funded
and approved for a premium, a certificate handed on by its holder). Every
assertion reads through the adapter or straight from the chain.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest

from chains import errors
from chains.base import (
    ClaimPayment,
    CoverOpening,
    CoverReader,
    EffectKind,
    PoolRef,
    TxState,
)
from tests.chains.conformance import ChainHarness, new_transfer_id

LIMIT = 1_000_000
LOCKED = 400_000
PREMIUM = 25_000


class CoverHarness(ChainHarness, Protocol):
    adapter: Any  # ChainAdapter and CoverReader

    async def new_wallet(self) -> str:
        """A fresh account whose key the harness keeps (it can sign, hold, be paid)."""
        ...

    async def fund_payer(self, payer: str, pool: PoolRef, amount: int, approve: int) -> None:
        """Give ``payer`` ``amount`` of the asset and let the pool collect ``approve``
        of it (EVM: ``approve(pool)``; Solana: SPL approve of the treasury authority)."""
        ...

    async def wallet_balance(self, wallet: str) -> int:
        """What a claim payment to ``wallet`` credits (EVM: its balance; Solana: its ATA)."""
        ...

    async def transfer_certificate(
        self, pool: PoolRef, cover_id: str, holder: str, to: str
    ) -> None:
        """The holder hands the certificate on, signing itself (no adapter involved)."""
        ...


async def open_cover(
    harness: CoverHarness, pool: PoolRef, *, limit: int = LIMIT, locked: int = LOCKED
) -> tuple[CoverOpening, str, str]:
    """A bound cover (premium paid, certificate issued): (opening, payer, holder)."""
    payer, holder = await harness.new_wallet(), await harness.new_wallet()
    await harness.fund_payer(payer, pool, PREMIUM, PREMIUM)
    opening = CoverOpening(new_transfer_id(), pool, limit, locked, PREMIUM, payer, holder)
    signed = await harness.adapter.prepare(opening)
    await harness.adapter.broadcast(signed)
    assert (await harness.adapter.status(signed)).landed
    return opening, payer, holder


async def pay(harness: CoverHarness, payment: ClaimPayment) -> Any:
    signed = await harness.adapter.prepare(payment)
    await harness.adapter.broadcast(signed)
    outcome = await harness.adapter.status(signed)
    assert outcome.landed, outcome.detail
    return signed


class CoverConformance:
    """Cover binding and claim payments, as the claims work drives them through the ports."""

    async def test_opening_collects_premium_and_issues_certificate(
        self, harness: CoverHarness
    ) -> None:
        (pool,) = await harness.create_pools([5_000_000])
        assert isinstance(harness.adapter, CoverReader)
        payer, holder = await harness.new_wallet(), await harness.new_wallet()
        await harness.fund_payer(payer, pool, 100_000, PREMIUM)
        opening = CoverOpening(new_transfer_id(), pool, LIMIT, LOCKED, PREMIUM, payer, holder)
        assert await harness.adapter.certificate_holder(pool, opening.cover_id) is None
        assert await harness.adapter.cover_state(pool, opening.cover_id) is None
        signed = await harness.adapter.prepare(opening)
        assert signed.kind is EffectKind.COVER_OPEN and signed.effect_id == opening.cover_id
        assert signed.amount == PREMIUM
        assert (await harness.adapter.find_effect(opening)).state is TxState.UNKNOWN
        await harness.adapter.broadcast(signed)
        await harness.adapter.broadcast(signed)  # the same bytes again: one opening
        assert (await harness.adapter.status(signed)).landed
        assert await harness.token_balance(pool.address) == 5_000_000 + PREMIUM
        assert await harness.wallet_balance(payer) == 100_000 - PREMIUM
        assert await harness.adapter.certificate_holder(pool, opening.cover_id) == holder
        await harness.finalize()
        found = await harness.adapter.find_effect(opening)
        assert found.state is TxState.FINAL and found.tx_ref == signed.tx_ref
        assert found.amount == PREMIUM
        state = await harness.adapter.cover_state(pool, opening.cover_id)
        assert state is not None and state.finalized and state.open
        assert state.holder == holder and state.remaining == LIMIT
        if state.limit is not None:  # EVM keeps the cover's accounting on chain
            assert (state.limit, state.locked, state.paid) == (LIMIT, LOCKED, 0)
        with pytest.raises(errors.DuplicateTransfer):  # a cover id binds once
            await harness.adapter.prepare(opening)

    async def test_premium_not_approved_is_refused(self, harness: CoverHarness) -> None:
        (pool,) = await harness.create_pools([1_000_000])
        payer, holder = await harness.new_wallet(), await harness.new_wallet()
        await harness.fund_payer(payer, pool, 100_000, PREMIUM - 1)
        opening = CoverOpening(new_transfer_id(), pool, LIMIT, LOCKED, PREMIUM, payer, holder)
        with pytest.raises(errors.PremiumUnpaid):
            await harness.adapter.prepare(opening)
        assert await harness.adapter.certificate_holder(pool, opening.cover_id) is None
        assert await harness.wallet_balance(payer) == 100_000

    async def test_claim_is_paid_to_the_holder(self, harness: CoverHarness) -> None:
        (pool,) = await harness.create_pools([3_000_000])
        opening, _payer, holder = await open_cover(harness, pool)
        before = await harness.token_balance(pool.address)
        payment = ClaimPayment(new_transfer_id(), pool, opening.cover_id, 300_000)
        signed = await pay(harness, payment)
        assert signed.kind is EffectKind.CLAIM_PAYMENT and signed.amount == 300_000
        assert await harness.wallet_balance(holder) == 300_000
        assert await harness.token_balance(pool.address) == before - 300_000
        await harness.finalize()
        found = await harness.adapter.find_effect(payment)
        assert found.state is TxState.FINAL and found.final
        assert found.tx_ref == signed.tx_ref and found.amount == 300_000
        state = await harness.adapter.cover_state(pool, opening.cover_id)
        assert state is not None and state.remaining == LIMIT - 300_000
        if state.paid is not None:
            assert state.paid == 300_000 and state.locked == LOCKED - 300_000

    async def test_same_payment_id_pays_once(self, harness: CoverHarness) -> None:
        (pool,) = await harness.create_pools([3_000_000])
        opening, _payer, holder = await open_cover(harness, pool)
        payment = ClaimPayment(new_transfer_id(), pool, opening.cover_id, 200_000)
        signed = await pay(harness, payment)
        again = await harness.adapter.broadcast(signed)  # the same bytes: no second payment
        assert again.tx_ref == signed.tx_ref
        with pytest.raises(errors.DuplicateTransfer):  # a new transaction: refused
            await harness.adapter.prepare(payment)
        with pytest.raises(errors.DuplicateTransfer):  # another amount, same id: refused
            await harness.adapter.prepare(
                ClaimPayment(payment.payment_id, pool, opening.cover_id, 1)
            )
        assert await harness.wallet_balance(holder) == 200_000

    async def test_payment_over_the_limit_is_refused(self, harness: CoverHarness) -> None:
        (pool,) = await harness.create_pools([5_000_000])
        opening, _payer, holder = await open_cover(harness, pool)
        with pytest.raises(errors.PayoutOverCap) as caught:
            await harness.adapter.prepare(
                ClaimPayment(new_transfer_id(), pool, opening.cover_id, LIMIT + 1)
            )
        assert caught.value.fields["remaining"] == LIMIT
        # Two payments each within the limit, together over it: the chain refuses the second.
        first = await harness.adapter.prepare(
            ClaimPayment(new_transfer_id(), pool, opening.cover_id, 600_000)
        )
        second = await harness.adapter.prepare(
            ClaimPayment(new_transfer_id(), pool, opening.cover_id, 600_000)
        )
        await harness.adapter.broadcast(first)
        try:
            await harness.adapter.broadcast(second)
        except errors.PayoutOverCap:
            pass  # refused before it landed (Solana's preflight)
        else:
            outcome = await harness.adapter.status(second)
            assert outcome.state is TxState.FAILED and outcome.revert == "PayoutOverCap"
            error = await harness.adapter.failure_error(second, outcome)
            assert isinstance(error, errors.PayoutOverCap)
        assert await harness.wallet_balance(holder) == 600_000
        state = await harness.adapter.cover_state(pool, opening.cover_id)
        assert state is not None and state.remaining == LIMIT - 600_000

    async def test_payment_after_a_certificate_transfer_pays_the_new_holder(
        self, harness: CoverHarness
    ) -> None:
        (pool,) = await harness.create_pools([3_000_000])
        opening, _payer, holder = await open_cover(harness, pool)
        await pay(harness, ClaimPayment(new_transfer_id(), pool, opening.cover_id, 100_000))
        buyer = await harness.new_wallet()
        await harness.transfer_certificate(pool, opening.cover_id, holder, buyer)
        assert await harness.adapter.certificate_holder(pool, opening.cover_id) == buyer
        await pay(harness, ClaimPayment(new_transfer_id(), pool, opening.cover_id, 250_000))
        assert await harness.wallet_balance(holder) == 100_000
        assert await harness.wallet_balance(buyer) == 250_000

    async def test_payment_on_an_unknown_cover_is_refused(self, harness: CoverHarness) -> None:
        (pool,) = await harness.create_pools([1_000_000])
        with pytest.raises(errors.UnknownCover):
            await harness.adapter.prepare(
                ClaimPayment(new_transfer_id(), pool, new_transfer_id(), 10)
            )
        assert await harness.token_balance(pool.address) == 1_000_000

    async def test_payment_over_the_pool_capital_is_refused(self, harness: CoverHarness) -> None:
        (pool,) = await harness.create_pools([500_000])
        opening, _payer, holder = await open_cover(harness, pool, limit=2_000_000, locked=0)
        with pytest.raises(errors.InsufficientCapital):
            await harness.adapter.prepare(
                ClaimPayment(new_transfer_id(), pool, opening.cover_id, 500_000 + PREMIUM + 1)
            )
        assert await harness.wallet_balance(holder) == 0

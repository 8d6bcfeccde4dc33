"""The claim lifecycle end to end on Solana, through the router and the executor
(embedded LiteSVM, real Temporal dev server, router over gRPC): covers bound
with a holder and a payer are opened on chain by the opening saga (premium into
the pool, a one-of-one certificate to the holder); an incident confirmed by 2 of
3 oracle reporters opens the claims, and the payout saga pays each
certificate's holder of record once, within the cover's terms; a payer who did
not approve the premium leaves the opening FAILED, nothing moved, and no claim
on it. Every balance is read straight from the ledger."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2
from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount
from temporalio.client import WorkflowExecutionStatus

from chains.base import ClaimPayment, TxState
from chains.solana import TOKEN_PROGRAM_ID
from chains.solana_covers import associated_token_address, certificate_mint
from router.app.claims import Claims
from router.app.openings import Openings
from router.domain.claims import ClaimStatus, PaymentStatus
from router.domain.incidents import IncidentKind
from router.domain.openings import OpeningStatus, chain_cover_id
from router.execution.payouts import PAYOUT_WORKFLOW, PayoutInput, PayoutKind, PayoutOutcome
from router.execution.temporal import DevServer
from tests.execution.solana_world import UNIT, Bound, SolanaWorld, solana_world

QUEUE = "sol-claims"
LOSS = 200_000 * UNIT  # the AMM's loss the oracles report


def certificate_held_by(w: SolanaWorld, cover_id: str, wallet: str) -> int:
    """How many of the cover's certificate ``wallet``'s associated account holds."""
    mint_key = certificate_mint(w.sol.authority.pubkey(), chain_cover_id(cover_id))
    ata = associated_token_address(Pubkey.from_string(wallet), mint_key)
    account = w.sol.ledger.svm.get_account(ata)
    if account is None:
        return 0
    token = TokenAccount.from_bytes(bytes(account.data))
    assert token.mint == mint_key and token.owner == Pubkey.from_string(wallet)
    return int(token.amount)


async def open_cover(w: SolanaWorld, b: Bound) -> None:
    """Wait for the opening saga and check the cover on chain and in the store:
    the whole premium pulled from the payer, the certificate a one-of-one mint
    (no mint authority left) held by the holder, the opening OPEN; starting its
    saga again is refused and one transaction was ever signed for it."""
    done = await w.opened_on_chain(b.cover.cover_id)
    assert done.status == "open" and done.tx_ref, done
    mint_key = certificate_mint(w.sol.authority.pubkey(), chain_cover_id(b.cover.cover_id))
    account = w.sol.ledger.svm.get_account(mint_key)
    assert account is not None and account.owner == TOKEN_PROGRAM_ID
    mint = Mint.from_bytes(bytes(account.data))
    assert (mint.decimals, mint.supply, mint.mint_authority) == (0, 1, None)
    assert certificate_held_by(w, b.cover.cover_id, b.holder) == 1
    assert w.balance(b.payer) == 0  # the whole premium was pulled
    stored = await w.store.get_opening(b.cover.cover_id)
    assert stored.status is OpeningStatus.OPEN
    assert (stored.tx_ref, stored.certificate_holder) == (done.tx_ref, b.holder)
    assert await w.starter.start_opening(b.cover.cover_id) is False
    assert len(await w.store.attempts(chain_cover_id(b.cover.cover_id))) == 1


async def test_solana_covers_opened_and_claims_paid_once_to_the_holder_of_record(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with solana_world(tmp_path, temporal_server, QUEUE) as w:
        pool_start = w.pool_balance()
        # acme's cover: the loss less its deductible binds.
        acme = await w.bind(
            "acme",
            "sol-acme",
            300_000 * UNIT,
            deductible=20_000 * UNIT,
            per_event_max=250_000 * UNIT,
        )
        await open_cover(w, acme)
        assert w.pool_balance() == pool_start + acme.premium
        # globex's cover: its per-event maximum binds; its certificate is sold on
        # before the incident, so the new holder of record is paid.
        globex = await w.bind("globex", "sol-globex", 100_000 * UNIT, per_event_max=60_000 * UNIT)
        await open_cover(w, globex)
        premiums = acme.premium + globex.premium
        assert w.pool_balance() == pool_start + premiums
        buyer = await w.wallets.new_wallet()
        await w.wallets.transfer_certificate(
            w.pool, chain_cover_id(globex.cover.cover_id), globex.holder, buyer
        )
        assert certificate_held_by(w, globex.cover.cover_id, buyer) == 1
        assert certificate_held_by(w, globex.cover.cover_id, globex.holder) == 0
        assert (
            await w.sol.adapter.certificate_holder(w.pool, chain_cover_id(globex.cover.cover_id))
            == buyer
        )

        # acme's holder already has a token account of the mint (paid into it); the
        # buyer has none (the payment creates it).
        w.sol.fund_wallet(Pubkey.from_string(acme.holder), 1_234)
        wallets = (acme.holder, globex.holder, buyer)
        before = {h: w.balance(h) for h in wallets}
        pool_before = w.pool_balance()
        assert before == {acme.holder: 1_234, globex.holder: 0, buyer: 0}

        # Two of three oracles confirm a flash-loan drain of the AMM.
        at = await w.incident_time()
        first = await w.report("oracle-a", IncidentKind.FLASH_LOAN, LOSS, at)
        assert first.state == common_pb2.INCIDENT_STATE_PENDING
        assert await w.store.list_claims() == []  # a lone report pays nothing
        second = await w.report("oracle-b", IncidentKind.FLASH_LOAN, LOSS, at)
        assert second.confirmed_now and second.agreeing_reporters == 2
        outcomes = await w.settle()
        assert set(outcomes) == {acme.cover.cover_id, globex.cover.cover_id}
        acme_pay = min(LOSS - 20_000 * UNIT, 300_000 * UNIT, 250_000 * UNIT)
        globex_pay = min(LOSS, 100_000 * UNIT, 60_000 * UNIT)
        assert (acme_pay, globex_pay) == (180_000 * UNIT, 60_000 * UNIT)
        rose = {h: w.balance(h) - before[h] for h in wallets}
        # The holders of record are paid exactly; the seller of its certificate nothing.
        assert rose == {acme.holder: acme_pay, globex.holder: 0, buyer: globex_pay}
        assert w.pool_balance() == pool_before - acme_pay - globex_pay
        assert w.pool_balance() == pool_start + premiums - acme_pay - globex_pay

        payments = {p.cover_id: p for p in await w.store.list_payments()}
        for b, paid in ((acme, acme_pay), (globex, globex_pay)):
            cid = b.cover.cover_id
            (claim,) = await w.store.list_claims(cover_id=cid)
            assert claim.status is ClaimStatus.PAID and claim.paid == paid
            p = payments[cid]
            assert p.status is PaymentStatus.PAID and p.amount == paid
            assert p.tx_ref == outcomes[cid].tx_ref and p.block_number
            # The signature the store holds is the chain's payment under its id, final.
            found = await w.sol.adapter.find_effect(
                ClaimPayment(p.payment_id, w.pool, chain_cover_id(cid), p.amount)
            )
            assert found.state is TxState.FINAL and found.tx_ref == p.tx_ref
            assert found.amount == paid
            state = await w.sol.adapter.cover_state(w.pool, chain_cover_id(cid))
            assert state is not None and state.remaining == b.limit - paid
        # The partner sees its claim paid, with the transaction that paid it.
        partner = w.connect("ballast://partner/acme")
        (listed,) = (await partner.partner.ListClaims(partner_pb2.ListClaimsRequest())).claims
        got = await partner.partner.GetClaim(partner_pb2.GetClaimRequest(claim_id=listed.claim_id))
        assert got.claim.state == common_pb2.CLAIM_STATE_PAID
        assert got.claim.payments[0].tx_ref == payments[acme.cover.cover_id].tx_ref

        # Exactly once: no second start, nothing to reconcile, a late third report
        # confirms nothing twice, and even a second saga run for the same payment
        # (another workflow id: Temporal cannot refuse it) finds it on chain and
        # moves nothing.
        pool_paid = w.pool_balance()
        pid = payments[acme.cover.cover_id].payment_id
        assert await w.starter.start_payment(pid) is False
        assert await Claims(w.store, w.starter).reconcile() == 0
        assert await Openings(w.store, w.starter).reconcile() == 0
        third = await w.report("oracle-c", IncidentKind.FLASH_LOAN, LOSS, at)
        assert not third.confirmed_now
        assert len(await w.payouts()) == 2
        rerun = await w.client.execute_workflow(
            PAYOUT_WORKFLOW,
            PayoutInput(PayoutKind.PAYMENT.value, pid, 0.05, 2.0),
            id=f"rerun-{pid}",
            task_queue=QUEUE,
            result_type=PayoutOutcome,
        )
        assert rerun.status == "final" and rerun.tx_ref == payments[acme.cover.cover_id].tx_ref
        assert w.pool_balance() == pool_paid
        assert {h: w.balance(h) - before[h] for h in wallets} == rose
        assert len(await w.store.attempts(pid)) == 1  # nothing was signed again
        (claim,) = await w.store.list_claims(cover_id=acme.cover.cover_id)
        assert claim.status is ClaimStatus.PAID and claim.paid == acme_pay  # not counted twice
        assert await w.store.get_payment(pid) == payments[acme.cover.cover_id]
        handle = w.client.get_workflow_handle(pid)
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED


async def test_unapproved_premium_fails_the_opening_and_its_cover_cannot_claim(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with solana_world(tmp_path, temporal_server, QUEUE + "-f") as w:
        pool_start = w.pool_balance()
        bad = await w.bind("acme", "sol-unpaid", 100_000 * UNIT, approve=False)
        done = await w.opened_on_chain(bad.cover.cover_id)
        assert done.status == "failed" and "approved the treasury authority for 0" in done.detail
        stored = await w.store.get_opening(bad.cover.cover_id)
        assert stored.status is OpeningStatus.FAILED and stored.detail == done.detail
        assert stored.certificate_holder == ""
        cid = chain_cover_id(bad.cover.cover_id)
        assert w.sol.ledger.svm.get_account(certificate_mint(w.sol.authority.pubkey(), cid)) is None
        assert await w.sol.adapter.cover_state(w.pool, cid) is None
        assert w.pool_balance() == pool_start
        assert w.balance(bad.payer) == bad.premium  # nothing was pulled
        # A confirmed incident on its deployment opens no claim on it; filing is refused.
        at = await w.incident_time()
        await w.report("oracle-a", IncidentKind.FLASH_LOAN, LOSS, at)
        second = await w.report("oracle-b", IncidentKind.FLASH_LOAN, LOSS, at)
        assert second.confirmed_now
        assert await w.store.list_claims() == []
        partner = w.connect("ballast://partner/acme")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await partner.partner.FileClaim(
                partner_pb2.FileClaimRequest(
                    cover_id=bad.cover.cover_id,
                    incident_id=second.incident_id,
                    claimed_loss=common_pb2.Amount(asset="USDC", value=str(LOSS)),
                )
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "not open on chain" in (err.value.details() or "")
        assert await w.store.list_claims() == [] and await w.payouts() == []
        assert w.pool_balance() == pool_start

"""RiskPool: deposits, cover accounting, capped claims, and capital out by id."""

from __future__ import annotations

import pytest
from eth_tester.exceptions import TransactionFailed

from tests.contracts.support import (
    RETURNS_FALSE,
    START_BALANCE,
    USDC,
    Deployment,
    assert_reverts,
    deploy,
    deploy_runtime,
    events,
    fund_pool,
    fund_vault,
    send,
    tid,
)

ZERO_ID = b"\x00" * 32
OPEN, CLOSED = 1, 2


def _state(d: Deployment) -> tuple[int, int, int]:
    """(balance, locked, free) of the pool."""
    p = d.pool.functions
    return d.balance(d.pool.address), p.lockedCapital().call(), p.freeCapital().call()


# ------------------------------------------------------------------ deposits


def test_deposit_tracks_provider_and_emits(chain: Deployment) -> None:
    p = chain.pool.functions
    assert p.asset().call() == chain.token.address
    send(chain.token.functions.approve(chain.pool.address, 300 * USDC), chain.provider)
    receipt = send(p.deposit(100 * USDC), chain.provider)
    assert events(chain.pool, receipt, "Deposited") == [
        {"provider": chain.provider, "amount": 100 * USDC}
    ]
    send(p.deposit(200 * USDC), chain.provider)
    assert p.deposits(chain.provider).call() == 300 * USDC
    assert p.totalDeposits().call() == 300 * USDC
    assert _state(chain) == (300 * USDC, 0, 300 * USDC)


def test_deposit_rejects_zero_and_unapproved(chain: Deployment) -> None:
    p = chain.pool.functions
    assert_reverts(p.deposit(0), chain.provider, "ZeroAmount")
    # The token's own error bubbles up unchanged through the pool.
    assert_reverts(
        p.deposit(5),
        chain.provider,
        "InsufficientAllowance",
        chain.provider,
        chain.pool.address,
        0,
        5,
    )
    assert p.deposits(chain.provider).call() == 0


# -------------------------------------------------------------------- covers


def test_open_cover_locks_free_capital(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    receipt = send(p.openCover(tid("c1"), 500 * USDC, 300 * USDC), chain.operator)
    assert events(chain.pool, receipt, "CoverOpened") == [
        {"coverId": tid("c1"), "limit": 500 * USDC, "lockedAmount": 300 * USDC}
    ]
    assert p.coverOf(tid("c1")).call() == [500 * USDC, 300 * USDC, 0, OPEN]
    assert _state(chain) == (1_000 * USDC, 300 * USDC, 700 * USDC)


def test_open_cover_refusals(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    assert_reverts(p.openCover(tid("c"), 10, 5), chain.stranger, "Unauthorized", chain.stranger)
    assert_reverts(p.openCover(tid("c"), 10, 5), chain.admin, "Unauthorized", chain.admin)
    assert_reverts(p.openCover(ZERO_ID, 10, 5), op, "ZeroId")
    assert_reverts(p.openCover(tid("c"), 0, 0), op, "ZeroAmount")
    assert_reverts(p.openCover(tid("c"), 10, 11), op, "LockExceedsLimit", 11, 10)
    assert_reverts(
        p.openCover(tid("c"), 2_000 * USDC, 1_001 * USDC),
        op,
        "InsufficientFreeCapital",
        1_001 * USDC,
        1_000 * USDC,
    )
    send(p.openCover(tid("c"), 600 * USDC, 600 * USDC), op)
    assert_reverts(p.openCover(tid("c"), 10, 0), op, "CoverExists", tid("c"))
    # Locked capital is not free for a second cover.
    assert_reverts(
        p.openCover(tid("d"), 500 * USDC, 401 * USDC),
        op,
        "InsufficientFreeCapital",
        401 * USDC,
        400 * USDC,
    )
    assert _state(chain) == (1_000 * USDC, 600 * USDC, 400 * USDC)


def test_close_cover_releases_and_is_final(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    send(p.openCover(tid("c"), 500 * USDC, 400 * USDC), op)
    assert_reverts(p.closeCover(tid("c")), chain.stranger, "Unauthorized", chain.stranger)
    assert_reverts(p.closeCover(tid("nope")), op, "CoverNotOpen", tid("nope"))
    receipt = send(p.closeCover(tid("c")), op)
    assert events(chain.pool, receipt, "CoverClosed") == [
        {"coverId": tid("c"), "released": 400 * USDC}
    ]
    assert _state(chain) == (1_000 * USDC, 0, 1_000 * USDC)
    assert p.coverOf(tid("c")).call() == [500 * USDC, 0, 0, CLOSED]
    assert_reverts(p.closeCover(tid("c")), op, "CoverNotOpen", tid("c"))
    # A cover id is never reused, even after closing (it will be a certificate id).
    assert_reverts(p.openCover(tid("c"), 10, 0), op, "CoverExists", tid("c"))
    assert_reverts(p.payClaim(tid("c"), chain.claimant, 1), op, "CoverNotOpen", tid("c"))


# -------------------------------------------------------------------- claims


def test_claims_spend_locked_first_and_stop_at_the_limit(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    send(p.openCover(tid("c"), 500 * USDC, 300 * USDC), op)

    receipt = send(p.payClaim(tid("c"), chain.claimant, 200 * USDC), op)
    assert events(chain.pool, receipt, "ClaimPaid") == [
        {"coverId": tid("c"), "to": chain.claimant, "amount": 200 * USDC, "fromLocked": 200 * USDC}
    ]
    assert _state(chain) == (800 * USDC, 100 * USDC, 700 * USDC)

    # 250 more: the last 100 locked, then 150 from free capital.
    receipt = send(p.payClaim(tid("c"), chain.claimant, 250 * USDC), op)
    assert events(chain.pool, receipt, "ClaimPaid")[0]["fromLocked"] == 100 * USDC
    assert _state(chain) == (550 * USDC, 0, 550 * USDC)
    assert p.coverOf(tid("c")).call() == [500 * USDC, 0, 450 * USDC, OPEN]

    # Cumulative payouts may reach the limit but never pass it.
    assert_reverts(
        p.payClaim(tid("c"), chain.claimant, 50 * USDC + 1),
        op,
        "PayoutOverCap",
        tid("c"),
        50 * USDC + 1,
        50 * USDC,
        mined=True,
    )
    send(p.payClaim(tid("c"), chain.claimant, 50 * USDC), op)
    assert_reverts(p.payClaim(tid("c"), chain.claimant, 1), op, "PayoutOverCap", tid("c"), 1, 0)
    assert chain.balance(chain.claimant) == 500 * USDC


def test_claim_refusals(chain: Deployment) -> None:
    fund_pool(chain, 100 * USDC)
    p = chain.pool.functions
    op = chain.operator
    send(p.openCover(tid("c"), 500 * USDC, 60 * USDC), op)
    send(p.openCover(tid("other"), 500 * USDC, 30 * USDC), op)
    c = tid("c")
    assert_reverts(p.payClaim(c, chain.claimant, 1), chain.stranger, "Unauthorized", chain.stranger)
    assert_reverts(p.payClaim(c, chain.claimant, 0), op, "ZeroAmount")
    assert_reverts(p.payClaim(c, "0x" + "00" * 20, 1), op, "ZeroAddress")
    assert_reverts(p.payClaim(tid("x"), chain.claimant, 1), op, "CoverNotOpen", tid("x"))
    # Within the limit but beyond this cover's locked capital plus free capital:
    # another cover's locked capital is not touched.
    assert_reverts(
        p.payClaim(c, chain.claimant, 71 * USDC),
        op,
        "InsufficientFreeCapital",
        11 * USDC,
        10 * USDC,
    )
    assert _state(chain) == (100 * USDC, 90 * USDC, 10 * USDC)


# --------------------------------------------------------------- capital out


def test_transfer_out_sends_free_capital_once(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    receipt = send(p.transferOut(tid("t1"), chain.claimant, 250 * USDC), op)
    assert events(chain.pool, receipt, "CapitalSent") == [
        {"transferId": tid("t1"), "to": chain.claimant, "amount": 250 * USDC}
    ]
    assert p.transferUsed(tid("t1")).call() is True
    assert p.transferUsed(tid("t2")).call() is False
    assert chain.balance(chain.claimant) == 250 * USDC
    # Replaying the same id never pays twice, even with a different recipient or amount.
    assert_reverts(
        p.transferOut(tid("t1"), chain.claimant, 250 * USDC),
        op,
        "TransferIdUsed",
        tid("t1"),
        mined=True,
    )
    assert_reverts(p.transferOut(tid("t1"), chain.stranger, 1), op, "TransferIdUsed", tid("t1"))
    assert chain.balance(chain.claimant) == 250 * USDC


def test_transfer_out_refusals(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    send(p.openCover(tid("c"), 800 * USDC, 700 * USDC), op)
    for caller in (chain.stranger, chain.admin, chain.provider):
        assert_reverts(
            p.transferOut(tid("t"), caller, 1), caller, "Unauthorized", caller, mined=True
        )
    assert_reverts(p.transferOut(tid("t"), chain.claimant, 0), op, "ZeroAmount")
    assert_reverts(p.transferOut(ZERO_ID, chain.claimant, 1), op, "ZeroId")
    assert_reverts(p.transferOut(tid("t"), "0x" + "00" * 20, 1), op, "ZeroAddress")
    # Locked capital cannot leave: only 300 of the 1,000 held are free.
    assert_reverts(
        p.transferOut(tid("t"), chain.claimant, 300 * USDC + 1),
        op,
        "InsufficientFreeCapital",
        300 * USDC + 1,
        300 * USDC,
        mined=True,
    )
    # A refused transfer does not burn its id.
    assert p.transferUsed(tid("t")).call() is False
    send(p.transferOut(tid("t"), chain.claimant, 300 * USDC), op)
    assert _state(chain) == (700 * USDC, 700 * USDC, 0)


def test_send_to_bridge_locks_in_endpoint_under_the_same_id(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    recipient = b"\x11" * 32
    receipt = send(p.sendToBridge(tid("b1"), chain.bridge.address, 777, recipient, 400 * USDC), op)
    assert events(chain.pool, receipt, "CapitalBridged") == [
        {
            "transferId": tid("b1"),
            "bridge": chain.bridge.address,
            "dstChainId": 777,
            "recipient": recipient,
            "amount": 400 * USDC,
        }
    ]
    assert events(chain.bridge, receipt, "BridgeSent") == [
        {
            "transferId": tid("b1"),
            "sender": chain.pool.address,
            "dstChainId": 777,
            "recipient": recipient,
            "amount": 400 * USDC,
        }
    ]
    assert chain.bridge.functions.sent(tid("b1")).call() is True
    assert chain.balance(chain.bridge.address) == 400 * USDC
    assert _state(chain) == (600 * USDC, 0, 600 * USDC)
    # No allowance is left behind for the bridge.
    assert chain.token.functions.allowance(chain.pool.address, chain.bridge.address).call() == 0
    assert_reverts(
        p.sendToBridge(tid("b1"), chain.bridge.address, 777, recipient, 1),
        op,
        "TransferIdUsed",
        tid("b1"),
    )


def test_send_to_bridge_refusals(chain: Deployment) -> None:
    fund_pool(chain, 100 * USDC)
    p = chain.pool.functions
    op = chain.operator
    bridge = chain.bridge.address
    r = b"\x22" * 32
    assert_reverts(
        p.sendToBridge(tid("b"), bridge, 1, r, 1), chain.stranger, "Unauthorized", chain.stranger
    )
    assert_reverts(p.sendToBridge(tid("b"), bridge, 1, r, 0), op, "ZeroAmount")
    assert_reverts(p.sendToBridge(tid("b"), "0x" + "00" * 20, 1, r, 1), op, "ZeroAddress")
    assert_reverts(
        p.sendToBridge(tid("b"), bridge, 1, r, 101 * USDC),
        op,
        "InsufficientFreeCapital",
        101 * USDC,
        100 * USDC,
    )
    # The endpoint's own refusal (zero recipient) undoes the whole step, id included.
    assert_reverts(p.sendToBridge(tid("b"), bridge, 1, b"\x00" * 32, 1), op, "ZeroAddress")
    assert p.transferUsed(tid("b")).call() is False
    # An id someone else already sent through the bridge is "taken", which is not
    # the same as this pool having used it: the caller must pick a new id.
    send(chain.token.functions.approve(bridge, 5), chain.provider)
    send(chain.bridge.functions.send(tid("taken"), 1, r, 5), chain.provider)
    assert_reverts(p.sendToBridge(tid("taken"), bridge, 1, r, 1), op, "BridgeIdTaken", tid("taken"))
    assert p.transferUsed(tid("taken")).call() is False
    assert _state(chain) == (100 * USDC, 0, 100 * USDC)


def test_send_to_a_non_bridge_reverts(chain: Deployment) -> None:
    fund_pool(chain, 100 * USDC)
    op = chain.operator
    # The token has no `send`: the call reverts without data and nothing moves.
    fn = chain.pool.functions.sendToBridge(tid("b"), chain.token.address, 1, b"\x01" * 32, 1)
    with pytest.raises(TransactionFailed):
        fn.call({"from": op})
    assert _state(chain) == (100 * USDC, 0, 100 * USDC)


def test_a_bridge_that_does_not_take_the_funds_is_caught(chain: Deployment) -> None:
    """A "bridge" that accepts the call but pulls nothing must not leave the
    transfer looking done while the capital is still here."""
    fund_pool(chain, 100 * USDC)
    # Answers every call with a zero word: `sent` is false, `send` "succeeds" doing nothing.
    fake = deploy_runtime(chain.w3, RETURNS_FALSE, chain.admin)
    fn = chain.pool.functions.sendToBridge(tid("b"), fake, 1, b"\x01" * 32, 10 * USDC)
    assert_reverts(fn, chain.operator, "CounterpartyShortfall", 10 * USDC, 0)
    assert chain.pool.functions.transferUsed(tid("b")).call() is False
    assert chain.token.functions.allowance(chain.pool.address, fake).call() == 0


def test_token_failures_without_a_reason_are_named(chain: Deployment) -> None:
    """Tokens that return false, or an asset address with no code, give TokenCallFailed."""
    for asset in (
        deploy_runtime(chain.w3, RETURNS_FALSE, chain.admin),
        chain.stranger,  # no code at all: a call "succeeds" with no data
    ):
        pool = deploy(chain.w3, "RiskPool", asset, chain.admin, chain.operator, sender=chain.admin)
        assert_reverts(pool.functions.deposit(5), chain.provider, "TokenCallFailed", asset)
        assert pool.functions.deposits(chain.provider).call() == 0


def test_cede_pays_premium_and_reserves_vault_capacity(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    send(chain.vault.functions.setCedent(chain.pool.address, True), chain.admin)
    fund_vault(chain, 5_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    receipt = send(p.cede(tid("x1"), chain.vault.address, 2_000 * USDC, 30 * USDC), op)
    assert events(chain.pool, receipt, "ExposureCeded") == [
        {
            "transferId": tid("x1"),
            "vault": chain.vault.address,
            "cededAmount": 2_000 * USDC,
            "premium": 30 * USDC,
        }
    ]
    assert events(chain.vault, receipt, "CessionAccepted") == [
        {
            "cessionId": tid("x1"),
            "cedent": chain.pool.address,
            "cededAmount": 2_000 * USDC,
            "premium": 30 * USDC,
        }
    ]
    assert _state(chain) == (970 * USDC, 0, 970 * USDC)
    v = chain.vault.functions
    assert v.totalAssets().call() == 5_030 * USDC
    assert v.reservedCapacity().call() == 2_000 * USDC
    assert chain.token.functions.allowance(chain.pool.address, chain.vault.address).call() == 0
    assert_reverts(p.cede(tid("x1"), chain.vault.address, 1, 1), op, "TransferIdUsed", tid("x1"))


def test_cede_refusals(chain: Deployment) -> None:
    fund_pool(chain, 100 * USDC)
    fund_vault(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    vault = chain.vault.address
    # A vault accepts cessions only from pools its admin approved.
    assert_reverts(p.cede(tid("x"), vault, 10, 1), op, "NotCedent", chain.pool.address)
    send(chain.vault.functions.setCedent(chain.pool.address, True), chain.admin)
    assert_reverts(p.cede(tid("x"), vault, 10, 1), chain.stranger, "Unauthorized", chain.stranger)
    assert_reverts(p.cede(tid("x"), vault, 0, 1), op, "ZeroAmount")
    assert_reverts(p.cede(tid("x"), vault, 10, 0), op, "ZeroAmount")
    assert_reverts(
        p.cede(tid("x"), vault, 10, 101 * USDC),
        op,
        "InsufficientFreeCapital",
        101 * USDC,
        100 * USDC,
    )
    # The vault's capacity check bubbles up; the pool keeps its premium and its id.
    assert_reverts(
        p.cede(tid("x"), vault, 1_000 * USDC + 1, 1 * USDC),
        op,
        "CessionOverCapacity",
        1_000 * USDC + 1,
        1_000 * USDC,
    )
    assert p.transferUsed(tid("x")).call() is False
    assert _state(chain) == (100 * USDC, 0, 100 * USDC)


# --------------------------------------------------------------------- roles


def test_only_admin_changes_operator(chain: Deployment) -> None:
    fund_pool(chain, 10 * USDC)
    p = chain.pool.functions
    assert p.admin().call() == chain.admin
    assert p.operator().call() == chain.operator
    for caller in (chain.stranger, chain.operator):
        assert_reverts(p.setOperator(chain.stranger), caller, "Unauthorized", caller)
    assert_reverts(p.setOperator("0x" + "00" * 20), chain.admin, "ZeroAddress")
    receipt = send(p.setOperator(chain.stranger), chain.admin)
    assert events(chain.pool, receipt, "OperatorChanged") == [
        {"previousOperator": chain.operator, "newOperator": chain.stranger}
    ]
    # The old operator lost the role at once; the new one has it.
    assert_reverts(
        p.transferOut(tid("t"), chain.claimant, 1), chain.operator, "Unauthorized", chain.operator
    )
    send(p.transferOut(tid("t"), chain.claimant, 1), chain.stranger)
    assert chain.balance(chain.provider) == START_BALANCE - 10 * USDC


def test_settle_claim_pays_once_per_claim_id(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p = chain.pool.functions
    op = chain.operator
    send(p.openCover(tid("c"), 500 * USDC, 100 * USDC), op)
    claim = tid("claim-1")
    assert_reverts(
        p.settleClaim(claim, tid("c"), chain.claimant, 1),
        chain.stranger,
        "Unauthorized",
        chain.stranger,
    )
    assert_reverts(p.settleClaim(ZERO_ID, tid("c"), chain.claimant, 1), op, "ZeroId")
    # A refused settlement (over the cap) does not burn the claim id.
    assert_reverts(
        p.settleClaim(claim, tid("c"), chain.claimant, 501 * USDC),
        op,
        "PayoutOverCap",
        tid("c"),
        501 * USDC,
        500 * USDC,
    )
    assert p.transferUsed(claim).call() is False
    receipt = send(p.settleClaim(claim, tid("c"), chain.claimant, 150 * USDC), op)
    assert events(chain.pool, receipt, "ClaimSettled") == [{"claimId": claim, "coverId": tid("c")}]
    assert events(chain.pool, receipt, "ClaimPaid") == [
        {"coverId": tid("c"), "to": chain.claimant, "amount": 150 * USDC, "fromLocked": 100 * USDC}
    ]
    assert p.transferUsed(claim).call() is True
    # The retry of the same claim is refused, even with a different amount.
    assert_reverts(
        p.settleClaim(claim, tid("c"), chain.claimant, 150 * USDC), op, "TransferIdUsed", claim
    )
    assert_reverts(p.settleClaim(claim, tid("c"), chain.claimant, 1), op, "TransferIdUsed", claim)
    assert chain.balance(chain.claimant) == 150 * USDC
    assert _state(chain) == (850 * USDC, 0, 850 * USDC)

"""Cover binding, claim payments to the holder of record, and the ERC-721 certificate."""

from __future__ import annotations

from typing import Any, cast

from web3.contract import Contract

from contracts import load_artifact
from tests.contracts.support import (
    RETURNS_FALSE,
    START_BALANCE,
    USDC,
    Deployment,
    assert_reverts,
    deploy_runtime,
    events,
    fund_pool,
    send,
    tid,
)

ZERO = "0x" + "00" * 20
ZERO_ID = b"\x00" * 32
OPEN = 1
PREMIUM = 7 * USDC
#: Answers every call with ``onERC721Received.selector``: a receiver that accepts.
ACCEPTS_721 = bytes.fromhex("63150b7a0260e01b60005260206000f3")


def certificate(d: Deployment) -> Contract:
    address = d.pool.functions.certificate().call()
    return cast(
        Contract, d.w3.eth.contract(address=address, abi=load_artifact("PolicyCertificate").abi)
    )


def others(d: Deployment) -> tuple[str, str]:
    """Two accounts with no role in the deployment (a buyer and an operator of theirs)."""
    accounts = list(d.w3.eth.accounts)
    return accounts[6], accounts[7]


def bind(
    d: Deployment, label: str = "c", *, limit: int = 500 * USDC, locked: int = 200 * USDC
) -> Any:
    """The provider pays the premium of cover ``label``; the claimant holds it."""
    send(d.token.functions.approve(d.pool.address, PREMIUM), d.provider)
    fn = d.pool.functions.bindCover(tid(label), limit, locked, PREMIUM, d.provider, d.claimant)
    return send(fn, d.operator)


# ---------------------------------------------------------------- binding


def test_bind_cover_collects_premium_locks_and_issues_certificate(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p, cert = chain.pool.functions, certificate(chain)
    receipt = bind(chain)
    assert events(chain.pool, receipt, "CoverBound") == [
        {
            "coverId": tid("c"),
            "payer": chain.provider,
            "holder": chain.claimant,
            "limit": 500 * USDC,
            "lockedAmount": 200 * USDC,
            "premium": PREMIUM,
        }
    ]
    token_id = int.from_bytes(tid("c"), "big")
    assert events(cert, receipt, "Transfer") == [
        {"from": ZERO, "to": chain.claimant, "tokenId": token_id}
    ]
    assert p.coverOf(tid("c")).call() == [500 * USDC, 200 * USDC, 0, OPEN]
    assert chain.balance(chain.pool.address) == 1_000 * USDC + PREMIUM
    assert chain.balance(chain.provider) == START_BALANCE - 1_000 * USDC - PREMIUM
    assert chain.token.functions.allowance(chain.provider, chain.pool.address).call() == 0
    assert p.lockedCapital().call() == 200 * USDC
    assert cert.functions.ownerOf(token_id).call() == chain.claimant
    assert cert.functions.balanceOf(chain.claimant).call() == 1
    assert p.certificateHolder(tid("c")).call() == chain.claimant
    assert cert.functions.pool().call() == chain.pool.address


def test_bind_cover_refusals(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p, op = chain.pool.functions, chain.operator
    args = (tid("c"), 500 * USDC, 100 * USDC)

    def bind_fn(
        premium: int = PREMIUM, payer: str = chain.provider, holder: str = chain.claimant
    ) -> Any:
        return p.bindCover(*args, premium, payer, holder)

    assert_reverts(bind_fn(), chain.stranger, "Unauthorized", chain.stranger)
    assert_reverts(bind_fn(premium=0), op, "ZeroAmount")
    assert_reverts(bind_fn(payer=ZERO), op, "ZeroAddress")
    assert_reverts(bind_fn(holder=ZERO), op, "ZeroAddress")
    # No approval: the token's own error, and nothing is opened or locked.
    assert_reverts(
        bind_fn(), op, "InsufficientAllowance", chain.provider, chain.pool.address, 0, PREMIUM,
        mined=True,
    )  # fmt: skip
    assert p.coverOf(tid("c")).call() == [0, 0, 0, 0]
    assert p.lockedCapital().call() == 0
    # The lock is judged before the premium arrives.
    send(chain.token.functions.approve(chain.pool.address, PREMIUM), chain.provider)
    assert_reverts(
        p.bindCover(
            tid("c"), 2_000 * USDC, 1_000 * USDC + 1, PREMIUM, chain.provider, chain.claimant
        ),
        op,
        "InsufficientFreeCapital",
        1_000 * USDC + 1,
        1_000 * USDC,
    )
    send(bind_fn(), op)
    send(chain.token.functions.approve(chain.pool.address, PREMIUM), chain.provider)
    assert_reverts(bind_fn(), op, "CoverExists", tid("c"))
    send(p.openCover(tid("plain"), 10, 0), op)  # an unbound cover's id cannot be bound later
    assert_reverts(
        p.bindCover(tid("plain"), 10, 0, PREMIUM, chain.provider, chain.claimant),
        op,
        "CoverExists",
        tid("plain"),
    )


# ---------------------------------------------------------------- claims


def test_pay_claim_to_holder_pays_once_within_the_cap(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    bind(chain)
    p, op = chain.pool.functions, chain.operator
    payment = tid("payment-1")
    assert_reverts(
        p.payClaimToHolder(payment, tid("c"), 1), chain.stranger, "Unauthorized", chain.stranger
    )
    assert_reverts(p.payClaimToHolder(ZERO_ID, tid("c"), 1), op, "ZeroId")
    # A refused payment (over the cap) does not burn the payment id.
    assert_reverts(
        p.payClaimToHolder(payment, tid("c"), 501 * USDC),
        op,
        "PayoutOverCap",
        tid("c"),
        501 * USDC,
        500 * USDC,
        mined=True,
    )
    assert p.transferUsed(payment).call() is False
    receipt = send(p.payClaimToHolder(payment, tid("c"), 300 * USDC), op)
    assert events(chain.pool, receipt, "ClaimPaidToHolder") == [
        {"paymentId": payment, "coverId": tid("c"), "holder": chain.claimant, "amount": 300 * USDC}
    ]
    assert events(chain.pool, receipt, "ClaimPaid") == [
        {"coverId": tid("c"), "to": chain.claimant, "amount": 300 * USDC, "fromLocked": 200 * USDC}
    ]
    assert p.transferUsed(payment).call() is True
    assert_reverts(p.payClaimToHolder(payment, tid("c"), 1), op, "TransferIdUsed", payment)
    assert_reverts(
        p.payClaimToHolder(tid("payment-2"), tid("c"), 200 * USDC + 1),
        op,
        "PayoutOverCap",
        tid("c"),
        200 * USDC + 1,
        200 * USDC,
    )
    assert chain.balance(chain.claimant) == 300 * USDC
    assert p.coverOf(tid("c")).call() == [500 * USDC, 0, 300 * USDC, OPEN]
    assert p.lockedCapital().call() == 0


def test_pay_claim_to_holder_needs_a_certificate(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    p, op = chain.pool.functions, chain.operator
    send(p.openCover(tid("plain"), 100 * USDC, 0), op)
    assert p.certificateHolder(tid("plain")).call() == ZERO
    assert_reverts(p.payClaimToHolder(tid("p"), tid("plain"), 1), op, "NoCertificate", tid("plain"))
    assert_reverts(p.payClaimToHolder(tid("p"), tid("none"), 1), op, "NoCertificate", tid("none"))
    assert p.transferUsed(tid("p")).call() is False


def test_payment_follows_the_certificate(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    bind(chain)
    buyer, _ = others(chain)
    cert, token_id = certificate(chain), int.from_bytes(tid("c"), "big")
    send(cert.functions.transferFrom(chain.claimant, buyer, token_id), chain.claimant)
    send(chain.pool.functions.payClaimToHolder(tid("p"), tid("c"), 50 * USDC), chain.operator)
    assert chain.balance(buyer) == 50 * USDC
    assert chain.balance(chain.claimant) == 0


# ---------------------------------------------------------------- ERC-721


def test_certificate_metadata_and_interfaces(chain: Deployment) -> None:
    c = certificate(chain).functions
    assert c.name().call() == "Ballast Policy Certificate"
    assert c.symbol().call() == "BPC"
    assert c.supportsInterface(bytes.fromhex("01ffc9a7")).call() is True  # ERC-165
    assert c.supportsInterface(bytes.fromhex("80ac58cd")).call() is True  # ERC-721
    assert c.supportsInterface(bytes.fromhex("ffffffff")).call() is False


def test_only_the_pool_mints(chain: Deployment) -> None:
    c = certificate(chain).functions
    for caller in (chain.operator, chain.admin, chain.stranger):
        assert_reverts(
            c.mint(chain.stranger, 1), caller, "NotPool", caller, mined=caller == chain.stranger
        )
    assert c.balanceOf(chain.stranger).call() == 0


def test_certificate_reads_refuse_what_does_not_exist(chain: Deployment) -> None:
    c = certificate(chain).functions
    assert_reverts(c.ownerOf(5), chain.stranger, "ERC721NonexistentToken", 5)
    assert_reverts(c.getApproved(5), chain.stranger, "ERC721NonexistentToken", 5)
    assert_reverts(c.balanceOf(ZERO), chain.stranger, "ERC721InvalidOwner", ZERO)
    assert c.holderOf(5).call() == ZERO


def test_transfer_needs_the_owner_or_an_approval(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    bind(chain)
    buyer, agent = others(chain)
    cert, token_id = certificate(chain), int.from_bytes(tid("c"), "big")
    c, holder = cert.functions, chain.claimant
    assert_reverts(
        c.transferFrom(holder, buyer, token_id), chain.stranger,
        "ERC721InsufficientApproval", chain.stranger, token_id, mined=True,
    )  # fmt: skip
    assert_reverts(
        c.transferFrom(buyer, chain.stranger, token_id), holder,
        "ERC721IncorrectOwner", buyer, token_id, holder,
    )  # fmt: skip
    assert_reverts(c.transferFrom(holder, ZERO, token_id), holder, "ERC721InvalidReceiver", ZERO)
    assert_reverts(c.transferFrom(holder, buyer, 5), holder, "ERC721NonexistentToken", 5)
    assert_reverts(
        c.approve(agent, token_id), chain.stranger, "ERC721InvalidApprover", chain.stranger
    )
    # A single-token approval moves it once and is cleared by the transfer.
    receipt = send(c.approve(agent, token_id), holder)
    assert events(cert, receipt, "Approval") == [
        {"owner": holder, "approved": agent, "tokenId": token_id}
    ]
    assert c.getApproved(token_id).call() == agent
    receipt = send(c.transferFrom(holder, buyer, token_id), agent)
    assert events(cert, receipt, "Transfer") == [{"from": holder, "to": buyer, "tokenId": token_id}]
    assert c.getApproved(token_id).call() == ZERO
    assert (c.balanceOf(holder).call(), c.balanceOf(buyer).call()) == (0, 1)
    assert_reverts(
        c.transferFrom(buyer, holder, token_id), agent,
        "ERC721InsufficientApproval", agent, token_id,
    )  # fmt: skip
    # An operator for all of the owner's tokens may move and approve them.
    assert_reverts(c.setApprovalForAll(ZERO, True), buyer, "ERC721InvalidOperator", ZERO)
    receipt = send(c.setApprovalForAll(agent, True), buyer)
    assert events(cert, receipt, "ApprovalForAll") == [
        {"owner": buyer, "operator": agent, "approved": True}
    ]
    assert c.isApprovedForAll(buyer, agent).call() is True
    send(c.approve(chain.stranger, token_id), agent)
    send(c.transferFrom(buyer, holder, token_id), agent)
    assert c.ownerOf(token_id).call() == holder
    assert chain.pool.functions.certificateHolder(tid("c")).call() == holder


def test_safe_transfer_checks_contract_receivers(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    bind(chain)
    buyer, _ = others(chain)
    c, holder = certificate(chain).functions, chain.claimant
    token_id = int.from_bytes(tid("c"), "big")
    refuses = deploy_runtime(chain.w3, RETURNS_FALSE, chain.admin)  # answers the wrong value
    accepts = deploy_runtime(chain.w3, ACCEPTS_721, chain.admin)
    safe3 = c.safeTransferFrom  # web3 picks the overload by its arguments
    assert_reverts(safe3(holder, refuses, token_id), holder, "ERC721InvalidReceiver", refuses)
    # A contract with no code path for the call (the settlement token) reverts without data.
    assert_reverts(
        safe3(holder, chain.token.address, token_id, b"x"), holder,
        "ERC721InvalidReceiver", chain.token.address,
    )  # fmt: skip
    send(safe3(holder, accepts, token_id, b"data"), holder)
    assert c.ownerOf(token_id).call() == accepts
    assert chain.pool.functions.certificateHolder(tid("c")).call() == accepts
    # An account without code needs no answer.
    bind(chain, "d")
    other = int.from_bytes(tid("d"), "big")
    send(safe3(holder, buyer, other), holder)
    assert c.ownerOf(other).call() == buyer

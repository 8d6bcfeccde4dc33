"""SettlementToken: ERC-20 behaviour and the minter role."""

from __future__ import annotations

from tests.contracts.support import START_BALANCE, USDC, Deployment, assert_reverts, events, send

ZERO = "0x" + "00" * 20
MAX = 2**256 - 1


def test_metadata(chain: Deployment) -> None:
    t = chain.token.functions
    assert t.decimals().call() == 6
    assert t.name().call() == "Settlement USD"
    assert t.symbol().call() == "sUSD"
    assert t.admin().call() == chain.admin
    assert t.totalSupply().call() == 2 * START_BALANCE


def test_only_admin_sets_minters(chain: Deployment) -> None:
    t = chain.token.functions
    assert_reverts(t.setMinter(chain.stranger, True), chain.stranger, "NotAdmin", chain.stranger)
    receipt = send(t.setMinter(chain.stranger, True), chain.admin)
    assert events(chain.token, receipt, "MinterSet") == [
        {"account": chain.stranger, "allowed": True}
    ]
    assert t.isMinter(chain.stranger).call() is True
    send(t.setMinter(chain.stranger, False), chain.admin)
    assert_reverts(t.mint(chain.stranger, 1), chain.stranger, "NotMinter", chain.stranger)


def test_only_minters_mint(chain: Deployment) -> None:
    t = chain.token.functions
    assert_reverts(
        t.mint(chain.stranger, 5 * USDC), chain.stranger, "NotMinter", chain.stranger, mined=True
    )
    assert chain.balance(chain.stranger) == 0
    receipt = send(t.mint(chain.stranger, 5 * USDC), chain.admin)
    assert events(chain.token, receipt, "Transfer") == [
        {"from": ZERO, "to": chain.stranger, "value": 5 * USDC}
    ]
    assert chain.balance(chain.stranger) == 5 * USDC
    assert t.totalSupply().call() == 2 * START_BALANCE + 5 * USDC
    assert_reverts(t.mint(ZERO, 1), chain.admin, "ZeroAddress")


def test_transfer_moves_balance_and_emits(chain: Deployment) -> None:
    t = chain.token.functions
    receipt = send(t.transfer(chain.stranger, 7), chain.provider)
    assert events(chain.token, receipt, "Transfer") == [
        {"from": chain.provider, "to": chain.stranger, "value": 7}
    ]
    assert chain.balance(chain.provider) == START_BALANCE - 7
    assert chain.balance(chain.stranger) == 7


def test_transfer_over_balance_reverts(chain: Deployment) -> None:
    t = chain.token.functions
    assert_reverts(
        t.transfer(chain.provider, 1), chain.stranger, "InsufficientBalance", chain.stranger, 0, 1
    )
    assert_reverts(t.transfer(ZERO, 1), chain.provider, "ZeroAddress")


def test_transfer_from_spends_allowance(chain: Deployment) -> None:
    t = chain.token.functions
    receipt = send(t.approve(chain.stranger, 10), chain.provider)
    assert events(chain.token, receipt, "Approval") == [
        {"owner": chain.provider, "spender": chain.stranger, "value": 10}
    ]
    send(t.transferFrom(chain.provider, chain.claimant, 4), chain.stranger)
    assert t.allowance(chain.provider, chain.stranger).call() == 6
    assert chain.balance(chain.claimant) == 4
    assert_reverts(
        t.transferFrom(chain.provider, chain.claimant, 7),
        chain.stranger,
        "InsufficientAllowance",
        chain.provider,
        chain.stranger,
        6,
        7,
    )
    assert_reverts(t.approve(ZERO, 1), chain.provider, "ZeroAddress")


def test_unlimited_allowance_is_not_spent(chain: Deployment) -> None:
    t = chain.token.functions
    send(t.approve(chain.stranger, MAX), chain.provider)
    send(t.transferFrom(chain.provider, chain.claimant, 3), chain.stranger)
    assert t.allowance(chain.provider, chain.stranger).call() == MAX


def test_transfer_from_over_balance_reverts_even_with_allowance(chain: Deployment) -> None:
    t = chain.token.functions
    send(t.approve(chain.provider, MAX), chain.stranger)
    assert_reverts(
        t.transferFrom(chain.stranger, chain.claimant, 1),
        chain.provider,
        "InsufficientBalance",
        chain.stranger,
        0,
        1,
    )

"""ReinsuranceVault: ERC-4626 share maths, capacity reserved for cessions, recoveries."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.contracts.support import (
    START_BALANCE,
    USDC,
    Deployment,
    assert_reverts,
    events,
    fund_vault,
    send,
    tid,
)

ZERO = "0x" + "00" * 20
VIRTUAL_SHARES = 10**6


def to_shares(assets: int, supply: int, total: int) -> int:
    """The vault's rule, in integers: round down, one virtual asset, 10^6 virtual shares."""
    return assets * (supply + VIRTUAL_SHARES) // (total + 1)


def to_assets(shares: int, supply: int, total: int) -> int:
    return shares * (total + 1) // (supply + VIRTUAL_SHARES)


def _cede_directly(d: Deployment, cession: str, ceded: int, premium: int) -> None:
    """The provider acts as an approved cedent and pays the premium."""
    if not d.vault.functions.isCedent(d.provider).call():
        send(d.vault.functions.setCedent(d.provider, True), d.admin)
    send(d.token.functions.approve(d.vault.address, premium), d.provider)
    send(d.vault.functions.acceptCession(tid(cession), ceded, premium), d.provider)


def test_first_deposit_and_events(chain: Deployment) -> None:
    v = chain.vault.functions
    assert v.asset().call() == chain.token.address
    assert v.VIRTUAL_SHARES().call() == VIRTUAL_SHARES
    send(chain.token.functions.approve(chain.vault.address, 100 * USDC), chain.reinsurer)
    assert v.previewDeposit(100 * USDC).call() == 100 * USDC * VIRTUAL_SHARES
    receipt = send(v.deposit(100 * USDC, chain.stranger), chain.reinsurer)
    shares = 100 * USDC * VIRTUAL_SHARES
    assert events(chain.vault, receipt, "Deposit") == [
        {"sender": chain.reinsurer, "owner": chain.stranger, "assets": 100 * USDC, "shares": shares}
    ]
    assert events(chain.vault, receipt, "Transfer") == [
        {"from": ZERO, "to": chain.stranger, "value": shares}
    ]
    assert v.balanceOf(chain.stranger).call() == shares
    assert v.totalSupply().call() == shares
    assert v.totalAssets().call() == 100 * USDC
    assert v.freeCapacity().call() == 100 * USDC


def test_premium_raises_share_price_for_existing_holders(chain: Deployment) -> None:
    v = chain.vault.functions
    first = fund_vault(chain, 1_000 * USDC)
    _cede_directly(chain, "c", 100 * USDC, 50 * USDC)  # 50 USDC premium accrues to holders
    supply, total = v.totalSupply().call(), v.totalAssets().call()
    assert total == 1_050 * USDC
    expected = to_shares(1_050 * USDC, supply, total)
    assert v.convertToShares(1_050 * USDC).call() == expected
    second = fund_vault(chain, 1_050 * USDC)
    assert second == expected
    # The later depositor pays the higher price: fewer shares per asset unit.
    assert second * 1_000 < first * 1_050
    # The first holder's shares are now worth their deposit plus the premium (less rounding).
    worth = v.convertToAssets(first).call()
    assert worth == to_assets(first, v.totalSupply().call(), v.totalAssets().call())
    assert 1_050 * USDC - 1 <= worth <= 1_050 * USDC


def test_redeem_pays_assets_and_burns(chain: Deployment) -> None:
    v = chain.vault.functions
    shares = fund_vault(chain, 300 * USDC)
    supply, total = v.totalSupply().call(), v.totalAssets().call()
    part = shares // 3
    expected = to_assets(part, supply, total)
    assert v.previewRedeem(part).call() == expected
    receipt = send(v.redeem(part, chain.claimant, chain.reinsurer), chain.reinsurer)
    assert events(chain.vault, receipt, "Withdraw") == [
        {
            "sender": chain.reinsurer,
            "receiver": chain.claimant,
            "owner": chain.reinsurer,
            "assets": expected,
            "shares": part,
        }
    ]
    assert events(chain.vault, receipt, "Transfer") == [
        {"from": chain.reinsurer, "to": ZERO, "value": part}
    ]
    assert chain.balance(chain.claimant) == expected == 100 * USDC
    assert v.balanceOf(chain.reinsurer).call() == shares - part


def test_redeem_refusals(chain: Deployment) -> None:
    v = chain.vault.functions
    shares = fund_vault(chain, 10 * USDC)
    r = chain.reinsurer
    # Shares are the owner's alone.
    assert_reverts(v.redeem(1, chain.stranger, r), chain.stranger, "Unauthorized", chain.stranger)
    assert_reverts(v.redeem(0, r, r), r, "ZeroAmount")
    assert_reverts(v.redeem(shares, ZERO, r), r, "ZeroAddress")
    assert_reverts(v.redeem(shares + 1, r, r), r, "InsufficientShares", r, shares, shares + 1)
    # Less than one asset unit's worth of shares rounds to nothing.
    assert_reverts(v.redeem(VIRTUAL_SHARES - 1, r, r), r, "ZeroAmount")
    assert v.balanceOf(r).call() == shares


def test_deposit_refusals(chain: Deployment) -> None:
    v = chain.vault.functions
    r = chain.reinsurer
    assert_reverts(v.deposit(0, r), r, "ZeroAmount")
    assert_reverts(v.deposit(1, ZERO), r, "ZeroAddress")
    assert_reverts(v.deposit(5, r), r, "InsufficientAllowance", r, chain.vault.address, 0, 5)
    # After a donation to an empty vault, one unit buys less than one share: refused.
    send(chain.token.functions.transfer(chain.vault.address, 2 * USDC), r)
    send(chain.token.functions.approve(chain.vault.address, 1), r)
    assert v.convertToShares(1).call() == 0
    assert_reverts(v.deposit(1, r), r, "ZeroShares")
    assert v.totalSupply().call() == 0


def test_inflation_donation_does_not_pay(chain: Deployment) -> None:
    """A first depositor who donates to skew the price loses; the victim barely does."""
    v = chain.vault.functions
    attacker, victim = chain.provider, chain.reinsurer
    send(chain.token.functions.approve(chain.vault.address, 1), attacker)
    send(v.deposit(1, attacker), attacker)
    send(chain.token.functions.transfer(chain.vault.address, 1_000 * USDC), attacker)
    victim_shares = fund_vault(chain, 1_000 * USDC)
    assert victim_shares > 0
    attacker_shares = v.balanceOf(attacker).call()
    send(v.redeem(attacker_shares, attacker, attacker), attacker)
    send(v.redeem(victim_shares, victim, victim), victim)
    attacker_loss = START_BALANCE - chain.balance(attacker)
    victim_loss = START_BALANCE - chain.balance(victim)
    # Half the donation stays with the virtual shares: the attacker pays for the attempt.
    assert attacker_loss > 499 * USDC
    # The victim loses at most one (inflated) share to rounding: donation / 10^6.
    assert victim_loss <= 1_000 * USDC // VIRTUAL_SHARES + 1
    assert attacker_loss > 100_000 * victim_loss


def test_cession_reserves_capacity_and_blocks_redemption(chain: Deployment) -> None:
    v = chain.vault.functions
    r = chain.reinsurer
    shares = fund_vault(chain, 1_000 * USDC)
    _cede_directly(chain, "c", 700 * USDC, 20 * USDC)
    assert v.reservedCapacity().call() == 700 * USDC
    assert v.freeCapacity().call() == 320 * USDC
    assert v.cessionOf(tid("c")).call() == [chain.provider, 700 * USDC, 700 * USDC, 20 * USDC, True]
    # Capital reserved for the cession cannot be redeemed.
    worth = v.convertToAssets(shares).call()
    assert_reverts(
        v.redeem(shares, r, r), r, "InsufficientFreeCapacity", worth, 320 * USDC, mined=True
    )
    most = v.maxRedeem(r).call()
    assert 0 < most < shares
    assert v.convertToAssets(most).call() <= 320 * USDC
    send(v.redeem(most, r, r), r)
    assert v.totalAssets().call() >= v.reservedCapacity().call() == 700 * USDC


def test_only_approved_cedents_may_cede(chain: Deployment) -> None:
    v = chain.vault.functions
    fund_vault(chain, 100 * USDC)
    p = chain.provider
    send(chain.token.functions.approve(chain.vault.address, 10 * USDC), p)
    # Otherwise anyone could reserve all capacity for a one-unit premium.
    assert_reverts(v.acceptCession(tid("c"), 100 * USDC, 1), p, "NotCedent", p)
    for caller in (chain.operator, p):
        assert_reverts(v.setCedent(p, True), caller, "Unauthorized", caller)
    assert_reverts(v.setCedent(ZERO, True), chain.admin, "ZeroAddress")
    receipt = send(v.setCedent(p, True), chain.admin)
    assert events(chain.vault, receipt, "CedentSet") == [{"cedent": p, "allowed": True}]
    send(v.acceptCession(tid("c"), 10 * USDC, 1), p)
    send(v.setCedent(p, False), chain.admin)
    assert_reverts(v.acceptCession(tid("d"), 10 * USDC, 1), p, "NotCedent", p)
    assert v.reservedCapacity().call() == 10 * USDC


def test_accept_cession_refusals(chain: Deployment) -> None:
    v = chain.vault.functions
    fund_vault(chain, 100 * USDC)
    p = chain.provider
    send(v.setCedent(p, True), chain.admin)
    send(chain.token.functions.approve(chain.vault.address, 10 * USDC), p)
    assert_reverts(v.acceptCession(b"\x00" * 32, 1, 1), p, "ZeroId")
    assert_reverts(v.acceptCession(tid("c"), 0, 1), p, "ZeroAmount")
    assert_reverts(v.acceptCession(tid("c"), 1, 0), p, "ZeroAmount")
    assert_reverts(
        v.acceptCession(tid("c"), 100 * USDC + 1, 1),
        p,
        "CessionOverCapacity",
        100 * USDC + 1,
        100 * USDC,
        mined=True,
    )
    send(v.acceptCession(tid("c"), 60 * USDC, 1 * USDC), p)
    assert_reverts(v.acceptCession(tid("c"), 1, 1), p, "CessionExists", tid("c"))
    # Capacity already reserved is not offered twice (the premium adds to free capacity).
    assert_reverts(
        v.acceptCession(tid("d"), 41 * USDC + 1, 1),
        p,
        "CessionOverCapacity",
        41 * USDC + 1,
        41 * USDC,
    )


def test_recoveries_are_capped_and_paid_to_the_cedent(chain: Deployment) -> None:
    v = chain.vault.functions
    op = chain.operator
    fund_vault(chain, 1_000 * USDC)
    _cede_directly(chain, "c", 300 * USDC, 10 * USDC)
    before = chain.balance(chain.provider)
    r1, c = tid("r1"), tid("c")
    assert_reverts(v.payRecovery(r1, c, 1), chain.stranger, "Unauthorized", chain.stranger)
    assert_reverts(v.payRecovery(r1, c, 1), chain.provider, "Unauthorized", chain.provider)
    assert_reverts(v.payRecovery(r1, c, 0), op, "ZeroAmount")
    assert_reverts(v.payRecovery(b"\x00" * 32, c, 1), op, "ZeroId")
    assert_reverts(v.payRecovery(r1, tid("x"), 1), op, "CessionNotOpen", tid("x"))
    assert not v.recoveryPaid(r1).call()
    receipt = send(v.payRecovery(r1, c, 200 * USDC), op)
    assert events(chain.vault, receipt, "RecoveryPaid") == [
        {"recoveryId": r1, "cessionId": c, "cedent": chain.provider, "amount": 200 * USDC}
    ]
    assert v.recoveryPaid(r1).call()
    assert chain.balance(chain.provider) == before + 200 * USDC
    assert v.reservedCapacity().call() == 100 * USDC
    assert_reverts(
        v.payRecovery(tid("r2"), c, 100 * USDC + 1),
        op,
        "RecoveryOverCap",
        c,
        100 * USDC + 1,
        100 * USDC,
        mined=True,
    )
    assert v.totalAssets().call() == 810 * USDC


def test_a_recovery_id_pays_once(chain: Deployment) -> None:
    """A retried or replayed recovery instruction is refused, within the cap or not."""
    v = chain.vault.functions
    op = chain.operator
    fund_vault(chain, 1_000 * USDC)
    _cede_directly(chain, "c", 300 * USDC, 10 * USDC)
    send(v.payRecovery(tid("once"), tid("c"), 50 * USDC), op)
    before = chain.balance(chain.provider)
    assert_reverts(
        v.payRecovery(tid("once"), tid("c"), 50 * USDC), op, "RecoveryIdUsed", tid("once")
    )
    assert chain.balance(chain.provider) == before
    assert v.cessionOf(tid("c")).call()[2] == 250 * USDC


def test_release_frees_the_remaining_reservation(chain: Deployment) -> None:
    v = chain.vault.functions
    op = chain.operator
    fund_vault(chain, 1_000 * USDC)
    _cede_directly(chain, "c", 300 * USDC, 10 * USDC)
    send(v.payRecovery(tid("r"), tid("c"), 50 * USDC), op)
    assert_reverts(v.releaseCession(tid("c")), chain.stranger, "Unauthorized", chain.stranger)
    receipt = send(v.releaseCession(tid("c")), op)
    assert events(chain.vault, receipt, "CessionReleased") == [
        {"cessionId": tid("c"), "released": 250 * USDC}
    ]
    assert v.reservedCapacity().call() == 0
    assert v.freeCapacity().call() == 960 * USDC
    assert_reverts(v.releaseCession(tid("c")), op, "CessionNotOpen", tid("c"))
    assert_reverts(v.payRecovery(tid("r2"), tid("c"), 1), op, "CessionNotOpen", tid("c"))
    assert_reverts(v.acceptCession(tid("c"), 1, 1), chain.provider, "CessionExists", tid("c"))


def test_only_admin_changes_operator(chain: Deployment) -> None:
    v = chain.vault.functions
    assert_reverts(v.setOperator(chain.stranger), chain.operator, "Unauthorized", chain.operator)
    receipt = send(v.setOperator(chain.stranger), chain.admin)
    assert events(chain.vault, receipt, "OperatorChanged") == [
        {"previousOperator": chain.operator, "newOperator": chain.stranger}
    ]
    assert v.operator().call() == chain.stranger


@settings(
    max_examples=examples(12, 200),  # each example is a few chain transactions
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    # Three deposits at most must fit in the reinsurer's START_BALANCE.
    deposits=st.lists(st.integers(1, 300_000 * USDC), min_size=2, max_size=3),
    premium=st.integers(1, 10**5 * USDC),
)
def test_share_maths_matches_the_integer_model(
    chain: Deployment, deposits: list[int], premium: int
) -> None:
    """Deposits and redemptions (with a premium landing in between) mint and pay
    exactly what the integer model says, and no unit is created or lost."""
    v = chain.vault.functions
    r = chain.reinsurer
    tester = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    snapshot = tester.take_snapshot()
    try:
        supply = total = 0
        minted = []
        for i, amount in enumerate(deposits):
            if i == 1:
                _cede_directly(chain, "p", 1, premium)
                send(v.releaseCession(tid("p")), chain.operator)
                total += premium
            got = fund_vault(chain, amount)
            assert got == to_shares(amount, supply, total)
            supply += got
            total += amount
            minted.append(got)
        assert (v.totalSupply().call(), v.totalAssets().call()) == (supply, total)
        paid = 0
        for shares in minted:
            want = to_assets(shares, supply, total)
            if want == 0:  # dust: refused, nothing moves
                assert_reverts(v.redeem(shares, r, r), r, "ZeroAmount")
                continue
            before = chain.balance(r)
            send(v.redeem(shares, r, r), r)
            assert chain.balance(r) - before == want
            supply -= shares
            total -= want
            paid += want
        assert (v.totalSupply().call(), v.totalAssets().call()) == (supply, total)
        assert paid + total == sum(deposits) + premium  # conservation, to the unit
    finally:
        tester.revert_to_snapshot(snapshot)

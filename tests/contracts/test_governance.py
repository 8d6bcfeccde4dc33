"""Governance on the embedded py-evm chain: the whole life of a proposal, the
counting modes, what proposals may call, and the guardian's narrow power.

Each refusal is checked by its exact custom error and arguments."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3

from tests.contracts.governance_support import (
    ABSTAIN,
    ACTIVE,
    AGAINST,
    CANCELED,
    DEFEATED,
    DELAY,
    EXECUTED,
    EXPIRED,
    FOR,
    GRACE,
    GUARDIAN_PAUSE,
    LIQUIDITY,
    PENDING,
    PROTOCOL,
    QUEUED,
    SUCCEEDED,
    TOKEN,
    VOTING_PERIOD,
    EmbeddedClock,
    Gov,
    deploy,
    deploy_governance,
    deploy_governor,
)
from tests.contracts.support import assert_reverts, decode_error, events, revert_data, send

USDC = 10**6


@pytest.fixture(scope="module")
def _gov() -> tuple[Gov, object]:
    w3 = Web3(EthereumTesterProvider())
    gov = deploy_governance(w3)
    tester = w3.provider.ethereum_tester  # type: ignore[attr-defined]
    return gov, tester.take_snapshot()


@pytest.fixture
def gov(_gov: tuple[Gov, object]) -> Iterator[Gov]:
    g, snapshot = _gov
    yield g
    g.w3.provider.ethereum_tester.revert_to_snapshot(snapshot)  # type: ignore[attr-defined]


def _now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def _pass(gov: Gov, pid: bytes, clock: EmbeddedClock) -> None:
    """Alice (500k with carol's delegation) votes for; the vote closes."""
    clock.mine(1)
    send(gov.governor.functions.castVote(pid, FOR), gov.alice)
    clock.mine(VOTING_PERIOD)
    assert gov.state(pid) == SUCCEEDED


def test_full_lifecycle_with_delegated_power(gov: Gov) -> None:
    clock = EmbeddedClock(gov.w3)
    g, t = gov.governor, gov.terms
    target = gov.small[0]
    pid = gov.propose(
        [gov.terms_call("setCoverageLimit", PROTOCOL, 5_000 * USDC),
         gov.terms_call("addCoveredContract", target)],
        "raise the protocol cover limit and cover a contract",
        sender=gov.alice,
    )  # fmt: skip
    assert gov.state(pid) == PENDING
    assert_reverts(g.functions.castVote(pid, FOR), gov.alice, "VotingNotStarted", pid,
                   g.functions.proposalInfo(pid).call()[0][1])  # fmt: skip
    clock.mine(1)
    # Power counts as delegated at the snapshot: alice votes with carol's 200k too,
    # carol (who delegated everything away) has none of her own.
    receipt = send(g.functions.castVote(pid, FOR), gov.alice)
    (cast,) = events(g, receipt, "VoteCast")
    assert (cast["votes"], cast["weight"]) == (500_000 * TOKEN, 500_000 * TOKEN)
    assert gov.state(pid) == ACTIVE
    with pytest.raises(TransactionFailed) as future:  # votes are known for mined blocks only
        gov.token.functions.getPastVotes(gov.alice, 10**9).call()
    name, args = decode_error(revert_data(future.value))
    assert (name, args[0]) == ("FutureLookup", 10**9)
    snapshot = g.functions.proposalInfo(pid).call()[0][1]
    assert_reverts(g.functions.castVote(pid, FOR), gov.carol, "NoVotingPower", gov.carol, snapshot)
    assert_reverts(g.functions.castVote(pid, AGAINST), gov.alice, "AlreadyVoted", pid, gov.alice,
                   mined=True)  # fmt: skip
    assert_reverts(g.functions.castVote(pid, 3), gov.small[1], "InvalidSupport", 3)
    # Tokens moved after the snapshot do not vote again.
    send(gov.token.functions.transfer(gov.carol, 100_000 * TOKEN), gov.small[1])
    send(gov.token.functions.delegate(gov.carol), gov.carol)
    assert_reverts(g.functions.castVote(pid, FOR), gov.carol, "NoVotingPower", gov.carol, snapshot)
    send(g.functions.castVote(pid, AGAINST), gov.small[0])
    send(g.functions.castVote(pid, ABSTAIN), gov.small[1])  # its power at the snapshot
    clock.mine(VOTING_PERIOD)
    deadline = g.functions.proposalInfo(pid).call()[0][2]
    assert_reverts(g.functions.castVote(pid, FOR), gov.small[2], "VotingClosed", pid, deadline,
                   mined=True)  # fmt: skip
    assert gov.state(pid) == SUCCEEDED

    receipt = send(g.functions.queue(pid), gov.small[3])  # anyone may queue and execute
    (queued,) = events(g, receipt, "ProposalQueued")
    eta = queued["eta"]
    assert eta == _now(gov.w3) + DELAY
    assert gov.state(pid) == QUEUED
    assert_reverts(g.functions.queue(pid), gov.alice, "ProposalNotSucceeded", pid, QUEUED)
    # Before the timelock's eta: refused with the eta and the time it was tried.
    assert_reverts(g.functions.execute(pid), gov.alice, "ExecuteBeforeTimelock", pid, eta,
                   _now(gov.w3))  # fmt: skip
    assert t.functions.coverageLimit(PROTOCOL).call() == 0
    clock.advance(DELAY)
    receipt = send(g.functions.execute(pid), gov.small[3])
    assert gov.state(pid) == EXECUTED
    assert t.functions.coverageLimit(PROTOCOL).call() == 5_000 * USDC
    assert t.functions.isCovered(target).call() is True
    assert t.functions.version().call() == 2
    assert [e["version"] for e in events(t, receipt, "CoverageLimitSet")] == [1]
    assert [e["target"] for e in events(t, receipt, "CoveredContractAdded")] == [target]
    assert_reverts(g.functions.execute(pid), gov.alice, "ProposalNotQueued", pid, EXECUTED)


def test_quorum_failure_and_majority_against(gov: Gov) -> None:
    clock = EmbeddedClock(gov.w3)
    g = gov.governor
    low = gov.propose([gov.terms_call("setPaused", True)], "pause (too few voters)",
                      sender=gov.small[0])  # fmt: skip
    beaten = gov.propose([gov.terms_call("setPaused", True)], "pause (outvoted)",
                         sender=gov.small[0])  # fmt: skip
    clock.mine(1)
    # 300k for: under the 400k quorum even with nobody against.
    for voter in gov.small[:3]:
        send(g.functions.castVote(low, FOR), voter)
    # 400k for meets quorum, but alice's 500k against outweigh it.
    for voter in gov.small:
        send(g.functions.castVote(beaten, FOR), voter)
    send(g.functions.castVote(beaten, AGAINST), gov.alice)
    clock.mine(VOTING_PERIOD)
    assert gov.state(low) == DEFEATED
    assert gov.state(beaten) == DEFEATED
    assert_reverts(g.functions.queue(low), gov.alice, "ProposalNotSucceeded", low, DEFEATED,
                   mined=True)  # fmt: skip
    assert gov.terms.functions.isPaused().call() is False


def test_quadratic_counting_turns_a_whale_vote(gov: Gov) -> None:
    """The same votes: the simple governor follows the 500k whale, the quadratic one
    the four 100k holders (4 * isqrt(100k) > isqrt(500k)); quorum is raw votes in both."""
    clock = EmbeddedClock(gov.w3)
    quad_lock = deploy(gov.w3, "BallastTimelock", DELAY, GRACE, sender=gov.admin)
    quad_terms = deploy(gov.w3, "PoolTerms", quad_lock.address, gov.pool, gov.guardian,
                        GUARDIAN_PAUSE, sender=gov.admin)  # fmt: skip
    quad = deploy_governor(gov.w3, gov.token, quad_lock, [quad_terms.address], 1, gov.admin)
    send(quad_lock.functions.setGovernor(quad.address), gov.admin)
    assert quad.functions.countingMode().call() == 1

    data = quad_terms.encode_abi("setCoverageLimit", args=[LIQUIDITY, 7 * USDC])
    simple_id = gov.propose([gov.terms_call("setCoverageLimit", LIQUIDITY, 7 * USDC)], "x",
                            sender=gov.alice)  # fmt: skip
    fn = quad.functions.propose([quad_terms.address], [0], [data], "x")
    quad_id = bytes(fn.call({"from": gov.alice}))
    send(fn, gov.alice)
    clock.mine(1)
    for governor, pid in ((gov.governor, simple_id), (quad, quad_id)):
        send(governor.functions.castVote(pid, AGAINST), gov.alice)
        for voter in gov.small:
            send(governor.functions.castVote(pid, FOR), voter)
    clock.mine(VOTING_PERIOD)
    whale, small = 500_000 * TOKEN, 100_000 * TOKEN
    info = quad.functions.proposalInfo(quad_id).call()[0]
    assert info[6] == math.isqrt(whale)  # against weight
    assert info[7] == 4 * math.isqrt(small)  # for weight
    assert info[9] == 4 * small  # quorum counts raw votes
    assert quad.functions.isqrt(whale).call() == math.isqrt(whale)
    assert [quad.functions.isqrt(x).call() for x in (0, 1, 3, 4, 2**256 - 1)] == [
        0, 1, 1, 2, math.isqrt(2**256 - 1)]  # fmt: skip
    assert gov.state(simple_id) == DEFEATED
    assert gov.state(quad_id, quad) == SUCCEEDED
    send(quad.functions.queue(quad_id), gov.alice)
    clock.advance(DELAY)
    send(quad.functions.execute(quad_id), gov.alice)
    assert quad_terms.functions.coverageLimit(LIQUIDITY).call() == 7 * USDC
    assert gov.terms.functions.coverageLimit(LIQUIDITY).call() == 0


def test_proposals_may_only_call_the_governed_setters(gov: Gov) -> None:
    g, a = gov.governor, gov.alice
    terms = gov.terms.address
    limit = gov.terms_call("setCoverageLimit", PROTOCOL, 1)[1]
    pause_sel = bytes(gov.terms_call("guardianPause")[1][:4])
    assert_reverts(g.functions.propose([gov.token.address], [0], [limit], "d"), a,
                   "TargetNotAllowed", 0, gov.token.address, mined=True)  # fmt: skip
    assert_reverts(g.functions.propose([terms, gov.timelock.address], [0, 0], [limit, limit], "d"),
                   a, "TargetNotAllowed", 1, gov.timelock.address)  # fmt: skip
    assert_reverts(g.functions.propose([terms], [0], [pause_sel], "d"), a,
                   "SelectorNotAllowed", 0, terms, pause_sel)  # fmt: skip
    assert_reverts(g.functions.propose([terms], [0], [b"\x01"], "d"), a,
                   "SelectorNotAllowed", 0, terms, b"\0" * 4)  # fmt: skip
    assert_reverts(g.functions.propose([terms], [1], [limit], "d"), a, "ValueNotAllowed", 0, 1)
    assert_reverts(g.functions.propose([], [], [], "d"), a, "EmptyProposal")
    assert_reverts(g.functions.propose([terms], [], [limit], "d"), a,
                   "ProposalLengthMismatch", 1, 0, 1)  # fmt: skip
    # Registering a new PoolTerms goes through a proposal too; the governor's other
    # functions do not.
    register = bytes.fromhex(g.encode_abi("registerTerms", args=[gov.pool])[2:])
    gov.propose([(g.address, register)], "register another pool's terms", sender=a)
    queue_sel = bytes.fromhex(g.encode_abi("queue", args=[b"\0" * 32])[2:])
    assert_reverts(g.functions.propose([g.address], [0], [queue_sel], "d"), a,
                   "SelectorNotAllowed", 0, g.address, queue_sel[:4])  # fmt: skip
    # Below the proposal threshold (one token of power at the previous block).
    stranger = gov.carol  # delegated everything to alice
    assert_reverts(g.functions.propose([terms], [0], [limit], "d"), stranger,
                   "BelowProposalThreshold", stranger, 0, TOKEN)  # fmt: skip
    pid = gov.propose([(terms, limit)], "same twice", sender=a)
    assert_reverts(g.functions.propose([terms], [0], [limit], "same twice"), a,
                   "ProposalExists", pid)  # fmt: skip


def test_only_the_timelock_changes_terms_and_only_the_governor_drives_it(gov: Gov) -> None:
    t, lock = gov.terms, gov.timelock
    assert_reverts(t.functions.setCoverageLimit(PROTOCOL, 1), gov.alice, "NotTimelock", gov.alice,
                   mined=True)  # fmt: skip
    assert_reverts(t.functions.setCoverageLimit(PROTOCOL, 1), gov.guardian,
                   "GuardianCannotChangeTerms", gov.guardian, mined=True)  # fmt: skip
    assert_reverts(t.functions.addCoveredContract(gov.alice), gov.guardian,
                   "GuardianCannotChangeTerms", gov.guardian)  # fmt: skip
    assert_reverts(t.functions.setPaused(False), gov.guardian, "GuardianCannotUnpause",
                   gov.guardian, mined=True)  # fmt: skip
    assert_reverts(t.functions.guardianPause(), gov.alice, "NotGuardian", gov.alice)
    assert_reverts(lock.functions.queue([t.address], [0], [b"\0" * 4], b"\0" * 32), gov.alice,
                   "NotGovernor", gov.alice)  # fmt: skip
    assert_reverts(lock.functions.setGovernor(gov.alice), gov.admin, "GovernorAlreadySet",
                   gov.governor.address)  # fmt: skip
    assert_reverts(gov.governor.functions.registerTerms(gov.alice), gov.alice, "NotTimelock",
                   gov.alice)  # fmt: skip
    assert t.functions.version().call() == 0
    with pytest.raises(TransactionFailed) as info:  # a guardian that is also the timelock
        deploy(gov.w3, "PoolTerms", gov.admin, gov.pool, gov.admin, 1, sender=gov.admin)
    assert decode_error(revert_data(info.value)) == ("GuardianIsTimelock", ())


def test_guardian_pause_lapses_unless_governance_confirms_it(gov: Gov) -> None:
    clock = EmbeddedClock(gov.w3)
    t = gov.terms
    receipt = send(t.functions.guardianPause(), gov.guardian)
    (paused,) = events(t, receipt, "GuardianPaused")
    until = paused["until"]
    assert t.functions.isPaused().call() is True
    assert t.functions.paused().call() is False  # not a governance pause
    assert_reverts(t.functions.guardianPause(), gov.guardian, "GuardianPauseActive", until)
    clock.advance(GUARDIAN_PAUSE)
    assert t.functions.isPaused().call() is False  # lapsed by itself
    # It cannot simply pause again: it waits as long as the pause lasted.
    assert_reverts(t.functions.guardianPause(), gov.guardian, "GuardianCoolingDown",
                   until + GUARDIAN_PAUSE, mined=True)  # fmt: skip
    clock.advance(GUARDIAN_PAUSE)
    send(t.functions.guardianPause(), gov.guardian)
    # Governance confirms this one: it stays after the guardian's time runs out.
    pid = gov.propose([gov.terms_call("confirmPause")], "confirm the pause", sender=gov.alice)
    _pass(gov, pid, clock)
    send(gov.governor.functions.queue(pid), gov.alice)
    clock.advance(DELAY)
    receipt = send(gov.governor.functions.execute(pid), gov.alice)
    assert len(events(t, receipt, "PauseConfirmed")) == 1
    clock.advance(GUARDIAN_PAUSE)
    assert (t.functions.isPaused().call(), t.functions.paused().call()) == (True, True)
    # Only another proposal lifts it.
    pid = gov.propose([gov.terms_call("setPaused", False)], "unpause", sender=gov.alice)
    _pass(gov, pid, clock)
    send(gov.governor.functions.queue(pid), gov.alice)
    clock.advance(DELAY)
    send(gov.governor.functions.execute(pid), gov.alice)
    assert t.functions.isPaused().call() is False


def test_a_failing_action_reverts_the_execution_with_its_own_error(gov: Gov) -> None:
    clock = EmbeddedClock(gov.w3)
    bad = gov.terms_call("setOracles", [gov.small[0], gov.small[1]], 3)  # 3 of 2
    pid = gov.propose([gov.terms_call("setCoverageLimit", PROTOCOL, 9), bad], "bad oracles",
                      sender=gov.alice)  # fmt: skip
    _pass(gov, pid, clock)
    send(gov.governor.functions.queue(pid), gov.alice)
    clock.advance(DELAY)
    assert_reverts(gov.governor.functions.execute(pid), gov.alice, "InvalidThreshold", 3, 2,
                   mined=True)  # fmt: skip
    assert gov.terms.functions.coverageLimit(PROTOCOL).call() == 0  # all or nothing
    assert gov.state(pid) == QUEUED


def test_a_queued_proposal_expires_after_the_grace_period(gov: Gov) -> None:
    clock = EmbeddedClock(gov.w3)
    oracles = [gov.small[0], gov.small[1], gov.small[2]]
    pid = gov.propose([gov.terms_call("setOracles", oracles, 2)], "2 of 3 oracles",
                      sender=gov.alice)  # fmt: skip
    _pass(gov, pid, clock)
    send(gov.governor.functions.queue(pid), gov.alice)
    clock.advance(DELAY + GRACE + 1)
    assert gov.state(pid) == EXPIRED
    assert_reverts(gov.governor.functions.execute(pid), gov.alice, "ProposalNotQueued", pid,
                   EXPIRED)  # fmt: skip


def test_the_proposer_cancels_only_while_pending(gov: Gov) -> None:
    clock = EmbeddedClock(gov.w3)
    g = gov.governor
    pid = gov.propose([gov.terms_call("setPaused", True)], "oops", sender=gov.alice)
    assert_reverts(g.functions.cancel(pid), gov.small[0], "NotProposer", gov.small[0])
    send(g.functions.cancel(pid), gov.alice)
    assert gov.state(pid) == CANCELED
    clock.mine(2)
    assert gov.state(pid) == CANCELED
    assert_reverts(g.functions.castVote(pid, FOR), gov.alice, "VotingCanceled", pid)
    later = gov.propose([gov.terms_call("setPaused", True)], "later", sender=gov.alice)
    clock.mine(2)
    assert_reverts(g.functions.cancel(later), gov.alice, "ProposalNotPending", later, ACTIVE)
    assert_reverts(g.functions.state(b"\x07" * 32), gov.alice, "UnknownProposal", b"\x07" * 32)


def test_terms_setters_check_their_input_and_snapshot_reads_everything(gov: Gov) -> None:
    clock = EmbeddedClock(gov.w3)
    t = gov.terms
    a, b = gov.small[0], gov.small[1]
    calls = [
        gov.terms_call("setCoverageLimit", PROTOCOL, 1_000 * USDC),
        gov.terms_call("setCoverageLimit", LIQUIDITY, 250 * USDC),
        gov.terms_call("setPremiumModel", 200, 8_000, 400, 6_000),
        gov.terms_call("setOracles", [a, b], 2),
        gov.terms_call("addCoveredContract", a),
        gov.terms_call("addCoveredContract", b),
        gov.terms_call("removeCoveredContract", a),
    ]
    pid = gov.propose(calls, "initial terms", sender=gov.alice)
    _pass(gov, pid, clock)
    send(gov.governor.functions.queue(pid), gov.alice)
    clock.advance(DELAY)
    send(gov.governor.functions.execute(pid), gov.alice)
    version, paused, until, limits, premium, oracles, k, covered = t.functions.snapshot().call()
    assert (version, paused, until) == (7, False, 0)
    assert limits == [1_000 * USDC, 0, 0, 0, 250 * USDC]
    assert tuple(premium) == (200, 8_000, 400, 6_000)
    assert (oracles, k, covered) == ([a, b], 2, [b])
    # The setters' own checks, on a PoolTerms whose "timelock" is a plain account.
    direct = deploy(gov.w3, "PoolTerms", gov.admin, gov.pool, gov.guardian, GUARDIAN_PAUSE,
                    sender=gov.admin)  # fmt: skip
    send(direct.functions.addCoveredContract(b), gov.admin)
    assert_reverts(direct.functions.setCoverageLimit(5, 1), gov.admin, "UnknownCoverType", 5)
    assert_reverts(direct.functions.setOracles([a, a], 1), gov.admin, "DuplicateOracle", a)
    assert_reverts(direct.functions.setOracles([], 0), gov.admin, "InvalidThreshold", 0, 0)
    assert_reverts(
        direct.functions.setPremiumModel(1, 10_001, 1, 1), gov.admin, "InvalidPremiumModel"
    )
    assert_reverts(direct.functions.addCoveredContract(b), gov.admin, "AlreadyCovered", b)
    assert_reverts(direct.functions.removeCoveredContract(a), gov.admin, "NotCovered", a)
    assert_reverts(direct.functions.confirmPause(), gov.admin, "NoGuardianPause")


def test_delegation_by_signature_is_good_once_on_this_chain_before_expiry(gov: Gov) -> None:
    holder = Account.create()
    send(gov.token.functions.transfer(holder.address, 50_000 * TOKEN), gov.admin)
    chain_id = gov.w3.eth.chain_id

    def signed(nonce: int, expiry: int, chain: int = chain_id) -> tuple[int, bytes, bytes]:
        sig = holder.sign_typed_data(
            full_message={
                "types": {
                    "EIP712Domain": [
                        {"name": "name", "type": "string"},
                        {"name": "chainId", "type": "uint256"},
                        {"name": "verifyingContract", "type": "address"},
                    ],
                    "Delegation": [
                        {"name": "delegatee", "type": "address"},
                        {"name": "nonce", "type": "uint256"},
                        {"name": "expiry", "type": "uint256"},
                    ],
                },
                "primaryType": "Delegation",
                "domain": {
                    "name": "Ballast Governance",
                    "chainId": chain,
                    "verifyingContract": gov.token.address,
                },
                "message": {"delegatee": gov.alice, "nonce": nonce, "expiry": expiry},
            }
        )
        return sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")

    later = _now(gov.w3) + 3_600
    by_sig = gov.token.functions.delegateBySig
    before = gov.token.functions.getVotes(gov.alice).call()
    # The relayer (anyone) pays the gas; the holder's votes go to alice.
    send(by_sig(gov.alice, 0, later, *signed(0, later)), gov.small[0])
    assert gov.token.functions.getVotes(gov.alice).call() == before + 50_000 * TOKEN
    assert gov.token.functions.delegates(holder.address).call() == gov.alice
    assert_reverts(by_sig(gov.alice, 0, later, *signed(0, later)), gov.small[0],
                   "InvalidNonce", holder.address, 1, 0)  # fmt: skip
    past = _now(gov.w3) - 1
    assert_reverts(by_sig(gov.alice, 1, past, *signed(1, past)), gov.small[0],
                   "SignatureExpired", past)  # fmt: skip
    # Signed for another chain: it recovers to some other address, never the holder.
    v, r, s = signed(1, later, chain=chain_id + 1)
    with pytest.raises(TransactionFailed) as wrong:
        by_sig(gov.alice, 1, later, v, r, s).call({"from": gov.small[0]})
    name, args = decode_error(revert_data(wrong.value))
    assert name == "InvalidNonce" and args[0] != holder.address
    high_s = (2**256 - 1).to_bytes(32, "big")
    assert_reverts(by_sig(gov.alice, 1, later, v, r, high_s), gov.small[0], "InvalidSignature")

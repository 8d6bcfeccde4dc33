"""The governance contracts on a real node (anvil from npm): a proposal's life with
delegated votes, quorum failure, the timelock wait, quadratic counting and the
guardian's lapsing pause, each refusal checked by its custom error."""

from __future__ import annotations

import math
from typing import Any

import pytest
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError

from tests.contracts.governance_support import (
    AGAINST,
    DEFEATED,
    DELAY,
    EXECUTED,
    FOR,
    GRACE,
    GUARDIAN_PAUSE,
    PROTOCOL,
    SUCCEEDED,
    TOKEN,
    VOTING_PERIOD,
    AnvilClock,
    deploy_governance,
    deploy_governor,
)
from tests.contracts.support import decode_error, deploy, send
from tests.contracts.test_on_anvil import anvil  # noqa: F401 - the node fixture

USDC = 10**6


def _refused(fn: ContractFunction, sender: str) -> tuple[str, tuple[Any, ...]]:
    with pytest.raises(ContractCustomError) as info:
        fn.call({"from": sender})
    return decode_error(bytes.fromhex(str(info.value.data)[2:]))


@pytest.mark.node
def test_governance_on_anvil(anvil: Web3) -> None:  # noqa: F811
    w3 = anvil
    clock = AnvilClock(w3)
    gov = deploy_governance(w3)
    g, t = gov.governor, gov.terms
    pid = gov.propose([gov.terms_call("setCoverageLimit", PROTOCOL, 5_000 * USDC)],
                      "raise the limit", sender=gov.alice)  # fmt: skip
    weak = gov.propose([gov.terms_call("setPaused", True)], "pause", sender=gov.small[0])
    clock.mine(1)
    send(g.functions.castVote(pid, FOR), gov.alice)  # 300k own + 200k delegated by carol
    send(g.functions.castVote(pid, AGAINST), gov.small[0])
    send(g.functions.castVote(weak, FOR), gov.small[0])  # 100k: below the 400k quorum
    assert _refused(g.functions.castVote(pid, FOR), gov.alice) == ("AlreadyVoted", (pid, gov.alice))
    snapshot = g.functions.proposalInfo(pid).call()[0][1]
    assert _refused(g.functions.castVote(pid, FOR), gov.carol) == (
        "NoVotingPower", (gov.carol, snapshot))  # fmt: skip
    clock.mine(VOTING_PERIOD)
    deadline = g.functions.proposalInfo(pid).call()[0][2]
    assert _refused(g.functions.castVote(pid, FOR), gov.small[1]) == (
        "VotingClosed", (pid, deadline))  # fmt: skip
    assert (gov.state(pid), gov.state(weak)) == (SUCCEEDED, DEFEATED)
    assert _refused(g.functions.queue(weak), gov.alice) == (
        "ProposalNotSucceeded",
        (weak, DEFEATED),
    )

    send(g.functions.queue(pid), gov.alice)
    name, args = _refused(g.functions.execute(pid), gov.alice)
    eta = g.functions.proposalInfo(pid).call()[0][3]
    assert (name, args[:2]) == ("ExecuteBeforeTimelock", (pid, eta)) and args[2] < eta
    clock.advance(DELAY)
    send(g.functions.execute(pid), gov.alice)
    assert gov.state(pid) == EXECUTED
    assert t.functions.coverageLimit(PROTOCOL).call() == 5_000 * USDC

    # The guardian: pause only, never unpause or change terms; the pause lapses.
    send(t.functions.guardianPause(), gov.guardian)
    assert t.functions.isPaused().call() is True
    assert _refused(t.functions.setPaused(False), gov.guardian) == (
        "GuardianCannotUnpause", (gov.guardian,))  # fmt: skip
    assert _refused(t.functions.setCoverageLimit(PROTOCOL, 0), gov.guardian) == (
        "GuardianCannotChangeTerms", (gov.guardian,))  # fmt: skip
    clock.advance(GUARDIAN_PAUSE)
    assert t.functions.isPaused().call() is False

    # Quadratic counting on the same token: four 100k holders beat one 500k voter.
    lock = deploy(w3, "BallastTimelock", DELAY, GRACE, sender=gov.admin)
    terms = deploy(w3, "PoolTerms", lock.address, gov.pool, gov.guardian, GUARDIAN_PAUSE,
                   sender=gov.admin)  # fmt: skip
    quad = deploy_governor(w3, gov.token, lock, [terms.address], 1, gov.admin)
    send(lock.functions.setGovernor(quad.address), gov.admin)
    data = terms.encode_abi("setCoverageLimit", args=[PROTOCOL, 1])
    propose = quad.functions.propose([terms.address], [0], [data], "q")
    qid = bytes(propose.call({"from": gov.alice}))
    send(propose, gov.alice)
    clock.mine(2)  # gas estimation runs on the latest block: it must be past the snapshot
    send(quad.functions.castVote(qid, AGAINST), gov.alice)
    for voter in gov.small:
        send(quad.functions.castVote(qid, FOR), voter)
    clock.mine(VOTING_PERIOD)
    info = quad.functions.proposalInfo(qid).call()
    assert info[1] == SUCCEEDED
    assert (info[0][6], info[0][7]) == (
        math.isqrt(500_000 * TOKEN), 4 * math.isqrt(100_000 * TOKEN))  # fmt: skip

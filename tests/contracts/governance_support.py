"""The governance contracts deployed on any web3 chain, and a clock to move it.

Both the embedded py-evm chain and anvil only produce a block when told to;
voting windows are counted in blocks and the timelock in seconds, so the tests
move each explicitly through a :class:`ChainClock` (no sleeping).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from tests.contracts.support import deploy, send

TOKEN = 10**18
SUPPLY = 1_000_000 * TOKEN
QUORUM = 400_000 * TOKEN
VOTING_DELAY = 1  # blocks
VOTING_PERIOD = 10  # blocks
DELAY = 3_600  # seconds in the timelock
GRACE = 86_400
GUARDIAN_PAUSE = 86_400

PENDING, ACTIVE, DEFEATED, SUCCEEDED, QUEUED, EXECUTED, CANCELED, EXPIRED = range(8)
AGAINST, FOR, ABSTAIN = 0, 1, 2
PROTOCOL, POSITION, ORACLE, GOVERNANCE, LIQUIDITY = range(5)


class ChainClock(Protocol):
    def mine(self, blocks: int) -> None: ...
    def advance(self, seconds: int) -> None: ...


@dataclass(frozen=True, slots=True)
class EmbeddedClock:
    """py-evm through eth-tester."""

    w3: Web3

    def mine(self, blocks: int) -> None:
        self.w3.provider.ethereum_tester.mine_blocks(blocks)  # type: ignore[attr-defined]

    def advance(self, seconds: int) -> None:
        tester = self.w3.provider.ethereum_tester  # type: ignore[attr-defined]
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        tester.time_travel(now + seconds)
        tester.mine_blocks(1)  # calls run on the latest block: make it carry the new time


@dataclass(frozen=True, slots=True)
class AnvilClock:
    w3: Web3

    def mine(self, blocks: int) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [hex(seconds)])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Gov:
    w3: Web3
    admin: str
    guardian: str
    alice: str  # 300k, plus carol's 200k delegated to her
    carol: str
    small: tuple[str, ...]  # four holders of 100k each, self-delegated
    token: Contract
    timelock: Contract
    governor: Contract
    terms: Contract
    pool: str  # the risk pool the terms govern (any address: PoolTerms never calls it)

    def propose(self, calls: list[tuple[str, bytes]], description: str, *, sender: str) -> bytes:
        """Propose ``calls`` (target, calldata) and return the proposal id."""
        gov = self.governor
        targets = [t for t, _ in calls]
        datas = [d for _, d in calls]
        values = [0] * len(calls)
        fn = gov.functions.propose(targets, values, datas, description)
        pid = bytes(fn.call({"from": sender}))
        send(fn, sender)
        assert pid == bytes(
            gov.functions.hashProposal(targets, values, datas, keccak(text=description)).call()
        )
        return pid

    def terms_call(self, fn_name: str, *args: Any) -> tuple[str, bytes]:
        data = self.terms.encode_abi(fn_name, args=list(args))
        return self.terms.address, bytes.fromhex(data[2:])

    def state(self, pid: bytes, governor: Contract | None = None) -> int:
        return int((governor or self.governor).functions.state(pid).call())


def deploy_governance(w3: Web3, *, counting_mode: int = 0) -> Gov:
    """Token, timelock, PoolTerms and governor wired as `ballast deploy --governance` does."""
    accounts = list(w3.eth.accounts)
    admin, guardian, alice, carol, pool = accounts[:5]
    small = tuple(accounts[5:9])
    token = deploy(w3, "BallastToken", "Ballast Governance", "BLST", admin, SUPPLY, sender=admin)
    timelock = deploy(w3, "BallastTimelock", DELAY, GRACE, sender=admin)
    terms = deploy(w3, "PoolTerms", timelock.address, pool, guardian, GUARDIAN_PAUSE, sender=admin)
    governor = deploy_governor(w3, token, timelock, [terms.address], counting_mode, admin)
    send(timelock.functions.setGovernor(governor.address), admin)
    send(token.functions.transfer(alice, 300_000 * TOKEN), admin)
    send(token.functions.transfer(carol, 200_000 * TOKEN), admin)
    for holder in small:
        send(token.functions.transfer(holder, 100_000 * TOKEN), admin)
        send(token.functions.delegate(holder), holder)
    send(token.functions.delegate(alice), alice)
    send(token.functions.delegate(alice), carol)
    return Gov(w3, admin, guardian, alice, carol, small, token, timelock, governor, terms, pool)


def deploy_governor(
    w3: Web3, token: Contract, timelock: Contract, terms: list[str], mode: int, admin: str
) -> Contract:
    return deploy(
        w3,
        "BallastGovernor",
        token.address,
        timelock.address,
        VOTING_DELAY,
        VOTING_PERIOD,
        QUORUM,
        TOKEN,  # proposal threshold: one token of voting power
        mode,
        terms,
        sender=admin,
    )

"""Print what governance costs in gas: deployment and each step of a proposal.

    .venv/bin/python -m tests.contracts.gov_gas_report

Gas is deterministic (the same on py-evm and anvil), so these are figures an
integrator can budget with, not timings.
"""

from __future__ import annotations

from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from tests.contracts.governance_support import (
    DELAY,
    FOR,
    GUARDIAN_PAUSE,
    PROTOCOL,
    SUPPLY,
    VOTING_PERIOD,
    EmbeddedClock,
    deploy_governance,
)
from tests.contracts.support import send


def _deploy_gas(w3: Web3, contract: Contract) -> int:
    """Gas of the transaction that created ``contract`` (found by its address)."""
    for n in range(w3.eth.block_number + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            receipt = w3.eth.get_transaction_receipt(tx["hash"])  # type: ignore[index]
            if receipt["contractAddress"] == contract.address:
                return int(receipt["gasUsed"])
    raise LookupError(contract.address)


def main() -> None:
    w3 = Web3(EthereumTesterProvider())
    gov = deploy_governance(w3)
    clock = EmbeddedClock(w3)
    rows: list[tuple[str, int]] = [
        (f"deploy {name}", _deploy_gas(w3, c))
        for name, c in (("BallastToken", gov.token), ("BallastTimelock", gov.timelock),
                        ("PoolTerms", gov.terms), ("BallastGovernor", gov.governor))
    ]  # fmt: skip
    g, t = gov.governor, gov.terms
    rows.append(
        (
            "delegate (first time)",
            send(gov.token.functions.delegate(gov.admin), gov.admin)["gasUsed"],
        )
    )
    one = [gov.terms_call("setCoverageLimit", PROTOCOL, 10**9)]
    five = one + [gov.terms_call("addCoveredContract", a) for a in gov.small]
    for label, calls in (("1 action", one), ("5 actions", five)):
        fn = g.functions.propose(
            [c[0] for c in calls], [0] * len(calls), [c[1] for c in calls], label
        )
        pid = bytes(fn.call({"from": gov.alice}))
        rows.append((f"propose, {label}", send(fn, gov.alice)["gasUsed"]))
        clock.mine(1)
        rows.append(
            (f"castVote, {label}", send(g.functions.castVote(pid, FOR), gov.alice)["gasUsed"])
        )
        clock.mine(VOTING_PERIOD)
        rows.append((f"queue, {label}", send(g.functions.queue(pid), gov.alice)["gasUsed"]))
        clock.advance(DELAY)
        rows.append((f"execute, {label}", send(g.functions.execute(pid), gov.alice)["gasUsed"]))
    rows.append(("guardianPause", send(t.functions.guardianPause(), gov.guardian)["gasUsed"]))
    rows.append(("snapshot() read (eth_call)", t.functions.snapshot().estimate_gas()))
    print(f"supply {SUPPLY // 10**18:,} tokens; guardian pause {GUARDIAN_PAUSE} s")
    print(f"{'step':<34}{'gas':>10}")
    for label, gas in rows:
        print(f"{label:<34}{gas:>10,}")


if __name__ == "__main__":
    main()

"""Print what reading many pools through BatchReader costs in gas.

    .venv/bin/python -m tests.contracts.gas_report [pools]

Gas is deterministic (same fork rules on py-evm and anvil), so this prints
figures rather than timing anything: the EVM adapter sizes its `poolStates`
chunks from them against a node's `eth_call` gas cap.
"""

from __future__ import annotations

import sys

from web3 import EthereumTesterProvider, Web3

from contracts import load_artifact
from tests.contracts.support import deploy, send


def main(pools: int = 500) -> None:
    w3 = Web3(EthereumTesterProvider())
    admin = w3.eth.accounts[0]
    token = deploy(w3, "SettlementToken", "Settlement USD", "sUSD", admin, sender=admin)
    reader = deploy(w3, "BatchReader", sender=admin)
    send(token.functions.setMinter(admin, True), admin)
    artifact = load_artifact("RiskPool")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    hashes = [
        factory.constructor(token.address, admin, admin).transact({"from": admin})
        for _ in range(pools)
    ]
    addresses = [str(w3.eth.wait_for_transaction_receipt(h)["contractAddress"]) for h in hashes]
    for i, pool in enumerate(addresses[::2]):
        send(token.functions.mint(pool, 1_000_000 + i), admin)

    print(f"{'read':<34}{'pools':>7}{'gas':>12}{'gas/pool':>10}")
    base = reader.functions.poolStates([]).estimate_gas()
    # Small batches are dominated by the estimate's fixed slack; read the per-pool
    # figure off the large ones.
    for n in sorted({min(100, pools), pools}):
        gas = reader.functions.poolStates(addresses[:n]).estimate_gas()
        print(f"{'poolStates':<34}{n:>7}{gas:>12,}{(gas - base) / n:>10,.0f}")
    gas = reader.functions.balancesOf(token.address, addresses).estimate_gas()
    print(f"{'balancesOf':<34}{pools:>7}{gas:>12,}{gas / pools:>10,.0f}")
    calls = [(token.address, False, token.encode_abi("balanceOf", [p])) for p in addresses]
    gas = reader.functions.aggregate3(calls).estimate_gas()
    print(f"{'aggregate3(balanceOf)':<34}{pools:>7}{gas:>12,}{gas / pools:>10,.0f}")
    per_pool = (reader.functions.poolStates(addresses).estimate_gas() - base) / pools
    for cap in (30_000_000, 50_000_000):
        print(f"pools per eth_call under a {cap / 1e6:.0f}M gas cap: ~{int(cap / per_pool):,}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)

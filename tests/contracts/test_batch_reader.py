"""BatchReader: Multicall3-style aggregation and the pool readers the EVM adapter uses."""

from __future__ import annotations

from eth_utils import keccak

from tests.contracts.support import (
    ALL_ONES,
    GAS_SINK,
    SHORT_ANSWER,
    START_BALANCE,
    USDC,
    Deployment,
    assert_reverts,
    deploy,
    deploy_runtime,
    fund_pool,
    send,
    tid,
)

ZERO = "0x" + "00" * 20


def test_block_and_chain(chain: Deployment) -> None:
    r = chain.reader.functions
    assert r.getBlockNumber().call() == chain.w3.eth.block_number
    assert r.getChainId().call() == chain.chain_id


def test_balances_of_many_holders_in_one_call(chain: Deployment) -> None:
    r = chain.reader.functions
    send(chain.token.functions.transfer(chain.stranger, 5), chain.provider)
    holders = [chain.provider, chain.reinsurer, chain.stranger, chain.claimant]
    assert r.balancesOf(chain.token.address, holders).call() == [
        START_BALANCE - 5,
        START_BALANCE,
        5,
        0,
    ]
    assert r.balancesOf(chain.token.address, []).call() == []
    # Not a token: zeros, not a revert.
    assert r.balancesOf(chain.stranger, holders).call() == [0, 0, 0, 0]


def test_aggregate3_reports_each_call(chain: Deployment) -> None:
    token = chain.token
    calls = [
        (token.address, False, token.encode_abi("balanceOf", [chain.provider])),
        # Reverts inside: the reader holds no tokens.
        (token.address, True, token.encode_abi("transfer", [chain.stranger, 1])),
        (chain.pool.address, False, chain.pool.encode_abi("lockedCapital", [])),
    ]
    results = chain.reader.functions.aggregate3(calls).call()
    assert tuple(results[0]) == (True, START_BALANCE.to_bytes(32, "big"))
    ok, data = results[1]
    assert ok is False
    assert data[:4] == keccak(text="InsufficientBalance(address,uint256,uint256)")[:4]
    assert tuple(results[2]) == (True, (0).to_bytes(32, "big"))
    # A failure that is not allowed aborts the whole batch and names the call.
    strict = [calls[0], (calls[1][0], False, calls[1][2])]
    assert_reverts(
        chain.reader.functions.aggregate3(strict), chain.stranger, "CallFailed", 1, mined=True
    )


def test_pool_states_reads_pools_and_tells_strangers_apart(chain: Deployment) -> None:
    fund_pool(chain, 1_000 * USDC)
    send(chain.pool.functions.openCover(tid("c"), 500 * USDC, 200 * USDC), chain.operator)
    # A pool of another asset.
    other_token = deploy(
        chain.w3, "SettlementToken", "Other", "OTH", chain.admin, sender=chain.admin
    )
    other_pool = deploy(
        chain.w3, "RiskPool", other_token.address, chain.admin, chain.operator, sender=chain.admin
    )
    weird = [
        deploy_runtime(chain.w3, code, chain.admin) for code in (ALL_ONES, SHORT_ANSWER, GAS_SINK)
    ]
    targets = [
        chain.pool.address,
        other_pool.address,
        chain.stranger,  # no code
        ZERO,
        chain.token.address,  # a contract without asset()
        chain.vault.address,  # has asset() but no lockedCapital()
        chain.bridge.address,
        chain.reader.address,
        *weird,
        chain.pool.address,  # duplicates are read again, not deduplicated
    ]
    assets, balances, locked = chain.reader.functions.poolStates(targets).call()
    n = len(targets)
    assert len(assets) == len(balances) == len(locked) == n
    assert (assets[0], balances[0], locked[0]) == (chain.token.address, 1_000 * USDC, 200 * USDC)
    assert (assets[1], balances[1], locked[1]) == (other_token.address, 0, 0)
    for i in range(2, n - 1):
        assert (assets[i], balances[i], locked[i]) == (ZERO, 0, 0), targets[i]
    assert (assets[-1], balances[-1], locked[-1]) == (assets[0], balances[0], locked[0])
    assert chain.reader.functions.poolStates([]).call() == [[], [], []]


def test_pool_states_gas_stays_small_per_pool(chain: Deployment) -> None:
    """A ceiling the EVM adapter sizes its batches by (measured: about 10k gas per pool)."""
    pools = [
        deploy(
            chain.w3,
            "RiskPool",
            chain.token.address,
            chain.admin,
            chain.operator,
            sender=chain.admin,
        )
        for _ in range(8)
    ]
    addresses = [p.address for p in pools]
    gas = chain.reader.functions.poolStates(addresses).estimate_gas()
    base = chain.reader.functions.poolStates([]).estimate_gas()
    per_pool = (gas - base) / len(pools)
    assert per_pool < 15_000, per_pool

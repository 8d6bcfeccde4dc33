"""The embedded chain's two-run gas estimator: every answer is an upper bound a real
execution met, gas-dependent code falls back to py-evm's binary search, and a
revert reaches the caller with the same data as before."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from eth.estimators.gas import binary_gas_search_exact, binary_gas_search_intrinsic_tolerance
from eth_account import Account

from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmChain, embedded_evm_chains
from chains.embedded.gas import MARGIN, TwoRunEstimator, calldata_floor, proposal
from chains.evm_rpc import RevertedCall, as_int


@pytest.fixture
async def chain() -> AsyncIterator[EmbeddedEvmChain]:
    async with embedded_evm_chains([EmbeddedChainSpec("gas", 31_990, pools=(10**9,))]) as env:
        yield env["gas"]


async def estimate(chain: EmbeddedEvmChain, sender: str, to: str, data: str) -> int:
    call = {"from": sender, "to": to, "data": data}
    return as_int(await chain.endpoint.request("eth_estimateGas", [call]), "estimate")


async def estimate_with(
    chain: EmbeddedEvmChain, estimator: Callable[..., int], sender: str, to: str, data: str
) -> int:
    """The same request answered by another py-evm estimator (restored after)."""
    evm = chain.tester.backend.chain
    ours = evm.gas_estimator
    evm.gas_estimator = estimator
    try:
        return await estimate(chain, sender, to, data)
    finally:
        evm.gas_estimator = ours


def installed(chain: EmbeddedEvmChain) -> TwoRunEstimator:
    estimator = chain.tester.backend.chain.gas_estimator
    assert isinstance(estimator, TwoRunEstimator)
    return estimator


async def test_estimates_are_proven_upper_bounds(chain: EmbeddedEvmChain) -> None:
    token = chain.abi("SettlementToken")
    admin = chain.admin.address
    await chain.mint(admin, 10**6)
    calls = [
        token.fn("mint").encode(Account.create().address, 5),  # a fresh slot: 20k SSTORE
        token.fn("approve").encode(chain.pools[0].address, 7),
        token.fn("transfer").encode(chain.operator.address, 3),
        token.fn("setMinter").encode(chain.operator.address, True),
    ]
    for data in calls:
        ours = await estimate(chain, admin, chain.deployment.token, data)
        exact = await estimate_with(
            chain, binary_gas_search_exact, admin, chain.deployment.token, data
        )
        assert exact <= ours <= -(-exact * 64 // 63) + MARGIN
        chain.transact(chain.admin, chain.deployment.token, data, gas=ours)  # raises if it fails
    assert installed(chain).fallbacks == 0


#: Runtime code that reverts unless more than 200,000 gas is left when it starts:
#: GAS PUSH3 200000 LT PUSH1 13 JUMPI PUSH1 0 DUP1 REVERT JUMPDEST STOP.
_GAS_HUNGRY = "5a62030d4010600d57600080fd5b00"
_DEPLOY = "600f80600b6000396000f3" + _GAS_HUNGRY


async def test_gas_dependent_code_falls_back_to_the_binary_search(chain: EmbeddedEvmChain) -> None:
    receipt = chain.transact(chain.admin, None, "0x" + _DEPLOY, 100_000)
    hungry = receipt["contract_address"]
    # It uses ~21k gas at the block limit, so the proposal is far too low...
    with pytest.raises(RuntimeError):
        chain.transact(chain.admin, hungry, "0x", proposal(21_100, 21_000, b""))
    # ...its proof run fails and the binary search answers instead.
    got = await estimate(chain, chain.admin.address, hungry, "0x")
    assert installed(chain).fallbacks == 1
    assert got > 200_000
    chain.transact(chain.admin, hungry, "0x", got)


async def test_a_revert_reaches_the_caller_with_the_same_data(chain: EmbeddedEvmChain) -> None:
    stranger = chain.operator.address  # not a minter
    data = chain.abi("SettlementToken").fn("mint").encode(stranger, 1)
    to = chain.deployment.token
    errors: list[bytes] = []
    for estimator in (None, binary_gas_search_intrinsic_tolerance):
        with pytest.raises(RevertedCall) as raised:
            if estimator is None:
                await estimate(chain, stranger, to, data)
            else:
                await estimate_with(chain, estimator, stranger, to, data)
        errors.append(raised.value.data)
    with pytest.raises(RevertedCall) as called:
        await chain.endpoint.request(
            "eth_call", [{"from": stranger, "to": to, "data": data}, "latest"]
        )
    assert errors[0] == errors[1] == called.value.data
    known = chain.abi("SettlementToken").errors
    assert known[errors[0][:4]].name == "NotMinter"


def test_proposal_covers_call_forwarding_and_the_calldata_floor() -> None:
    assert proposal(21_000, 21_000, b"") == 21_000  # nothing executed: the intrinsic gas
    assert proposal(63_000, 21_000, b"") == 64_000 + MARGIN
    big = b"\x01" * 4_000  # 16,000 tokens: the EIP-7623 floor is above the execution
    assert proposal(30_000, 29_000, big) == calldata_floor(big) == 21_000 + 160_000

"""Gas estimation for the embedded py-evm chains: two executions, not a binary search.

py-evm's default estimator (``eth.estimators.gas.binary_gas_search``) runs the
transaction ~18 times between the intrinsic gas and the block gas limit; on a
contract call that is most of a payment's time. This one measures and then
proves:

1. run once at the block gas limit (as the binary search's top run does): an
   error there is raised unchanged (a revert carries its data to eth-tester,
   which maps it exactly as before);
2. propose the gas it used *before refunds* (refunds are paid only at the end,
   execution needs the gas first), times 64/63 (a call forwards at most 63/64
   of what is left, EIP-150) plus a margin above the SSTORE stipend sentry
   (EIP-2200), never below the calldata floor (EIP-7623);
3. run once more with exactly that limit: success returns it, anything else
   falls back to the binary search, so a proposal is never returned unproven.

The chain's answer stays an upper bound that a real execution met; the adapter
still adds its own headroom on top. Real nodes estimate themselves: this is
installed on embedded chains only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from eth.abc import ComputationAPI, SignedTransactionAPI, StateAPI
from eth.vm.spoof import SpoofTransaction

Estimator = Callable[[StateAPI, SignedTransactionAPI], int]

#: Above the 2,300 gas an SSTORE needs left (EIP-2200) with room for the
#: rounding of nested 63/64 forwards.
MARGIN = 5_000
#: EIP-7623: a transaction's gas limit covers 21,000 + 10 per calldata token.
_FLOOR_BASE = 21_000
_FLOOR_PER_TOKEN = 10
_TOKENS_PER_NONZERO_BYTE = 4


def _run(state: StateAPI, transaction: SignedTransactionAPI) -> ComputationAPI:
    snapshot = state.snapshot()
    try:
        return state.apply_transaction(transaction)
    finally:
        state.revert(snapshot)


def calldata_floor(data: bytes) -> int:
    """EIP-7623's minimum gas limit for ``data`` (py-evm charges it after execution)."""
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * _TOKENS_PER_NONZERO_BYTE
    return _FLOOR_BASE + _FLOOR_PER_TOKEN * tokens


def proposal(used: int, intrinsic: int, data: bytes) -> int:
    """The limit to prove, from the gas one run used before refunds."""
    if used <= intrinsic:
        return max(intrinsic, calldata_floor(data))
    return max(-(-used * 64 // 63) + MARGIN, calldata_floor(data))


class TwoRunEstimator:
    """A py-evm ``gas_estimator``: measure at the block limit, prove the proposal."""

    def __init__(self, fallback: Estimator) -> None:
        self._fallback = fallback
        self.fallbacks = 0

    def __call__(self, state: StateAPI, transaction: SignedTransactionAPI) -> int:
        top = state.gas_limit
        measured = _run(state, _spoof(transaction, gas=top, gas_price=0))
        if measured.is_error:
            raise measured.error
        used = top - measured.get_gas_remaining()
        limit = proposal(used, transaction.intrinsic_gas, bytes(transaction.data))
        if limit >= top:
            return top
        if not _run(state, _spoof(transaction, gas=limit)).is_error:
            return limit
        self.fallbacks += 1
        return self._fallback(state, transaction)


def _spoof(transaction: SignedTransactionAPI, **overrides: Any) -> SignedTransactionAPI:
    return cast(SignedTransactionAPI, SpoofTransaction(transaction, **overrides))


def install(chain: Any) -> TwoRunEstimator:
    """Make ``chain`` (an eth-tester py-evm chain) estimate in two runs.

    Set on its class too: eth-tester rebuilds the chain object from its class
    when a snapshot at genesis is restored. Each tester chain has its own class.
    """
    estimator = TwoRunEstimator(chain.gas_estimator)
    type(chain).gas_estimator = staticmethod(estimator)
    chain.gas_estimator = estimator
    return estimator

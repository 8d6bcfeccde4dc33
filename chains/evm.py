"""The EVM chain adapter: final-block balance reads in a few round trips, safe sends.

:class:`EvmAdapter` is assembled from its parts, each in its own module:
``evm_core`` (endpoints, retries, pool checks), ``evm_reads`` (balances at a
final block, checked across endpoints), ``evm_sends`` (pre-checked, signed,
nonce-managed transactions, inbound deliveries) and ``evm_reconcile``
(find a transfer or delivery by id). Configuration is in ``evm_config``,
endpoints in ``evm_rpc``, ABI encoding and revert mapping in ``evm_abi``.
"""

from __future__ import annotations

from chains.evm_config import (
    FINALIZED,
    BridgeRoute,
    Confirmations,
    EvmChainConfig,
    FinalityRule,
    FinalizedTag,
    checked_address,
    recipient_bytes32,
)
from chains.evm_core import Meter, load_abi
from chains.evm_reads import EvmReads
from chains.evm_reconcile import EvmReconcile
from chains.evm_sends import EvmSends

__all__ = [
    "FINALIZED",
    "BridgeRoute",
    "Confirmations",
    "EvmAdapter",
    "EvmChainConfig",
    "FinalityRule",
    "FinalizedTag",
    "checked_address",
    "connect_evm",
    "load_abi",
    "recipient_bytes32",
]


class EvmAdapter(EvmReads, EvmSends, EvmReconcile):
    """``ChainAdapter`` + ``BridgeInbound`` for one EVM chain (see module docstring)."""


async def connect_evm(config: EvmChainConfig) -> EvmAdapter:
    """An adapter over the config's RPC URLs, after checking each serves the chain id."""
    adapter = EvmAdapter(config)
    try:
        for ep in adapter._endpoints:
            await adapter._final_block(ep, Meter())
    except BaseException:
        await adapter.aclose()
        raise
    return adapter

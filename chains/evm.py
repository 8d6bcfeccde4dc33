"""The EVM chain adapter: final-block balance reads in a few round trips, saga-ready sends.

:class:`EvmAdapter` is assembled from its parts, each in its own module:
``evm_core`` (endpoints, retries, pool checks, the signer), ``evm_reads``
(balances at a final block, checked across endpoints), ``evm_effects`` (what
each effect is as a contract call, and its pre-checks), ``evm_sends``
(prepare, replace, cancel, broadcast), ``evm_reconcile`` (status by hash and
nonce, find by effect id, vault reads) and ``evm_flow`` (the one-call sends
composed of those). The nonce sequence of a key is shared process-wide
(``evm_nonce``). Configuration is in ``evm_config``, endpoints in ``evm_rpc``,
ABI encoding and revert mapping in ``evm_abi``.
"""

from __future__ import annotations

from chains.evm_config import (
    FINALIZED,
    BridgeRoute,
    Confirmations,
    EvmChainConfig,
    FeePolicy,
    FinalityRule,
    FinalizedTag,
    checked_address,
    recipient_bytes32,
)
from chains.evm_core import Meter, load_abi
from chains.evm_flow import EvmFlow
from chains.evm_reads import EvmReads

__all__ = [
    "FINALIZED",
    "BridgeRoute",
    "Confirmations",
    "EvmAdapter",
    "EvmChainConfig",
    "FeePolicy",
    "FinalityRule",
    "FinalizedTag",
    "checked_address",
    "connect_evm",
    "load_abi",
    "recipient_bytes32",
]


class EvmAdapter(EvmReads, EvmFlow):
    """``ChainAdapter`` + ``BridgeInbound`` + ``FeeReplacer`` + ``VaultReader`` for one
    EVM chain. Built without an operator key it reads only (sends raise
    :class:`~chains.errors.ReadOnlyAdapter`)."""


async def connect_evm(config: EvmChainConfig) -> EvmAdapter:
    """An adapter over the config's RPC URLs, after checking each serves the chain id."""
    adapter = EvmAdapter(config)
    try:
        await adapter._on_every_endpoint(lambda ep: adapter._final_block(ep, Meter()))
    except BaseException:
        await adapter.aclose()
        raise
    return adapter

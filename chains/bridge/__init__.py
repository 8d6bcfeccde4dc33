"""Bridge transports and the relayer that delivers cross-chain transfers once.

See ``chains/bridge/README.md`` for the invariants. The public API:

- values: :class:`Lane`, :func:`lane_fee`, :class:`SentTransfer`, :class:`Attested`,
  :class:`DeliveryReport`, :class:`DeliveryState`, :class:`PendingDelivery`;
- ports: :class:`SendSource`, :class:`BridgeTransport`, :class:`RelayerJournal`,
  :class:`ReportSink`;
- the local bridge: :class:`LocalBridge` over :class:`EvmBridgeChain` and
  :class:`SolanaBridgeChain`;
- :class:`Relayer`, :class:`RelayerConfig`, :class:`MemoryJournal`, :class:`FileJournal`.
"""

from chains.bridge.evm_side import EvmBridgeChain
from chains.bridge.fees import Lane, lane_fee
from chains.bridge.journal import FileJournal, MemoryJournal, RelayerJournal
from chains.bridge.local import BridgeChain, LocalBridge, bridge_chain
from chains.bridge.relayer import Relayer, RelayerConfig, ReportSink
from chains.bridge.solana_side import SolanaBridgeChain, solana_delivery_digest
from chains.bridge.transport import BridgeTransport, DeliveryAttester, SendSource
from chains.bridge.values import (
    Attested,
    DeliveryReport,
    DeliveryState,
    PendingDelivery,
    SentTransfer,
)

__all__ = [
    "Attested",
    "BridgeChain",
    "BridgeTransport",
    "DeliveryAttester",
    "DeliveryReport",
    "DeliveryState",
    "EvmBridgeChain",
    "FileJournal",
    "Lane",
    "LocalBridge",
    "MemoryJournal",
    "PendingDelivery",
    "Relayer",
    "RelayerConfig",
    "RelayerJournal",
    "ReportSink",
    "SendSource",
    "SentTransfer",
    "SolanaBridgeChain",
    "bridge_chain",
    "lane_fee",
    "solana_delivery_digest",
]

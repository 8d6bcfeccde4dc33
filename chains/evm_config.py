"""Configuration and input validation of the EVM adapter: plain values, no I/O.

Addresses are checked (hex, length, EIP-55 when mixed case) before any call;
recipients on other chains become the bridge's 32-byte field per family.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from eth_utils import is_checksum_address, to_checksum_address
from pydantic import SecretStr

from chains.base import ChainFamily
from chains.errors import InvalidAddress, InvalidInput
from chains.retry import DEFAULT_RETRY, RetryPolicy

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}\Z")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# --------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True)
class Confirmations:
    """Final = ``n`` blocks below the head (chains without a finality gadget, embedded)."""

    n: int

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 0:
            raise InvalidInput(f"confirmations must be a non-negative int, got {self.n!r}")


@dataclass(frozen=True, slots=True)
class FinalizedTag:
    """Final = the node's ``finalized`` block (post-merge chains)."""


FINALIZED = FinalizedTag()
FinalityRule = Confirmations | FinalizedTag


@dataclass(frozen=True, slots=True)
class BridgeRoute:
    """Another chain reachable through this chain's bridge endpoint."""

    chain_id: int
    family: ChainFamily = ChainFamily.EVM


@dataclass(frozen=True, slots=True)
class EvmChainConfig:
    """Everything the adapter knows about one chain; parsed once, passed in.

    ``operator_key`` is the hex private key of the pools' operator; it is only
    ever turned into a local signer and never logged (``SecretStr`` hides it
    from ``repr``). ``endpoints`` are RPC URLs (the adapter may also be given
    endpoint objects directly, e.g. embedded chains).
    """

    chain: str
    chain_id: int
    operator_key: SecretStr
    endpoints: tuple[str, ...] = ()
    settlement_asset: str | None = None
    batch_reader: str | None = None
    bridge_endpoint: str | None = None
    finality: FinalityRule = field(default_factory=FinalizedTag)
    routes: Mapping[str, BridgeRoute] = field(default_factory=dict)
    rpc_timeout: float = 10.0
    receipt_timeout: float = 60.0
    poll_interval: float = 0.25
    retry: RetryPolicy = DEFAULT_RETRY
    chunk_size: int = 500
    log_from_block: int = 0
    log_block_range: int | None = None  # split eth_getLogs ranges for nodes that cap them
    gas_headroom: float = 1.25

    def __post_init__(self) -> None:
        if not self.chain or not isinstance(self.chain_id, int) or self.chain_id <= 0:
            raise InvalidInput("an EVM chain needs a name and a positive chain id")
        key: object = self.operator_key
        if isinstance(key, bytes | bytearray):
            key = SecretStr("0x" + bytes(key).hex())
        elif isinstance(key, str):
            key = SecretStr(key)
        if not isinstance(key, SecretStr):
            raise TypeError("operator_key must be a SecretStr, hex str or 32 bytes")
        object.__setattr__(self, "operator_key", key)
        object.__setattr__(self, "routes", MappingProxyType(dict(self.routes)))
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        for what in ("settlement_asset", "batch_reader", "bridge_endpoint"):
            value = getattr(self, what)
            if value is not None:
                object.__setattr__(self, what, checked_address(value, what=what, chain=self.chain))
        if self.chunk_size < 1:
            raise InvalidInput("chunk_size must be positive", chain=self.chain)


def checked_address(value: object, *, what: str = "address", chain: str | None = None) -> str:
    """The checksummed form of a 0x address, or :class:`InvalidAddress`.

    All-lowercase/uppercase hex is accepted; mixed case must be a valid EIP-55
    checksum (a typo in a mixed-case address is caught, not "fixed").
    """
    checked = _checksummed(value) if isinstance(value, str) else None
    if checked is None:
        raise InvalidAddress(
            f"{what} is not a valid 0x-prefixed 20-byte address (EIP-55 if mixed case): "
            f"{value!r:.80}",
            chain=chain,
        )
    return checked


@functools.lru_cache(maxsize=65_536)
def _checksummed(value: str) -> str | None:
    """Cached: the same pools are validated on every read, keccak per address adds up."""
    if not _ADDRESS.match(value):
        return None
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        return None
    return str(to_checksum_address(value))


def _b58decode(text: str) -> bytes:
    num = 0
    for ch in text:
        idx = _B58.find(ch)
        if idx < 0:
            raise ValueError(ch)
        num = num * 58 + idx
    raw = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + raw


def recipient_bytes32(recipient: str, family: ChainFamily, *, chain: str | None = None) -> bytes:
    """A recipient on the destination chain as the bridge's 32-byte field."""
    if family is ChainFamily.EVM:
        return bytes(12) + bytes.fromhex(
            checked_address(recipient, what="recipient", chain=chain)[2:]
        )
    try:
        raw = _b58decode(recipient) if isinstance(recipient, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidAddress(
            f"recipient {recipient!r:.80} is not a 32-byte base58 account", chain=chain
        )
    return raw

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


GWEI = 10**9


@dataclass(frozen=True, slots=True)
class FeePolicy:
    """How the adapter prices EIP-1559 transactions, and the cap it never exceeds.

    A new transaction offers ``max_fee = base_fee * base_fee_multiplier + tip``
    (capped at ``max_fee_per_gas``); it is refused with
    :class:`~chains.errors.FeeCapExceeded` before signing when the next block's
    base fee plus the tip is above the cap. A transaction not included after
    ``replace_after_blocks`` blocks is due for a same-nonce replacement with
    both fees raised by ``bump_percent`` (nodes want at least 10 %), again
    never above the cap: at the cap it waits, and says so.
    """

    max_fee_per_gas: int = 500 * GWEI
    priority_fee: int = 1 * GWEI
    base_fee_multiplier: int = 2
    bump_percent: int = 25
    replace_after_blocks: int = 3
    gas_headroom: float = 1.25  # gas limit = estimate * headroom + 10k

    def __post_init__(self) -> None:
        ints = {
            "max_fee_per_gas": self.max_fee_per_gas,
            "priority_fee": self.priority_fee,
            "base_fee_multiplier": self.base_fee_multiplier,
            "bump_percent": self.bump_percent,
            "replace_after_blocks": self.replace_after_blocks,
        }
        for name, value in ints.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"fee policy {name} must be a non-negative int, got {value!r}")
        if self.max_fee_per_gas == 0 or self.base_fee_multiplier == 0:
            raise InvalidInput("fee policy max_fee_per_gas and base_fee_multiplier must be > 0")
        if self.priority_fee > self.max_fee_per_gas:
            raise InvalidInput("fee policy priority_fee is above max_fee_per_gas")
        if self.bump_percent < 10:
            raise InvalidInput("fee policy bump_percent must be at least 10 (nodes refuse less)")
        if self.replace_after_blocks < 1:
            raise InvalidInput("fee policy replace_after_blocks must be at least 1")
        if not 1.0 <= self.gas_headroom <= 10.0:
            raise InvalidInput("fee policy gas_headroom must be within [1, 10]")

    def bumped(self, value: int) -> int:
        """``value`` raised by ``bump_percent``, rounded up, at least by one wei."""
        return max(value + 1, -(-value * (100 + self.bump_percent) // 100))


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
    from ``repr``). Without it (``None``) the adapter reads only: a reporting
    agent never needs the treasury key. ``endpoints`` are RPC URLs (the adapter
    may also be given endpoint objects directly, e.g. embedded chains).
    """

    chain: str
    chain_id: int
    operator_key: SecretStr | None = None
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
    fees: FeePolicy = field(default_factory=FeePolicy)

    def __post_init__(self) -> None:
        if not self.chain or not isinstance(self.chain_id, int) or self.chain_id <= 0:
            raise InvalidInput("an EVM chain needs a name and a positive chain id")
        key: object = self.operator_key
        if isinstance(key, bytes | bytearray):
            key = SecretStr("0x" + bytes(key).hex())
        elif isinstance(key, str):
            key = SecretStr(key)
        if key is not None and not isinstance(key, SecretStr):
            raise InvalidInput("operator_key must be a SecretStr, hex str, 32 bytes or None")
        object.__setattr__(self, "operator_key", key)
        object.__setattr__(self, "routes", MappingProxyType(dict(self.routes)))
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        for what in ("settlement_asset", "batch_reader", "bridge_endpoint"):
            value = getattr(self, what)
            if value is not None:
                object.__setattr__(self, what, checked_address(value, what=what, chain=self.chain))
        if self.chunk_size < 1:
            raise InvalidInput("chunk_size must be positive", chain=self.chain)
        if not self.rpc_timeout > 0:
            raise InvalidInput("rpc_timeout must be positive", chain=self.chain)


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

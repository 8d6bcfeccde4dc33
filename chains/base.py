"""Values and ports shared by every chain adapter.

The router talks to chains only through these: it never learns whether a pool
lives on an EVM chain or on Solana. Values are frozen; amounts are ``int`` in
the asset's base units; every read says at which block/slot it was taken and
whether that block is final.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from chains.errors import InvalidAmount, InvalidTransferId

#: Largest amount any adapter accepts: uint128, far above any real supply and
#: below every on-chain integer width we use (uint256, u64 is checked per chain).
MAX_AMOUNT = 2**128 - 1

_TRANSFER_ID = re.compile(r"^0x[0-9a-f]{64}\Z")


class ChainFamily(StrEnum):
    EVM = "evm"
    SOLANA = "solana"


class Commitment(StrEnum):
    """How settled a read must be. Only FINALIZED reads are planned on."""

    LATEST = "latest"
    CONFIRMED = "confirmed"
    FINALIZED = "finalized"


class TransferStatus(StrEnum):
    PENDING = "pending"  # sent, not yet in a block we trust
    CONFIRMED = "confirmed"  # included, not yet final
    FINALIZED = "finalized"  # included in a final block
    FAILED = "failed"  # included and reverted/failed: nothing moved


def check_amount(amount: int, *, what: str = "amount", max_amount: int = MAX_AMOUNT) -> int:
    """Reject anything but a positive integer that fits the chain's width."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(f"{what} must be an integer in base units, got {type(amount).__name__}")
    if amount <= 0:
        raise InvalidAmount(f"{what} must be positive, got {amount}")
    if amount > max_amount:
        raise InvalidAmount(f"{what} {amount} exceeds the maximum {max_amount}")
    return amount


def check_transfer_id(transfer_id: str) -> str:
    """A transfer id is 32 bytes as lowercase 0x-hex: the same id on every chain."""
    if not isinstance(transfer_id, str) or not _TRANSFER_ID.match(transfer_id):
        raise InvalidTransferId(
            f"transfer id must be 0x + 64 lowercase hex digits, got {transfer_id!r}"
        )
    return transfer_id


@dataclass(frozen=True, slots=True)
class PoolRef:
    """Where one risk pool's capital sits.

    ``address`` is the pool contract (EVM) or SPL token account (Solana);
    ``asset`` the settlement token contract or mint it must hold.
    """

    chain: str
    pool_id: str
    address: str
    asset: str


@dataclass(frozen=True, slots=True)
class BalanceReport:
    chain: str
    pool_id: str
    address: str
    asset: str
    amount: int
    block_number: int  # EVM block number or Solana slot
    block_hash: str  # EVM block hash or Solana blockhash of that slot
    finalized: bool
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class BalanceSnapshot:
    """All pools of one chain read at one block: the unit the router ingests."""

    chain: str
    block_number: int
    block_hash: str
    finalized: bool
    observed_at: datetime
    reports: tuple[BalanceReport, ...]
    rpc_calls: int = 0  # round trips this read cost, for the benchmarks


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move ``amount`` out of a pool, tagged with an id the chain also enforces.

    Same chain (``dst_chain == source.chain``): paid straight to ``recipient``.
    Other chain: sent into this chain's bridge endpoint for ``recipient`` on
    ``dst_chain``; the destination side is completed by :class:`BridgeInbound`.
    """

    transfer_id: str
    source: PoolRef
    dst_chain: str
    recipient: str
    amount: int

    def __post_init__(self) -> None:
        check_transfer_id(self.transfer_id)
        check_amount(self.amount)

    @property
    def cross_chain(self) -> bool:
        return self.dst_chain != self.source.chain


@dataclass(frozen=True, slots=True)
class TransferReceipt:
    transfer_id: str
    chain: str
    tx_ref: str  # EVM tx hash or Solana signature
    status: TransferStatus
    block_number: int | None = None
    amount: int | None = None
    observed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@runtime_checkable
class BalanceReader(Protocol):
    """Reads every pool of one chain at one block it knows is final."""

    @property
    def chain(self) -> str: ...

    async def read_balances(self, pools: Sequence[PoolRef]) -> BalanceSnapshot: ...


@runtime_checkable
class TransferSender(Protocol):
    """Moves capital out of pools; idempotent by transfer id on the chain side."""

    @property
    def chain(self) -> str: ...

    async def send_transfer(self, transfer: Transfer) -> TransferReceipt: ...

    async def find_transfer(self, transfer_id: str) -> TransferReceipt | None:
        """The receipt of an earlier send with this id, or None if the chain never saw it."""
        ...


@runtime_checkable
class ChainAdapter(BalanceReader, TransferSender, Protocol):
    """What the router needs of a chain: read balances, move capital."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class InboundTransfer:
    """A cross-chain transfer to complete on its destination chain.

    ``attestation`` is the bridge attester's signature over the destination
    endpoint's digest of (transfer id, source chain, recipient, amount); the
    destination refuses a transfer id it has delivered before.
    """

    transfer_id: str
    src_chain: str
    dst_chain: str
    recipient: str
    amount: int
    attestation: bytes

    def __post_init__(self) -> None:
        check_transfer_id(self.transfer_id)
        check_amount(self.amount)


@runtime_checkable
class BridgeInbound(Protocol):
    """Completes attested inbound transfers on one chain (the bridge's far side)."""

    @property
    def chain(self) -> str: ...

    async def complete_inbound(self, inbound: InboundTransfer) -> TransferReceipt: ...

    async def find_inbound(self, transfer_id: str) -> TransferReceipt | None:
        """The delivery of this transfer id on this chain, or None if never delivered."""
        ...

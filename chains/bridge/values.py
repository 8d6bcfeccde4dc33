"""Values of the bridge: a send as its source chain shows it, an attested delivery,
and what the relayer reports.

All frozen, all plain JSON-safe fields (str/int/bool/None, str enums restored
on construction, :class:`~chains.base.SignedTx` nested), so a store or a
workflow history can keep them as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from chains.base import InboundTransfer, SignedTx, check_amount, check_transfer_id
from chains.bridge.fees import Lane
from chains.errors import InvalidInput

_WORD = re.compile(r"^0x[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class SentTransfer:
    """A bridge send read from its source chain at a final block/slot: facts only.

    ``recipient`` is the 32-byte recipient field exactly as the source recorded
    it (0x + 64 lowercase hex); the destination's form of it (an EVM address, a
    Solana account) is made when the send is attested. ``dst_chain`` is the
    name of the chain the send's destination chain id maps to, ``None`` when no
    route of the source names that id (such a send cannot be delivered).
    ``amount`` is what left the sender; the destination receives it minus the
    lane fee. ``sender`` is the pool (EVM contract or Solana token account).
    """

    transfer_id: str
    src_chain: str
    dst_chain: str | None
    dst_chain_id: int
    recipient: str
    amount: int
    sender: str
    block_number: int  # EVM block or Solana slot, final when read
    tx_ref: str  # EVM transaction hash or Solana signature
    block_hash: str | None = None

    def __post_init__(self) -> None:
        check_transfer_id(self.transfer_id)
        check_amount(self.amount)
        if not isinstance(self.recipient, str) or not _WORD.match(self.recipient):
            raise InvalidInput(f"recipient must be 0x + 64 lowercase hex, got {self.recipient!r}")

    @property
    def recipient_bytes(self) -> bytes:
        return bytes.fromhex(self.recipient[2:])


@dataclass(frozen=True, slots=True)
class Attested:
    """A final source send turned into the delivery its destination will accept.

    ``inbound.amount == sent.amount - fee``; ``inbound.attestation`` is the
    attester's signature over exactly that delivery for that destination.
    """

    sent: SentTransfer
    lane: Lane
    fee: int
    inbound: InboundTransfer

    @property
    def transfer_id(self) -> str:
        return self.sent.transfer_id

    @property
    def delivered(self) -> int:
        return self.inbound.amount


class DeliveryState(StrEnum):
    """Where a transfer ends, as the relayer reports it."""

    DELIVERED = "delivered"  # delivered on the destination, in a final block
    STUCK = "stuck"  # not delivered: past the deadline, or undeliverable (``retrying``)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One transfer's outcome. Reports are idempotent by ``transfer_id``: after a
    restart the same DELIVERED may be reported again; a STUCK transfer that is
    still ``retrying`` may later be reported DELIVERED.

    Amounts are ``None`` where the relayer could not learn them (a send whose
    source could not be read). ``fee = amount_sent - amount_delivered`` for a
    delivery, as the destination chain shows it. ``error`` names the typed
    error class behind a STUCK report; ``retrying`` says whether the relayer
    keeps trying (False: only an operator can resolve it).
    """

    transfer_id: str
    src_chain: str
    dst_chain: str | None
    state: DeliveryState
    amount_sent: int | None = None
    fee: int | None = None
    amount_delivered: int | None = None
    source_tx: str | None = None
    delivery_tx: str | None = None
    delivery_block: int | None = None
    reason: str = ""
    error: str | None = None
    retrying: bool = False
    observed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", DeliveryState(self.state))


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A transfer the relayer has seen at finality and not yet finished.

    ``attempt`` is the delivery transaction signed for it, recorded before it
    is broadcast: after a crash the same bytes are broadcast again (or looked
    up), never a second transaction signed blindly. ``first_seen`` (Unix
    seconds) starts the STUCK deadline; ``stuck_reported`` keeps a STUCK report
    from repeating; ``block`` is the source block/slot the send was seen in.
    """

    transfer_id: str
    src_chain: str
    first_seen: float
    attempt: SignedTx | None = None
    stuck_reported: bool = False
    block: int | None = None  # where the send was seen: where attest looks first

    def __post_init__(self) -> None:
        check_transfer_id(self.transfer_id)
        if isinstance(self.attempt, dict):  # read back from JSON
            object.__setattr__(self, "attempt", SignedTx(**self.attempt))

"""Values and ports shared by every chain adapter.

The router talks to chains only through these: it never learns whether a pool
lives on an EVM chain or on Solana. Values are frozen; amounts are ``int`` in
the asset's base units; every read says at which block/slot it was taken and
whether that block is final.

Moving capital is split into ports a durable saga can drive, one step each,
so that every signed transaction can be recorded before it is broadcast and
every lost answer is reconciled instead of re-sent:

- :class:`EffectPreparer` ``prepare(effect) -> SignedTx``: checks, builds and
  signs one transaction for one effect. Nothing is sent.
- :class:`Broadcaster` ``broadcast(signed) -> TxOutcome``: idempotent; the same
  bytes twice are one transaction.
- :class:`TxTracker` ``status(signed)`` (by hash + nonce, or signature + blockhash)
  and ``find_effect(effect)`` (by the id the chain itself enforces).
- :class:`FeeReplacer` (EVM) re-signs at the same nonce with a higher fee, or
  cancels a nonce; :class:`VaultReader` reads reinsurance vaults.

``send_transfer``/``complete_inbound`` remain as compositions of these ports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from chains.errors import InvalidAmount, InvalidInput, InvalidTransferId

#: The largest amount the whole system handles: uint256, the width of every
#: EVM amount. Chains that are narrower check their own bound on top (SPL
#: token amounts are u64: ``chains.solana_core.U64_MAX``).
MAX_AMOUNT = 2**256 - 1

_ID = re.compile(r"^0x[0-9a-f]{64}\Z")


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


def check_id(value: str, *, what: str = "transfer id") -> str:
    """An effect id is 32 bytes as lowercase 0x-hex: the same id on every chain."""
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidTransferId(f"{what} must be 0x + 64 lowercase hex digits, got {value!r:.80}")
    return value


def check_transfer_id(transfer_id: str) -> str:
    return check_id(transfer_id)


# ------------------------------------------------------------------ balances


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
    #: The chain's own time of that block, when the chain says (EVM headers do).
    block_time: datetime | None = None


# ------------------------------------------------------------------- effects


class EffectKind(StrEnum):
    """What one transaction does; each kind has an id the chain refuses twice."""

    TRANSFER = "transfer"  # pool -> recipient on the same chain (RiskPool.transferUsed)
    BRIDGE_SEND = "bridge_send"  # pool -> bridge endpoint (RiskPool.transferUsed)
    BRIDGE_DELIVERY = "bridge_delivery"  # attested inbound delivery (BridgeEndpoint.delivered)
    CESSION = "cession"  # pool cedes exposure to a vault (RiskPool.transferUsed + cessionOf)
    RECOVERY = "recovery"  # vault pays a recovery (ReinsuranceVault.recoveryPaid)
    COVER_OPEN = "cover_open"  # premium in, cover opened, certificate issued (cover id)
    CLAIM_PAYMENT = "claim_payment"  # pool pays the certificate's holder (payment id)
    NONCE_CANCEL = "nonce_cancel"  # EVM: a no-op at a nonce, to end a stuck or missing one


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move ``amount`` out of a pool, tagged with an id the chain also enforces.

    Same chain (``dst_chain == source.chain``): paid straight to ``recipient``.
    Other chain: sent into this chain's bridge endpoint for ``recipient`` on
    ``dst_chain``; the destination side is completed by :class:`InboundTransfer`.
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

    @property
    def chain(self) -> str:
        return self.source.chain


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

    @property
    def chain(self) -> str:
        return self.dst_chain


@dataclass(frozen=True, slots=True)
class Cession:
    """A pool cedes ``ceded_amount`` of exposure to a vault for ``premium`` (EVM only).

    ``cession_id`` is the pool's transfer id for the premium and the vault's
    cession id at once: ``RiskPool.cede`` marks it used, the vault refuses it twice.
    """

    cession_id: str
    source: PoolRef
    vault: str
    ceded_amount: int
    premium: int

    def __post_init__(self) -> None:
        check_id(self.cession_id, what="cession id")
        check_amount(self.ceded_amount, what="ceded amount")
        check_amount(self.premium, what="premium")

    @property
    def chain(self) -> str:
        return self.source.chain


@dataclass(frozen=True, slots=True)
class Recovery:
    """A vault pays ``amount`` back to the cedent of ``cession_id`` (EVM only).

    ``recovery_id`` is enforced by the vault (``recoveryPaid``): a retried or
    replayed recovery never pays twice. The signer must be the vault's operator.
    """

    recovery_id: str
    chain: str
    vault: str
    cession_id: str
    amount: int

    def __post_init__(self) -> None:
        check_id(self.recovery_id, what="recovery id")
        check_id(self.cession_id, what="cession id")
        check_amount(self.amount)


@dataclass(frozen=True, slots=True)
class CoverOpening:
    """Open cover ``cover_id`` in a pool: collect ``premium`` from ``payer`` into
    the pool, lock ``locked`` of its capital against ``limit``, and issue the
    policy certificate to ``holder`` (an ERC-721 on EVM, a one-of-one SPL mint
    on Solana). The cover id is the chain-enforced id: a second opening fails.
    """

    cover_id: str
    pool: PoolRef
    limit: int
    locked: int
    premium: int
    payer: str
    holder: str

    def __post_init__(self) -> None:
        check_id(self.cover_id, what="cover id")
        check_amount(self.limit, what="limit")
        check_amount(self.premium, what="premium")
        if not 0 <= self.locked <= self.limit:
            raise InvalidInput("locked capital must be between 0 and the limit")

    @property
    def chain(self) -> str:
        return self.pool.chain


@dataclass(frozen=True, slots=True)
class ClaimPayment:
    """Pay ``amount`` of a claim on ``cover_id`` to whoever holds its certificate.

    The recipient is the certificate's holder of record when the payment lands
    (the EVM pool reads ``ownerOf`` itself; on Solana the adapter resolves the
    holder of the one-of-one mint). ``payment_id`` is chain-enforced: a retried
    or replayed payment never pays twice, and the pool caps it at the cover's limit.
    """

    payment_id: str
    pool: PoolRef
    cover_id: str
    amount: int

    def __post_init__(self) -> None:
        check_id(self.payment_id, what="payment id")
        check_id(self.cover_id, what="cover id")
        check_amount(self.amount)

    @property
    def chain(self) -> str:
        return self.pool.chain


Effect = Transfer | InboundTransfer | Cession | Recovery | CoverOpening | ClaimPayment


def effect_id(effect: Effect) -> str:
    """The id the chain enforces for this effect."""
    if isinstance(effect, Cession):
        return effect.cession_id
    if isinstance(effect, Recovery):
        return effect.recovery_id
    if isinstance(effect, CoverOpening):
        return effect.cover_id
    if isinstance(effect, ClaimPayment):
        return effect.payment_id
    return effect.transfer_id


def effect_kind(effect: Effect) -> EffectKind:
    if isinstance(effect, Transfer):
        return EffectKind.BRIDGE_SEND if effect.cross_chain else EffectKind.TRANSFER
    if isinstance(effect, InboundTransfer):
        return EffectKind.BRIDGE_DELIVERY
    if isinstance(effect, Cession):
        return EffectKind.CESSION
    if isinstance(effect, Recovery):
        return EffectKind.RECOVERY
    if isinstance(effect, CoverOpening):
        return EffectKind.COVER_OPEN
    if isinstance(effect, ClaimPayment):
        return EffectKind.CLAIM_PAYMENT
    raise InvalidInput(f"not an effect: {type(effect).__name__}")


# --------------------------------------------------------- signed and sent


@dataclass(frozen=True, slots=True)
class SignedTx:
    """One signed transaction, not yet (known to be) sent: persist it, then broadcast it.

    Plain JSON-able fields only (str/int/None and str enums) so a store or a
    workflow history can keep it as is. ``raw_tx`` is the signed wire bytes as
    0x-hex; broadcasting exactly these bytes again can never make a second
    transaction. EVM fills ``nonce`` and the fee fields; Solana fills
    ``recent_blockhash`` and ``last_valid_block_height`` (the transaction can
    land only until the chain passes that height).
    """

    chain: str
    family: ChainFamily
    kind: EffectKind
    effect_id: str | None  # None only for a NONCE_CANCEL not replacing one of ours
    tx_ref: str  # EVM transaction hash (0x-hex) or Solana signature (base58)
    raw_tx: str  # 0x-hex of the signed bytes
    sender: str  # the signing address / fee payer
    amount: int  # what the effect moves (the premium for a cession, 0 for a cancel)
    signed_at_block: int  # head block (EVM) or slot (Solana) when signed
    nonce: int | None = None
    gas_limit: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    recent_blockhash: str | None = None
    last_valid_block_height: int | None = None
    replaces: str | None = None  # tx_ref of our earlier attempt at the same nonce

    def __post_init__(self) -> None:
        # Read back from JSON (a store, a workflow history) the enums arrive as str.
        object.__setattr__(self, "family", ChainFamily(self.family))
        object.__setattr__(self, "kind", EffectKind(self.kind))
        if not isinstance(self.raw_tx, str) or not self.raw_tx.startswith("0x"):
            raise InvalidInput("raw_tx is the signed bytes as 0x-hex")

    @property
    def raw(self) -> bytes:
        return bytes.fromhex(self.raw_tx[2:])


class TxState(StrEnum):
    """Where one transaction stands, as far as the chain can say."""

    UNKNOWN = "unknown"  # the node does not know it: never broadcast, or lost; may still land
    PENDING = "pending"  # known to the node (mempool), not included
    INCLUDED = "included"  # succeeded in block N, not final yet
    FINAL = "final"  # succeeded in a final block
    FAILED = "failed"  # included and reverted/failed: the effect did not happen
    DROPPED = "dropped"  # can no longer land: its nonce went to another transaction,
    # or (Solana) its blockhash expired at finalized with the signature unknown


class WaitReason(StrEnum):
    """Why a PENDING/UNKNOWN transaction is not being included (EVM)."""

    UNDERPRICED = "underpriced"  # its max fee is below the base fee (``fee_capped``: at the cap)
    NONCE_GAP = "nonce_gap"  # a lower nonce of the key is missing on the node
    BEHIND_OTHER = "behind_other"  # a lower nonce is held by a transaction not ours


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """What the chain says about one transaction or one effect id.

    ``final`` means the answer can no longer change (a FINAL or FAILED
    transaction in a final block, a DROPPED one whose nonce was consumed in a
    final block, or whose blockhash expired at finalized). ``tx_ref`` is the
    transaction the answer is about: for :meth:`TxTracker.find_effect`, the one
    that carried the effect (possibly a fee replacement of the one asked about).
    """

    chain: str
    state: TxState
    tx_ref: str | None = None
    effect_id: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    final: bool = False
    head: int | None = None  # head block/slot when observed
    nonce: int | None = None
    amount: int | None = None
    revert: str | None = None  # FAILED: the decoded error name (e.g. "TransferIdUsed")
    waiting: WaitReason | None = None
    fee_capped: bool = False  # its max fee is at the configured cap: no bump is possible
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TxState(self.state))
        if self.waiting is not None:
            object.__setattr__(self, "waiting", WaitReason(self.waiting))

    @property
    def landed(self) -> bool:
        """The effect happened (possibly not final yet)."""
        return self.state in (TxState.INCLUDED, TxState.FINAL)


@dataclass(frozen=True, slots=True)
class TransferReceipt:
    transfer_id: str
    chain: str
    tx_ref: str  # EVM tx hash or Solana signature
    status: TransferStatus
    block_number: int | None = None
    amount: int | None = None
    observed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


# --------------------------------------------------------------- vaults (EVM)


@dataclass(frozen=True, slots=True)
class VaultState:
    """A reinsurance vault as the chain holds it, at one final block."""

    chain: str
    vault: str
    asset: str
    total_assets: int
    free_capacity: int  # total assets not reserved for open cessions
    reserved_capacity: int
    block_number: int
    block_hash: str
    finalized: bool


@dataclass(frozen=True, slots=True)
class CessionRecord:
    """``ReinsuranceVault.cessionOf``: a cession as the vault recorded it."""

    chain: str
    vault: str
    cession_id: str
    cedent: str
    ceded: int
    remaining: int  # cover still reserved for recoveries
    premium: int
    open: bool
    block_number: int
    finalized: bool


# ------------------------------------------------------------------- covers


@dataclass(frozen=True, slots=True)
class CoverState:
    """A cover as the chain holds it, read at the head (``finalized``: the final
    block says the same). ``holder`` is the certificate's holder of record.

    EVM pools record ``limit``, ``locked`` and ``paid``. Solana keeps only what it
    enforces: the ``remaining`` payout allowance (``limit``/``locked``/``paid`` are None).
    """

    chain: str
    pool_id: str
    cover_id: str
    holder: str | None
    remaining: int
    open: bool
    block_number: int
    finalized: bool
    limit: int | None = None
    locked: int | None = None
    paid: int | None = None


# --------------------------------------------------------------------- ports


@runtime_checkable
class BalanceReader(Protocol):
    """Reads every pool of one chain at one block it knows is final."""

    @property
    def chain(self) -> str: ...

    async def read_balances(self, pools: Sequence[PoolRef]) -> BalanceSnapshot: ...


@runtime_checkable
class EffectPreparer(Protocol):
    """Checks and signs one effect's transaction; sends nothing.

    Raises the precise typed error for a request the chain would refuse
    (duplicate id, capital short, no route...) before anything is signed, and
    :class:`~chains.errors.ReadOnlyAdapter` without a signer key.
    """

    @property
    def chain(self) -> str: ...

    async def prepare(self, effect: Effect) -> SignedTx: ...

    def discard(self, signed: SignedTx) -> None:
        """The caller will never broadcast ``signed`` (e.g. a compensated step): EVM
        frees its nonce if it was the last one handed out, else it must be cancelled."""
        ...


@runtime_checkable
class Broadcaster(Protocol):
    """Hands signed bytes to the network; the same bytes again are no second effect."""

    async def broadcast(self, signed: SignedTx) -> TxOutcome: ...


@runtime_checkable
class TxTracker(Protocol):
    """Reconciles after a lost answer: by transaction, and by the chain-enforced id."""

    async def status(self, signed: SignedTx) -> TxOutcome:
        """By hash and nonce (EVM) or signature and blockhash expiry (Solana)."""
        ...

    async def find_effect(self, effect: Effect) -> TxOutcome:
        """Whether the chain has recorded this effect's id (UNKNOWN if not),
        INCLUDED or FINAL by the chain's finality rule, with the transaction that did it."""
        ...


@runtime_checkable
class FeeReplacer(Protocol):
    """EVM: a stuck transaction gets a same-nonce successor, never a second nonce."""

    async def replace(self, signed: SignedTx) -> SignedTx:
        """The same call at the same nonce with bumped fees, capped by the config."""
        ...

    async def cancel(self, target: SignedTx | int) -> SignedTx:
        """A zero-value self-transfer at ``target``'s nonce (or at that nonce)."""
        ...

    def due_for_replacement(self, signed: SignedTx, outcome: TxOutcome) -> bool: ...


@runtime_checkable
class VaultReader(Protocol):
    """EVM: reinsurance vaults as the chain holds them (capacity is read, not configured)."""

    async def vault_state(self, vault: str) -> VaultState: ...

    async def cession_of(self, vault: str, cession_id: str) -> CessionRecord | None: ...


@runtime_checkable
class CertificateReader(Protocol):
    """Who holds a cover's policy certificate: the one a claim payment pays."""

    async def certificate_holder(self, pool: PoolRef, cover_id: str) -> str | None:
        """The holder of record at the head (EVM: ``ownerOf``; Solana: the owner of
        the token account holding the one-of-one mint), None without a certificate."""
        ...


@runtime_checkable
class CoverReader(CertificateReader, Protocol):
    """A cover's on-chain state: what a claim may still be paid."""

    async def cover_state(self, pool: PoolRef, cover_id: str) -> CoverState | None: ...


@runtime_checkable
class EffectSender(EffectPreparer, Broadcaster, TxTracker, Protocol):
    """The three steps of a saga's on-chain effect, for one chain."""


@runtime_checkable
class TransferSender(Protocol):
    """Moves capital out of pools in one call (prepare, broadcast, await inclusion)."""

    @property
    def chain(self) -> str: ...

    async def send_transfer(self, transfer: Transfer) -> TransferReceipt: ...

    async def find_transfer(self, transfer_id: str) -> TransferReceipt | None:
        """The receipt of an earlier send with this id, or None if the chain never saw it."""
        ...


@runtime_checkable
class BridgeInbound(Protocol):
    """Completes attested inbound transfers on one chain (the bridge's far side)."""

    @property
    def chain(self) -> str: ...

    async def complete_inbound(self, inbound: InboundTransfer) -> TransferReceipt: ...

    async def find_inbound(self, transfer_id: str) -> TransferReceipt | None:
        """The delivery of this transfer id on this chain, or None if never delivered."""
        ...


@runtime_checkable
class ChainAdapter(BalanceReader, TransferSender, EffectSender, Protocol):
    """What the router needs of a chain: read balances, move capital step by step."""

    @property
    def family(self) -> ChainFamily: ...

    @property
    def can_sign(self) -> bool:
        """False for an adapter built without a key: reads work, sends raise ReadOnlyAdapter."""
        ...

    async def aclose(self) -> None: ...

"""What each effect is on Solana, and ``prepare``: one marker-guarded transaction.

Every effect is one transaction of three instructions:

1. System ``create_account_with_seed`` (base = treasury authority, seed = first
   32 hex digits of the transfer id): the *marker*. It fails if the account
   exists, so the chain itself refuses a second transaction for the same id.
   Outbound markers (pool transfers, bridge sends) and inbound ones (bridge
   deliveries) have different owners, hence different addresses per direction.
2. SPL Token ``transfer_checked``: pool -> recipient (same chain), pool ->
   bridge escrow (bridge send), or bridge escrow -> recipient (delivery).
3. Memo ``ballast:<transfer id>``, for a bridge send followed by
   ``:to:<destination chain id>:<recipient as 32 bytes hex>``, for a delivery by
   ``:from:<source chain id>``: the relayer and ``find_*`` read it back.

Cessions and recoveries are EVM only (reinsurance vaults are EVM contracts):
:class:`~chains.errors.UnsupportedEffect`. On Solana no program checks a bridge
attestation: the treasury authority's signature is the authority, so whoever
asks for a delivery (the relayer) must have checked the attestation first.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.instruction import AccountMeta, Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig, RpcContextConfig
from solders.rpc.requests import GetLatestBlockhash, GetMultipleAccounts
from solders.rpc.responses import GetLatestBlockhashResp, GetMultipleAccountsResp
from solders.system_program import CreateAccountWithSeedParams, create_account_with_seed
from solders.transaction import Transaction

from chains.base import (
    Cession,
    ChainFamily,
    Effect,
    EffectKind,
    InboundTransfer,
    Recovery,
    SignedTx,
    Transfer,
)
from chains.errors import (
    AccountMismatch,
    DuplicateTransfer,
    InsufficientCapital,
    InvalidAddress,
    InvalidAmount,
    InvalidInput,
    MalformedResponse,
    UnknownChain,
    UnsupportedEffect,
)
from chains.evm_config import recipient_bytes32
from chains.solana_core import (
    INBOUND_MARKER_OWNER,
    MEMO_PREFIX,
    MEMO_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    U64_MAX,
    SolanaCore,
    inbound_marker_address,
    marker_address,
    marker_seed,
    parse_pubkey,
)

TRANSFER_CHECKED = 12


@dataclass(frozen=True, slots=True)
class SolanaPlan:
    """One effect as Solana accounts: who pays whom, under which marker and memo."""

    kind: EffectKind
    effect_id: str
    source: Pubkey  # token account paying (a pool, or the bridge escrow)
    recipient: Pubkey  # token account paid
    amount: int
    marker: Pubkey
    marker_owner: Pubkey
    memo: str
    source_label: str


class SolanaEffects(SolanaCore):
    """Effect -> checked, signed transaction (nothing sent)."""

    async def prepare(self, effect: Effect) -> SignedTx:
        """Check and sign one effect's transaction; send nothing."""
        self._require_signer()
        plan = self._plan(effect)
        await self._precheck(plan)
        return await self._sign(plan)

    def _plan(self, effect: Effect) -> SolanaPlan:
        """Every input check, before any call."""
        if isinstance(effect, Cession | Recovery):
            raise UnsupportedEffect(
                "cessions and recoveries are EVM only: reinsurance vaults are EVM contracts",
                chain=self.chain,
            )
        if isinstance(effect, Transfer):
            return self._plan_transfer(effect)
        if isinstance(effect, InboundTransfer):
            return self._plan_inbound(effect)
        raise InvalidInput(f"not an effect: {type(effect).__name__}", chain=self.chain)

    def _check_u64(self, amount: int) -> None:
        if amount > U64_MAX:
            raise InvalidAmount(
                f"amount {amount} exceeds the SPL token maximum {U64_MAX}", chain=self.chain
            )

    def _plan_transfer(self, transfer: Transfer) -> SolanaPlan:
        source = self._pool_key(transfer.source)
        tid = transfer.transfer_id
        memo = MEMO_PREFIX + tid
        if transfer.cross_chain:
            chain_id = self._config.routes.get(transfer.dst_chain)
            if chain_id is None or self._escrow is None:
                raise UnknownChain(
                    f"no bridge route from {self.chain!r} to {transfer.dst_chain!r}",
                    chain=self.chain,
                )
            to32 = recipient_bytes32(transfer.recipient, ChainFamily.EVM, chain=self.chain)
            recipient = self._escrow
            memo += f":to:{chain_id}:{to32.hex()}"
        else:
            recipient = parse_pubkey(transfer.recipient, what="recipient", chain=self.chain)
        self._check_u64(transfer.amount)
        if recipient == source:
            raise InvalidAddress("recipient is the source pool itself", chain=self.chain)
        return SolanaPlan(
            kind=EffectKind.BRIDGE_SEND if transfer.cross_chain else EffectKind.TRANSFER,
            effect_id=tid,
            source=source,
            recipient=recipient,
            amount=transfer.amount,
            marker=marker_address(self._authority, tid),
            marker_owner=MEMO_PROGRAM_ID,
            memo=memo,
            source_label=f"pool {transfer.source.pool_id!r} ({source})",
        )

    def _plan_inbound(self, inbound: InboundTransfer) -> SolanaPlan:
        if inbound.dst_chain != self.chain:
            raise UnknownChain(
                f"inbound transfer for {inbound.dst_chain!r} sent to {self.chain!r}",
                chain=self.chain,
            )
        chain_id = self._config.routes.get(inbound.src_chain)
        if chain_id is None or self._escrow is None:
            raise UnknownChain(f"no bridge route from {inbound.src_chain!r}", chain=self.chain)
        recipient = parse_pubkey(inbound.recipient, what="recipient", chain=self.chain)
        self._check_u64(inbound.amount)
        if recipient == self._escrow:
            raise InvalidAddress("recipient is the bridge escrow itself", chain=self.chain)
        tid = inbound.transfer_id
        return SolanaPlan(
            kind=EffectKind.BRIDGE_DELIVERY,
            effect_id=tid,
            source=self._escrow,
            recipient=recipient,
            amount=inbound.amount,
            marker=inbound_marker_address(self._authority, tid),
            marker_owner=INBOUND_MARKER_OWNER,
            memo=f"{MEMO_PREFIX}{tid}:from:{chain_id}",
            source_label=f"bridge escrow ({self._escrow})",
        )

    async def _precheck(self, plan: SolanaPlan) -> None:
        """Precise errors before signing; the chain enforces the same again."""
        answer = await self._call(
            GetMultipleAccounts(
                [plan.source, plan.recipient, plan.marker],
                RpcAccountInfoConfig(
                    encoding=UiAccountEncoding.Base64, commitment=CommitmentLevel.Confirmed
                ),
            ),
            GetMultipleAccountsResp,
        )
        if len(answer.value) != 3:
            raise MalformedResponse("getMultipleAccounts: wrong length", chain=self.chain)
        src_acc, dst_acc, marker_acc = answer.value
        source = self._token(src_acc, what=plan.source_label, owner=self._authority)
        if dst_acc is None:
            raise AccountMismatch(
                f"recipient {plan.recipient}: no token account of mint {self._mint}",
                chain=self.chain,
            )
        self._token(dst_acc, what=f"recipient {plan.recipient}", owner=None)
        if marker_acc is not None:
            raise DuplicateTransfer(
                f"transfer id already used (marker {plan.marker} exists)",
                chain=self.chain,
                transfer_id=plan.effect_id,
            )
        if source.amount < plan.amount:
            raise InsufficientCapital(
                f"{plan.source_label} holds {source.amount}, the effect needs {plan.amount}",
                chain=self.chain,
                transfer_id=plan.effect_id,
            )

    def _instructions(self, plan: SolanaPlan) -> list[Instruction]:
        data = bytes([TRANSFER_CHECKED]) + plan.amount.to_bytes(8, "little")
        data += bytes([self._config.decimals])
        return [
            create_account_with_seed(
                CreateAccountWithSeedParams(
                    from_pubkey=self._authority,
                    to_pubkey=plan.marker,
                    base=self._authority,
                    seed=marker_seed(plan.effect_id),
                    lamports=self._marker_rent,
                    space=0,
                    owner=plan.marker_owner,
                )
            ),
            Instruction(
                TOKEN_PROGRAM_ID,
                data,
                [
                    AccountMeta(plan.source, is_signer=False, is_writable=True),
                    AccountMeta(self._mint, is_signer=False, is_writable=False),
                    AccountMeta(plan.recipient, is_signer=False, is_writable=True),
                    AccountMeta(self._authority, is_signer=True, is_writable=False),
                ],
            ),
            Instruction(
                MEMO_PROGRAM_ID,
                plan.memo.encode(),
                [AccountMeta(self._authority, is_signer=True, is_writable=False)],
            ),
        ]

    async def _sign(self, plan: SolanaPlan) -> SignedTx:
        """Sign against the latest confirmed blockhash. ed25519 is deterministic: two
        replicas signing one effect against one blockhash make one transaction."""
        signer = self._require_signer()
        latest = await self._call(
            GetLatestBlockhash(RpcContextConfig(commitment=CommitmentLevel.Confirmed)),
            GetLatestBlockhashResp,
        )
        blockhash = latest.value.blockhash
        message = Message.new_with_blockhash(self._instructions(plan), self._authority, blockhash)
        tx = Transaction([signer], message, blockhash)
        return SignedTx(
            chain=self.chain,
            family=ChainFamily.SOLANA,
            kind=plan.kind,
            effect_id=plan.effect_id,
            tx_ref=str(tx.signatures[0]),
            raw_tx="0x" + bytes(tx).hex(),
            sender=str(self._authority),
            amount=plan.amount,
            signed_at_block=int(latest.context.slot),
            recent_blockhash=str(blockhash),
            last_valid_block_height=int(latest.value.last_valid_block_height),
        )


def memo_matches(memo: str | None, transfer_id: str) -> bool:
    """Whether a transaction's memo is ours for this id (any direction)."""
    if memo is None:
        return False
    head = MEMO_PREFIX + transfer_id
    return memo == head or memo.startswith(head + ":")


def marker_for(plan_kind: EffectKind, authority: Pubkey, transfer_id: str) -> Pubkey:
    if plan_kind is EffectKind.BRIDGE_DELIVERY:
        return inbound_marker_address(authority, transfer_id)
    return marker_address(authority, transfer_id)

"""The bridge's view of the Solana chain: sends into the bridge escrow, read at
``finalized`` (Solana as a source), and what a delivery out of it is bound to
(Solana as a destination).

There is no bridge program on Solana, so the relayer proves a send itself:
a send is a successful transaction, **signed by the treasury authority** (its
fee payer), that creates the id's outbound marker account (which only the
authority can create: the authority is the seed base), pays ``amount`` of the
settlement mint from an account the authority owns into the escrow, and carries
the memo ``ballast:<id>:to:<destination chain id>:<recipient, 32 bytes hex>``.
Anyone can pay into the escrow with such a memo; without the authority's
signature and the marker it is not ours and is never attested.

A delivery to Solana is released from the escrow by the treasury authority
under the id's inbound marker, which the chain refuses twice. No program
checks an attestation there, so :class:`~chains.bridge.local.LocalBridge`
signs one anyway (over :func:`solana_delivery_digest`) and checks it, and the
source send, before anything asks the treasury to sign a release.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from eth_abi import encode
from eth_utils import keccak
from solana.rpc.async_api import AsyncClient
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rpc.config import (
    RpcAccountInfoConfig,
    RpcContextConfig,
    RpcSignaturesForAddressConfig,
    RpcTransactionConfig,
)
from solders.rpc.requests import (
    GetMultipleAccounts,
    GetSignaturesForAddress,
    GetSlot,
    GetTransaction,
)
from solders.rpc.responses import (
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSlotResp,
    GetTransactionResp,
)
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import UiTransactionEncoding

from chains.base import ChainFamily, check_transfer_id
from chains.bridge.values import SentTransfer
from chains.errors import (
    InvalidAddress,
    InvalidInput,
    MalformedResponse,
    NotFinal,
    NotYetFinal,
    UnknownLane,
    UnknownSend,
    redact_url,
)
from chains.retry import with_retries
from chains.solana_core import (
    MEMO_PREFIX,
    MEMO_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
    SolanaConfig,
    marker_address,
    parse_pubkey,
)
from chains.solana_effects import TRANSFER_CHECKED
from chains.solana_rpc import SolanaRpc

log = logging.getLogger("ballast.chains.bridge")

R = TypeVar("R")

SYSTEM_PROGRAM_ID = Pubkey.default()
CREATE_ACCOUNT_WITH_SEED = 3
PAGE = 1000  # getSignaturesForAddress's largest page
_SEND_MEMO = re.compile(r"^ballast:(0x[0-9a-f]{64}):to:([0-9]+):([0-9a-f]{64})\Z")
#: Domain tag of a Solana delivery attestation: never valid as an EVM one.
SOLANA_DELIVERY_TAG = keccak(text="ballast.bridge.solana-delivery.v1")
_FINALIZED = CommitmentLevel.Finalized


def solana_delivery_digest(
    escrow: str, transfer_id: str, src_chain_id: int, recipient: str, amount: int
) -> bytes:
    """What the attester signs (EIP-191 personal-sign) for a release out of ``escrow``."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "bytes32", "uint256"],
            [
                SOLANA_DELIVERY_TAG,
                bytes(Pubkey.from_string(escrow)),
                bytes.fromhex(transfer_id[2:]),
                src_chain_id,
                bytes(Pubkey.from_string(recipient)),
                amount,
            ],
        )
    )


class SolanaBridgeChain:
    """The Solana chain as the bridge sees it (module docstring). Read-only."""

    def __init__(self, config: SolanaConfig) -> None:
        if config.bridge_escrow is None:
            raise InvalidInput("the bridge needs the chain's escrow account", chain=config.chain)
        self._authority = _authority(config)
        # Read-only: the treasury key is not kept, only its public key.
        config = dataclasses.replace(
            config, treasury_key=None, treasury_authority=str(self._authority)
        )
        self._config = config
        self._escrow = parse_pubkey(config.bridge_escrow, what="bridge escrow", chain=config.chain)
        self._mint = parse_pubkey(
            config.settlement_mint, what="settlement mint", chain=config.chain
        )
        self._authority = _authority(config)
        self._names = {chain_id: name for name, chain_id in config.routes.items()}
        client = AsyncClient(
            config.rpc_url, timeout=config.request_timeout, max_transport_retries=0, http2=False
        )
        self._rpc = SolanaRpc(client, endpoint=redact_url(config.rpc_url), chain=config.chain)

    def __repr__(self) -> str:
        return f"SolanaBridgeChain(chain={self.chain!r}, escrow={self._escrow})"

    @property
    def chain(self) -> str:
        return self._config.chain

    @property
    def escrow(self) -> str:
        return str(self._escrow)

    @property
    def authority(self) -> str:
        return str(self._authority)

    async def aclose(self) -> None:
        await self._rpc.client.close()

    async def _call(self, body: Any, parser: type[R]) -> R:
        return await with_retries(lambda: self._rpc.call(body, parser), policy=self._config.retry)

    # -- as a source -----------------------------------------------------------------

    @property
    def origin(self) -> int:
        return 0

    async def final_height(self) -> int:
        resp = await self._call(GetSlot(RpcContextConfig(commitment=_FINALIZED)), GetSlotResp)
        return int(resp.value)

    async def sends(self, from_height: int, to_height: int) -> list[SentTransfer]:
        """Our sends into the escrow in slots ``[from_height, to_height]`` (finalized),
        oldest first. The escrow's signatures are paged newest first until older
        than ``from_height``; deliveries out of it (``:from:`` memos) are skipped unread."""
        final = await self.final_height()
        if to_height > final:
            raise NotFinal(
                f"slot {to_height} is above the finalized slot {final}", chain=self.chain
            )
        if from_height > to_height:
            return []
        wanted: list[tuple[int, Signature]] = []
        before: Signature | None = None
        while True:
            page = await self._call(
                GetSignaturesForAddress(
                    self._escrow,
                    RpcSignaturesForAddressConfig(before=before, limit=PAGE, commitment=_FINALIZED),
                ),
                GetSignaturesForAddressResp,
            )
            for entry in page.value:
                if entry.slot < from_height:
                    break
                if entry.slot <= to_height and entry.err is None and ":to:" in (entry.memo or ""):
                    wanted.append((entry.slot, entry.signature))
            else:
                if len(page.value) == PAGE:
                    before = page.value[-1].signature
                    continue
            break
        out: list[SentTransfer] = []
        for _slot, sig in reversed(wanted):  # oldest first
            sent = await self._read_send(sig, None)
            if sent is not None:
                out.append(sent)
        return out

    async def find_send(self, transfer_id: str, *, near: int | None = None) -> SentTransfer:
        """The send with this id, found through its outbound marker at finalized (the
        marker is the index: ``near`` is not needed)."""
        check_transfer_id(transfer_id)
        marker = marker_address(self._authority, transfer_id)
        answers = await with_retries(
            lambda: self._rpc.batch(
                [
                    (
                        GetMultipleAccounts(
                            [marker],
                            RpcAccountInfoConfig(
                                encoding=UiAccountEncoding.Base64, commitment=level
                            ),
                        ),
                        GetMultipleAccountsResp,
                    )
                    for level in (_FINALIZED, CommitmentLevel.Confirmed)
                ]
            ),
            policy=self._config.retry,
        )
        at_final, at_confirmed = (a.value[0] if a.value else None for a in answers)
        if at_final is None:
            if at_confirmed is not None:
                raise NotYetFinal(
                    f"bridge send {transfer_id}: its marker exists, not yet at finalized",
                    chain=self.chain,
                    transfer_id=transfer_id,
                )
            raise UnknownSend(
                f"no bridge send {transfer_id} on {self.chain} (no marker {marker})",
                chain=self.chain,
                transfer_id=transfer_id,
            )
        entries = await self._call(
            GetSignaturesForAddress(
                marker, RpcSignaturesForAddressConfig(limit=20, commitment=_FINALIZED)
            ),
            GetSignaturesForAddressResp,
        )
        for entry in entries.value:
            if entry.err is None:
                sent = await self._read_send(entry.signature, transfer_id)
                if sent is not None:
                    return sent
        raise UnknownSend(
            f"transfer id {transfer_id} was used on {self.chain}, but not by a bridge send "
            "(a same-chain transfer?)",
            chain=self.chain,
            transfer_id=transfer_id,
        )

    async def _read_send(self, sig: Signature, transfer_id: str | None) -> SentTransfer | None:
        """The send in this transaction, if it is one of ours (module docstring)."""
        resp = await self._call(
            GetTransaction(
                sig,
                RpcTransactionConfig(
                    encoding=UiTransactionEncoding.Base64,
                    commitment=_FINALIZED,
                    max_supported_transaction_version=0,
                ),
            ),
            GetTransactionResp,
        )
        if resp.value is None:
            return None
        meta = resp.value.transaction.meta
        tx = resp.value.transaction.transaction
        if (meta is not None and meta.err is not None) or not isinstance(tx, VersionedTransaction):
            return None
        try:
            parsed = _parse(tx)
        except (IndexError, ValueError):
            raise MalformedResponse(f"transaction {sig}: undecodable", chain=self.chain) from None
        if parsed is None:
            return None
        payer, memo, transfer, created = parsed
        match = _SEND_MEMO.match(memo)
        if match is None:
            return None
        tid, dst_id, recipient = match.group(1), int(match.group(2)), match.group(3)
        if transfer_id is not None and tid != transfer_id:
            return None
        source, mint, dst, owner, amount = transfer
        ours = (
            payer == self._authority
            and owner == self._authority
            and marker_address(self._authority, tid) in created
        )
        if not ours:
            log.warning(
                "%s: escrow payment %s names transfer %s but is not the treasury's: not attested",
                self.chain,
                sig,
                tid,
            )
            return None
        if dst != self._escrow or mint != self._mint:
            return None
        return SentTransfer(
            transfer_id=tid,
            src_chain=self.chain,
            dst_chain=self._names.get(dst_id),
            dst_chain_id=dst_id,
            recipient="0x" + recipient,
            amount=amount,
            sender=str(source),
            block_number=int(resp.value.slot),
            tx_ref=str(sig),
        )

    # -- as a destination -----------------------------------------------------------

    def route_id(self, other: str) -> int:
        chain_id = self._config.routes.get(other)
        if chain_id is None:
            raise UnknownLane(
                f"no bridge route between {self.chain} and {other!r}", chain=self.chain
            )
        return chain_id

    def route_family(self, other: str) -> ChainFamily:
        self.route_id(other)
        return ChainFamily.EVM  # Solana's bridge routes lead to EVM chains

    def recipient(self, word: bytes, *, transfer_id: str | None = None) -> str:
        """A send's 32-byte recipient as a Solana account (a token account of the mint)."""
        if len(word) != 32:
            raise InvalidAddress("a Solana recipient is 32 bytes", chain=self.chain)
        return str(Pubkey.from_bytes(word))

    def digest(self, transfer_id: str, src_chain_id: int, recipient: str, amount: int) -> bytes:
        return solana_delivery_digest(self.escrow, transfer_id, src_chain_id, recipient, amount)

    async def check_attester(self, attester: str) -> None:
        """Nothing on chain to check: the relayer itself checks every attestation."""


def _authority(config: SolanaConfig) -> Pubkey:
    if config.treasury_authority is not None:
        return parse_pubkey(
            config.treasury_authority, what="treasury authority", chain=config.chain
        )
    assert config.treasury_key is not None  # SolanaConfig requires one of the two
    try:
        return Keypair.from_bytes(config.treasury_key.get_secret_value()).pubkey()
    except ValueError:
        raise InvalidInput("treasury key is not a 64-byte keypair", chain=config.chain) from None


Transfer = tuple[Pubkey, Pubkey, Pubkey, Pubkey, int]


def _parse(tx: VersionedTransaction) -> tuple[Pubkey, str, Transfer, set[Pubkey]] | None:
    """(fee payer, memo, token transfer, accounts created with a seed), or None when
    the transaction has not exactly one memo and one ``transfer_checked``."""
    message = tx.message
    keys: Sequence[Pubkey] = message.account_keys
    memos: list[str] = []
    transfers: list[Transfer] = []
    created: set[Pubkey] = set()
    for ix in message.instructions:
        program = keys[ix.program_id_index]
        data = bytes(ix.data)
        accounts = [keys[i] for i in bytes(ix.accounts)]
        if program == MEMO_PROGRAM_ID:
            memos.append(data.decode("utf-8", "replace"))
        elif program == TOKEN_PROGRAM_ID and data[:1] == bytes([TRANSFER_CHECKED]):
            source, mint, dst, owner = accounts[:4]
            transfers.append((source, mint, dst, owner, int.from_bytes(data[1:9], "little")))
        elif program == SYSTEM_PROGRAM_ID and data[:4] == CREATE_ACCOUNT_WITH_SEED.to_bytes(
            4, "little"
        ):
            created.add(accounts[1])
    if len(memos) != 1 or len(transfers) != 1 or not memos[0].startswith(MEMO_PREFIX):
        return None
    return keys[0], memos[0], transfers[0], created

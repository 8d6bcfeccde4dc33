"""Covers and claim payments on Solana, with SPL programs only (no program of ours).

A cover is three accounts the treasury authority creates under seeds of the cover id:

- the **certificate**: a one-of-one mint at ``create_with_seed(authority,
  marker_seed(cover_id), Token)``: 0 decimals, one token minted to the holder's
  associated token account, then its mint authority removed (supply 1 forever).
  Creating it fails if it exists: the chain refuses a second opening of a cover id.
- the **limit allowance**: a token account (seed ``"L"`` + 31 hex digits of the
  cover id) of the authority's *limit mint* holding ``limit`` units. Every claim
  payment burns its amount from it in the same transaction, so the SPL token
  program itself refuses a payment over what the limit still allows.
- the limit mint (one per authority, seed ``ballast-cover-limits``), created by
  the first opening that finds it missing.

The premium is an SPL ``transfer_checked`` from the payer's associated token
account into the pool, signed by the treasury authority as the **delegate** the
payer approved beforehand (``approve(payer_ata, authority, premium)``): the
adapter stays the only signer, like ``transferFrom`` after ``approve`` on EVM.

A claim payment is marker (payment id, the transfers' namespace) + burn of the
allowance + idempotent creation of the holder's associated token account +
``transfer_checked`` pool -> that account + memo ``ballast:<payment id>:claim:<cover id>``.
The holder is the owner of the token account holding the certificate, resolved
when the payment is signed (``getTokenLargestAccounts``): without a program the
chain cannot re-check it at landing, so a certificate moved within the ~1 minute
a signed payment stays valid is paid to its previous holder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.instruction import AccountMeta, Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig, RpcContextConfig
from solders.rpc.requests import (
    GetLatestBlockhash,
    GetMinimumBalanceForRentExemption,
    GetMultipleAccounts,
    GetTokenLargestAccounts,
)
from solders.rpc.responses import (
    GetLatestBlockhashResp,
    GetMinimumBalanceForRentExemptionResp,
    GetMultipleAccountsResp,
    GetTokenLargestAccountsResp,
)
from solders.system_program import CreateAccountWithSeedParams, create_account_with_seed
from solders.token.state import Mint, TokenAccount
from solders.transaction import Transaction

from chains.base import (
    ChainFamily,
    ClaimPayment,
    CoverOpening,
    CoverState,
    Effect,
    EffectKind,
    PoolRef,
    SignedTx,
    check_id,
)
from chains.errors import (
    AccountMismatch,
    ChainError,
    DuplicateTransfer,
    InsufficientCapital,
    MalformedResponse,
    PayoutOverCap,
    PremiumUnpaid,
    RpcResponseError,
    TransactionReverted,
    UnknownCover,
)
from chains.solana_core import (
    MEMO_PREFIX,
    MEMO_PROGRAM_ID,
    MINT_LEN,
    TOKEN_ACCOUNT_LEN,
    TOKEN_PROGRAM_ID,
    marker_address,
    marker_seed,
    parse_pubkey,
)
from chains.solana_sends import SolanaSends

ATA_PROGRAM_ID = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM_ID = Pubkey.default()
LIMIT_MINT_SEED = "ballast-cover-limits"

# SPL Token instruction tags.
_SET_AUTHORITY = 6
_TRANSFER_CHECKED = 12
_MINT_TO_CHECKED = 14
_BURN_CHECKED = 15
_INITIALIZE_ACCOUNT3 = 18
_INITIALIZE_MINT2 = 20
# SPL Token custom errors.
_INSUFFICIENT_FUNDS = 1
_OWNER_MISMATCH = 4


def certificate_mint(authority: Pubkey, cover_id: str) -> Pubkey:
    """The one-of-one certificate mint of a cover (also its once-only marker)."""
    return Pubkey.create_with_seed(authority, marker_seed(cover_id), TOKEN_PROGRAM_ID)


def allowance_account(authority: Pubkey, cover_id: str) -> Pubkey:
    """The token account holding what the cover's limit still allows."""
    return Pubkey.create_with_seed(authority, "L" + cover_id[2:33], TOKEN_PROGRAM_ID)


def limit_mint(authority: Pubkey) -> Pubkey:
    return Pubkey.create_with_seed(authority, LIMIT_MINT_SEED, TOKEN_PROGRAM_ID)


def associated_token_address(wallet: Pubkey, mint: Pubkey) -> Pubkey:
    return Pubkey.find_program_address(
        [bytes(wallet), bytes(TOKEN_PROGRAM_ID), bytes(mint)], ATA_PROGRAM_ID
    )[0]


@dataclass(frozen=True, slots=True)
class _Cert:
    holder: Pubkey | None  # owner of the token account holding the one token
    account: Pubkey | None


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


class SolanaCovers(SolanaSends):
    """CoverOpening and ClaimPayment: prepare, error mapping, find, and cover reads."""

    async def prepare(self, effect: Effect) -> SignedTx:
        if isinstance(effect, CoverOpening):
            self._require_signer()
            return await self._sign_ixs(
                EffectKind.COVER_OPEN,
                effect.cover_id,
                effect.premium,
                await self._cover_instructions(effect),
            )
        if isinstance(effect, ClaimPayment):
            self._require_signer()
            return await self._sign_ixs(
                EffectKind.CLAIM_PAYMENT,
                effect.payment_id,
                effect.amount,
                await self._claim_instructions(effect),
            )
        return await super().prepare(effect)

    def _marker_of(self, effect: Effect) -> Pubkey:
        if isinstance(effect, CoverOpening):
            self._pool_key(effect.pool)
            return certificate_mint(self._authority, effect.cover_id)
        if isinstance(effect, ClaimPayment):
            self._pool_key(effect.pool)
            return marker_address(self._authority, effect.payment_id)
        return super()._marker_of(effect)

    # -- reads ------------------------------------------------------------------------

    async def _accounts(
        self, keys: list[Pubkey], level: CommitmentLevel = CommitmentLevel.Confirmed
    ) -> tuple[int, list[Account | None]]:
        answer = await self._call(
            GetMultipleAccounts(
                keys, RpcAccountInfoConfig(encoding=UiAccountEncoding.Base64, commitment=level)
            ),
            GetMultipleAccountsResp,
        )
        if len(answer.value) != len(keys):
            raise MalformedResponse("getMultipleAccounts: wrong length", chain=self.chain)
        return int(answer.context.slot), list(answer.value)

    async def _rent(self, size: int) -> int:
        cache: dict[int, int] = self.__dict__.setdefault("_rent_by_size", {})
        if size not in cache:
            resp = await self._call(
                GetMinimumBalanceForRentExemption(size), GetMinimumBalanceForRentExemptionResp
            )
            cache[size] = int(resp.value)
        return cache[size]

    async def _certificate(self, mint: Pubkey, mint_account: Account | None) -> _Cert:
        """Who holds the one-of-one ``mint`` (checked: 0 decimals, supply 1, no authority)."""
        if mint_account is None:
            return _Cert(None, None)
        data = bytes(mint_account.data)
        if mint_account.owner != TOKEN_PROGRAM_ID or len(data) != MINT_LEN:
            raise AccountMismatch(f"certificate {mint} is not an SPL mint", chain=self.chain)
        state = Mint.from_bytes(data)
        if state.decimals != 0 or state.supply != 1 or state.mint_authority is not None:
            raise AccountMismatch(
                f"certificate {mint} is not a one-of-one mint (supply {state.supply}, "
                f"decimals {state.decimals})",
                chain=self.chain,
            )
        try:
            largest = await self._call(
                GetTokenLargestAccounts(mint, CommitmentLevel.Confirmed),
                GetTokenLargestAccountsResp,
            )
        except RpcResponseError as exc:
            raise MalformedResponse(
                f"getTokenLargestAccounts({mint}): {exc.message}", chain=self.chain
            ) from None
        holding = [row.address for row in largest.value if int(row.amount.amount) == 1]
        if not holding:
            return _Cert(None, None)
        _slot, (account,) = await self._accounts([holding[0]])
        if account is None or account.owner != TOKEN_PROGRAM_ID:
            return _Cert(None, None)
        token = TokenAccount.from_bytes(bytes(account.data))
        if token.mint != mint or token.amount != 1:
            return _Cert(None, None)
        return _Cert(token.owner, holding[0])

    async def certificate_holder(self, pool: PoolRef, cover_id: str) -> str | None:
        """The owner of the token account holding the cover's certificate (confirmed)."""
        self._pool_key(pool)
        check_id(cover_id, what="cover id")
        mint = certificate_mint(self._authority, cover_id)
        _slot, (account,) = await self._accounts([mint])
        cert = await self._certificate(mint, account)
        return None if cert.holder is None else str(cert.holder)

    async def cover_state(self, pool: PoolRef, cover_id: str) -> CoverState | None:
        """The remaining allowance (confirmed; ``finalized`` when finalized agrees) and holder."""
        self._pool_key(pool)
        check_id(cover_id, what="cover id")
        mint = certificate_mint(self._authority, cover_id)
        allowance = allowance_account(self._authority, cover_id)
        slot, (mint_acc, allow_acc) = await self._accounts([mint, allowance])
        _, (allow_final,) = await self._accounts([allowance], CommitmentLevel.Finalized)
        if mint_acc is None or allow_acc is None:
            return None
        cert = await self._certificate(mint, mint_acc)
        remaining = self._allowance(allow_acc, cover_id)
        final = allow_final is not None and self._allowance(allow_final, cover_id) == remaining
        return CoverState(
            chain=self.chain,
            pool_id=pool.pool_id,
            cover_id=cover_id,
            holder=None if cert.holder is None else str(cert.holder),
            remaining=remaining,
            open=True,
            block_number=slot,
            finalized=final,
        )

    def _allowance(self, account: Account, cover_id: str) -> int:
        data = bytes(account.data)
        if account.owner != TOKEN_PROGRAM_ID or len(data) != TOKEN_ACCOUNT_LEN:
            raise AccountMismatch(f"cover {cover_id}: allowance is not a token account")
        token = TokenAccount.from_bytes(data)
        if token.mint != limit_mint(self._authority) or token.owner != self._authority:
            raise AccountMismatch(f"cover {cover_id}: allowance of another mint or owner")
        return int(token.amount)

    # -- cover opening -------------------------------------------------------------------

    async def _cover_instructions(self, opening: CoverOpening) -> list[Instruction]:
        pool = self._pool_key(opening.pool)
        payer = parse_pubkey(opening.payer, what="payer", chain=self.chain)
        holder = parse_pubkey(opening.holder, what="holder", chain=self.chain)
        self._check_u64(opening.limit)
        self._check_u64(opening.premium)
        auth, cid = self._authority, opening.cover_id
        cert, allowance, limits = (
            certificate_mint(auth, cid),
            allowance_account(auth, cid),
            limit_mint(auth),
        )
        payer_ata = associated_token_address(payer, self._mint)
        _slot, (cert_acc, limits_acc, pool_acc, payer_acc) = await self._accounts(
            [cert, limits, pool, payer_ata]
        )
        if cert_acc is not None:
            raise DuplicateTransfer(
                f"cover {cid} already exists (certificate {cert})",
                chain=self.chain,
                transfer_id=cid,
            )
        self._token(pool_acc, what=f"pool {opening.pool.pool_id!r} ({pool})", owner=auth)
        paid = self._token(payer_acc, what=f"payer {payer}'s token account", owner=payer)
        delegated = 0
        if payer_acc is not None:
            state = TokenAccount.from_bytes(bytes(payer_acc.data))
            delegated = int(state.delegated_amount) if state.delegate == auth else 0
        if delegated < opening.premium or paid.amount < opening.premium:
            raise PremiumUnpaid(
                f"payer {payer} approved the treasury authority for {delegated} and holds "
                f"{paid.amount}; the premium is {opening.premium}",
                chain=self.chain,
                transfer_id=cid,
            )
        mint_rent, account_rent = await self._rent(MINT_LEN), await self._rent(TOKEN_ACCOUNT_LEN)
        holder_ata = associated_token_address(holder, cert)
        ixs = [
            self._create(cert, marker_seed(cid), mint_rent, MINT_LEN),
            self._init_mint(cert, 0),
            self._create_ata(holder_ata, holder, cert),
            self._token_ix(
                bytes([_MINT_TO_CHECKED]) + _u64(1) + bytes([0]),
                [(cert, True, False), (holder_ata, True, False), (auth, False, True)],
            ),
            self._token_ix(
                bytes([_SET_AUTHORITY, 0, 0]), [(cert, True, False), (auth, False, True)]
            ),
        ]
        if limits_acc is None:
            ixs += [
                self._create(limits, LIMIT_MINT_SEED, mint_rent, MINT_LEN),
                self._init_mint(limits, self._config.decimals),
            ]
        decimals = self._config.decimals
        ixs += [
            self._create(allowance, "L" + cid[2:33], account_rent, TOKEN_ACCOUNT_LEN),
            self._token_ix(
                bytes([_INITIALIZE_ACCOUNT3]) + bytes(auth),
                [(allowance, True, False), (limits, False, False)],
            ),
            self._token_ix(
                bytes([_MINT_TO_CHECKED]) + _u64(opening.limit) + bytes([decimals]),
                [(limits, True, False), (allowance, True, False), (auth, False, True)],
            ),
            self._transfer(payer_ata, pool, opening.premium),
            Instruction(MEMO_PROGRAM_ID, f"{MEMO_PREFIX}{cid}:cover".encode(), []),
        ]
        return ixs

    # -- claim payment -------------------------------------------------------------------

    async def _claim_instructions(self, payment: ClaimPayment) -> list[Instruction]:
        pool = self._pool_key(payment.pool)
        self._check_u64(payment.amount)
        auth, pid, cid = self._authority, payment.payment_id, payment.cover_id
        marker, cert, allowance = (
            marker_address(auth, pid),
            certificate_mint(auth, cid),
            allowance_account(auth, cid),
        )
        _slot, (marker_acc, cert_acc, allow_acc, pool_acc) = await self._accounts(
            [marker, cert, allowance, pool]
        )
        if marker_acc is not None:
            raise DuplicateTransfer(
                f"payment id already used (marker {marker} exists)",
                chain=self.chain,
                transfer_id=pid,
            )
        source = self._token(pool_acc, what=f"pool {payment.pool.pool_id!r} ({pool})", owner=auth)
        holder = (await self._certificate(cert, cert_acc)).holder
        if holder is None or allow_acc is None:
            raise UnknownCover(
                f"no cover {cid} with a certificate on {self.chain}",
                chain=self.chain,
                transfer_id=pid,
            )
        remaining = self._allowance(allow_acc, cid)
        if payment.amount > remaining:
            raise PayoutOverCap(
                f"claim payment of {payment.amount} is above cover {cid}'s remaining {remaining}",
                chain=self.chain,
                transfer_id=pid,
                requested=payment.amount,
                remaining=remaining,
            )
        if source.amount < payment.amount:
            raise InsufficientCapital(
                f"pool {payment.pool.pool_id!r} holds {source.amount}, the payment needs "
                f"{payment.amount}",
                chain=self.chain,
                transfer_id=pid,
                requested=payment.amount,
                free=source.amount,
            )
        holder_ata = associated_token_address(holder, self._mint)
        return [
            create_account_with_seed(
                CreateAccountWithSeedParams(
                    from_pubkey=auth,
                    to_pubkey=marker,
                    base=auth,
                    seed=marker_seed(pid),
                    lamports=self._marker_rent,
                    space=0,
                    owner=MEMO_PROGRAM_ID,
                )
            ),
            self._token_ix(
                bytes([_BURN_CHECKED]) + _u64(payment.amount) + bytes([self._config.decimals]),
                [(allowance, True, False), (limit_mint(auth), True, False), (auth, False, True)],
            ),
            self._create_ata(holder_ata, holder, self._mint),
            self._transfer(pool, holder_ata, payment.amount),
            Instruction(
                MEMO_PROGRAM_ID,
                f"{MEMO_PREFIX}{pid}:claim:{cid}".encode(),
                [AccountMeta(auth, is_signer=True, is_writable=False)],
            ),
        ]

    # -- instruction builders ------------------------------------------------------------

    def _create(self, key: Pubkey, seed: str, lamports: int, space: int) -> Instruction:
        return create_account_with_seed(
            CreateAccountWithSeedParams(
                from_pubkey=self._authority,
                to_pubkey=key,
                base=self._authority,
                seed=seed,
                lamports=lamports,
                space=space,
                owner=TOKEN_PROGRAM_ID,
            )
        )

    def _init_mint(self, mint: Pubkey, decimals: int) -> Instruction:
        data = bytes([_INITIALIZE_MINT2, decimals]) + bytes(self._authority) + bytes([0])
        return self._token_ix(data, [(mint, True, False)])

    def _create_ata(self, ata: Pubkey, wallet: Pubkey, mint: Pubkey) -> Instruction:
        return Instruction(
            ATA_PROGRAM_ID,
            bytes([1]),  # CreateIdempotent
            [
                AccountMeta(self._authority, is_signer=True, is_writable=True),
                AccountMeta(ata, is_signer=False, is_writable=True),
                AccountMeta(wallet, is_signer=False, is_writable=False),
                AccountMeta(mint, is_signer=False, is_writable=False),
                AccountMeta(SYSTEM_PROGRAM_ID, is_signer=False, is_writable=False),
                AccountMeta(TOKEN_PROGRAM_ID, is_signer=False, is_writable=False),
            ],
        )

    def _transfer(self, source: Pubkey, dest: Pubkey, amount: int) -> Instruction:
        data = bytes([_TRANSFER_CHECKED]) + _u64(amount) + bytes([self._config.decimals])
        return self._token_ix(
            data,
            [
                (source, True, False),
                (self._mint, False, False),
                (dest, True, False),
                (self._authority, False, True),
            ],
        )

    @staticmethod
    def _token_ix(data: bytes, metas: list[tuple[Pubkey, bool, bool]]) -> Instruction:
        return Instruction(
            TOKEN_PROGRAM_ID,
            data,
            [AccountMeta(k, is_signer=s, is_writable=w) for k, w, s in metas],
        )

    async def _sign_ixs(
        self, kind: EffectKind, eid: str, amount: int, ixs: list[Instruction]
    ) -> SignedTx:
        signer = self._require_signer()
        latest = await self._call(
            GetLatestBlockhash(RpcContextConfig(commitment=CommitmentLevel.Confirmed)),
            GetLatestBlockhashResp,
        )
        blockhash = latest.value.blockhash
        message = Message.new_with_blockhash(ixs, self._authority, blockhash)
        tx = Transaction([signer], message, blockhash)
        return SignedTx(
            chain=self.chain,
            family=ChainFamily.SOLANA,
            kind=kind,
            effect_id=eid,
            tx_ref=str(tx.signatures[0]),
            raw_tx="0x" + bytes(tx).hex(),
            sender=str(self._authority),
            amount=amount,
            signed_at_block=int(latest.context.slot),
            recent_blockhash=str(blockhash),
            last_valid_block_height=int(latest.value.last_valid_block_height),
        )

    # -- failures ------------------------------------------------------------------------

    def _effect_error(
        self, signed: SignedTx, index: int, why: object, kw: dict[str, Any]
    ) -> ChainError | None:
        """A failed instruction of a cover opening or claim payment, by what it was."""
        if signed.kind not in (EffectKind.COVER_OPEN, EffectKind.CLAIM_PAYMENT):
            return super()._effect_error(signed, index, why, kw)
        custom = why.get("Custom") if isinstance(why, dict) else None
        try:
            tx = Transaction.from_bytes(signed.raw)
            ix = tx.message.instructions[index]
            program = tx.message.account_keys[ix.program_id_index]
            tag = bytes(ix.data)[:1]
        except (IndexError, ValueError):
            return None
        if index == 0 and custom == 0:
            what = "cover" if signed.kind is EffectKind.COVER_OPEN else "payment id"
            return DuplicateTransfer(f"{what} already used on chain (account exists)", **kw)
        if program != TOKEN_PROGRAM_ID:
            return None
        if tag == bytes([_BURN_CHECKED]) and custom == _INSUFFICIENT_FUNDS:
            return PayoutOverCap("claim payment above the cover's remaining limit", **kw)
        opening = signed.kind is EffectKind.COVER_OPEN
        if (
            tag == bytes([_TRANSFER_CHECKED])
            and opening
            and custom in (_INSUFFICIENT_FUNDS, _OWNER_MISMATCH)
        ):
            return PremiumUnpaid("the payer's approval or balance is below the premium", **kw)
        if tag == bytes([_TRANSFER_CHECKED]) and custom == _INSUFFICIENT_FUNDS:
            return InsufficientCapital("pool balance below the claim payment", **kw)
        return TransactionReverted(f"instruction {index} failed: {json.dumps(why)}", **kw)

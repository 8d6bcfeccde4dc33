"""The Solana side of the conformance harness: LiteSVM behind JSON-RPC on 127.0.0.1.

Set-up goes through :class:`EmbeddedSolana`'s back door; every assertion reads
either through the adapter or straight from the ledger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chains.base import PoolRef
from chains.embedded.litesvm_http import Fault, FaultKind
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.solana import TOKEN_PROGRAM_ID, SolanaAdapter, SolanaConfig, connect_solana
from chains.solana_covers import ATA_PROGRAM_ID, associated_token_address, certificate_mint
from tests.conftest import selected_backends

BACKEND = "litesvm"


def skip_unless_selected(config: pytest.Config) -> None:
    chosen = selected_backends(config)
    if chosen is not None and BACKEND not in chosen:
        pytest.skip(f"backend {BACKEND!r} not selected (--backend)")


class SolanaHarness:
    """:class:`tests.chains.conformance.ChainHarness` over an :class:`EmbeddedSolana`."""

    def __init__(self, env: EmbeddedSolana) -> None:
        self.env = env
        self.adapter: SolanaAdapter = env.adapter
        self._wallets: dict[str, Keypair] = {}

    @property
    def chain(self) -> str:
        return self.env.chain_name

    async def create_pools(self, amounts: Sequence[int]) -> list[PoolRef]:
        return self.env.create_pools(amounts)

    async def token_balance(self, address: str) -> int:
        return self.env.token_balance(address)

    async def new_recipient(self) -> str:
        return str(self.env.new_token_account())

    async def finalize(self) -> None:
        self.env.finalize()

    def unknown_pool(self) -> PoolRef:
        return PoolRef(self.chain, "nowhere", str(Keypair().pubkey()), str(self.env.mint))

    def malformed_pool(self) -> PoolRef:
        return PoolRef(self.chain, "malformed", "0OIl-not-base58", str(self.env.mint))

    async def wrong_asset_pool(self) -> PoolRef:
        return self.env.foreign_pool(wrong="mint")

    # -- what the saga-port conformance tests need -----------------------------

    async def advance(self, blocks: int) -> None:
        self.env.ledger.advance(blocks)

    async def onchain_nonce(self) -> int | None:
        return None  # no nonces on Solana: a signature is unknown until it lands

    async def read_only_adapter(self) -> SolanaAdapter:
        return await connect_solana(
            replace(
                self.env.config,
                treasury_key=None,
                treasury_authority=str(self.env.authority.pubkey()),
            )
        )

    # -- what the cover conformance tests need ----------------------------------

    async def new_wallet(self) -> str:
        """A keypair with SOL for its own fees and rent (it signs certificate transfers)."""
        wallet = Keypair()
        self._wallets[str(wallet.pubkey())] = wallet
        self.env.ledger.set_accounts(
            {
                wallet.pubkey(): Account(
                    lamports=10**9, data=b"", owner=Pubkey.default(), executable=False
                )
            }
        )
        return str(wallet.pubkey())

    async def fund_payer(self, payer: str, pool: PoolRef, amount: int, approve: int) -> None:
        owner = self._wallets[payer]
        self.env.fund_wallet(owner.pubkey(), amount)
        self.env.approve_premium(owner, approve)

    async def wallet_balance(self, wallet: str) -> int:
        ata = associated_token_address(Pubkey.from_string(wallet), self.env.mint)
        return self.env.token_balance(str(ata))

    async def transfer_certificate(
        self, pool: PoolRef, cover_id: str, holder: str, to: str
    ) -> None:
        owner = self._wallets[holder]
        mint = certificate_mint(self.env.authority.pubkey(), cover_id)
        source = associated_token_address(owner.pubkey(), mint)
        recipient = Pubkey.from_string(to)
        dest = associated_token_address(recipient, mint)
        create = Instruction(
            ATA_PROGRAM_ID,
            bytes([1]),
            [
                AccountMeta(owner.pubkey(), is_signer=True, is_writable=True),
                AccountMeta(dest, is_signer=False, is_writable=True),
                AccountMeta(recipient, is_signer=False, is_writable=False),
                AccountMeta(mint, is_signer=False, is_writable=False),
                AccountMeta(Pubkey.default(), is_signer=False, is_writable=False),
                AccountMeta(TOKEN_PROGRAM_ID, is_signer=False, is_writable=False),
            ],
        )
        move = Instruction(
            TOKEN_PROGRAM_ID,
            bytes([12]) + (1).to_bytes(8, "little") + bytes([0]),  # transfer_checked 1, 0 dp
            [
                AccountMeta(source, is_signer=False, is_writable=True),
                AccountMeta(mint, is_signer=False, is_writable=False),
                AccountMeta(dest, is_signer=False, is_writable=True),
                AccountMeta(owner.pubkey(), is_signer=True, is_writable=False),
            ],
        )
        self.env.run_as(owner, [create, move])

    async def adapter_losing_broadcast_answers(self) -> SolanaAdapter:
        """The node executes the next send but the answer never arrives."""
        self.env.server.inject(Fault(FaultKind.DROP_RESPONSE, method="sendTransaction"))
        return self.adapter


@asynccontextmanager
async def solana_harness(**overrides: object) -> AsyncIterator[SolanaHarness]:
    async with embedded_solana(**overrides) as env:  # type: ignore[arg-type]
        yield SolanaHarness(env)


@asynccontextmanager
async def connected(config: SolanaConfig, **changes: Any) -> AsyncIterator[SolanaAdapter]:
    """Another adapter on the same node with some settings changed, closed after use."""
    adapter = await connect_solana(replace(config, **changes))
    try:
        yield adapter
    finally:
        await adapter.aclose()

"""A local Solana cluster with Ballast's pools, for tests, the demo and benchmarks.

Set-up goes through the ledger's back door (``set_accounts``: one versioned
slot per batch, like a block) because creating thousands of token accounts by
transaction would only test LiteSVM. Everything afterwards (reads, transfers,
lookups) goes through the JSON-RPC server and the real adapter.

Usage::

    async with embedded_solana(pools=[5_000_000, 0]) as env:
        snap = await env.adapter.read_balances(env.pools)
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from pydantic import SecretBytes
from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount
from solders.transaction import Transaction

from chains.base import PoolRef
from chains.embedded.litesvm_chain import LiteSvmChain, TxRecord
from chains.embedded.solana_rpc import SolanaRpcServer
from chains.solana import (
    MINT_LEN,
    TOKEN_ACCOUNT_LEN,
    TOKEN_PROGRAM_ID,
    SolanaAdapter,
    SolanaConfig,
    connect_solana,
)
from chains.solana_covers import associated_token_address

DECIMALS = 6
TREASURY_LAMPORTS = 1_000 * 10**9  # fees and per-transfer marker rent


def mint_data(authority: Pubkey, supply: int, decimals: int = DECIMALS) -> bytes:
    """SPL Mint layout (82 bytes): authority, supply, decimals, initialized, no freeze."""
    data = struct.pack("<I32sQB?I32s", 1, bytes(authority), supply, decimals, True, 0, bytes(32))
    assert len(data) == MINT_LEN
    return data


def token_account_data(mint: Pubkey, owner: Pubkey, amount: int, *, state: int = 1) -> bytes:
    """SPL token account layout (165 bytes): mint, owner, amount, state and empty options."""
    data = (
        bytes(mint)
        + bytes(owner)
        + struct.pack("<Q", amount)
        + struct.pack("<I", 0)
        + bytes(32)  # delegate: none
        + bytes([state])
        + struct.pack("<I", 0)
        + struct.pack("<Q", 0)  # is_native: none
        + struct.pack("<Q", 0)  # delegated amount
        + struct.pack("<I", 0)
        + bytes(32)  # close authority: none
    )
    assert len(data) == TOKEN_ACCOUNT_LEN
    return data


@dataclass
class EmbeddedSolana:
    """One local cluster: ledger, RPC server, mint, treasury authority, adapter."""

    chain_name: str
    ledger: LiteSvmChain
    server: SolanaRpcServer
    mint: Pubkey
    authority: Keypair
    adapter: SolanaAdapter
    config: SolanaConfig
    pools: list[PoolRef] = field(default_factory=list)
    _supply: int = 0
    _counter: int = 0

    # -- set-up (back door) ---------------------------------------------------

    def _token_account(self, owner: Pubkey, amount: int, mint: Pubkey | None = None) -> Account:
        return Account(
            lamports=self.ledger.svm.minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_LEN),
            data=token_account_data(mint or self.mint, owner, amount),
            owner=TOKEN_PROGRAM_ID,
            executable=False,
        )

    def create_pools(self, amounts: Sequence[int], *, prefix: str = "sol-pool") -> list[PoolRef]:
        """Token accounts of the mint owned by the treasury, funded, in one slot."""
        accounts: dict[Pubkey, Account] = {}
        refs = []
        for amount in amounts:
            key = Keypair().pubkey()
            accounts[key] = self._token_account(self.authority.pubkey(), amount)
            self._counter += 1
            refs.append(
                PoolRef(self.chain_name, f"{prefix}-{self._counter}", str(key), str(self.mint))
            )
        self._supply += sum(amounts)
        accounts[self.mint] = self._mint_account()
        self.ledger.set_accounts(accounts)
        self.pools.extend(refs)
        return refs

    def _mint_account(self) -> Account:
        return Account(
            lamports=self.ledger.svm.minimum_balance_for_rent_exemption(MINT_LEN),
            data=mint_data(self.authority.pubkey(), self._supply),
            owner=TOKEN_PROGRAM_ID,
            executable=False,
        )

    def create_escrow(self, amount: int = 0) -> Pubkey:
        """A bridge escrow: a token account of the mint owned by the treasury authority."""
        key = Keypair().pubkey()
        self._supply += amount
        self.ledger.set_accounts(
            {
                key: self._token_account(self.authority.pubkey(), amount),
                self.mint: self._mint_account(),
            }
        )
        return key

    def fund_wallet(self, wallet: Pubkey, amount: int) -> Pubkey:
        """Mint ``amount`` into ``wallet``'s associated token account (created if new)."""
        ata = associated_token_address(wallet, self.mint)
        held = self.token_balance(str(ata))
        self._supply += amount
        self.ledger.set_accounts(
            {ata: self._token_account(wallet, held + amount), self.mint: self._mint_account()}
        )
        return ata

    def new_payer(self, amount: int, *, approve: int | None = None) -> Keypair:
        """A premium payer: a wallet with SOL and ``amount`` in its associated token
        account, which approved the treasury authority for ``approve`` (default: all)."""
        payer = Keypair()
        self.ledger.set_accounts(
            {
                payer.pubkey(): Account(
                    lamports=10**9, data=b"", owner=Pubkey.default(), executable=False
                )
            }
        )
        self.fund_wallet(payer.pubkey(), amount)
        self.approve_premium(payer, amount if approve is None else approve)
        return payer

    def approve_premium(self, payer: Keypair, amount: int) -> None:
        """The payer makes the treasury authority the delegate of its associated token
        account for ``amount`` (what a cover opening collects as the premium), in a real
        SPL ``Approve`` it signs and pays for itself."""
        ata = associated_token_address(payer.pubkey(), self.mint)
        approval = Instruction(
            TOKEN_PROGRAM_ID,
            bytes([4]) + amount.to_bytes(8, "little"),  # SPL Token Approve
            [
                AccountMeta(ata, is_signer=False, is_writable=True),
                AccountMeta(self.authority.pubkey(), is_signer=False, is_writable=False),
                AccountMeta(payer.pubkey(), is_signer=True, is_writable=False),
            ],
        )
        self.run_as(payer, [approval])

    def run_as(self, signer: Keypair, ixs: Sequence[Instruction]) -> None:
        """A transaction ``signer`` signs and pays for, executed on the ledger (set-up
        by a user's own hand: no adapter involved); raises if it failed."""
        blockhash = self.ledger.blockhash_of(self.ledger.slot)
        message = Message.new_with_blockhash(list(ixs), signer.pubkey(), blockhash)
        record = self.ledger.execute(Transaction([signer], message, blockhash))
        if not isinstance(record, TxRecord) or record.err is not None:
            raise RuntimeError(f"embedded set-up transaction of {signer.pubkey()} failed")

    def new_token_account(
        self, *, owner: Pubkey | None = None, mint: Pubkey | None = None
    ) -> Pubkey:
        """An empty token account (a recipient), of our mint unless told otherwise."""
        key = Keypair().pubkey()
        account = self._token_account(owner or Keypair().pubkey(), 0, mint)
        self.ledger.set_accounts({key: account})
        return key

    def foreign_pool(self, *, wrong: str) -> PoolRef:
        """A funded account that is not our pool: ``wrong`` is "mint" or "owner"."""
        key = Keypair().pubkey()
        if wrong == "mint":
            account = self._token_account(self.authority.pubkey(), 1_000, Keypair().pubkey())
        elif wrong == "owner":
            account = self._token_account(Keypair().pubkey(), 1_000)
        else:
            raise ValueError(f"wrong must be 'mint' or 'owner', not {wrong!r}")
        self.ledger.set_accounts({key: account})
        self._counter += 1
        return PoolRef(self.chain_name, f"foreign-{self._counter}", str(key), str(self.mint))

    # -- independent reads and time ------------------------------------------

    def token_balance(self, address: str) -> int:
        """Latest (processed) balance straight from the ledger, not via the adapter."""
        account = self.ledger.svm.get_account(Pubkey.from_string(address))
        if account is None or account.owner != TOKEN_PROGRAM_ID:
            return 0
        return int(TokenAccount.from_bytes(bytes(account.data)).amount)

    def finalize(self) -> int:
        return self.ledger.finalize()

    def expire_blockhashes(self) -> int:
        return self.ledger.expire_blockhashes()


@asynccontextmanager
async def embedded_solana(
    pools: Sequence[int] = (),
    *,
    chain: str = "solana-local",
    finality_depth: int = 32,
    blockhash_validity: int = 150,
    **overrides: object,
) -> AsyncIterator[EmbeddedSolana]:
    """A fresh cluster on 127.0.0.1 with funded pools (finalized) and a connected adapter.

    ``overrides`` replace :class:`SolanaConfig` fields (timeouts, batching...).
    """
    ledger = LiteSvmChain(finality_depth=finality_depth, blockhash_validity=blockhash_validity)
    authority = Keypair()
    mint = Keypair().pubkey()
    ledger.set_accounts(
        {
            authority.pubkey(): Account(
                lamports=TREASURY_LAMPORTS, data=b"", owner=Pubkey.default(), executable=False
            ),
            mint: Account(
                lamports=ledger.svm.minimum_balance_for_rent_exemption(MINT_LEN),
                data=mint_data(authority.pubkey(), 0),
                owner=TOKEN_PROGRAM_ID,
                executable=False,
            ),
        }
    )
    ledger.finalize()
    server = await SolanaRpcServer(ledger).start()
    config = SolanaConfig(
        chain=chain,
        rpc_url=server.url,
        settlement_mint=str(mint),
        treasury_key=SecretBytes(bytes(authority)),
        poll_interval=0.01,
        confirm_timeout=5.0,
    )
    config = replace(config, **overrides)  # type: ignore[arg-type]
    adapter: SolanaAdapter | None = None
    try:
        adapter = await connect_solana(config)
        env = EmbeddedSolana(chain, ledger, server, mint, authority, adapter, config)
        if pools:
            env.create_pools(pools)
            ledger.finalize()
        yield env
    finally:
        if adapter is not None:
            await adapter.aclose()
        await server.close()

"""What every part of the Solana adapter shares: config, keys, pool checks, RPC calls.

:class:`SolanaCore` owns the endpoint(s), the treasury signer and the marker
rent; reads (``solana_reads``) and sends (``solana_sends``) build on it and
meet in :class:`chains.solana.SolanaAdapter`. Every read-only call goes through
``_call``/``_gather`` so it is retried under the one policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import SecretBytes
from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount, TokenAccountState

from chains.base import ChainFamily, Commitment, Effect, PoolRef, SignedTx
from chains.errors import (
    AccountMismatch,
    InvalidAddress,
    InvalidInput,
    ReadOnlyAdapter,
    UnknownChain,
    UnknownPool,
)
from chains.retry import DEFAULT_RETRY, RetryPolicy, with_retries
from chains.solana_rpc import SolanaRpc

TOKEN_PROGRAM_ID = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
#: Owner of inbound-delivery markers: the legacy memo program id. Any program id
#: works as the owner of a data-less account; a different one than outbound
#: markers gives the same transfer id a different marker address per direction.
INBOUND_MARKER_OWNER = Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")
U64_MAX = 2**64 - 1
TOKEN_ACCOUNT_LEN = 165
MINT_LEN = 82
MAX_KEYS_PER_CALL = 100
MEMO_PREFIX = "ballast:"

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class SolanaConfig:
    """Everything the adapter needs; parsed once, passed in, never read from env here.

    ``treasury_key`` is the 64-byte keypair of the treasury authority (owner of
    every pool token account and fee payer). It is a secret: never in repr,
    logs or errors. Without it the adapter reads only, and needs the
    authority's public key (``treasury_authority``) to check pool owners.

    ``bridge_escrow`` is a token account of the mint owned by the treasury
    authority: outbound bridge transfers pay into it (the memo names the
    destination) and inbound deliveries pay out of it, each under a marker
    that makes the transfer id once-only. ``routes`` maps the other chains'
    names to their chain ids (as the bridge's attestations name them).
    """

    chain: str
    rpc_url: str
    settlement_mint: str
    treasury_key: SecretBytes | None = field(default=None, repr=False)
    decimals: int = 6
    request_timeout: float = 10.0
    confirm_timeout: float = 60.0
    poll_interval: float = 0.4
    max_resigns: int = 3
    calls_per_request: int = 4  # JSON-RPC calls batched into one HTTP round trip
    same_slot_attempts: int = 3
    retry: RetryPolicy = DEFAULT_RETRY
    send_commitment: Commitment = Commitment.CONFIRMED  # when send_transfer returns
    skip_preflight: bool = False  # then chain-side failures surface from the status poll
    witness_urls: tuple[str, ...] = ()  # other endpoints that must agree on block hashes
    treasury_authority: str | None = None  # public key; derived from treasury_key if given
    bridge_escrow: str | None = None
    routes: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", MappingProxyType(dict(self.routes)))
        object.__setattr__(self, "witness_urls", tuple(self.witness_urls))
        if self.treasury_key is None and self.treasury_authority is None:
            raise InvalidInput(
                "a Solana chain needs treasury_key, or treasury_authority for reads only",
                chain=self.chain,
            )
        for name, chain_id in self.routes.items():
            if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
                raise InvalidInput(f"route {name!r} needs a positive chain id", chain=self.chain)


def marker_seed(transfer_id: str) -> str:
    """32 chars (the seed limit): the first 128 bits of the id, as hex."""
    return transfer_id[2:34]


def marker_address(authority: Pubkey, transfer_id: str) -> Pubkey:
    """The outbound marker of a transfer id (pool transfers and bridge sends)."""
    return Pubkey.create_with_seed(authority, marker_seed(transfer_id), MEMO_PROGRAM_ID)


def inbound_marker_address(authority: Pubkey, transfer_id: str) -> Pubkey:
    """The marker of an inbound delivery of a transfer id on this chain."""
    return Pubkey.create_with_seed(authority, marker_seed(transfer_id), INBOUND_MARKER_OWNER)


def parse_pubkey(value: object, *, what: str, chain: str | None = None) -> Pubkey:
    """A base-58 32-byte key, or :class:`InvalidAddress` naming what is wrong."""
    shown = repr(value)[:60]
    if not isinstance(value, str) or not 32 <= len(value) <= 44:
        raise InvalidAddress(f"{what} {shown} is not a base-58 Solana address", chain=chain)
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise InvalidAddress(
            f"{what} {shown} is not a base-58 Solana address", chain=chain
        ) from None


@dataclass(slots=True)
class Pending:
    """A signed transfer or delivery whose outcome we do not know yet."""

    effect: Effect
    signed: SignedTx

    @property
    def signature(self) -> str:
        return self.signed.tx_ref


@dataclass(frozen=True, slots=True)
class _Token:
    mint: Pubkey
    owner: Pubkey
    amount: int


class SolanaCore:
    """State and plumbing shared by the reads and sends of one Solana chain."""

    def __init__(
        self,
        config: SolanaConfig,
        rpc: SolanaRpc,
        signer: Keypair | None,
        rent: int,
        witnesses: Sequence[SolanaRpc] = (),
        *,
        authority: Pubkey | None = None,
    ) -> None:
        self._config = config
        self._rpc = rpc
        self._witnesses = tuple(witnesses)
        self._signer = signer
        if signer is not None:
            authority = signer.pubkey()
        if authority is None:
            raise InvalidInput("the treasury authority is unknown", chain=config.chain)
        self._authority = authority
        self._mint = Pubkey.from_string(config.settlement_mint)
        self._escrow = (
            parse_pubkey(config.bridge_escrow, what="bridge escrow", chain=config.chain)
            if config.bridge_escrow is not None
            else None
        )
        self._marker_rent = rent
        self._inflight: dict[str, Pending] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        mode = "signing" if self._signer is not None else "read-only"
        return f"SolanaAdapter(chain={self.chain!r}, endpoint={self._rpc.endpoint!r}, {mode})"

    @property
    def chain(self) -> str:
        return self._config.chain

    @property
    def family(self) -> ChainFamily:
        return ChainFamily.SOLANA

    @property
    def can_sign(self) -> bool:
        return self._signer is not None

    def _require_signer(self) -> Keypair:
        if self._signer is None:
            raise ReadOnlyAdapter(
                "this adapter was built without the treasury key: it reads balances only",
                chain=self.chain,
            )
        return self._signer

    @property
    def authority(self) -> str:
        return str(self._authority)

    @property
    def rpc_round_trips(self) -> int:
        return self._round_trips()

    async def aclose(self) -> None:
        for rpc in (self._rpc, *self._witnesses):
            await rpc.client.close()

    def _round_trips(self) -> int:
        return sum(rpc.round_trips for rpc in (self._rpc, *self._witnesses))

    # -- validation -----------------------------------------------------------

    def _pool_key(self, pool: PoolRef) -> Pubkey:
        if pool.chain != self.chain:
            raise UnknownChain(
                f"pool {pool.pool_id!r} is on chain {pool.chain!r}, not {self.chain!r}",
                chain=self.chain,
            )
        key = parse_pubkey(pool.address, what=f"pool {pool.pool_id!r} address", chain=self.chain)
        asset = parse_pubkey(pool.asset, what=f"pool {pool.pool_id!r} mint", chain=self.chain)
        if asset != self._mint:
            raise AccountMismatch(
                f"pool {pool.pool_id!r} names mint {asset}, settlement mint is {self._mint}",
                chain=self.chain,
            )
        return key

    def _token(self, account: Account | None, *, what: str, owner: Pubkey | None) -> _Token:
        """Decode an SPL token account of our mint; ``owner=None`` accepts any owner."""
        if account is None:
            raise UnknownPool(f"{what}: no account", chain=self.chain)
        data = bytes(account.data)
        if account.owner != TOKEN_PROGRAM_ID or len(data) != TOKEN_ACCOUNT_LEN:
            raise AccountMismatch(
                f"{what}: not an SPL token account (program {account.owner}, {len(data)} bytes)",
                chain=self.chain,
            )
        try:
            token = TokenAccount.from_bytes(data)
        except Exception:
            raise AccountMismatch(f"{what}: undecodable token account", chain=self.chain) from None
        if token.state != TokenAccountState.Initialized:
            raise AccountMismatch(f"{what}: token account is {token.state}", chain=self.chain)
        if token.mint != self._mint:
            raise AccountMismatch(
                f"{what}: holds mint {token.mint}, settlement mint is {self._mint}",
                chain=self.chain,
            )
        if owner is not None and token.owner != owner:
            raise AccountMismatch(
                f"{what}: owned by {token.owner}, not the treasury authority {owner}",
                chain=self.chain,
            )
        return _Token(token.mint, token.owner, int(token.amount))

    async def _gather(self, calls: Sequence[tuple[Any, type[Any]]]) -> list[Any]:
        """Calls batched ``calls_per_request`` per HTTP request, requests concurrent."""
        size = max(1, self._config.calls_per_request)
        groups = [list(calls[i : i + size]) for i in range(0, len(calls), size)]
        results = await asyncio.gather(*(self._rpc.batch(g) for g in groups))
        return [answer for group in results for answer in group]

    async def _call(self, body: Any, parser: type[R]) -> R:
        """One read-only call under the retry policy."""
        return await with_retries(lambda: self._rpc.call(body, parser), policy=self._config.retry)

"""Solana adapter: SPL-token risk pools read and moved through solana-py.

:class:`SolanaAdapter` is assembled from its parts, each in its own module:
``solana_core`` (config, keys, pool and token-account checks, retried calls),
``solana_reads`` (every pool at one finalized slot, checked against witnesses),
``solana_sends`` (one marker-guarded transaction per transfer id, safe
re-signing, look-up by id) and ``solana_covers`` (cover openings with a
one-of-one certificate mint, claim payments to its holder under a burnt limit
allowance). :func:`connect_solana` checks the settlement mint
before handing out an adapter.

Every solana-py / solders / httpx exception is mapped to :mod:`chains.errors`
in these modules and in :mod:`chains.solana_rpc` (solders' ``PanicException``
included).
"""

from __future__ import annotations

import asyncio

from solana.rpc.async_api import AsyncClient
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.keypair import Keypair
from solders.rpc.config import RpcAccountInfoConfig
from solders.rpc.requests import GetMinimumBalanceForRentExemption, GetMultipleAccounts
from solders.rpc.responses import GetMinimumBalanceForRentExemptionResp, GetMultipleAccountsResp
from solders.token.state import Mint

from chains.base import Commitment
from chains.errors import AccountMismatch, InvalidAddress, InvalidInput, UnknownPool, redact_url
from chains.retry import with_retries
from chains.solana_core import (
    MAX_KEYS_PER_CALL,
    MEMO_PREFIX,
    MEMO_PROGRAM_ID,
    MINT_LEN,
    TOKEN_ACCOUNT_LEN,
    TOKEN_PROGRAM_ID,
    U64_MAX,
    SolanaConfig,
    inbound_marker_address,
    marker_address,
    marker_seed,
    parse_pubkey,
)
from chains.solana_covers import SolanaCovers
from chains.solana_reads import SolanaReads
from chains.solana_rpc import SolanaRpc

__all__ = [
    "MAX_KEYS_PER_CALL",
    "MEMO_PREFIX",
    "MEMO_PROGRAM_ID",
    "MINT_LEN",
    "TOKEN_ACCOUNT_LEN",
    "TOKEN_PROGRAM_ID",
    "U64_MAX",
    "SolanaAdapter",
    "SolanaConfig",
    "connect_solana",
    "inbound_marker_address",
    "marker_address",
    "marker_seed",
    "parse_pubkey",
]


class SolanaAdapter(SolanaReads, SolanaCovers):
    """:class:`chains.base.ChainAdapter` (and :class:`chains.base.CoverReader`) for
    SPL-token pools. Build with :func:`connect_solana`."""


async def connect_solana(config: SolanaConfig) -> SolanaAdapter:
    """Open the endpoint, check the settlement mint at ``finalized``, return the adapter.

    solana-py's own transport retry is off (``max_transport_retries=0``): a
    lost ``sendTransaction`` answer must reach us, not be silently re-posted.
    """
    if config.send_commitment is Commitment.LATEST:
        raise InvalidInput(
            "send_commitment must be confirmed or finalized: a processed transaction can "
            "still be dropped",
            chain=config.chain,
        )
    mint = parse_pubkey(config.settlement_mint, what="settlement mint", chain=config.chain)
    signer: Keypair | None = None
    if config.treasury_key is not None:
        try:
            signer = Keypair.from_bytes(config.treasury_key.get_secret_value())
        except ValueError:
            raise InvalidAddress(
                "treasury key is not a 64-byte keypair", chain=config.chain
            ) from None
    authority = signer.pubkey() if signer is not None else None
    if config.treasury_authority is not None:
        named = parse_pubkey(
            config.treasury_authority, what="treasury authority", chain=config.chain
        )
        if authority is not None and named != authority:
            raise InvalidInput(
                f"treasury_authority {named} is not the public key of treasury_key",
                chain=config.chain,
            )
        authority = named
    if config.bridge_escrow is not None:
        parse_pubkey(config.bridge_escrow, what="bridge escrow", chain=config.chain)
    rpc = _open(config.rpc_url, config)
    try:
        rent_resp, mint_resp = await asyncio.gather(
            with_retries(
                lambda: rpc.call(
                    GetMinimumBalanceForRentExemption(0), GetMinimumBalanceForRentExemptionResp
                ),
                policy=config.retry,
            ),
            with_retries(
                lambda: rpc.call(
                    GetMultipleAccounts(
                        [mint],
                        RpcAccountInfoConfig(
                            encoding=UiAccountEncoding.Base64,
                            commitment=CommitmentLevel.Finalized,
                        ),
                    ),
                    GetMultipleAccountsResp,
                ),
                policy=config.retry,
            ),
        )
        account = mint_resp.value[0] if mint_resp.value else None
        if account is None:
            raise UnknownPool(
                f"settlement mint {mint} does not exist (finalized)", chain=config.chain
            )
        data = bytes(account.data)
        if account.owner != TOKEN_PROGRAM_ID or len(data) != MINT_LEN:
            raise AccountMismatch(f"settlement mint {mint} is not an SPL mint", chain=config.chain)
        try:
            decimals = Mint.from_bytes(data).decimals
        except ValueError:  # solders: uninitialized or invalid mint data
            raise AccountMismatch(
                f"settlement mint {mint} is not an initialized SPL mint", chain=config.chain
            ) from None
        if decimals != config.decimals:
            raise AccountMismatch(
                f"settlement mint {mint} has {decimals} decimals, config says {config.decimals}",
                chain=config.chain,
            )
    except BaseException:
        await rpc.client.close()
        raise
    witnesses = [_open(url, config) for url in config.witness_urls]
    return SolanaAdapter(config, rpc, signer, int(rent_resp.value), witnesses, authority=authority)


def _open(url: str, config: SolanaConfig) -> SolanaRpc:
    """One endpoint, set up alike for the main node and every witness."""
    client = AsyncClient(url, timeout=config.request_timeout, max_transport_retries=0, http2=False)
    return SolanaRpc(client, endpoint=redact_url(url), chain=config.chain)

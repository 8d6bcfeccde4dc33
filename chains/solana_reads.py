"""Balance reads of the Solana adapter: every pool at one finalized slot.

Pools are SPL token accounts of the settlement mint owned by the treasury
authority. Reads use ``getMultipleAccounts`` (<= 100 keys per call) at
``finalized``, all chunks at one context slot. ``block_hash`` on Solana is the
blockhash of that finalized slot (``getLatestBlockhash`` at ``finalized``
answers it in the same round trip; it equals ``getBlock(slot).blockhash``).

With ``witness_urls``, every snapshot's block hash is checked against the
other endpoints (``getBlock`` at that slot): a mismatch is
:class:`EndpointDisagreement`, never averaged or ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from solders.account import Account
from solders.account_decoder import UiAccountEncoding
from solders.commitment_config import CommitmentLevel
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig, RpcBlockConfig, RpcContextConfig
from solders.rpc.requests import GetBlock, GetLatestBlockhash, GetMultipleAccounts
from solders.rpc.responses import GetBlockResp, GetLatestBlockhashResp, GetMultipleAccountsResp
from solders.transaction_status import TransactionDetails, UiTransactionEncoding

from chains.base import BalanceReport, BalanceSnapshot, PoolRef
from chains.errors import EndpointDisagreement, MalformedResponse, NotFinal
from chains.retry import with_retries
from chains.solana_core import MAX_KEYS_PER_CALL, SolanaCore
from chains.solana_rpc import SolanaRpc


class SolanaReads(SolanaCore):
    """Finalized balance reads, checked against witness endpoints."""

    async def read_balances(self, pools: Sequence[PoolRef]) -> BalanceSnapshot:
        keys = [self._pool_key(p) for p in pools]  # every check before any call
        before = self._round_trips()
        slot, blockhash, accounts = await with_retries(
            lambda: self._read_at_one_slot(keys), policy=self._config.retry
        )
        await asyncio.gather(*(self._witness(w, slot, blockhash) for w in self._witnesses))
        now = datetime.now(UTC)
        reports = []
        for pool, key in zip(pools, keys, strict=True):
            what = f"pool {pool.pool_id!r} ({key})"
            token = self._token(accounts[key], what=what, owner=self._authority)
            reports.append(
                BalanceReport(
                    chain=self.chain,
                    pool_id=pool.pool_id,
                    address=pool.address,
                    asset=pool.asset,
                    amount=token.amount,
                    block_number=slot,
                    block_hash=str(blockhash),
                    finalized=True,
                    observed_at=now,
                )
            )
        return BalanceSnapshot(
            chain=self.chain,
            block_number=slot,
            block_hash=str(blockhash),
            finalized=True,
            observed_at=now,
            reports=tuple(reports),
            rpc_calls=self._round_trips() - before,
        )

    async def _read_at_one_slot(
        self, keys: Sequence[Pubkey]
    ) -> tuple[int, Hash, dict[Pubkey, Account | None]]:
        unique = list(dict.fromkeys(keys))
        chunks = [
            unique[i : i + MAX_KEYS_PER_CALL] for i in range(0, len(unique), MAX_KEYS_PER_CALL)
        ]
        min_slot: int | None = None
        for _ in range(self._config.same_slot_attempts):
            answers = await self._gather(
                [
                    (
                        GetMultipleAccounts(
                            chunk,
                            RpcAccountInfoConfig(
                                encoding=UiAccountEncoding.Base64,
                                commitment=CommitmentLevel.Finalized,
                                min_context_slot=min_slot,
                            ),
                        ),
                        GetMultipleAccountsResp,
                    )
                    for chunk in chunks
                ]
                + [
                    (
                        GetLatestBlockhash(
                            RpcContextConfig(
                                commitment=CommitmentLevel.Finalized, min_context_slot=min_slot
                            )
                        ),
                        GetLatestBlockhashResp,
                    )
                ]
            )
            slots = {a.context.slot for a in answers}
            if len(slots) == 1:
                accounts: dict[Pubkey, Account | None] = {}
                for chunk, answer in zip(chunks, answers, strict=False):
                    if len(answer.value) != len(chunk):
                        raise MalformedResponse(
                            f"getMultipleAccounts: {len(answer.value)} accounts for "
                            f"{len(chunk)} keys",
                            endpoint=self._rpc.endpoint,
                            chain=self.chain,
                        )
                    accounts.update(zip(chunk, answer.value, strict=True))
                return slots.pop(), answers[-1].value.blockhash, accounts
            min_slot = max(slots)  # finality moved between chunks: read again at the newest
        raise NotFinal(
            f"could not read {len(unique)} accounts at one finalized slot", chain=self.chain
        )

    async def _witness(self, witness: SolanaRpc, slot: int, blockhash: Hash) -> None:
        """Another endpoint must have the same block at this finalized slot."""
        body = GetBlock(
            slot,
            RpcBlockConfig(
                encoding=UiTransactionEncoding.Base64,
                transaction_details=TransactionDetails.None_,
                rewards=False,
                commitment=CommitmentLevel.Finalized,
                max_supported_transaction_version=0,
            ),
        )
        resp = await with_retries(
            lambda: witness.call(body, GetBlockResp), policy=self._config.retry
        )
        theirs = None if resp.value is None else resp.value.blockhash
        if theirs != blockhash:
            raise EndpointDisagreement(
                f"finalized slot {slot}: {self._rpc.endpoint} has block {blockhash}, "
                f"{witness.endpoint} has {theirs}",
                chain=self.chain,
                slot=slot,
            )

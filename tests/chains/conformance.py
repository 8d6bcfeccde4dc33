"""One conformance suite for every chain adapter and every backend.

A backend's test module subclasses :class:`AdapterConformance` and provides a
``harness`` fixture yielding a :class:`ChainHarness`: the same assertions then
run against embedded py-evm, a real anvil node and LiteSVM behind JSON-RPC.
The harness does set-up through its own back door (deploying, minting,
finalizing); every assertion goes through the adapter or an independent read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import pytest

from chains import errors
from chains.base import (
    ChainAdapter,
    PoolRef,
    Transfer,
    TransferStatus,
)


class ChainHarness(Protocol):
    adapter: ChainAdapter

    @property
    def chain(self) -> str: ...

    async def create_pools(self, amounts: Sequence[int]) -> list[PoolRef]:
        """New pools of our settlement asset, funded with these amounts."""
        ...

    async def token_balance(self, address: str) -> int:
        """Settlement-asset balance of any address, read without the adapter."""
        ...

    async def new_recipient(self) -> str:
        """A fresh address on this chain able to receive the settlement asset."""
        ...

    async def finalize(self) -> None:
        """Advance the chain until everything done so far is final."""
        ...

    def unknown_pool(self) -> PoolRef:
        """Well-formed address where no pool exists."""
        ...

    def malformed_pool(self) -> PoolRef:
        """An address that is not valid for this chain family."""
        ...

    async def wrong_asset_pool(self) -> PoolRef:
        """An account that exists but holds another asset (or is not ours)."""
        ...


def new_transfer_id() -> str:
    return "0x" + os.urandom(32).hex()


class AdapterConformance:
    """Behaviour every ChainAdapter must show. Subclass and provide ``harness``."""

    # -- reads -------------------------------------------------------------

    async def test_reads_every_pool_at_one_final_block(self, harness: ChainHarness) -> None:
        amounts = [1, 2_500_000, 10**12, 0, 7]
        pools = await harness.create_pools(amounts)
        await harness.finalize()
        snap = await harness.adapter.read_balances(pools)
        assert snap.chain == harness.chain
        assert snap.finalized
        assert [r.amount for r in snap.reports] == amounts
        assert [r.pool_id for r in snap.reports] == [p.pool_id for p in pools]
        assert {r.block_number for r in snap.reports} == {snap.block_number}
        assert {r.block_hash for r in snap.reports} == {snap.block_hash}
        assert snap.block_hash
        assert all(isinstance(r.amount, int) and r.finalized for r in snap.reports)

    async def test_read_does_not_see_unfinalized_state(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([1_000_000])
        await harness.finalize()
        before = await harness.adapter.read_balances([pool])
        recipient = await harness.new_recipient()
        await harness.adapter.send_transfer(
            Transfer(new_transfer_id(), pool, harness.chain, recipient, 400_000)
        )
        # The transfer is included but not yet final: a final read still sees
        # the old balance (final blocks lag the head on every backend).
        early = await harness.adapter.read_balances([pool])
        assert early.finalized
        assert early.block_number >= before.block_number
        assert early.reports[0].amount == 1_000_000
        await harness.finalize()
        late = await harness.adapter.read_balances([pool])
        assert late.reports[0].amount == 600_000

    async def test_empty_read_is_a_snapshot_without_reports(self, harness: ChainHarness) -> None:
        snap = await harness.adapter.read_balances([])
        assert snap.reports == ()
        assert snap.finalized

    async def test_malformed_address_is_rejected_before_any_call(
        self, harness: ChainHarness
    ) -> None:
        with pytest.raises(errors.InvalidAddress):
            await harness.adapter.read_balances([harness.malformed_pool()])

    async def test_pool_of_another_chain_is_unknown_chain(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([5])
        foreign = PoolRef("no-such-chain", pool.pool_id, pool.address, pool.asset)
        with pytest.raises(errors.UnknownChain):
            await harness.adapter.read_balances([foreign])

    async def test_unknown_pool_is_typed(self, harness: ChainHarness) -> None:
        with pytest.raises((errors.UnknownPool, errors.AccountMismatch)):
            await harness.adapter.read_balances([harness.unknown_pool()])

    async def test_account_of_another_asset_is_not_a_balance(self, harness: ChainHarness) -> None:
        pool = await harness.wrong_asset_pool()
        await harness.finalize()
        with pytest.raises(errors.AccountMismatch):
            await harness.adapter.read_balances([pool])

    # -- transfers ---------------------------------------------------------

    async def test_transfer_moves_exactly_the_amount(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([5_000_000])
        recipient = await harness.new_recipient()
        tid = new_transfer_id()
        receipt = await harness.adapter.send_transfer(
            Transfer(tid, pool, harness.chain, recipient, 1_234_567)
        )
        assert receipt.transfer_id == tid
        assert receipt.status in (TransferStatus.CONFIRMED, TransferStatus.FINALIZED)
        assert await harness.token_balance(recipient) == 1_234_567
        assert await harness.token_balance(pool.address) == 5_000_000 - 1_234_567

    async def test_transfer_is_found_again_by_id(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([3_000_000])
        recipient = await harness.new_recipient()
        tid = new_transfer_id()
        sent = await harness.adapter.send_transfer(
            Transfer(tid, pool, harness.chain, recipient, 1_000)
        )
        await harness.finalize()
        found = await harness.adapter.find_transfer(tid)
        assert found is not None
        assert found.tx_ref == sent.tx_ref
        assert found.status is TransferStatus.FINALIZED
        assert await harness.adapter.find_transfer(new_transfer_id()) is None

    async def test_replayed_transfer_id_moves_nothing(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([3_000_000])
        recipient = await harness.new_recipient()
        transfer = Transfer(new_transfer_id(), pool, harness.chain, recipient, 1_000_000)
        await harness.adapter.send_transfer(transfer)
        with pytest.raises(errors.DuplicateTransfer):
            await harness.adapter.send_transfer(transfer)
        assert await harness.token_balance(recipient) == 1_000_000
        assert await harness.token_balance(pool.address) == 2_000_000

    async def test_transfer_over_free_capital_moves_nothing(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([1_000])
        recipient = await harness.new_recipient()
        with pytest.raises(errors.InsufficientCapital):
            await harness.adapter.send_transfer(
                Transfer(new_transfer_id(), pool, harness.chain, recipient, 1_001)
            )
        assert await harness.token_balance(pool.address) == 1_000
        assert await harness.token_balance(recipient) == 0

    async def test_transfer_to_malformed_recipient_is_rejected(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([1_000])
        with pytest.raises(errors.InvalidAddress):
            await harness.adapter.send_transfer(
                Transfer(new_transfer_id(), pool, harness.chain, "not-an-address", 10)
            )
        assert await harness.token_balance(pool.address) == 1_000

    async def test_transfer_from_unknown_pool_is_rejected(self, harness: ChainHarness) -> None:
        recipient = await harness.new_recipient()
        with pytest.raises((errors.UnknownPool, errors.AccountMismatch)):
            await harness.adapter.send_transfer(
                Transfer(new_transfer_id(), harness.unknown_pool(), harness.chain, recipient, 10)
            )

    @pytest.mark.parametrize("amount", [0, -1, 2**256, True, 1.5])
    async def test_bad_amounts_never_reach_the_chain(
        self, harness: ChainHarness, amount: object
    ) -> None:
        (pool,) = await harness.create_pools([1_000])
        recipient = await harness.new_recipient()
        with pytest.raises(errors.InvalidAmount):
            Transfer(new_transfer_id(), pool, harness.chain, recipient, amount)  # type: ignore[arg-type]
        assert await harness.token_balance(pool.address) == 1_000

    async def test_bad_transfer_id_is_rejected(self, harness: ChainHarness) -> None:
        (pool,) = await harness.create_pools([1_000])
        recipient = await harness.new_recipient()
        for bad in ("", "0x1234", "0x" + "G" * 64, "0x" + "AB" * 32, "0x" + "ab" * 32 + "\n"):
            with pytest.raises(errors.InvalidTransferId):
                Transfer(bad, pool, harness.chain, recipient, 10)

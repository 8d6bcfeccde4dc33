"""One conformance suite for every chain adapter and every backend.

A backend's test module subclasses :class:`AdapterConformance` and provides a
``harness`` fixture yielding a :class:`ChainHarness`: the same assertions then
run against embedded py-evm, a real anvil node and LiteSVM behind JSON-RPC.
The harness does set-up through its own back door (deploying, minting,
finalizing); every assertion goes through the adapter or an independent read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Protocol

import pytest

from chains import errors
from chains.base import (
    Cession,
    ChainAdapter,
    ChainFamily,
    EffectKind,
    PoolRef,
    Recovery,
    SignedTx,
    Transfer,
    TransferStatus,
    TxState,
    WaitReason,
)
from chains.testing import FaultyEndpoint


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


# ------------------------------------------------------------------ saga ports


class PortHarness(ChainHarness, Protocol):
    async def advance(self, blocks: int) -> None:
        """Let the chain move on ``blocks`` blocks/slots."""
        ...

    async def onchain_nonce(self) -> int | None:
        """The signer's mined transaction count (None where the chain has none)."""
        ...

    async def read_only_adapter(self) -> ChainAdapter:
        """An adapter for the same chain built without a signer key."""
        ...

    async def adapter_losing_broadcast_answers(self) -> ChainAdapter:
        """An adapter whose next broadcasts reach the node, but whose answers are lost."""
        ...


class SagaPortConformance:
    """prepare / broadcast / status / find_effect, as a durable executor drives them."""

    async def test_prepare_signs_and_sends_nothing(self, harness: PortHarness) -> None:
        (pool,) = await harness.create_pools([2_000_000])
        recipient = await harness.new_recipient()
        transfer = Transfer(new_transfer_id(), pool, harness.chain, recipient, 750_000)
        nonce_before = await harness.onchain_nonce()
        signed = await harness.adapter.prepare(transfer)
        assert signed.chain == harness.chain
        assert signed.effect_id == transfer.transfer_id
        assert signed.kind is EffectKind.TRANSFER
        assert signed.amount == 750_000
        assert signed.tx_ref and len(signed.raw) > 64
        if signed.family is ChainFamily.EVM:
            assert signed.nonce is not None and signed.nonce == nonce_before
            assert signed.max_fee_per_gas is not None and signed.max_priority_fee_per_gas
            assert signed.gas_limit
        else:
            assert signed.recent_blockhash and signed.last_valid_block_height
        # Nothing reached the chain: no balance moved, no nonce used, nothing known.
        assert await harness.token_balance(pool.address) == 2_000_000
        assert await harness.token_balance(recipient) == 0
        assert await harness.onchain_nonce() == nonce_before
        assert (await harness.adapter.status(signed)).state is TxState.UNKNOWN
        assert (await harness.adapter.find_effect(transfer)).state is TxState.UNKNOWN
        harness.adapter.discard(signed)
        # The value is plain data: it survives a store or a workflow history.
        assert SignedTx(**json.loads(json.dumps(asdict(signed)))) == signed

    async def test_broadcast_twice_is_one_effect(self, harness: PortHarness) -> None:
        (pool,) = await harness.create_pools([1_000_000])
        recipient = await harness.new_recipient()
        transfer = Transfer(new_transfer_id(), pool, harness.chain, recipient, 400_000)
        signed = await harness.adapter.prepare(transfer)
        first = await harness.adapter.broadcast(signed)
        again = await harness.adapter.broadcast(signed)
        assert first.tx_ref == again.tx_ref == signed.tx_ref
        assert again.state in (TxState.PENDING, TxState.INCLUDED, TxState.FINAL)
        assert (await harness.adapter.status(signed)).landed
        assert await harness.token_balance(recipient) == 400_000
        assert await harness.token_balance(pool.address) == 600_000
        await harness.finalize()
        final = await harness.adapter.status(signed)
        assert final.state is TxState.FINAL and final.final and final.block_number is not None
        found = await harness.adapter.find_effect(transfer)
        assert found.state is TxState.FINAL and found.final
        assert found.tx_ref == signed.tx_ref and found.amount == 400_000
        with pytest.raises(errors.DuplicateTransfer):  # the id is spent on chain
            await harness.adapter.prepare(transfer)

    async def test_lost_broadcast_answer_is_found_by_id(self, harness: PortHarness) -> None:
        (pool,) = await harness.create_pools([1_000_000])
        recipient = await harness.new_recipient()
        transfer = Transfer(new_transfer_id(), pool, harness.chain, recipient, 123_456)
        lossy = await harness.adapter_losing_broadcast_answers()
        signed = await lossy.prepare(transfer)
        try:
            outcome = await lossy.broadcast(signed)
            assert outcome.state in (TxState.UNKNOWN, TxState.PENDING)
        except errors.RpcError as exc:  # the answer never came back: outcome unknown
            assert exc.retryable
        # A restarted worker reconciles by id before anything else, and finds it.
        found = await harness.adapter.find_effect(transfer)
        assert found.landed and found.tx_ref == signed.tx_ref
        assert (await harness.adapter.status(signed)).landed
        assert await harness.token_balance(recipient) == 123_456
        assert await harness.token_balance(pool.address) == 1_000_000 - 123_456

    async def test_read_only_adapter_reads_and_refuses_to_sign(self, harness: PortHarness) -> None:
        (pool,) = await harness.create_pools([5_000])
        await harness.finalize()
        reader = await harness.read_only_adapter()
        try:
            assert not reader.can_sign and harness.adapter.can_sign
            snap = await reader.read_balances([pool])
            assert [r.amount for r in snap.reports] == [5_000]
            transfer = Transfer(
                new_transfer_id(), pool, harness.chain, await harness.new_recipient(), 1
            )
            with pytest.raises(errors.ReadOnlyAdapter):
                await reader.prepare(transfer)
            with pytest.raises(errors.ReadOnlyAdapter):
                await reader.send_transfer(transfer)
        finally:
            await reader.aclose()
        assert await harness.token_balance(pool.address) == 5_000


class EvmHarnessPorts(PortHarness, Protocol):
    vault: str

    def faulty_adapter(self, **overrides: object) -> tuple[Any, FaultyEndpoint]: ...

    async def approve_cedent(self, pool: str) -> None: ...

    async def fund_vault(self, amount: int) -> None: ...


class EvmSagaConformance:
    """What only EVM has: fee replacement, a fee cap, nonces, reinsurance vaults."""

    async def test_replacement_with_bumped_fee(self, harness: EvmHarnessPorts) -> None:
        (pool,) = await harness.create_pools([1_000_000])
        recipient = await harness.new_recipient()
        transfer = Transfer(new_transfer_id(), pool, harness.chain, recipient, 250_000)
        adapter, node = harness.faulty_adapter()
        node.swallow(1)  # the node "accepts" the first broadcast and loses it
        first = await adapter.prepare(transfer)
        assert (await adapter.broadcast(first)).state is TxState.PENDING
        assert node.swallowed == [first.tx_ref]
        waiting = await adapter.status(first)
        assert waiting.state is TxState.UNKNOWN and not adapter.due_for_replacement(first, waiting)
        await harness.advance(adapter.config.fees.replace_after_blocks)
        waiting = await adapter.status(first)
        assert waiting.state is TxState.UNKNOWN and adapter.due_for_replacement(first, waiting)
        second = await adapter.replace(first)
        assert second.nonce == first.nonce and second.replaces == first.tx_ref
        assert second.tx_ref != first.tx_ref and second.effect_id == first.effect_id
        assert first.max_fee_per_gas is not None and second.max_fee_per_gas is not None
        assert second.max_fee_per_gas >= first.max_fee_per_gas * 11 // 10
        assert second.max_fee_per_gas <= adapter.config.fees.max_fee_per_gas
        await adapter.broadcast(second)
        assert (await adapter.status(second)).landed
        dropped = await adapter.status(first)  # its nonce went to the replacement
        assert dropped.state is TxState.DROPPED
        found = await adapter.find_effect(transfer)
        assert found.landed and found.tx_ref == second.tx_ref
        assert await harness.token_balance(recipient) == 250_000
        assert await harness.token_balance(pool.address) == 750_000
        await harness.finalize()
        assert (await adapter.status(first)).final

    async def test_max_fee_is_never_exceeded(self, harness: EvmHarnessPorts) -> None:
        from chains.evm_config import FeePolicy

        (pool,) = await harness.create_pools([1_000])
        recipient = await harness.new_recipient()
        transfer = Transfer(new_transfer_id(), pool, harness.chain, recipient, 10)
        nonce = await harness.onchain_nonce()
        cheap, node = harness.faulty_adapter(fees=FeePolicy(max_fee_per_gas=2, priority_fee=1))
        with pytest.raises(errors.FeeCapExceeded) as caught:
            await cheap.prepare(transfer)  # the base fee alone is above the cap
        assert caught.value.retryable  # waiting may help: fees fall
        assert "eth_sendRawTransaction" not in node.methods_seen
        assert await harness.onchain_nonce() == nonce
        # A transaction at the cap is never bumped over it: it waits and says so.
        signed = await harness.adapter.prepare(transfer)
        assert signed.max_fee_per_gas is not None
        assert signed.max_fee_per_gas <= harness.adapter.config.fees.max_fee_per_gas
        capped, _ = harness.faulty_adapter(
            fees=FeePolicy(max_fee_per_gas=signed.max_fee_per_gas, priority_fee=1)
        )
        with pytest.raises(errors.FeeCapExceeded):
            await capped.replace(signed)
        await harness.adapter.broadcast(signed)
        assert (await harness.adapter.status(signed)).landed
        assert await harness.token_balance(recipient) == 10

    async def test_nonce_gap_is_detected_and_filled(self, harness: EvmHarnessPorts) -> None:
        pools = await harness.create_pools([1_000, 1_000, 1_000])
        recipients = [await harness.new_recipient() for _ in pools]
        transfers = [
            Transfer(new_transfer_id(), p, harness.chain, r, 100)
            for p, r in zip(pools, recipients, strict=True)
        ]
        adapter = harness.adapter
        a = await adapter.prepare(transfers[0])  # signed, recorded... never broadcast
        b = await adapter.prepare(transfers[1])
        assert b.nonce == (a.nonce or 0) + 1
        try:
            outcome = await adapter.broadcast(b)
        except errors.NonceGap as exc:  # py-evm refuses a nonce ahead of the next one
            assert exc.fields["missing_from"] == a.nonce
        else:  # a node with a pool queues it, and the status says why it waits
            assert outcome.state is TxState.PENDING
            status = await adapter.status(b)
            assert status.waiting is WaitReason.NONCE_GAP and str(a.nonce) in status.detail
        await harness.advance(adapter.config.fees.replace_after_blocks)
        with pytest.raises(errors.NonceGap) as caught:  # no more sends pile up behind it
            await adapter.prepare(transfers[2])
        assert caught.value.fields["nonces"] == (a.nonce,)
        assert a.tx_ref in caught.value.fields["tx_hashes"]
        await adapter.broadcast(a)  # fill the gap: both land, in order
        await adapter.broadcast(b)
        assert (await adapter.status(a)).landed and (await adapter.status(b)).landed
        c = await adapter.prepare(transfers[2])
        await adapter.broadcast(c)
        assert (await adapter.status(c)).landed
        assert [await harness.token_balance(r) for r in recipients] == [100, 100, 100]

    async def test_cession_on_chain_and_read_back(self, harness: EvmHarnessPorts) -> None:
        (pool,) = await harness.create_pools([1_000_000])
        await harness.approve_cedent(pool.address)
        await harness.fund_vault(5_000_000)
        await harness.finalize()
        adapter = harness.adapter
        before = await adapter.vault_state(harness.vault)
        assert before.free_capacity == before.total_assets - before.reserved_capacity
        cession = Cession(new_transfer_id(), pool, harness.vault, 2_000_000, 30_000)
        signed = await adapter.prepare(cession)
        assert signed.kind is EffectKind.CESSION and signed.amount == 30_000
        await adapter.broadcast(signed)
        await adapter.broadcast(signed)  # once only, however often it is sent
        assert (await adapter.status(signed)).landed
        await harness.finalize()
        found = await adapter.find_effect(cession)
        assert found.state is TxState.FINAL and found.tx_ref == signed.tx_ref
        record = await adapter.cession_of(harness.vault, cession.cession_id)
        assert record is not None and record.finalized and record.open
        assert (record.cedent, record.ceded, record.remaining, record.premium) == (
            pool.address,
            2_000_000,
            2_000_000,
            30_000,
        )
        after = await adapter.vault_state(harness.vault)
        assert after.total_assets == before.total_assets + 30_000
        assert after.reserved_capacity == before.reserved_capacity + 2_000_000
        assert after.free_capacity == before.free_capacity + 30_000 - 2_000_000
        assert await harness.token_balance(pool.address) == 1_000_000 - 30_000
        assert await adapter.cession_of(harness.vault, new_transfer_id()) is None
        with pytest.raises(errors.DuplicateTransfer):
            await adapter.prepare(cession)
        too_big = Cession(new_transfer_id(), pool, harness.vault, after.free_capacity + 1, 1)
        with pytest.raises(errors.InsufficientCapital):
            await adapter.prepare(too_big)
        (stranger,) = await harness.create_pools([1_000])
        with pytest.raises(errors.Unauthorized):  # not an approved cedent of the vault
            await adapter.prepare(Cession(new_transfer_id(), stranger, harness.vault, 10, 1))

    async def test_recovery_paid_and_read_back(self, harness: EvmHarnessPorts) -> None:
        (pool,) = await harness.create_pools([500_000])
        await harness.approve_cedent(pool.address)
        await harness.fund_vault(3_000_000)
        adapter = harness.adapter
        cession = Cession(new_transfer_id(), pool, harness.vault, 1_000_000, 20_000)
        await adapter.cede(cession)
        recovery = Recovery(
            new_transfer_id(), harness.chain, harness.vault, cession.cession_id, 400_000
        )
        signed = await adapter.prepare(recovery)
        assert signed.kind is EffectKind.RECOVERY
        await adapter.broadcast(signed)
        await adapter.broadcast(signed)
        assert (await adapter.status(signed)).landed
        await harness.finalize()
        found = await adapter.find_effect(recovery)
        assert found.state is TxState.FINAL and found.amount == 400_000
        record = await adapter.cession_of(harness.vault, cession.cession_id)
        assert record is not None and record.remaining == 600_000 and record.finalized
        assert await harness.token_balance(pool.address) == 500_000 - 20_000 + 400_000
        with pytest.raises(errors.DuplicateTransfer):  # the recovery id is spent
            await adapter.prepare(recovery)
        over = Recovery(
            new_transfer_id(), harness.chain, harness.vault, cession.cession_id, 600_001
        )
        with pytest.raises(errors.InsufficientCapital):
            await adapter.prepare(over)

"""The relayer's journal: cursors that never move back, pending deliveries with their
signed transaction, and a file that survives a restart whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chains import errors
from chains.base import ChainFamily, EffectKind, SignedTx
from chains.bridge import FileJournal, MemoryJournal, PendingDelivery, RelayerJournal
from tests.chains.conformance import new_transfer_id as tid


def signed() -> SignedTx:
    return SignedTx(
        chain="evm-b",
        family=ChainFamily.EVM,
        kind=EffectKind.BRIDGE_DELIVERY,
        effect_id=tid(),
        tx_ref="0x" + "11" * 32,
        raw_tx="0x02f8",
        sender="0x" + "22" * 20,
        amount=999_400,
        signed_at_block=12,
        nonce=4,
        gas_limit=90_000,
        max_fee_per_gas=3 * 10**9,
        max_priority_fee_per_gas=10**9,
    )


def leftovers(folder: Path) -> list[Path]:
    return list(folder.glob("*.tmp"))


@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_a_journal_tracks_cursors_and_pending_deliveries(kind: str, tmp_path: Path) -> None:
    journal: RelayerJournal = (
        MemoryJournal() if kind == "memory" else FileJournal(tmp_path / "relayer.json")
    )
    assert isinstance(journal, RelayerJournal)
    assert await journal.cursor("evm-a") is None
    await journal.set_cursor("evm-a", 40)
    await journal.set_cursor("evm-a", 12)  # never backwards
    assert await journal.cursor("evm-a") == 40
    first = PendingDelivery(tid(), "evm-a", 1_700_000_000.5)
    second = PendingDelivery(tid(), "solana", 1_700_000_001.0, attempt=signed())
    await journal.put(first)
    await journal.put(second)
    assert [p.transfer_id for p in await journal.pending()] == [
        first.transfer_id,
        second.transfer_id,
    ]
    await journal.put(PendingDelivery(first.transfer_id, "evm-a", 1.0, stuck_reported=True))
    got = await journal.get(first.transfer_id)
    assert got is not None and got.stuck_reported
    await journal.done(first.transfer_id)
    await journal.done(first.transfer_id)  # idempotent
    assert [p.transfer_id for p in await journal.pending()] == [second.transfer_id]


async def test_a_file_journal_comes_back_whole_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "relayer.json"
    journal = FileJournal(path)
    attempt = signed()
    item = PendingDelivery(tid(), "evm-a", 1_700_000_000.25, attempt=attempt)
    await journal.put(item)
    await journal.set_cursor("evm-a", 77)
    await journal.set_cursor("solana", 1_234)
    assert leftovers(tmp_path) == []  # replaced atomically, nothing left behind

    again = FileJournal(path)  # a new process reads the file
    assert await again.cursor("evm-a") == 77 and await again.cursor("solana") == 1_234
    (back,) = await again.pending()
    assert back == item
    assert back.attempt == attempt and back.attempt is not None
    assert back.attempt.family is ChainFamily.EVM
    assert back.attempt.kind is EffectKind.BRIDGE_DELIVERY
    assert json.loads(path.read_text())["cursors"] == {"evm-a": 77, "solana": 1_234}


@pytest.mark.parametrize("text", ["{not json", '{"pending": [{"transfer_id": "0x12"}]}', "[]"])
def test_a_journal_file_it_cannot_read_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "relayer.json"
    path.write_text(text)
    with pytest.raises(errors.InvalidInput, match="cannot be read"):
        FileJournal(path)


def test_a_pending_delivery_needs_a_transfer_id() -> None:
    with pytest.raises(errors.InvalidTransferId):
        PendingDelivery("0x12", "evm-a", 0.0)

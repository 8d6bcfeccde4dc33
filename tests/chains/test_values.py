"""The shared values: one amount bound for the whole system, ids, effects, signed
transactions that survive a store or a workflow history as plain data."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from chains import errors
from chains.base import (
    MAX_AMOUNT,
    Cession,
    ChainFamily,
    EffectKind,
    InboundTransfer,
    PoolRef,
    Recovery,
    SignedTx,
    Transfer,
    TxOutcome,
    TxState,
    effect_id,
    effect_kind,
)

POOL = PoolRef("ethereum", "p", "0x" + "11" * 20, "0x" + "22" * 20)
ID = "0x" + "ab" * 32


def test_the_largest_amount_is_uint256() -> None:
    assert MAX_AMOUNT == 2**256 - 1
    assert Transfer(ID, POOL, "ethereum", "0x" + "33" * 20, MAX_AMOUNT).amount == MAX_AMOUNT
    with pytest.raises(errors.InvalidAmount):
        Transfer(ID, POOL, "ethereum", "0x" + "33" * 20, MAX_AMOUNT + 1)
    assert Cession(ID, POOL, "0x" + "44" * 20, MAX_AMOUNT, MAX_AMOUNT).premium == MAX_AMOUNT
    with pytest.raises(errors.InvalidAmount):
        Cession(ID, POOL, "0x" + "44" * 20, MAX_AMOUNT + 1, 1)
    with pytest.raises(errors.InvalidAmount):
        Recovery(ID, "ethereum", "0x" + "44" * 20, ID, MAX_AMOUNT + 1)


@pytest.mark.parametrize(
    "bad",
    [
        "0x" + "a" * 63,  # one digit short
        "0x" + "a" * 65,
        "0x" + "A" * 64,  # ids are lowercase: one spelling per id
        "ab" * 32,
        "0x" + "g" * 64,
        "0x" + "a" * 64 + "\n",
    ],
)
def test_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(errors.InvalidTransferId):
        Transfer(bad, POOL, "ethereum", "0x" + "33" * 20, 1)
    with pytest.raises(errors.InvalidTransferId):
        Recovery(ID, "ethereum", "0x" + "44" * 20, bad, 1)


def test_every_effect_names_its_id_and_kind() -> None:
    out = Transfer(ID, POOL, "ethereum", "0x" + "33" * 20, 1)
    bridged = Transfer(ID, POOL, "base", "0x" + "33" * 20, 1)
    inbound = InboundTransfer(ID, "base", "ethereum", "0x" + "33" * 20, 1, b"\0" * 65)
    cession = Cession("0x" + "cd" * 32, POOL, "0x" + "44" * 20, 5, 1)
    recovery = Recovery("0x" + "ef" * 32, "ethereum", "0x" + "44" * 20, cession.cession_id, 1)
    assert [effect_kind(e) for e in (out, bridged, inbound, cession, recovery)] == [
        EffectKind.TRANSFER,
        EffectKind.BRIDGE_SEND,
        EffectKind.BRIDGE_DELIVERY,
        EffectKind.CESSION,
        EffectKind.RECOVERY,
    ]
    assert [effect_id(e) for e in (out, cession, recovery)] == [
        ID,
        "0x" + "cd" * 32,
        "0x" + "ef" * 32,
    ]
    assert {e.chain for e in (out, bridged, inbound, cession, recovery)} == {"ethereum"}


def test_signed_transactions_and_outcomes_are_plain_data() -> None:
    signed = SignedTx(
        chain="ethereum",
        family=ChainFamily.EVM,
        kind=EffectKind.CESSION,
        effect_id=ID,
        tx_ref="0x" + "01" * 32,
        raw_tx="0x02f8",
        sender="0x" + "55" * 20,
        amount=MAX_AMOUNT,
        signed_at_block=7,
        nonce=3,
        gas_limit=90_000,
        max_fee_per_gas=2 * 10**9,
        max_priority_fee_per_gas=10**9,
    )
    text = json.dumps(asdict(signed))
    back = SignedTx(**json.loads(text))
    assert back == signed and back.raw == bytes.fromhex("02f8")
    assert back.kind is EffectKind.CESSION and back.family is ChainFamily.EVM
    outcome = TxOutcome("ethereum", TxState.INCLUDED, tx_ref=signed.tx_ref, block_number=9)
    assert outcome.landed and not outcome.final
    again = TxOutcome(**json.loads(json.dumps(asdict(outcome))))
    assert again == outcome and again.state is TxState.INCLUDED
    assert not TxOutcome("ethereum", TxState.DROPPED, final=True).landed


def test_amount_bounds_at_each_edge() -> None:
    from chains.base import check_amount

    assert check_amount(1) == 1
    assert check_amount(MAX_AMOUNT) == MAX_AMOUNT
    for bad in (0, -1, MAX_AMOUNT + 1, True, 1.0, "1"):
        with pytest.raises(errors.InvalidAmount):
            check_amount(bad)  # type: ignore[arg-type]
    assert check_amount(2**64 - 1, max_amount=2**64 - 1) == 2**64 - 1  # a narrower chain
    with pytest.raises(errors.InvalidAmount, match="exceeds the maximum"):
        check_amount(2**64, max_amount=2**64 - 1)
    with pytest.raises(errors.InvalidAmount, match="premium must be positive"):
        Cession(ID, POOL, "0x" + "44" * 20, 1, 0)
    with pytest.raises(errors.InvalidAmount, match="ceded amount"):
        Cession(ID, POOL, "0x" + "44" * 20, 0, 1)
    with pytest.raises(errors.InvalidAmount):
        InboundTransfer(ID, "base", "ethereum", "0x" + "33" * 20, 0, b"")
    with pytest.raises(errors.InvalidAmount):
        InboundTransfer(ID, "base", "ethereum", "0x" + "33" * 20, MAX_AMOUNT + 1, b"")
    with pytest.raises(errors.InvalidAmount):
        Recovery(ID, "ethereum", "0x" + "44" * 20, ID, 0)


@pytest.mark.parametrize("bad", ["0x" + "a" * 63, None, 7, "0x" + "a" * 64 + "0"])
def test_every_effect_checks_its_ids(bad: object) -> None:
    to = "0x" + "33" * 20
    with pytest.raises(errors.InvalidTransferId):
        InboundTransfer(bad, "base", "ethereum", to, 1, b"")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidTransferId, match="cession id"):
        Cession(bad, POOL, "0x" + "44" * 20, 1, 1)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidTransferId, match="recovery id"):
        Recovery(bad, "ethereum", "0x" + "44" * 20, ID, 1)  # type: ignore[arg-type]


def test_what_is_not_an_effect_has_no_kind() -> None:
    inbound = InboundTransfer(ID, "base", "ethereum", "0x" + "33" * 20, 1, b"")
    assert effect_id(inbound) == ID
    with pytest.raises(errors.InvalidInput, match="not an effect: str"):
        effect_kind("transfer")  # type: ignore[arg-type]

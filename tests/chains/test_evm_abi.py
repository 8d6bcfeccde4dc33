"""The adapter's hand-rolled hot-path codecs agree with eth_abi and with Solana keys."""

from __future__ import annotations

import pytest
from eth_abi import decode, encode
from hypothesis import given
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from chains import errors
from chains.base import ChainFamily
from chains.evm import checked_address, recipient_bytes32
from chains.evm_abi import (
    decode_pool_states,
    decode_uint_array,
    encode_address_array,
    encode_balances_of,
)

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uint256 = st.integers(min_value=0, max_value=2**256 - 1)


@given(st.lists(addresses, max_size=40))
def test_address_array_calldata_matches_eth_abi(addrs: list[str]) -> None:
    selector = bytes.fromhex("deadbeef")
    ours = encode_address_array(selector, addrs)
    assert ours == "0x" + (selector + encode(["address[]"], [addrs])).hex()


@given(st.lists(st.tuples(addresses, uint256, uint256), max_size=40))
def test_pool_states_decoder_matches_eth_abi(rows: list[tuple[str, int, int]]) -> None:
    assets = [r[0] for r in rows]
    balances = [r[1] for r in rows]
    locked = [r[2] for r in rows]
    data = encode(["address[]", "uint256[]", "uint256[]"], [assets, balances, locked])
    got_assets, got_balances = decode_pool_states(data)
    want_assets, want_balances, _ = decode(["address[]", "uint256[]", "uint256[]"], data)
    assert got_assets == [a.lower() for a in want_assets]
    assert got_balances == list(want_balances)


@given(st.binary(max_size=200))
def test_pool_states_decoder_rejects_garbage_with_value_error(data: bytes) -> None:
    try:
        assets, balances = decode_pool_states(data)
    except ValueError:
        return  # refused with the one error type the adapter maps
    assert len(assets) == len(balances)
    assert all(len(a) == 42 for a in assets)


@given(st.binary(min_size=32, max_size=32))
def test_solana_recipient_round_trips_through_base58(raw: bytes) -> None:
    assert recipient_bytes32(str(Pubkey.from_bytes(raw)), ChainFamily.SOLANA) == raw


@given(addresses)
def test_checksum_is_accepted_in_every_valid_spelling(address: str) -> None:
    checksummed = checked_address(address)
    assert checked_address(checksummed) == checksummed
    assert checked_address("0x" + address[2:].upper()) == checksummed


@pytest.mark.parametrize(
    "bad", ["", "0x", "0x123", "dead" * 10, "0x" + "g" * 40, None, 42, "0x" + "a" * 41]
)
def test_malformed_addresses_are_invalid(bad: object) -> None:
    with pytest.raises(errors.InvalidAddress):
        checked_address(bad)


@given(addresses, st.lists(addresses, max_size=40), st.lists(uint256, max_size=40))
def test_balances_of_codecs_match_eth_abi(
    token: str, holders: list[str], values: list[int]
) -> None:
    selector = bytes.fromhex("cafebabe")
    assert (
        encode_balances_of(selector, token, holders)
        == "0x" + (selector + encode(["address", "address[]"], [token, holders])).hex()
    )
    assert decode_uint_array(encode(["uint256[]"], [values])) == values

"""Properties of the Solana boundary: any answer maps to our errors, never a panic."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey
from solders.rpc.responses import GetMultipleAccountsResp, GetSignatureStatusesResp

from chains.errors import InvalidAddress, MalformedResponse, RpcError, RpcResponseError
from chains.solana import marker_seed, parse_pubkey
from chains.solana_rpc import TRANSIENT_CODES, parse_result, rpc_error_from_payload

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(payload=JSON)
@settings(max_examples=100, deadline=None)
def test_any_error_payload_is_one_typed_error(payload: object) -> None:
    err = rpc_error_from_payload(payload, method="m", endpoint="e")
    assert isinstance(err, RpcError)
    if isinstance(err, RpcResponseError):
        assert isinstance(payload, dict)
        assert err.code == payload["code"]
        assert err.retryable is (payload["code"] in TRANSIENT_CODES)
    else:
        assert isinstance(err, MalformedResponse)


@given(
    result=JSON,
    data=st.one_of(st.none(), JSON),
    parser=st.sampled_from([GetMultipleAccountsResp, GetSignatureStatusesResp]),
)
@settings(max_examples=300, deadline=None)
def test_any_result_parses_or_is_malformed(result: object, data: object, parser: type) -> None:
    bodies = (
        ("result", {"jsonrpc": "2.0", "result": result, "id": 0}),
        (
            "result",
            {"jsonrpc": "2.0", "result": {"context": {"slot": 1}, "value": result}, "id": 0},
        ),
        ("error", {"jsonrpc": "2.0", "error": {"code": -32002, "message": "x", "data": data}}),
    )
    for kind, body in bodies:
        try:
            out: Any = parse_result(parser, json.dumps(body), method="m", endpoint="e")
        except MalformedResponse as err:  # anything else (a panic included) fails the test
            assert err.endpoint == "e" and str(err).startswith("m: unparseable result")
            continue
        # what parses is the response asked for; an error body never reads as one
        assert isinstance(out, parser) is (kind == "result")


@pytest.mark.parametrize("parser", [GetMultipleAccountsResp, GetSignatureStatusesResp])
def test_well_formed_results_parse(parser: Any) -> None:
    body = {"jsonrpc": "2.0", "result": {"context": {"slot": 7}, "value": [None]}, "id": 0}
    out: Any = parse_result(parser, json.dumps(body), method="m", endpoint="e")
    assert isinstance(out, parser) and out.context.slot == 7 and out.value == [None]


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes | None:
    """Base-58 decoding written out here, independent of the code under test."""
    n = 0
    for ch in text:
        k = _B58.find(ch)
        if k < 0:
            return None
        n = n * 58 + k
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _is_pubkey(text: str) -> bool:
    raw = _b58decode(text)
    return raw is not None and len(raw) == 32


KEYS = st.binary(min_size=32, max_size=32).map(lambda b: str(Pubkey(b)))
NEAR_KEYS = st.tuples(KEYS, st.integers(0, 43), st.sampled_from(["", "1", "z", "0", "l", "é"])).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]  # one character replaced or dropped
)


@given(text=st.one_of(KEYS, NEAR_KEYS, st.text(alphabet=_B58, max_size=46), st.text(max_size=60)))
@settings(max_examples=500, deadline=None)
def test_parse_pubkey_accepts_exactly_32_byte_base58(text: str) -> None:
    try:
        key = parse_pubkey(text, what="x")
    except InvalidAddress as err:
        assert not _is_pubkey(text), f"refused a valid key {text!r}: {err}"
        return
    assert _is_pubkey(text), f"accepted {text!r}"
    assert str(key) == text and bytes(key) == _b58decode(text)


@given(raw=st.binary(min_size=32, max_size=32))
def test_parse_pubkey_accepts_every_key(raw: bytes) -> None:
    assert bytes(parse_pubkey(str(Pubkey(raw)), what="x")) == raw


@given(raw=st.binary(min_size=32, max_size=32))
def test_marker_seed_is_32_chars_of_the_id(raw: bytes) -> None:
    tid = "0x" + raw.hex()
    seed = marker_seed(tid)
    assert len(seed) == 32
    assert tid.startswith("0x" + seed)

"""Properties of the Solana boundary: any answer maps to our errors, never a panic."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st
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
@settings(max_examples=100, deadline=None)
def test_any_result_parses_or_is_malformed(result: object, data: object, parser: type) -> None:
    for body in (
        {"jsonrpc": "2.0", "result": result, "id": 0},
        {"jsonrpc": "2.0", "result": {"context": {"slot": 1}, "value": result}, "id": 0},
        {"jsonrpc": "2.0", "error": {"code": -32002, "message": "x", "data": data}, "id": 0},
    ):
        with contextlib.suppress(MalformedResponse):  # anything else (a panic) fails
            parse_result(parser, json.dumps(body), method="m", endpoint="e")


@given(text=st.text(max_size=60))
@settings(max_examples=100, deadline=None)
def test_parse_pubkey_accepts_only_32_byte_base58(text: str) -> None:
    try:
        key = parse_pubkey(text, what="x")
    except InvalidAddress:
        return
    assert str(key) == text


@given(raw=st.binary(min_size=32, max_size=32))
def test_marker_seed_is_32_chars_of_the_id(raw: bytes) -> None:
    tid = "0x" + raw.hex()
    seed = marker_seed(tid)
    assert len(seed) == 32
    assert tid.startswith("0x" + seed)

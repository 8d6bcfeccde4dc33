"""Boundary mapping rules shared by the endpoint layers."""

from __future__ import annotations

import pytest

from chains import errors
from chains.evm_abi import error_for_revert
from chains.evm_rpc import _map_transport_error


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, errors.RpcUnavailable, True),
        (500, errors.RpcUnavailable, True),
        (503, errors.RpcUnavailable, True),
        (400, errors.RpcResponseError, False),
        (404, errors.RpcResponseError, False),
    ],
)
def test_http_status_rule(status: int, kind: type[errors.RpcError], retryable: bool) -> None:
    err = errors.http_status_error(status, f"HTTP {status}", endpoint="http://node")
    assert type(err) is kind
    assert err.retryable is retryable
    assert err.endpoint == "http://node"


def test_unmapped_failure_never_quotes_the_library_message() -> None:
    secret_url = "https://node.example/v2/sk_live_SECRET"
    err = _map_transport_error(
        RuntimeError(f"boom talking to {secret_url}"), "https://node.example"
    )
    assert isinstance(err, errors.RpcError)
    assert "SECRET" not in str(err) and "RuntimeError" in str(err)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://user:pw@node.example:8545/v2/KEY?api=KEY", "https://node.example:8545"),
        ("http://[::1]:8899/KEY", "http://[::1]:8899"),
        ("http://127.0.0.1:8899", "http://127.0.0.1:8899"),
        ("http://node:notaport/KEY", "http://node:notaport"),
        ("not a url", "endpoint"),
    ],
)
def test_endpoints_are_named_without_secrets(url: str, named: str) -> None:
    assert errors.redact_url(url) == named


@pytest.mark.parametrize(
    ("revert", "kind"),
    [
        (("PayoutOverCap", {"coverId": b"\x01" * 32, "requested": 5, "remaining": 4}),
         errors.PayoutOverCap),
        (("NoCertificate", {"coverId": b"\x01" * 32}), errors.UnknownCover),
        (("CoverNotOpen", {"coverId": b"\x01" * 32}), errors.UnknownCover),
        (("CoverExists", {"coverId": b"\x01" * 32}), errors.DuplicateTransfer),
        (("InsufficientAllowance", {"owner": "0x", "spender": "0x", "allowance": 0, "needed": 1}),
         errors.PremiumUnpaid),
    ],
)  # fmt: skip
def test_cover_and_claim_reverts_are_typed(
    revert: tuple[str, dict[str, object]], kind: type[errors.ChainError]
) -> None:
    err = error_for_revert(revert, chain="ethereum", transfer_id="0x" + "ab" * 32, tx_hash="0x12")
    assert type(err) is kind
    assert err.fields["revert"] == revert[0] and err.fields["tx_hash"] == "0x12"
    if kind is errors.PayoutOverCap:
        assert err.fields["remaining"] == 4 and "4" in err.message

"""Every RPC failure shape becomes one typed error; no solders panic leaks.

Faults are injected into the embedded node on purpose: error payloads of many
shapes (including malformed ones), raw bodies, HTTP statuses, dropped
connections, delays past the timeout, a closed port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from solders.account import Account
from solders.keypair import Keypair
from solders.rpc.responses import GetMultipleAccountsResp

from chains import errors
from chains.embedded.litesvm_http import Fault, FaultKind
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.retry import RetryPolicy
from chains.solana import MINT_LEN, TOKEN_PROGRAM_ID, connect_solana
from chains.solana_rpc import parse_result
from tests.chains.solana_harness import connected, skip_unless_selected

ONE_SHOT = RetryPolicy(attempts=1, max_seconds=5.0)


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedSolana]:
    skip_unless_selected(request.config)
    async with embedded_solana(pools=[1_000], retry=ONE_SHOT, request_timeout=0.3) as e:
        yield e


@pytest.mark.parametrize(
    ("payload", "expected", "code"),
    [
        ({"code": -32602, "message": "Invalid params"}, errors.RpcResponseError, -32602),
        ({"code": -32601, "message": "Method not found"}, errors.RpcResponseError, -32601),
        (
            {"code": -32005, "message": "Node is behind", "data": {"numSlotsBehind": 9}},
            errors.RpcResponseError,
            -32005,
        ),
        (
            {
                "code": -32016,
                "message": "Minimum context slot has not been reached",
                "data": "not-an-object",
            },
            errors.RpcResponseError,
            -32016,
        ),
        (
            {"code": -32002, "message": "x", "data": {"err": 5, "logs": 5}},
            errors.RpcResponseError,
            -32002,
        ),
        ({"code": -32000, "message": ""}, errors.RpcResponseError, -32000),
        ("a string", errors.MalformedResponse, None),
        (42, errors.MalformedResponse, None),
        (None, errors.MalformedResponse, None),
        ([], errors.MalformedResponse, None),
        ({}, errors.MalformedResponse, None),
        ({"message": "no code"}, errors.MalformedResponse, None),
        ({"code": "-32602", "message": "code as text"}, errors.MalformedResponse, None),
        ({"code": True, "message": "bool code"}, errors.MalformedResponse, None),
        ({"code": -32602.5, "message": "float code"}, errors.MalformedResponse, None),
        ({"code": -32602, "message": ["not", "text"]}, errors.MalformedResponse, None),
    ],
)
async def test_error_payload_shapes_are_typed(
    env: EmbeddedSolana, payload: object, expected: type[Exception], code: int | None
) -> None:
    env.server.inject(Fault(FaultKind.ERROR, method="getMultipleAccounts", payload=payload))
    with pytest.raises(expected) as caught:
        await env.adapter.read_balances(env.pools)
    if code is not None:
        assert caught.value.code == code  # type: ignore[attr-defined]
        assert caught.value.retryable is (code in (-32005, -32016))
    # The adapter is still usable afterwards.
    assert (await env.adapter.read_balances(env.pools)).reports[0].amount == 1_000


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "{",
        "[]",
        "null",
        '{"jsonrpc":"2.0","id":0}',
        '{"jsonrpc":"2.0","result":{"context":"x"},"id":0}',
        '{"jsonrpc":"2.0","result":{"context":{"slot":1},"value":[{"data":5}]},"id":0}',
        '{"jsonrpc":"2.0","result":{"context":{"slot":-1},"value":null},"id":0}',
        '{"jsonrpc":"2.0","result":{"context":{"slot":9},"value":[]},"id":0}',
    ],
)
async def test_unparseable_answers_are_malformed(env: EmbeddedSolana, raw: str) -> None:
    env.server.inject(Fault(FaultKind.RAW, method="getMultipleAccounts", raw=raw))
    with pytest.raises(errors.MalformedResponse):
        await env.adapter.read_balances(env.pools)


def test_a_solders_panic_becomes_malformed_response() -> None:
    """solders panics (a BaseException) on this error payload; we never let it out."""
    text = '{"jsonrpc":"2.0","error":{"code":-32002,"message":"x","data":5},"id":0}'
    with pytest.raises(BaseException) as raw:
        GetMultipleAccountsResp.from_json(text)
    assert type(raw.value).__name__ == "PanicException"
    assert not isinstance(raw.value, Exception)
    with pytest.raises(errors.MalformedResponse):
        parse_result(GetMultipleAccountsResp, text, method="getMultipleAccounts", endpoint="e")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, errors.RpcUnavailable),
        (503, errors.RpcUnavailable),
        (500, errors.RpcUnavailable),
        (400, errors.RpcResponseError),
        (404, errors.RpcResponseError),
    ],
)
async def test_http_statuses_are_typed(
    env: EmbeddedSolana, status: int, expected: type[Exception]
) -> None:
    env.server.inject(Fault(FaultKind.HTTP_STATUS, method="getMultipleAccounts", status=status))
    with pytest.raises(expected):
        await env.adapter.read_balances(env.pools)


async def test_dropped_connection_is_unavailable(env: EmbeddedSolana) -> None:
    env.server.inject(Fault(FaultKind.DROP_RESPONSE, method="getMultipleAccounts"))
    with pytest.raises(errors.RpcUnavailable) as caught:
        await env.adapter.read_balances(env.pools)
    assert caught.value.retryable


async def test_slow_answer_is_a_timeout(env: EmbeddedSolana) -> None:
    env.server.inject(Fault(FaultKind.DELAY, method="getMultipleAccounts", delay=1.0))
    with pytest.raises(errors.RpcTimeout):
        await env.adapter.read_balances(env.pools)


async def test_transient_faults_are_retried_through_the_policy(env: EmbeddedSolana) -> None:
    async with connected(
        env.config, retry=RetryPolicy(initial_wait=0.001, max_wait=0.005)
    ) as adapter:
        env.server.inject(Fault(FaultKind.HTTP_STATUS, method="getMultipleAccounts", status=503))
        env.server.inject(
            Fault(
                FaultKind.ERROR,
                method="getMultipleAccounts",
                payload={"code": -32005, "message": "Node is unhealthy"},
            )
        )
        snap = await adapter.read_balances(env.pools)
    assert snap.reports[0].amount == 1_000
    assert not env.server.faults


async def test_permanent_errors_are_not_retried(env: EmbeddedSolana) -> None:
    async with connected(
        env.config, retry=RetryPolicy(initial_wait=0.001, max_wait=0.005)
    ) as adapter:
        before = env.server.calls["getMultipleAccounts"]
        env.server.inject(
            Fault(
                FaultKind.ERROR,
                method="getMultipleAccounts",
                payload={"code": -32602, "message": "Invalid params"},
            )
        )
        with pytest.raises(errors.RpcResponseError):
            await adapter.read_balances(env.pools)
    assert env.server.calls["getMultipleAccounts"] - before == 1


async def test_closed_port_is_unavailable(env: EmbeddedSolana) -> None:
    await env.server.close()
    with pytest.raises(errors.RpcUnavailable):
        await env.adapter.read_balances(env.pools)


async def test_connect_checks_the_mint(env: EmbeddedSolana) -> None:
    with pytest.raises(errors.UnknownPool, match="settlement mint"):
        await connect_solana(replace(env.config, settlement_mint=str(Keypair().pubkey())))
    with pytest.raises(errors.AccountMismatch, match="not an SPL mint"):
        await connect_solana(replace(env.config, settlement_mint=env.pools[0].address))
    with pytest.raises(errors.AccountMismatch, match="decimals"):
        await connect_solana(replace(env.config, decimals=9))
    with pytest.raises(errors.InvalidAddress):
        await connect_solana(replace(env.config, settlement_mint="nope"))


async def test_endpoint_secrets_are_redacted(env: EmbeddedSolana) -> None:
    url = env.server.url.replace("http://", "http://user:pw@") + "/?api-key=SECRET"
    async with connected(env.config, rpc_url=url) as adapter:
        env.server.inject(Fault(FaultKind.HTTP_STATUS, status=400))
        with pytest.raises(errors.RpcError) as caught:
            await adapter.read_balances(env.pools)
    text = f"{caught.value} {caught.value.fields} {adapter!r}"
    assert "SECRET" not in text and "pw" not in text


async def test_uninitialized_mint_account_is_a_mismatch_not_a_solders_error(
    env: EmbeddedSolana,
) -> None:
    """Right owner and size, but not an initialized mint: solders' ValueError must not leak."""
    key = Keypair().pubkey()
    env.ledger.set_accounts(
        {key: Account(lamports=10**9, data=bytes(MINT_LEN), owner=TOKEN_PROGRAM_ID)}
    )
    env.finalize()
    with pytest.raises(errors.AccountMismatch, match="not an initialized SPL mint"):
        await connect_solana(replace(env.config, settlement_mint=str(key)))

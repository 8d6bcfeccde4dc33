"""The embedded node answers like a real one: shapes, codes, commitments, expiry."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from tests.chains.solana_harness import skip_unless_selected


@pytest.fixture
async def env(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedSolana]:
    skip_unless_selected(request.config)
    async with embedded_solana(pools=[1_000]) as e:
        yield e


async def rpc(env: EmbeddedSolana, body: Any) -> Any:
    async with httpx2.AsyncClient() as client:
        resp = await client.post(env.server.url, json=body)
    assert resp.status_code == 200
    return resp.json()


async def call(env: EmbeddedSolana, method: str, *params: Any) -> Any:
    return await rpc(env, {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)})


def signed_transfer(env: EmbeddedSolana, blockhash: Hash) -> str:
    payer = env.authority
    ix = transfer(
        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=10**6)
    )
    tx = Transaction(
        [payer], Message.new_with_blockhash([ix], payer.pubkey(), blockhash), blockhash
    )
    return base64.b64encode(bytes(tx)).decode()


async def test_error_objects_carry_real_codes(env: EmbeddedSolana) -> None:
    assert (await call(env, "noSuchMethod"))["error"]["code"] == -32601
    bad_key = await call(env, "getAccountInfo", "not-a-key")
    assert bad_key["error"] == {"code": -32602, "message": "Invalid param: Invalid"}
    too_many = await call(env, "getMultipleAccounts", [str(Keypair().pubkey())] * 101)
    assert too_many["error"]["code"] == -32602
    assert "max 100" in too_many["error"]["message"]
    future = env.ledger.slot + 1_000
    not_yet = await call(env, "getSlot", {"commitment": "finalized", "minContextSlot": future})
    assert not_yet["error"]["code"] == -32016
    assert not_yet["error"]["data"] == {"contextSlot": env.ledger.slot_at("finalized")}
    block = await call(env, "getBlock", env.ledger.slot, {"transactionDetails": "none"})
    assert block["error"]["code"] == -32004  # confirmed, not finalized yet
    assert (await rpc(env, []))["error"]["code"] == -32600
    async with httpx2.AsyncClient() as client:
        parse = (await client.post(env.server.url, content=b"{nope")).json()
    assert parse["error"]["code"] == -32700


async def test_finalized_lags_confirmed_by_the_depth(env: EmbeddedSolana) -> None:
    (pool,) = env.create_pools([55])
    confirmed = await call(env, "getAccountInfo", pool.address, {"commitment": "confirmed"})
    final = await call(env, "getAccountInfo", pool.address, {"commitment": "finalized"})
    assert confirmed["result"]["value"] is not None
    assert final["result"]["value"] is None
    slot_c = confirmed["result"]["context"]["slot"]
    assert final["result"]["context"]["slot"] == slot_c - env.ledger.finality_depth
    env.finalize()
    final = await call(env, "getAccountInfo", pool.address, {"commitment": "finalized"})
    assert final["result"]["value"] is not None


async def test_blockhash_window_and_preflight_errors(env: EmbeddedSolana) -> None:
    latest = (await call(env, "getLatestBlockhash", {"commitment": "confirmed"}))["result"]
    blockhash = Hash.from_string(latest["value"]["blockhash"])
    assert latest["value"]["lastValidBlockHeight"] == latest["context"]["slot"] + 150
    valid = await call(env, "isBlockhashValid", str(blockhash), {"commitment": "confirmed"})
    assert valid["result"]["value"] is True
    env.ledger.advance(151)
    stale = await call(
        env, "sendTransaction", signed_transfer(env, blockhash), {"encoding": "base64"}
    )
    assert stale["error"]["code"] == -32002
    assert stale["error"]["data"]["err"] == "BlockhashNotFound"
    fresh = env.ledger.blockhash_of(env.ledger.slot)
    wire = signed_transfer(env, fresh)
    ok = await call(env, "sendTransaction", wire, {"encoding": "base64"})
    assert "result" in ok
    again = await call(env, "sendTransaction", wire, {"encoding": "base64"})
    assert again["error"]["data"]["err"] == "AlreadyProcessed"
    status = await call(env, "getSignatureStatuses", [ok["result"]])
    assert status["result"]["value"][0]["confirmationStatus"] == "confirmed"
    tampered = bytearray(base64.b64decode(wire))
    tampered[-1] ^= 1
    bad_sig = await call(
        env, "sendTransaction", base64.b64encode(bytes(tampered)).decode(), {"encoding": "base64"}
    )
    assert bad_sig["error"]["code"] == -32003


async def test_batch_answers_every_call_by_id(env: EmbeddedSolana) -> None:
    answers = await rpc(
        env,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "nope", "params": []},
        ],
    )
    by_id = {a["id"]: a for a in answers}
    assert by_id[1]["result"] == env.ledger.slot_at("finalized")
    assert by_id[2]["error"]["code"] == -32601

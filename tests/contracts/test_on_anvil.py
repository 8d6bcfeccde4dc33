"""The same bytecode on a real node: anvil from npm runs our cancun artifacts.

A short end-to-end pass (deploy everything, deposit, bridge out, attested
delivery with the node's own chain id, replay refused, batch read) so the
evmVersion choice and the attestation digest are proven outside py-evm too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError

from contracts import attestation_digest, load_artifact
from tests.conftest import node_tool
from tests.contracts.support import USDC, decode_error, deploy, send, tid

CHAIN_ID = 4_242


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[Web3]:
    binary = node_tool("anvil")
    port = _free_port()
    log_path = tmp_path / "anvil.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(CHAIN_ID)],
            stdout=log,
            stderr=subprocess.STDOUT,
            # node_modules/.bin/anvil is a Node wrapper that spawns the real node:
            # a session of its own lets us kill both, not orphan the node.
            start_new_session=True,
        )
    try:
        # anvil logs "Listening on 127.0.0.1:<port>" once it accepts requests.
        for _ in range(400):  # bounded: ~20 s at most
            if "Listening on" in log_path.read_text():
                break
            try:
                code = proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"anvil exited with {code}: {log_path.read_text()[:500]}")
        else:
            pytest.fail("anvil did not start listening within 20 s")
        yield Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 10}))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.node
def test_contracts_run_on_anvil(anvil: Web3) -> None:
    w3 = anvil
    admin, operator, provider, claimant = list(w3.eth.accounts)[:4]
    attester = Account.from_key(keccak(text="anvil attester"))
    token = deploy(w3, "SettlementToken", "Settlement USD", "sUSD", admin, sender=admin)
    pool = deploy(w3, "RiskPool", token.address, admin, operator, sender=admin)
    bridge = deploy(w3, "BridgeEndpoint", token.address, admin, attester.address, sender=admin)
    vault = deploy(w3, "ReinsuranceVault", token.address, admin, operator, sender=admin)
    reader = deploy(w3, "BatchReader", sender=admin)
    send(token.functions.setMinter(admin, True), admin)
    send(token.functions.setMinter(bridge.address, True), admin)
    send(token.functions.mint(provider, 1_000 * USDC), admin)
    send(token.functions.approve(pool.address, 1_000 * USDC), provider)
    send(pool.functions.deposit(1_000 * USDC), provider)
    send(
        pool.functions.sendToBridge(tid("out"), bridge.address, 1, b"\x01" * 32, 300 * USDC),
        operator,
    )

    assert reader.functions.getChainId().call() == CHAIN_ID
    assets, balances, locked = reader.functions.poolStates(
        [pool.address, vault.address, claimant]
    ).call()
    assert assets == [token.address, "0x" + "00" * 20, "0x" + "00" * 20]
    assert balances == [700 * USDC, 0, 0]
    assert locked == [0, 0, 0]

    amount = 500 * USDC  # more than the 300 locked: the rest is minted
    digest = attestation_digest(bridge.address, CHAIN_ID, tid("in"), 1, claimant, amount)
    sig = bytes(attester.sign_message(encode_defunct(primitive=digest)).signature)
    deliver = bridge.functions.deliver(tid("in"), 1, claimant, amount, sig)
    send(deliver, claimant)
    assert token.functions.balanceOf(claimant).call() == amount
    assert bridge.functions.lockedLiquidity().call() == 0

    with pytest.raises(ContractCustomError) as replay:
        deliver.call({"from": claimant})
    assert decode_error(bytes.fromhex(str(replay.value.data)[2:])) == (
        "TransferIdUsed",
        (tid("in"),),
    )
    # An attestation made for another chain id is worthless on this one.
    other = attestation_digest(bridge.address, CHAIN_ID + 1, tid("x"), 1, claimant, 1)
    forged = bytes(attester.sign_message(encode_defunct(primitive=other)).signature)
    with pytest.raises(ContractCustomError) as refused:
        bridge.functions.deliver(tid("x"), 1, claimant, 1, forged).call({"from": claimant})
    assert decode_error(bytes.fromhex(str(refused.value.data)[2:]))[0] == "InvalidAttestation"


@pytest.mark.node
def test_cover_binding_and_claim_to_the_holder_on_anvil(anvil: Web3) -> None:
    """bindCover (premium in, ERC-721 minted by the pool's own certificate contract),
    a certificate transfer, and payClaimToHolder paying the new holder once, on a real node."""
    w3 = anvil
    admin, operator, provider, holder, buyer = list(w3.eth.accounts)[:5]
    token = deploy(w3, "SettlementToken", "Settlement USD", "sUSD", admin, sender=admin)
    pool = deploy(w3, "RiskPool", token.address, admin, operator, sender=admin)
    cert = w3.eth.contract(
        address=pool.functions.certificate().call(), abi=load_artifact("PolicyCertificate").abi
    )
    send(token.functions.setMinter(admin, True), admin)
    send(token.functions.mint(provider, 1_000 * USDC), admin)
    send(token.functions.approve(pool.address, 1_000 * USDC), provider)
    send(pool.functions.deposit(900 * USDC), provider)  # 100 left approved: the premium
    bind = pool.functions.bindCover(tid("c"), 400 * USDC, 100 * USDC, 10 * USDC, provider, holder)
    send(bind, operator)
    token_id = int.from_bytes(tid("c"), "big")
    assert cert.functions.ownerOf(token_id).call() == holder
    assert token.functions.balanceOf(pool.address).call() == 910 * USDC
    send(cert.functions.safeTransferFrom(holder, buyer, token_id), holder)
    pay = pool.functions.payClaimToHolder(tid("pay"), tid("c"), 150 * USDC)
    send(pay, operator)
    assert token.functions.balanceOf(buyer).call() == 150 * USDC
    assert token.functions.balanceOf(holder).call() == 0
    with pytest.raises(ContractCustomError) as again:
        pay.call({"from": operator})
    assert decode_error(bytes.fromhex(str(again.value.data)[2:])) == (
        "TransferIdUsed",
        (tid("pay"),),
    )
    over = pool.functions.payClaimToHolder(tid("pay-2"), tid("c"), 250 * USDC + 1)
    with pytest.raises(ContractCustomError) as capped:
        over.call({"from": operator})
    assert decode_error(bytes.fromhex(str(capped.value.data)[2:])) == (
        "PayoutOverCap",
        (tid("c"), 250 * USDC + 1, 250 * USDC),
    )
    with pytest.raises(ContractCustomError) as stranger:
        cert.functions.transferFrom(buyer, holder, token_id).call({"from": holder})
    assert decode_error(bytes.fromhex(str(stranger.value.data)[2:])) == (
        "ERC721InsufficientApproval",
        (holder, token_id),
    )

"""One embedded py-evm chain with every Ballast contract deployed, shared by the
contract tests; each test runs from the same snapshot and is rolled back after,
so tests are independent without paying for a deployment each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import EthereumTesterProvider, Web3

from tests.contracts.support import START_BALANCE, Deployment, deploy, send


@pytest.fixture(scope="session")
def _deployment() -> tuple[Deployment, object]:
    w3 = Web3(EthereumTesterProvider())
    admin, operator, provider, reinsurer, stranger, claimant = list(w3.eth.accounts)[:6]
    attester = Account.from_key(keccak(text="ballast test attester"))
    token = deploy(w3, "SettlementToken", "Settlement USD", "sUSD", admin, sender=admin)
    send(token.functions.setMinter(admin, True), admin)
    for holder in (provider, reinsurer):
        send(token.functions.mint(holder, START_BALANCE), admin)
    pool = deploy(w3, "RiskPool", token.address, admin, operator, sender=admin)
    vault = deploy(w3, "ReinsuranceVault", token.address, admin, operator, sender=admin)
    bridge = deploy(w3, "BridgeEndpoint", token.address, admin, attester.address, sender=admin)
    reader = deploy(w3, "BatchReader", sender=admin)
    tester = w3.provider.ethereum_tester  # type: ignore[attr-defined]
    snapshot = tester.take_snapshot()
    d = Deployment(
        w3, admin, operator, provider, reinsurer, stranger, claimant, attester,
        token, pool, vault, bridge, reader,
    )  # fmt: skip
    return d, snapshot


@pytest.fixture
def chain(_deployment: tuple[Deployment, object]) -> Iterator[Deployment]:
    deployment, snapshot = _deployment
    yield deployment
    deployment.w3.provider.ethereum_tester.revert_to_snapshot(snapshot)  # type: ignore[attr-defined]

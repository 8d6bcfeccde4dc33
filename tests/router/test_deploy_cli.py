"""`ballast deploy` against a real node: standard JSON-RPC only, and the config it
writes is one the router loads and the adapter reads through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chains.base import PoolRef
from chains.evm_rpc import HttpEndpoint
from chains.factory import connect
from router.config import chain_spec, load_settings
from tests.chains.evm_harness import anvil_node

pytestmark = pytest.mark.node

#: anvil's first well-known development account (funded at start; public knowledge).
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def ballast(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


async def test_deploy_writes_a_config_the_router_uses(tmp_path: Path) -> None:
    async with anvil_node(31_999) as url:
        out = tmp_path / "deployed.toml"
        done = ballast(
            "deploy",
            "--rpc-url",
            url,
            "--chain",
            "devnet",
            "--chain-id",
            "31999",
            "--pools",
            "2",
            "--vaults",
            "1",
            "--out",
            str(out),
            env={"BALLAST_DEPLOYER_KEY": ANVIL_KEY},
        )
        assert done.returncode == 0, done.stderr
        assert ANVIL_KEY[2:] not in done.stdout + done.stderr + out.read_text()
        settings = load_settings(out)
        chain = settings.chains[0]
        assert (chain.name, chain.chain_id, len(settings.pools), len(settings.vaults)) == (
            "devnet",
            31_999,
            2,
            1,
        )
        assert chain.hub not in {p.address for p in settings.pools}
        # Our contracts are where the config says: the adapter reads every pool
        # (asset checked) at a final block.
        node = HttpEndpoint(url, timeout=10.0)
        try:  # finality on anvil (head - 2) needs blocks after the deployment
            await node.request("anvil_mine", ["0x3"])
        finally:
            await node.aclose()
        adapter = await connect(chain_spec(settings, "devnet", with_signer=False))
        try:
            refs = [
                PoolRef("devnet", p.pool_id, p.address, chain.settlement_asset or "")
                for p in settings.pools
            ]
            snap = await adapter.read_balances(refs)
            assert [r.amount for r in snap.reports] == [0, 0] and snap.finalized
        finally:
            await adapter.aclose()
        # The same chain id check refuses a node serving another chain.
        again = ballast(
            "deploy",
            "--rpc-url",
            url,
            "--chain",
            "devnet",
            "--chain-id",
            "1",
            "--out",
            str(tmp_path / "other.toml"),
            env={"BALLAST_DEPLOYER_KEY": ANVIL_KEY},
        )
        assert again.returncode == 1 and again.stderr.count("\n") == 1
        assert "Traceback" not in again.stderr and not (tmp_path / "other.toml").exists()


def test_deploy_wants_its_key_from_a_file_or_the_environment(tmp_path: Path) -> None:
    done = ballast(
        "deploy",
        "--rpc-url",
        "http://127.0.0.1:9",
        "--chain",
        "x",
        "--out",
        str(tmp_path / "o"),
        env={"BALLAST_DEPLOYER_KEY": ""},
    )
    assert done.returncode == 2 and "BALLAST_DEPLOYER_KEY" in done.stderr
    assert done.stderr.count("\n") == 1

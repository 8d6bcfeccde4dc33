"""`ballast agent --chain solana` as a real process against an embedded Solana
JSON-RPC node, streaming to a live router over mTLS."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from chains.embedded.solana_setup import embedded_solana
from router.api.server import running_router
from router.devtools.pki import TestCA
from tests.router.conftest import make_settings


async def test_agent_process_reports_a_solana_cluster(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    async with embedded_solana([1_500_000, 2_500_000], chain="solana") as env:
        pools = [{"chain": "solana", "pool_id": p.pool_id, "address": p.address} for p in env.pools]
        settings = make_settings(
            server_files,
            tmp_path / "s.db",
            chains=[{"name": "solana", "family": "solana"}],
            pools=pools,
            reporters=[{"reporter_id": "solana", "chain": "solana"}],
            routes=[],
        )
        async with running_router(settings) as router:
            files = ca.write(tmp_path / "agent", {"agent": ca.client("ballast://reporter/solana")})
            cert, key = files["agent"]
            pool_tables = "".join(
                f'[[pools]]\nchain = "solana"\npool_id = "{p.pool_id}"\naddress = "{p.address}"\n'
                for p in env.pools
            )
            cfg = tmp_path / "agent.toml"
            cfg.write_text(
                "[client]\n"
                f'address = "{router.address}"\n'
                f'ca_cert = "{tmp_path / "agent" / "ca.pem"}"\n'
                f'cert = "{cert}"\nkey = "{key}"\n'
                '[[chains]]\nname = "solana"\nfamily = "solana"\n'
                f'rpc_urls = ["{env.config.rpc_url}"]\n'
                f'settlement_asset = "{env.mint}"\n'
                f'signer_key = "{env.authority}"\n' + pool_tables
            )
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "router.cli",
                "agent",
                "--chain",
                "solana",
                "-c",
                str(cfg),
                "--rounds",
                "1",
                "--interval",
                "0",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            out, _ = await asyncio.wait_for(proc.communicate(), 120)
            assert proc.returncode == 0, out.decode()
            assert "2 reports sent, 2 accepted, 0 rejected" in out.decode()
            balances = await router.store.latest_balances("solana")
    assert sorted(b.amount for b in balances.values()) == [1_500_000, 2_500_000]

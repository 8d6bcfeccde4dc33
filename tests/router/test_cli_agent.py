"""``ballast agent`` as a process: it reads only (no treasury key on EVM or
Solana), and no RPC credential reaches its output, whoever logs the URL."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chains.embedded.evm import ChainSpec, embedded_evm_chains
from chains.embedded.solana_setup import embedded_solana
from router.agent.client import RouterClient
from router.agent.reporting import ReportingAgent
from router.api.server import RunningRouter, running_router
from router.cli import redact
from router.devtools.pki import TestCA
from tests.chains.evm_harness import AnvilChain, anvil_chain
from tests.router.cli_support import ballast
from tests.router.conftest import make_settings

SECRETS = ("hunter2", "APIKEY123")


def agent_config(
    tmp: Path, ca: TestCA, router: RunningRouter, chain: str, chain_toml: str, pools: str
) -> Path:
    files = ca.write(tmp / "agent", {"agent": ca.client(f"ballast://reporter/{chain}")})
    cert, key = files["agent"]
    cfg = tmp / "agent.toml"
    cfg.write_text(
        "[client]\n"
        f'address = "{router.address}"\n'
        f'ca_cert = "{tmp / "agent" / "ca.pem"}"\n'
        f'cert = "{cert}"\nkey = "{key}"\n' + chain_toml + pools
    )
    return cfg


def test_redact_cuts_urls_to_scheme_host_and_port() -> None:
    assert redact("POST https://user:hunter2@rpc.example:8545/v3/APIKEY123?k=1 ok") == (
        "POST https://rpc.example:8545 ok"
    )
    assert redact("db postgresql+psycopg://bob:hunter2@db:5432/x down") == (
        "db postgresql+psycopg://db:5432 down"
    )
    assert redact("Authorization: Bearer abc.def-123") == "Authorization: Bearer <redacted>"
    assert redact("plain 127.0.0.1:50051 stays") == "plain 127.0.0.1:50051 stays"


async def test_agent_logging_quiets_libraries_and_redacts_every_record() -> None:
    """The agent's logging set-up, in a process of its own as ``ballast agent`` runs it."""
    url = "https://user:hunter2@rpc.example/v3/APIKEY123"
    script = textwrap.dedent(
        f"""
        import logging
        from router.cli import setup_logging
        setup_logging(verbose=False)
        for name in ("httpx", "httpx2", "httpcore", "urllib3", "web3.providers", "aiohttp",
                     "asyncio", "solana"):
            logging.getLogger(name).info("HTTP Request: POST {url}")
        logging.getLogger("web3.providers").warning("Disconnected from: {url}")
        logging.getLogger("ballast.router.agent.reporting").warning("read of %s failed", "{url}")
        try:
            raise ConnectionError("cannot reach {url}")
        except ConnectionError:
            logging.getLogger("ballast.x").exception("round failed")
        logging.getLogger("ballast.x").info("our own info line")
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stderr=asyncio.subprocess.PIPE
    )
    _, err_bytes = await asyncio.wait_for(proc.communicate(), 60)
    err = err_bytes.decode()
    assert proc.returncode == 0, err
    for secret in (*SECRETS, "user:"):
        assert secret not in err
    assert "HTTP Request" not in err  # libraries' INFO lines are gone
    assert "Disconnected from: https://rpc.example" in err  # their warnings stay, redacted
    assert "read of https://rpc.example failed" in err
    assert "ConnectionError: cannot reach https://rpc.example" in err  # tracebacks too
    assert "our own info line" in err


async def test_solana_agent_reads_without_a_key_and_never_prints_its_rpc_credentials(
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
        url = env.config.rpc_url.replace("http://", "http://user:hunter2@") + "/APIKEY123"
        async with running_router(settings) as router:
            cfg = agent_config(
                tmp_path,
                ca,
                router,
                "solana",
                '[[chains]]\nname = "solana"\nfamily = "solana"\n'
                f'rpc_urls = ["{url}"]\nsettlement_asset = "{env.mint}"\n'
                f'treasury_authority = "{env.authority.pubkey()}"\n',  # no signer_key
                "".join(
                    f'[[pools]]\nchain = "solana"\npool_id = "{p.pool_id}"\n'
                    f'address = "{p.address}"\n'
                    for p in env.pools
                ),
            )
            ran = await ballast(
                "agent", "--chain", "solana", "-c", str(cfg), "--rounds", "2", "--interval", "0"
            )
            balances = await router.store.latest_balances("solana")
    assert ran.code == 0, ran.err
    assert "4 reports sent, 4 accepted, 0 rejected" in ran.out
    for secret in SECRETS:
        assert secret not in ran.out + ran.err
    assert sorted(b.amount for b in balances.values()) == [1_500_000, 2_500_000]


@pytest.fixture
async def anvil() -> AsyncIterator[AnvilChain]:
    async with anvil_chain("ethereum", 31337) as chain:
        yield chain


async def test_evm_agent_reads_without_a_signer_key(
    anvil: AnvilChain, server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    refs = await anvil.create_pools([7_000_000, 9_000_000])
    await anvil.finalize()
    assert anvil.deployment is not None
    settings = make_settings(
        server_files,
        tmp_path / "e.db",
        chains=[{"name": "ethereum", "family": "evm"}],
        pools=[{"chain": "ethereum", "pool_id": r.pool_id, "address": r.address} for r in refs],
        reporters=[{"reporter_id": "ethereum", "chain": "ethereum"}],
        routes=[],
    )
    # anvil serves only "/", but ignores user info and a query string: a
    # provider URL with credentials in both.
    url = anvil.url.replace("http://", "http://user:hunter2@") + "/?apikey=APIKEY123"
    async with running_router(settings) as router:
        cfg = agent_config(
            tmp_path,
            ca,
            router,
            "ethereum",
            '[[chains]]\nname = "ethereum"\nfamily = "evm"\nchain_id = 31337\n'
            f'rpc_urls = ["{url}"]\nsettlement_asset = "{anvil.deployment.token}"\n'
            f'batch_reader = "{anvil.deployment.reader}"\n',  # no signer_key
            "".join(
                f'[[pools]]\nchain = "ethereum"\npool_id = "{r.pool_id}"\naddress = "{r.address}"\n'
                for r in refs
            ),
        )
        ran = await ballast(
            "agent", "--chain", "ethereum", "-c", str(cfg), "--rounds", "1", "--interval", "0"
        )
        balances = await router.store.latest_balances("ethereum")
    assert ran.code == 0, ran.err
    assert "2 reports sent, 2 accepted, 0 rejected, 0 failed reads" in ran.out
    for secret in SECRETS:
        assert secret not in ran.out + ran.err
    assert sorted(b.amount for b in balances.values()) == [7_000_000, 9_000_000]


async def test_a_failed_report_stream_is_logged_as_one_line(
    ca: TestCA, caplog: pytest.LogCaptureFixture
) -> None:
    """gRPC's error text spans lines and carries its debug string: the agent logs
    the status code and details only."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    pair = ca.client("ballast://reporter/ethereum")
    async with embedded_evm_chains([ChainSpec("ethereum", 31337, pools=[5])]) as env:
        chain = env["ethereum"]
        async with RouterClient.mtls(
            f"127.0.0.1:{port}", ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
        ) as client:
            agent = ReportingAgent(chain.adapter, chain.pools, client, interval_seconds=0.0)
            with caplog.at_level(logging.WARNING, logger="ballast.router.agent.reporting"):
                await agent.run(rounds=1)
    [record] = [r for r in caplog.records if "report stream failed" in r.getMessage()]
    message = record.getMessage()
    assert "UNAVAILABLE" in message
    assert "\n" not in message and "debug_error_string" not in message

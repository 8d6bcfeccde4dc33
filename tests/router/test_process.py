"""`ballast serve` as a real process: serves, and stops gracefully on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

from ballast.v1 import treasury_pb2
from grpc_health.v1 import health_pb2

from router.agent.client import RouterClient
from router.devtools.pki import TestCA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_process_runs_and_stops_on_sigterm(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    port = free_port()
    cfg = tmp_path / "router.toml"
    cfg.write_text(
        f'listen = "127.0.0.1:{port}"\n'
        f'database_url = "sqlite+aiosqlite:///{tmp_path / "p.db"}"\n'
        "[tls]\n"
        f'ca_cert = "{server_files["ca"]}"\n'
        f'server_cert = "{server_files["cert"]}"\n'
        f'server_key = "{server_files["key"]}"\n'
        '[[chains]]\nname = "ethereum"\nfamily = "evm"\n'
        '[[pools]]\nchain = "ethereum"\npool_id = "eth-main"\naddress = "0xabc"\n'
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "router.cli",
        "serve",
        "-c",
        str(cfg),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    pair = ca.client("ballast://operator/alice")
    try:
        async with RouterClient.mtls(
            f"127.0.0.1:{port}", ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
        ) as c:
            h = await c.health.Check(
                health_pb2.HealthCheckRequest(), wait_for_ready=True, timeout=30
            )
            assert h.status == health_pb2.HealthCheckResponse.SERVING
            pos = await c.treasury.GetPosition(treasury_pb2.GetPositionRequest())
            assert [p.pool_id for p in pos.pools] == ["eth-main"]
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, out.decode()
    assert b"draining in-flight calls" in out

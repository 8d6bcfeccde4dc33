"""`buf curl` explores the live server through reflection, over mTLS."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from router.api.server import RunningRouter
from router.devtools.pki import TestCA
from tests.conftest import node_tool


async def buf_curl(router: RunningRouter, ca: TestCA, tmp: Path, *args: str) -> str:
    buf = node_tool("buf")
    files = ca.write(tmp / "curl", {"op": ca.client("ballast://operator/alice")})
    cert, key = files["op"]
    proc = await asyncio.create_subprocess_exec(
        str(buf),
        "curl",
        "--protocol",
        "grpc",
        "--cacert",
        str(tmp / "curl" / "ca.pem"),
        "--cert",
        str(cert),
        "--key",
        str(key),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_buf_curl_lists_and_calls(router: RunningRouter, ca: TestCA, tmp_path: Path) -> None:
    listed = await buf_curl(router, ca, tmp_path, "--list-methods", f"https://{router.address}")
    methods = set(listed.split())
    assert {
        "ballast.v1.TreasuryService/GetPosition",
        "ballast.v1.PartnerService/BindCover",
        "ballast.v1.ReportingService/StreamReports",
        "grpc.health.v1.Health/Check",
    } <= methods
    answer = await buf_curl(
        router,
        ca,
        tmp_path,
        "-d",
        "{}",
        f"https://{router.address}/ballast.v1.TreasuryService/GetPosition",
    )
    pools = {p["poolId"] for p in json.loads(answer)["pools"]}
    assert pools == {"eth-main", "eth-alt", "sol-main"}

"""GetLimits and `ballast limits`: every configured limit and its headroom now,
read through the real server (operators only)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ballast.v1 import treasury_pb2

from router.api.server import running_router
from router.devtools.pki import TestCA
from tests.router.cli_support import client_config, invoke
from tests.router.conftest import make_settings
from tests.router.test_policy import client

UNIT = 10**6
LIMITS = {
    "lanes": [
        {
            "src_chain": "ethereum",
            "dst_chain": "solana",
            "capacity": 1_000 * UNIT,
            "refill_per_second": 1,
        }
    ],
    "daily": [
        {"scope": "chain:ethereum", "cap": 5_000 * UNIT},
        {"scope": "destination:eth-main", "cap": 2_000 * UNIT},
    ],
}


async def test_limits_show_their_headroom_after_a_step_consumed_some(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(server_files, tmp_path / "l.db", limits=LIMITS)
    async with running_router(settings) as r:
        taken = await r.store.consume_limits(
            "plan-x",
            0,
            400 * UNIT,
            ["lane:ethereum->solana", "chain:ethereum"],
            settings.limits.policy(),
        )
        assert sorted(taken) == ["chain:ethereum", "lane:ethereum->solana"]
        alice = client(r, ca, "ballast://operator/alice")
        acme = client(r, ca, "ballast://partner/acme")
        try:
            resp = await alice.treasury.GetLimits(treasury_pb2.GetLimitsRequest())
            got = {
                lim.scope: (int(lim.capacity.value), int(lim.headroom.value)) for lim in resp.limits
            }
            assert [lim.scope for lim in resp.limits] == sorted(got)
            assert got["chain:ethereum"] == (5_000 * UNIT, 4_600 * UNIT)
            assert got["destination:eth-main"] == (2_000 * UNIT, 2_000 * UNIT)
            cap, left = got["lane:ethereum->solana"]
            assert cap == 1_000 * UNIT
            assert 600 * UNIT <= left < 600 * UNIT + 60  # refills one base unit a second
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await acme.treasury.GetLimits(treasury_pb2.GetLimitsRequest())
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            await alice.close()
            await acme.close()
        config = client_config(tmp_path, ca, r, "ballast://operator/alice", "alice")
        ran = await invoke("limits", "-c", str(config))
        assert ran.code == 0, ran.err
        line = next(x for x in ran.out.splitlines() if x.startswith("chain:ethereum"))
        assert "5,000.000000 USDC" in line and "4,600.000000 USDC" in line and "8 %" in line
        out = tmp_path / "report.html"
        ran = await invoke("report", "-c", str(config), "--out", str(out))
        assert ran.code == 0, ran.err
        html = out.read_text()
        section = html[html.index("Limits: headroom now") :]
        assert "chain:ethereum" in section and "4,600.000000 USDC" in section
        assert "lane:ethereum-&gt;solana" in section  # escaped


async def test_no_limits_configured_is_an_empty_list(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    async with running_router(make_settings(server_files, tmp_path / "n.db")) as r:
        alice = client(r, ca, "ballast://operator/alice")
        try:
            resp = await alice.treasury.GetLimits(treasury_pb2.GetLimitsRequest())
            assert list(resp.limits) == []
        finally:
            await alice.close()

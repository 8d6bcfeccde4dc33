"""Registry changes through the real server and the CLI: a route proposed with
``--payload`` by one operator and approved by another is applied and is what the
planner reads from then on; a malformed payload is one line; an emergency
partner deactivation stays immediate and is audited."""

from __future__ import annotations

import json
from pathlib import Path

from router.api.server import running_router
from router.devtools.pki import TestCA
from tests.router.cli_support import client_config, invoke
from tests.router.conftest import make_settings


async def test_a_route_change_and_an_emergency_deactivation_through_the_cli(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(
        server_files, tmp_path / "r.db", changes={"approvals_required": 1, "delay_seconds": 0}
    )
    async with running_router(settings) as r:
        alice = str(client_config(tmp_path, ca, r, "ballast://operator/alice", "alice"))
        bob = str(client_config(tmp_path, ca, r, "ballast://operator/bob", "bob"))
        route = {"route_id": "eth-sol", "src_chain": "ethereum", "dst_chain": "solana"}
        ran = await invoke(
            "change", "propose", "route.set", "--reason", "cheaper lane",
            "--payload", json.dumps({**route, "fee_bps": 2}), "-c", alice,
        )  # fmt: skip
        assert ran.code == 0, ran.err
        assert "route eth-sol: ethereum->solana fee 5 bps" in ran.out and "fee 2 bps" in ran.out
        change_id = ran.out.strip().splitlines()[-1].removeprefix("proposed: ").strip()
        ran = await invoke("change", "approve", change_id, "-c", bob)
        assert ran.code == 0, ran.err
        assert "applied" in ran.out
        (body,) = [b for k, b, _ in await r.store.registry_overrides("route") if k == "eth-sol"]
        assert json.loads(body)["fee_bps"] == 2

        ran = await invoke(
            "change", "propose", "route.set", "--reason", "x", "--payload", "[1", "-c", alice
        )
        assert ran.code == 2 and ran.err_lines == ["error: --payload must be a JSON object"]

        ran = await invoke("partner", "deactivate", "globex", "--reason", "key leaked", "-c", alice)
        assert ran.code == 0, ran.err
        active = {p.partner_id: p.active for p in await r.store.list_partners()}
        assert active == {"acme": True, "globex": False}
        (entry,) = await r.store.list_audit("partner:globex")
        assert entry.action == "partner_deactivated" and "key leaked" in entry.detail

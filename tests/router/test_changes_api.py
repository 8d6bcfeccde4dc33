"""Change control through the real server and the CLI: an allow-list change
proposed by one operator, refused to its proposer, approved by another,
applied after the delay; partners are refused; forged ids are NOT_FOUND;
every step is in the audit log. The config's destinations were allowed at start."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from ballast.v1 import treasury_pb2

from router.api.server import running_router
from router.devtools.pki import TestCA
from tests.router.cli_support import client_config, invoke
from tests.router.conftest import make_settings
from tests.router.test_policy import client

NEW = "0x" + "5e" * 20


async def test_an_allowlist_change_through_the_api_and_the_cli(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(
        server_files, tmp_path / "c.db", changes={"approvals_required": 1, "delay_seconds": 0}
    )
    async with running_router(settings) as r:
        seeded = {(d.chain, d.address) for d in await r.store.list_destinations()}
        assert ("ethereum", "0x" + "11" * 20) in seeded
        assert ("solana", "So1ana" + "1" * 38) in seeded
        alice = client(r, ca, "ballast://operator/alice")
        bob = client(r, ca, "ballast://operator/bob")
        acme = client(r, ca, "ballast://partner/acme")
        try:
            resp = await alice.treasury.ProposeChange(
                treasury_pb2.ProposeChangeRequest(
                    kind="allowlist.add",
                    payload=json.dumps({"chain": "ethereum", "address": NEW, "label": "vault 2"}),
                    reason="second vault",
                )
            )
            change = resp.change
            assert change.state == treasury_pb2.CHANGE_STATE_PROPOSED
            assert change.diff == f"+ allow-list ethereum {NEW} (vault 2)"
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await alice.treasury.ApproveChange(
                    treasury_pb2.ApproveChangeRequest(change_id=change.change_id)
                )
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "cannot approve" in (err.value.details() or "")
            for bad, code in (
                ('{"chain": "ethereum"', grpc.StatusCode.INVALID_ARGUMENT),
                ("[1]", grpc.StatusCode.INVALID_ARGUMENT),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await alice.treasury.ProposeChange(
                        treasury_pb2.ProposeChangeRequest(
                            kind="allowlist.add", payload=bad, reason="x"
                        )
                    )
                assert err.value.code() == code
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await bob.treasury.GetChange(
                    treasury_pb2.GetChangeRequest(change_id="chg-forged000000000000")
                )
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await acme.treasury.ListChanges(treasury_pb2.ListChangesRequest())
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            for c in (alice, bob, acme):
                await c.close()
        assert not await r.store.destination_allowed("ethereum", NEW)
        config = client_config(tmp_path, ca, r, "ballast://operator/bob", "bob")
        ran = await invoke("change", "show", change.change_id, "-c", str(config))
        assert ran.code == 0, ran.err
        assert f"+ allow-list ethereum {NEW} (vault 2)" in ran.out
        ran = await invoke("change", "approve", change.change_id, "-c", str(config))
        assert ran.code == 0, ran.err
        assert "applied" in ran.out
        assert await r.store.destination_allowed("ethereum", NEW)
        ran = await invoke("change", "list", "--state", "applied", "-c", str(config))
        assert ran.code == 0, ran.err
        assert change.change_id in ran.out and "1/1" in ran.out
        ran = await invoke("change", "approve", "chg-nope", "-c", str(config))
        assert ran.code == 1 and ran.err_lines == ["error: NOT_FOUND: change 'chg-nope' not found"]
        actions = [e.action for e in await r.store.list_audit(change.change_id)]
        assert sorted(actions) == ["change_applied", "change_approved", "change_proposed"]

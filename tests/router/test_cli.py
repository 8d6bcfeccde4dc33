"""The operator CLI against a live router (mTLS credentials from a config file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from ballast.v1 import treasury_pb2
from typer.testing import CliRunner

from router import cli as cli_module
from router.agent.client import RouterClient
from router.api.server import RunningRouter, running_router
from router.cli import app
from router.devtools.pki import TestCA
from tests.router.conftest import ClientFactory, make_settings, report, send_batches


def client_config(tmp: Path, ca: TestCA, router: RunningRouter, uri: str, name: str) -> Path:
    files = ca.write(tmp / name, {name: ca.client(uri)})
    cert, key = files[name]
    path = tmp / f"{name}.toml"
    path.write_text(
        "[client]\n"
        f'address = "{router.address}"\n'
        f'ca_cert = "{tmp / name / "ca.pem"}"\n'
        f'cert = "{cert}"\nkey = "{key}"\n\n'
        '[[chains]]\nname = "ethereum"\nfamily = "evm"\n'
    )
    return path


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_module.console, "width", 200)


async def cli(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result.exit_code, result.output


async def test_status_plan_approve_execute_rebalance(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    await send_batches(connect("ballast://reporter/ethereum"), [report("eth-main", 5 * 10**12, 3)])
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    bob = client_config(tmp_path, ca, router, "ballast://operator/bob", "bob")

    code, out = await cli("status", "-c", str(alice))
    assert code == 0, out
    assert (
        "eth-main" in out and "5,000,000.000000" in out and "STALE" in out
    )  # others never reported

    code, out = await cli("plan", "-c", str(alice))
    assert code == 0, out
    plan_id = next(p for p in (await router.store.list_plans())).plan_id
    assert plan_id in out

    code, out = await cli("execute", plan_id, "-c", str(alice), "--key", "cli-key-0001")
    assert code == 1 and "FAILED_PRECONDITION" in out

    code, out = await cli("approve", plan_id, "-c", str(bob))
    assert code == 0 and "APPROVED" in out

    code, out = await cli("execute", plan_id, "-c", str(alice), "--key", "cli-key-0001")
    assert code == 0 and "no executor is configured" in out

    code, out = await cli("rebalance", "-c", str(alice))
    assert code == 0, out
    assert "automatic execution is not enabled yet" in out
    assert len(await router.store.list_plans()) == 2


async def test_partner_credentials_cannot_run_operator_commands(
    router: RunningRouter, ca: TestCA, tmp_path: Path
) -> None:
    acme = client_config(tmp_path, ca, router, "ballast://partner/acme", "acme")
    code, out = await cli("status", "-c", str(acme))
    assert code == 1 and "PERMISSION_DENIED" in out


async def test_agent_command_explains_bad_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text('[[chains]]\nname = "ethereum"\nfamily = "evm"\n')
    code, out = await cli("agent", "--chain", "nope", "-c", str(cfg), "--rounds", "1")
    assert code == 2 and "unknown chain" in out
    code, out = await cli("agent", "--chain", "ethereum", "-c", str(cfg), "--rounds", "1")
    assert code != 0 and "chain_id" in out


async def test_dev_certs_and_tokens_reach_a_router(
    server_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certs = tmp_path / "certs"
    code, out = await cli("dev-certs", str(certs), "-i", "ballast://operator/alice")
    assert code == 0, out
    assert (certs / "operator-alice.pem").exists() and (certs / "server.key").exists()
    code, out = await cli("dev-certs", str(certs), "-i", "ballast://root/x")
    assert code == 2

    monkeypatch.setenv("BALLAST_AUTH__MODE", "token")
    monkeypatch.setenv("BALLAST_AUTH__TOKEN_SECRET", "a-local-secret-of-32-bytes-000000")
    code, out = await cli("token", "-i", "ballast://operator/alice")
    assert code == 0, out
    settings = make_settings(
        {"ca": certs / "ca.pem", "cert": certs / "server.pem", "key": certs / "server.key"},
        tmp_path / "t.db",
    )
    assert settings.auth.mode == "token"
    async with (
        running_router(settings) as r,
        RouterClient.token(r.address, out.strip(), ca_pem=(certs / "ca.pem").read_bytes()) as c,
    ):
        plans = await c.treasury.ListPlans(treasury_pb2.ListPlansRequest())
    assert list(plans.plans) == []


def test_help_names_the_client_section() -> None:
    """The help text is plain: a Rich markup pass once swallowed "[client]"."""
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "[client]" in result.output

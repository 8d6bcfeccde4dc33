"""The operator CLI against a live router (mTLS credentials from a config file)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from ballast.v1 import common_pb2, partner_pb2, treasury_pb2
from rich.console import Console
from typer.testing import CliRunner

from router import cli_views
from router.agent.client import RouterClient, bind_request
from router.api.server import RunningRouter, running_router
from router.cli import app
from router.cli_views import Units, plan_sheet, position_sheet, show, whole
from router.devtools.pki import TestCA
from tests.covers_support import terms_pb
from tests.router.cli_support import ballast, client_config
from tests.router.conftest import ClientFactory, make_settings, report, send_batches

USDC = 10**6
HUGE = 123_456_789_012_345_678  # 123,456,789,012.345678 USDC: wider than any 80-column cell


async def cli(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result.exit_code, result.output


def usdc(n: int) -> common_pb2.Amount:
    return common_pb2.Amount(asset="USDC", value=str(n))


async def stressed_pools(connect: ClientFactory) -> None:
    """eth-alt holds a huge balance; eth-main binds cover, then loses most of its
    capital (below 100 % of its SCR); sol-main never reports (stale)."""
    eth = connect("ballast://reporter/ethereum")
    await send_batches(eth, [report("eth-main", 10**7 * USDC, 100), report("eth-alt", HUGE, 100)])
    acme = connect("ballast://partner/acme")
    quote = (
        await acme.partner.QuoteCover(
            partner_pb2.QuoteCoverRequest(
                terms=terms_pb(),
                chain="ethereum",
                pool_id="eth-main",
                cover_type=common_pb2.COVER_TYPE_PROTOCOL,
                cover_amount=usdc(5 * 10**6 * USDC),
                period_days=365,
            )
        )
    ).quote
    await acme.partner.BindCover(bind_request(quote, "cli-cover-0001"))
    await send_batches(eth, [report("eth-main", 10**5 * USDC, 101), report("eth-alt", HUGE, 101)])


async def test_status_plan_approve_execute_rebalance(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    await send_batches(connect("ballast://reporter/ethereum"), [report("eth-main", 5 * 10**12, 3)])
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    bob = client_config(tmp_path, ca, router, "ballast://operator/bob", "bob")

    code, out = await cli("status", "-c", str(alice))
    assert code == 0, out
    assert "eth-main" in out and "5,000,000.000000" in out and "STALE" in out

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

    # The scheduled job reads the database itself: a pool never reported (stale).
    job = tmp_path / "job.toml"
    job.write_text(f'database_url = "{router.settings.database_url}"\n' + alice.read_text())
    code, out = await cli("rebalance", "-c", str(job))
    assert code == 12, out
    assert "stale_data" in out
    assert len(await router.store.list_plans()) == 1


async def test_status_shows_every_figure_in_whole_units_with_totals_through_a_pipe(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    await stressed_pools(connect)
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    ran = await ballast("status", "-c", str(alice))
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    header = next(line for line in lines if line.startswith("chain"))
    for column in ("capital", "locked", "in flight", "arriving", "cover in force", "SCR", "ratio"):
        assert column in header
    alt = next(line for line in lines if " eth-alt " in line)
    assert "123,456,789,012.345678" in alt and "USDC" in alt  # never cut to 80 columns
    main = next(line for line in lines if " eth-main " in line)
    assert "5,000,000.000000" in main  # cover in force
    assert "BELOW 100 %" in main
    sol = next(line for line in lines if " sol-main " in line)
    assert "STALE" in sol and "USDC base units" in sol  # solana is not in alice's config
    total = next(line for line in lines if line.startswith("total") and "USDC " in line)
    assert "123,456,889,012.345678" in total  # eth-alt + eth-main capital
    assert "\x1b[" not in ran.out  # no styling codes in a pipe
    assert "add a [[chains]] entry" in ran.out


async def test_plan_through_a_pipe_prints_whole_units_and_a_dry_run_is_titled_so(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    await stressed_pools(connect)
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    pair = ca.client("ballast://operator/alice")
    async with RouterClient.mtls(
        router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
    ) as c:
        expected = (
            await c.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest(dry_run=True))
        ).plan
    assert expected.steps, "the scenario must need a transfer"

    ran = await ballast("plan", "--dry-run", "-c", str(alice))
    assert ran.code == 0, ran.err
    first = ran.out.splitlines()[0]
    assert "DRY RUN" in first and "not stored" in first
    assert "PENDING_APPROVAL" not in ran.out
    for step in expected.steps:
        assert f"{whole(int(step.amount.value), 6)} USDC" in ran.out
    moved = whole(int(expected.total_moved.value), 6)
    assert f"moves {moved} USDC" in ran.out
    assert "base units" not in ran.out  # the router's base-unit summary is not echoed
    assert await router.store.list_plans() == []

    raw = await ballast("plan", "--dry-run", "--raw", "-c", str(alice))
    assert raw.code == 0, raw.err
    assert f"{expected.total_moved.value} USDC base units" in raw.out
    assert expected.summary in raw.out


async def test_report_writes_one_html_file_of_the_latest_plan_or_the_one_named(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    await stressed_pools(connect)
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    out = tmp_path / "none.html"
    code, printed = await cli("report", "-c", str(alice), "--out", str(out))
    assert code == 0, printed
    assert printed.strip() == str(out)
    assert "No plan" in out.read_text()

    code, printed = await cli("plan", "-c", str(alice))
    assert code == 0, printed
    (stored,) = await router.store.list_plans()
    assert stored.total_amount > 0, "the scenario must need a transfer"
    out = tmp_path / "latest.html"
    code, printed = await cli("report", "-c", str(alice), "-o", str(out))
    assert code == 0, printed
    html = out.read_text()
    assert f"Plan {stored.plan_id} (pending_approval)" in html
    for pool in ("eth-main", "eth-alt", "sol-main"):
        assert f"<td>{pool}</td>" in html
    assert "123,456,789,012.345678 USDC" in html  # eth-alt's capital, whole units
    assert f"{whole(stored.total_amount, 6)} USDC" in html
    assert html.count('<img src="data:image/png;base64,') == 3

    raw = tmp_path / "raw.html"
    code, printed = await cli("report", "-c", str(alice), "--plan", stored.plan_id, "--raw",
                              "-o", str(raw))  # fmt: skip
    assert code == 0, printed
    assert f"{HUGE} USDC base units" in raw.read_text()

    code, printed = await cli("report", "-c", str(alice), "--plan", "plan-nope", "-o", str(raw))
    assert code == 1 and "NOT_FOUND" in printed


def _position(
    pool: str, capital: int, scr: int | None, *, stale: bool = False
) -> treasury_pb2.PoolPosition:
    p = treasury_pb2.PoolPosition(
        chain="ethereum",
        pool_id=pool,
        capital=usdc(capital),
        locked=usdc(capital // 10),
        in_flight=usdc(7),
        arriving=usdc(HUGE),
        active_cover=usdc(scr or 0),
        scr=usdc(scr or 0),
        mcr=usdc((scr or 0) // 2),
        stale=stale,
    )
    if scr:
        p.solvency_ratio_bps = capital * 10_000 // scr
    return p


def test_status_highlights_pools_below_100_percent_and_below_target() -> None:
    resp = treasury_pb2.GetPositionResponse(
        pools=[
            _position("p-red", 90 * USDC, 100 * USDC),
            _position("p-yellow", 120 * USDC, 100 * USDC),
            _position("p-fine", 200 * USDC, 100 * USDC),
            _position("p-stale", 200 * USDC, 100 * USDC, stale=True),
        ]
    )
    sheet = position_sheet(resp, Units({"ethereum": 6}), target_bps=15_000)
    flags = {cells[1]: (cells[-1], style) for cells, style in sheet.rows}
    assert flags == {
        "p-red": ("BELOW 100 %", "red"),
        "p-yellow": ("below target", "yellow"),
        "p-fine": ("", ""),
        "p-stale": ("STALE", "magenta"),
    }
    [(total, _)] = sheet.totals
    assert total[3] == "610.000000"  # capital summed exactly
    assert total[-3] == "152.50 %"  # 610 / 400


def test_a_table_on_a_narrow_terminal_is_drawn_in_full_and_coloured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buf = io.StringIO()
    terminal = Console(file=buf, width=60, force_terminal=True, color_system="standard")
    monkeypatch.setattr(cli_views, "console", terminal)
    resp = treasury_pb2.GetPositionResponse(pools=[_position("p-red", 90 * USDC, 100 * USDC)])
    show(position_sheet(resp, Units({"ethereum": 6}), target_bps=15_000))
    text = buf.getvalue()
    assert "123,456,789,012.345678" in text  # arriving, on a 60-column terminal
    assert "…" not in text
    assert "\x1b[31m" in text  # the row below 100 % is red


def test_plan_amounts_use_each_chains_decimals_and_mark_unknown_ones() -> None:
    plan = treasury_pb2.Plan(
        plan_id="plan-1",
        state=treasury_pb2.PLAN_STATE_PENDING_APPROVAL,
        approvals_required=1,
        total_moved=usdc(1_500_000),
        total_cost=usdc(250),
        steps=[
            treasury_pb2.PlanStep(
                index=0,
                kind=treasury_pb2.STEP_KIND_TRANSFER,
                source_chain="ethereum",
                source_pool_id="a",
                destination_chain="ethereum",
                destination_id="b",
                amount=usdc(1_500_000),
                cost=usdc(250),
            )
        ],
        shortfalls=["b: 2500000 base units below target"],
        summary="0 bridge transfers, 2 pool moves, 0 cessions; fees 250, premiums 0 (base units)",
    )
    text = "\n".join(line for line, _ in plan_sheet(plan, Units({"ethereum": 6})).notes)
    assert "moves 1.500000 USDC; costs 0.000250 USDC" in text
    assert "shortfall: b: 2.500000 USDC below target" in text
    assert "base units" not in text
    raw = plan_sheet(plan, Units({"ethereum": 6}, raw=True))
    assert raw.rows[0][0][5] == "1500000 USDC base units"
    unknown = plan_sheet(plan, Units({}))
    assert unknown.rows[0][0][5] == "1500000 USDC base units"
    assert any("add a [[chains]] entry" in line for line, _ in unknown.notes)


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
    assert code == 2 and "rpc_urls" in out
    cfg.write_text(
        '[[chains]]\nname = "ethereum"\nfamily = "evm"\nrpc_urls = ["http://127.0.0.1:1"]\n'
        'settlement_asset = "0x0000000000000000000000000000000000000001"\n'
        '[[chains]]\nname = "solana"\nfamily = "solana"\nrpc_urls = ["http://127.0.0.1:1"]\n'
        'settlement_asset = "So11111111111111111111111111111111111111112"\n'
    )
    code, out = await cli("agent", "--chain", "ethereum", "-c", str(cfg), "--rounds", "1")
    assert code == 2 and "chain id" in out and "signer_key" not in out  # reads only
    code, out = await cli("agent", "--chain", "solana", "-c", str(cfg), "--rounds", "1")
    assert code == 2 and "treasury_authority" in out  # the pools' owner, not a key


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


def test_status_shows_capital_in_transit_and_marks_a_stuck_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ballast.v1 import common_pb2

    from router.cli_views import Units, show, transit_sheet

    resp = treasury_pb2.GetPositionResponse(
        in_transit=[
            treasury_pb2.Transit(
                plan_id="plan-1",
                step_index=3,
                chain="ethereum",
                place="bridge",
                destination_chain="solana",
                amount=common_pb2.Amount(asset="USDC", value="1234567890"),
                state=treasury_pb2.STEP_STATE_STUCK,
                detail="no delivery yet",
            )
        ]
    )
    assert transit_sheet(treasury_pb2.GetPositionResponse(), Units({}, False)) is None
    sheet = transit_sheet(resp, Units({"ethereum": 6, "solana": 6}, False))
    assert sheet is not None
    show(sheet)
    out = capsys.readouterr().out
    assert "1,234.567890 USDC" in out and "stuck" in out and "ethereum bridge" in out
    assert "solana" in out and "no delivery yet" in out

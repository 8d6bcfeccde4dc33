"""`ballast protocols add|list|show|set-tvl` (the registry of covered
deployments) and `ballast pause|resume|pauses` (no new covers of a cover type
or on a pool). Thin: parse, call TreasuryService, print what the router answered.

Amounts given on the command line are base units (integers: exact); printed
amounts are whole units with the asset symbol, like every other command
(--raw: base units).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from ballast.v1 import common_pb2, treasury_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from router.cli_common import ConfigOpt, RawOpt, load_config, run_call
from router.cli_views import Sheet, Units, fail, show, when

protocols_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The registry of covered protocol deployments: what covers can refer to.",
)

COVER_TYPES = ("protocol", "position", "oracle", "governance", "liquidity")


def _timestamp(value: str | None, option: str) -> Timestamp | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00+00:00")
    if at.tzinfo is None:
        fail(f"{option} needs a time zone, e.g. +00:00")
    ts = Timestamp()
    ts.FromDatetime(at.astimezone(UTC))
    return ts


def _deployment_lines(d: treasury_pb2.Deployment, units: Units) -> list[tuple[str, str]]:
    tvl = f"{units.money(d.tvl, d.chain)} from {d.tvl_source} as of {when(d.tvl_as_of)}"
    audit = (
        f"{', '.join(d.auditors)} (last {when(d.last_audit_at)})" if d.auditors else "none recorded"
    )
    return [
        ("deployment", d.deployment_id),
        ("protocol", d.protocol_id),
        ("chain", d.chain),
        ("addresses", ", ".join(d.addresses)),
        ("TVL", tvl),
        (
            "incidents",
            f"{d.incident_count} in {d.incident_window_days} days, mean severity "
            f"{d.incident_severity_bps / 100:g} % of TVL",
        ),
        ("audits", audit),
        ("governance assets", units.money(d.governance_assets, d.chain)),
        ("same protocol", ", ".join(d.linked_deployments) or "none (no other chain)"),
    ]


def _show_one(d: treasury_pb2.Deployment, units: Units, title: str) -> None:
    sheet = Sheet(title, (("", False), ("", False)))
    for k, v in _deployment_lines(d, units):
        sheet.rows.append(([k, v], ""))
    show(sheet)


@protocols_app.command("add")
def add(
    deployment_id: Annotated[str, typer.Argument(help="e.g. aave-v3-ethereum")],
    protocol: Annotated[str, typer.Option(help="links the protocol's deployments across chains")],
    chain: Annotated[str, typer.Option(help="the chain the deployment runs on")],
    address: Annotated[list[str], typer.Option("--address", help="contract address; repeatable")],
    tvl: Annotated[int, typer.Option(help="total value locked, base units")],
    tvl_source: Annotated[str, typer.Option(help="where the TVL was read")],
    tvl_asset: Annotated[str, typer.Option(help="the valuation asset")] = "USDC",
    tvl_as_of: Annotated[
        str | None, typer.Option(help="when it was read (ISO 8601; default now)")
    ] = None,
    incidents: Annotated[int, typer.Option(help="incidents over the window")] = 0,
    severity_bps: Annotated[int, typer.Option(help="their mean severity, bps of TVL")] = 0,
    window_days: Annotated[int, typer.Option(help="the incident window")] = 365,
    auditor: Annotated[
        list[str] | None, typer.Option("--auditor", help="who audited it; repeatable")
    ] = None,
    last_audit: Annotated[str | None, typer.Option(help="last audit (ISO 8601)")] = None,
    governance_assets: Annotated[
        int, typer.Option(help="assets governance controls, base units")
    ] = 0,
    config: ConfigOpt = None,
    raw: RawOpt = False,
) -> None:
    """Register a covered deployment, or update the facts of a registered one."""

    settings = load_config(config)
    as_of = _timestamp(tvl_as_of, "--tvl-as-of")
    if as_of is None:
        as_of = Timestamp()
        as_of.GetCurrentTime()
    msg = treasury_pb2.Deployment(
        deployment_id=deployment_id,
        protocol_id=protocol,
        chain=chain,
        addresses=address,
        tvl=common_pb2.Amount(asset=tvl_asset, value=str(tvl)),
        tvl_source=tvl_source,
        tvl_as_of=as_of,
        incident_count=incidents,
        incident_severity_bps=severity_bps,
        incident_window_days=window_days,
        auditors=auditor or [],
        last_audit_at=_timestamp(last_audit, "--last-audit"),
        governance_assets=common_pb2.Amount(asset=tvl_asset, value=str(governance_assets)),
    )
    if min(tvl, incidents, severity_bps, window_days, governance_assets) < 0:
        fail("amounts, counts and days must not be negative")
    resp = run_call(
        settings,
        lambda c: c.treasury.AddDeployment(treasury_pb2.AddDeploymentRequest(deployment=msg)),
    )
    verb = "registered" if resp.created else "updated"
    _show_one(resp.deployment, Units.of(settings, raw), f"{verb} {deployment_id}")


@protocols_app.command("list")
def list_(
    protocol: Annotated[str | None, typer.Option(help="only this protocol")] = None,
    config: ConfigOpt = None,
    raw: RawOpt = False,
) -> None:
    """Covered deployments, by protocol then chain."""

    settings = load_config(config)
    resp = run_call(
        settings,
        lambda c: c.treasury.ListDeployments(
            treasury_pb2.ListDeploymentsRequest(protocol_id=protocol or "")
        ),
    )
    units = Units.of(settings, raw)
    sheet = Sheet(
        f"Covered deployments ({len(resp.deployments)})",
        (
            ("deployment", False),
            ("protocol", False),
            ("chain", False),
            ("TVL", True),
            ("as of", False),
            ("incidents", True),
            ("audited", False),
        ),
    )
    for d in resp.deployments:
        cells = [
            d.deployment_id,
            d.protocol_id,
            d.chain,
            units.money(d.tvl, d.chain),
            when(d.tvl_as_of),
            f"{d.incident_count}/{d.incident_window_days}d",
            "yes" if d.auditors else "no",
        ]
        sheet.rows.append((cells, "yellow" if d.incident_count else ""))
    if not resp.deployments:
        sheet.notes.append(("none registered: no cover can be quoted", ""))
    show(sheet)


@protocols_app.command("show")
def show_(deployment_id: str, config: ConfigOpt = None, raw: RawOpt = False) -> None:
    """One deployment with its facts and the other deployments of its protocol."""

    settings = load_config(config)
    resp = run_call(
        settings,
        lambda c: c.treasury.GetDeployment(
            treasury_pb2.GetDeploymentRequest(deployment_id=deployment_id)
        ),
    )
    _show_one(resp.deployment, Units.of(settings, raw), deployment_id)


@protocols_app.command("set-tvl")
def set_tvl(
    deployment_id: str,
    tvl: Annotated[int, typer.Argument(help="total value locked, base units")],
    source: Annotated[str, typer.Option(help="where it was read")],
    asset: Annotated[str, typer.Option(help="the deployment's valuation asset")] = "USDC",
    as_of: Annotated[
        str | None, typer.Option(help="when it was read (ISO 8601; default now)")
    ] = None,
    config: ConfigOpt = None,
    raw: RawOpt = False,
) -> None:
    """Record a deployment's TVL (an operator's figure replaces the stored one)."""

    if tvl < 0:
        fail("the TVL must not be negative")
    settings = load_config(config)
    req = treasury_pb2.SetDeploymentTvlRequest(
        deployment_id=deployment_id,
        tvl=common_pb2.Amount(asset=asset, value=str(tvl)),
        source=source,
        as_of=_timestamp(as_of, "--as-of"),
    )
    resp = run_call(settings, lambda c: c.treasury.SetDeploymentTvl(req))
    d = resp.deployment
    units = Units.of(settings, raw)
    shown = units.money(d.tvl, d.chain)
    typer.echo(f"{d.deployment_id}: TVL {shown} from {d.tvl_source} as of {when(d.tvl_as_of)}")


# ------------------------------------------------------------------- pauses


def _target(cover_type: str | None, pool: str | None) -> treasury_pb2.PauseTarget:
    if (cover_type is None) == (pool is None):
        fail("name what to pause: --cover-type TYPE or --pool POOL (one of them)")
    if cover_type is not None:
        if cover_type not in COVER_TYPES:
            fail(f"--cover-type must be one of {', '.join(COVER_TYPES)}")
        code = common_pb2.CoverType.Value(f"COVER_TYPE_{cover_type.upper()}")
        return treasury_pb2.PauseTarget(cover_type=code)
    return treasury_pb2.PauseTarget(pool_id=pool or "")


def _describe(t: treasury_pb2.PauseTarget) -> str:
    if t.WhichOneof("target") == "cover_type":
        name = common_pb2.CoverType.Name(t.cover_type).removeprefix("COVER_TYPE_").lower()
        return f"cover type {name}"
    return f"pool {t.pool_id}"


CoverTypeOpt = Annotated[
    str | None, typer.Option("--cover-type", help=f"one of {', '.join(COVER_TYPES)}")
]
PoolOpt = Annotated[str | None, typer.Option("--pool", help="a pool id")]
ReasonOpt = Annotated[
    str, typer.Option("--reason", help="why (kept in the audit log; 1-256 characters)")
]


def _set_paused(
    cover_type: str | None, pool: str | None, paused: bool, reason: str, config: Path | None
) -> None:

    settings = load_config(config)
    target = _target(cover_type, pool)
    req = treasury_pb2.SetPausedRequest(target=target, paused=paused, reason=reason)
    resp = run_call(settings, lambda c: c.treasury.SetPaused(req))
    now = "paused: no new quotes or binds" if paused else "resumed: new covers accepted"
    before = "it was paused" if resp.was_paused else "it was not paused"
    typer.echo(f"{_describe(target)} {now} ({before}); reason recorded: {reason}")


def pause(
    reason: ReasonOpt,
    cover_type: CoverTypeOpt = None,
    pool: PoolOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Pause a cover type or a pool: new quotes and binds are refused; covers in
    force and their claims are not affected."""
    _set_paused(cover_type, pool, True, reason, config)


def resume(
    reason: ReasonOpt,
    cover_type: CoverTypeOpt = None,
    pool: PoolOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Resume a paused cover type or pool."""
    _set_paused(cover_type, pool, False, reason, config)


def pauses(config: ConfigOpt = None) -> None:
    """What is paused now, oldest first."""

    settings = load_config(config)
    resp = run_call(settings, lambda c: c.treasury.ListPauses(treasury_pb2.ListPausesRequest()))
    sheet = Sheet(
        f"Paused ({len(resp.pauses)})",
        (("what", False), ("since", False), ("by", False), ("reason", False)),
    )
    for p in resp.pauses:
        sheet.rows.append(([_describe(p.target), when(p.since), p.operator, p.reason], "yellow"))
    if not resp.pauses:
        sheet.notes.append(("nothing is paused", ""))
    show(sheet)

"""ballast: the operator CLI and the entry points of the router's processes.

Config comes from --config FILE (TOML, see ballast.example.toml) and BALLAST_*
environment variables; the caller's credentials are in its [client] section.
Amounts are whole units of their asset with its symbol (exact integer
arithmetic); --raw shows base units. Piped output is plain aligned text.
Every failure is one line on stderr: exit 2 for usage or configuration,
1 when the router or a chain refused.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from ballast.v1 import treasury_pb2

from router import cli_claims
from router.cli_changes import change_app
from router.cli_common import (
    ConfigOpt,
    RawOpt,
    client_credentials,
    load_config,
    router_client,
    run_call,
)
from router.cli_deploy import deploy as deploy_command
from router.cli_gov import gov_app
from router.cli_job import REBALANCE_HELP
from router.cli_job import rebalance as rebalance_command
from router.cli_protocols import pause as pause_command
from router.cli_protocols import pauses as pauses_command
from router.cli_protocols import protocols_app
from router.cli_protocols import resume as resume_command
from router.cli_prune import prune as prune_command
from router.cli_report import report as report_command
from router.cli_views import (
    Sheet,
    Units,
    fail,
    plan_sheet,
    position_sheet,
    show,
    transit_sheet,
    when,
)
from router.config import ConfigError, RouterSettings, chain_spec
from router.errors import InvalidRequest, RouterError, StoreUnavailable
from router.telemetry.logs import RedactSecrets, redact, setup_logging

__all__ = ["RedactSecrets", "app", "main", "redact", "setup_logging"]

# No Rich markup anywhere: help text names "[client]", and what we print comes
# from users, the router and the config (a secret with "[/bold]" in it would
# crash a markup pass, and "[bold]" would vanish from it).
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=__doc__,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,  # its tracebacks print local variables: secrets
)
partner_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Deactivate or reactivate a partner insurer: effective at once on every replica.",
)
reporter_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Deactivate or reactivate a reporter (e.g. ethereum or ethereum/node-a).",
)
app.add_typer(partner_app, name="partner")
app.add_typer(reporter_app, name="reporter")
app.add_typer(gov_app, name="gov")

log = logging.getLogger("ballast.router.cli")
T = TypeVar("T")

ReasonOpt = Annotated[
    str, typer.Option("--reason", help="why (kept in the audit log; 1-256 characters)")
]


# ----------------------------------------------------------------- failures


# ------------------------------------------------------------------ logging

#: The log set-up of every process (JSON or text, redaction on every handler).
LogFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="json or text (default: the config's telemetry.log_format; auto: text on a "
        "terminal, JSON otherwise)",
    ),
]


def _logging(verbose: bool, log_format: str | None, settings: RouterSettings | None) -> None:
    """Logging as the flag, else the config, says; every configured secret masked."""
    fmt = log_format or (settings.telemetry.log_format if settings is not None else "auto")
    if fmt not in ("auto", "json", "text"):
        fail(f"--log-format must be json or text, not {fmt!r}")
    secrets = settings.secret_values() if settings is not None else ()
    setup_logging(verbose, fmt, secrets=secrets)  # type: ignore[arg-type]
    if settings is not None:
        _tracing(settings)


def _tracing(settings: RouterSettings) -> None:
    """Spans exported as ``telemetry.traces`` says (off by default), flushed at exit."""
    import atexit

    from router.telemetry.tracing import setup_tracing

    t = settings.telemetry
    try:
        provider = setup_tracing(t.traces, service_name=t.service_name, endpoint=t.otlp_endpoint)
    except RuntimeError as exc:  # the OTLP exporter's package is missing
        fail(f"invalid configuration: telemetry.traces: {exc}")
    if provider is not None:
        atexit.register(provider.shutdown)


# -------------------------------------------------------------------- serve


def _check_listen(listen: str) -> None:
    """Fail with one line if the address cannot be bound (gRPC would only say
    "failed to bind", the same words it uses for a certificate/key mismatch)."""
    host, _, port_text = listen.rpartition(":")
    host, port = host.strip("[]"), int(port_text)
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        fail(f"listen: host {host!r} does not resolve to an address of this machine")
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
        try:
            probe.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"listen: {listen} is already in use (another router?): stop it or "
                    "set another port in listen",
                    1,
                )
            fail(f"listen: cannot bind {listen}: {exc.strerror}", 1)


@app.command()
def serve(config: ConfigOpt = None, verbose: bool = False, log_format: LogFormatOpt = None) -> None:
    """Run the router until SIGTERM/Ctrl-C (then stop gracefully)."""
    from router.api.server import serve as serve_router

    settings = load_config(config)
    _logging(verbose, log_format, settings)
    try:
        settings.server_tls()
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}")
    _check_listen(settings.listen)
    try:
        asyncio.run(serve_router(settings))
    except InvalidRequest as exc:
        where = "database_url" if exc.field == "url" else "configuration"
        fail(f"{where}: {exc}")
    except StoreUnavailable as exc:
        fail(
            f"database_url: cannot open the database ({exc}); check that it runs and accepts us", 1
        )
    except RouterError as exc:
        fail(f"the router could not start: {exc}", 1)
    except RuntimeError as exc:
        if not str(exc).startswith("Failed to bind"):
            raise
        # gRPC's bind failure after our own check passed: lost a race for the port.
        fail(f"listen: cannot bind {settings.listen} (in use, or not this machine's)", 1)


# -------------------------------------------------------------------- agent


@app.command()
def agent(
    chain: Annotated[str, typer.Option("--chain", help="chain name from the config")],
    config: ConfigOpt = None,
    interval: Annotated[float, typer.Option(help="seconds between reads")] = 5.0,
    rounds: Annotated[int | None, typer.Option(help="stop after N rounds")] = None,
    verbose: bool = False,
    log_format: LogFormatOpt = None,
) -> None:
    """Run a reporting agent for one chain: read its pools in a loop, stream to the router.

    Reads only: it needs no signer_key (a Solana agent needs treasury_authority
    instead, the pools' owner).
    """
    import signal

    from chains.base import PoolRef
    from chains.errors import ChainError, InvalidInput
    from chains.factory import connect
    from router.agent.reporting import ReportingAgent

    settings = load_config(config)
    _logging(verbose, log_format, settings)
    try:
        # Reads only: the key is dropped (on Solana after deriving the pools'
        # owner from it, unless treasury_authority is set).
        spec = chain_spec(settings, chain).without_signer()
    except ValueError as exc:  # chain_spec's and chains' own checks; they never quote a key
        fail(str(exc))
    asset = next(c.asset for c in settings.chains if c.name == chain)
    creds = client_credentials(settings)
    pools = [
        PoolRef(p.chain, p.pool_id, p.address, spec.settlement_asset or p.asset)
        for p in settings.pools
        if p.chain == chain
    ]

    async def go() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        reader = await connect(spec)
        try:
            async with router_client(settings.client.address, creds) as client:
                ag = ReportingAgent(reader, pools, client, asset=asset, interval_seconds=interval)
                return await ag.run(rounds=rounds, stop=stop)
        finally:
            await reader.aclose()

    try:
        stats = asyncio.run(go())
    except InvalidInput as exc:  # the chain's settings (an address, a URL) are wrong
        fail(f"chain {chain}: {exc}")
    except ChainError as exc:  # its message names endpoints without credentials
        fail(f"chain {chain}: {exc}", 1)
    typer.echo(
        f"{stats.rounds} rounds, {stats.sent} reports sent, {stats.accepted} accepted, "
        f"{stats.rejected} rejected, {stats.failed_reads} failed reads"
    )


# ------------------------------------------------------------ operator view


@app.command()
def status(
    config: ConfigOpt = None,
    chain: Annotated[
        list[str] | None, typer.Option("--chain", help="only this chain; repeatable")
    ] = None,
    raw: RawOpt = False,
) -> None:
    """Every pool: capital, locked, in flight, arriving, cover in force, SCR, MCR,
    ratio (red below 100 %, yellow below target) and report age, with totals."""
    settings = load_config(config)
    request = treasury_pb2.GetPositionRequest(chains=chain or [])
    resp = run_call(settings, lambda c: c.treasury.GetPosition(request))
    units = Units.of(settings, raw)
    show(position_sheet(resp, units, settings.policy.target_ratio_bps))
    moving = transit_sheet(resp, units)
    if moving is not None:
        show(moving)


def _show_plan(plan: treasury_pb2.Plan, settings: RouterSettings, raw: bool) -> None:
    show(plan_sheet(plan, Units.of(settings, raw)))


@app.command()
def plan(
    config: ConfigOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="compute, do not store")] = False,
    raw: RawOpt = False,
) -> None:
    """Compute a rebalancing plan (stored for approval unless --dry-run)."""
    settings = load_config(config)
    request = treasury_pb2.PlanRebalanceRequest(dry_run=dry_run)
    resp = run_call(settings, lambda c: c.treasury.PlanRebalance(request))
    _show_plan(resp.plan, settings, raw)


@app.command()
def approve(plan_id: str, config: ConfigOpt = None, raw: RawOpt = False) -> None:
    """Approve a plan as the configured operator."""
    settings = load_config(config)
    request = treasury_pb2.ApprovePlanRequest(plan_id=plan_id)
    resp = run_call(settings, lambda c: c.treasury.ApprovePlan(request))
    _show_plan(resp.plan, settings, raw)


@app.command()
def execute(
    plan_id: str,
    config: ConfigOpt = None,
    key: Annotated[
        str | None, typer.Option(help="idempotency key; reuse it to retry safely")
    ] = None,
    raw: RawOpt = False,
) -> None:
    """Execute an approved plan: the router starts its saga; the note says what follows."""
    settings = load_config(config)
    key = key or f"cli-{uuid.uuid4().hex[:16]}"
    request = treasury_pb2.ExecutePlanRequest(plan_id=plan_id, idempotency_key=key)
    resp = run_call(settings, lambda c: c.treasury.ExecutePlan(request))
    _show_plan(resp.plan, settings, raw)
    typer.echo(f"idempotency key: {key}")
    typer.secho(resp.note, fg=typer.colors.YELLOW)


# -------------------------------------------------------------- offboarding


def _set_active(kind: str, ident: str, active: bool, reason: str, config: Path | None) -> None:
    settings = load_config(config)
    if kind == "partner":
        p = treasury_pb2.SetPartnerActiveRequest(partner_id=ident, active=active, reason=reason)
        resp: Any = run_call(settings, lambda c: c.treasury.SetPartnerActive(p))
    else:
        r = treasury_pb2.SetReporterActiveRequest(reporter_id=ident, active=active, reason=reason)
        resp = run_call(settings, lambda c: c.treasury.SetReporterActive(r))
    now = "active" if active else "inactive"
    was = "it was already" if resp.was_active == active else "it was"
    before = "active" if resp.was_active else "inactive"
    typer.echo(f"{kind} {ident} is now {now} ({was} {before}); reason recorded: {reason}")


@partner_app.command("deactivate")
def partner_deactivate(partner_id: str, reason: ReasonOpt, config: ConfigOpt = None) -> None:
    """Refuse every call of this partner from now on (PERMISSION_DENIED)."""
    _set_active("partner", partner_id, False, reason, config)


@partner_app.command("activate")
def partner_activate(partner_id: str, reason: ReasonOpt, config: ConfigOpt = None) -> None:
    """Let a deactivated partner call again."""
    _set_active("partner", partner_id, True, reason, config)


@reporter_app.command("deactivate")
def reporter_deactivate(reporter_id: str, reason: ReasonOpt, config: ConfigOpt = None) -> None:
    """Refuse this reporter's next batch, even on an open stream."""
    _set_active("reporter", reporter_id, False, reason, config)


@reporter_app.command("activate")
def reporter_activate(reporter_id: str, reason: ReasonOpt, config: ConfigOpt = None) -> None:
    """Accept a deactivated reporter's reports again."""
    _set_active("reporter", reporter_id, True, reason, config)


def _certificate_pem(path: Path) -> str:
    """The certificate in ``path``, re-encoded: only the certificate leaves this
    machine, never a private key that happens to share the file."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read it ({exc.strerror})")
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        fail(f"{path}: no PEM certificate in it (give the .pem, not the .key)")
    return cert.public_bytes(Encoding.PEM).decode()


def _revocation_line(r: treasury_pb2.Revocation) -> str:
    return (
        f"{r.fingerprint} {r.identity or '(unknown identity)'} revoked by {r.revoked_by} "
        f"at {when(r.revoked_at)}: {r.reason}"
    )


@app.command("revoke-cert")
def revoke_cert(
    reason: ReasonOpt,
    certificate: Annotated[
        Path | None, typer.Argument(help="the certificate's PEM file", dir_okay=False)
    ] = None,
    fingerprint: Annotated[
        str | None, typer.Option(help="or its SHA-256 (of the DER), 64 lowercase hex")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Refuse a client certificate at every later call and batch (UNAUTHENTICATED)."""
    if (certificate is None) == (fingerprint is None):
        fail("give the certificate's PEM file or --fingerprint, one of the two")
    settings = load_config(config)
    if certificate is not None:
        request = treasury_pb2.RevokeCertificateRequest(
            pem=_certificate_pem(certificate), reason=reason
        )
    else:
        request = treasury_pb2.RevokeCertificateRequest(fingerprint=fingerprint, reason=reason)
    resp = run_call(settings, lambda c: c.treasury.RevokeCertificate(request))
    typer.echo(f"revoked: {_revocation_line(resp.revocation)}")


@app.command()
def revocations(config: ConfigOpt = None) -> None:
    """List revoked certificates, oldest first."""
    settings = load_config(config)
    resp = run_call(
        settings, lambda c: c.treasury.ListRevocations(treasury_pb2.ListRevocationsRequest())
    )
    sheet = Sheet(
        f"Revoked certificates ({len(resp.revocations)})",
        (
            ("fingerprint (SHA-256)", False),
            ("identity", False),
            ("revoked by", False),
            ("revoked at", False),
            ("reason", False),
        ),
    )
    for r in resp.revocations:
        row = [r.fingerprint, r.identity, r.revoked_by, when(r.revoked_at), r.reason]
        sheet.rows.append((row, ""))
    show(sheet)


@app.command()
def limits(config: ConfigOpt = None, raw: RawOpt = False) -> None:
    """Each configured limit on capital moved (lane buckets, 24-hour caps) and
    what it can still take now."""
    settings = load_config(config)
    resp = run_call(settings, lambda c: c.treasury.GetLimits(treasury_pb2.GetLimitsRequest()))
    units = Units.of(settings, raw)
    chains = [c.name for c in settings.chains]
    sheet = Sheet(
        f"Limits ({len(resp.limits)})",
        (("scope", False), ("capacity", True), ("headroom now", True), ("used", True)),
    )
    for lim in resp.limits:
        cap, left = int(lim.capacity.value), int(lim.headroom.value)
        used = f"{(cap - left) * 100 // cap} %" if cap else "—"
        style = "red" if cap and left == 0 else "yellow" if cap and left * 10 < cap else ""
        cells = [lim.scope, units.money(lim.capacity, *chains), units.money(lim.headroom, *chains)]
        sheet.rows.append(([*cells, used], style))
    if not resp.limits:
        sheet.notes.append(("no limits configured: nothing caps the capital moved", ""))
    show(sheet)


# ----------------------------------------------------------- local set-ups


@app.command("dev-certs")
def dev_certs(
    directory: Annotated[Path, typer.Argument(help="where to write the PEM files")],
    identity: Annotated[
        list[str] | None,
        typer.Option("--identity", "-i", help="client identity URI, repeatable"),
    ] = None,
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="extra DNS name for the server certificate; repeatable"),
    ] = None,
    days: Annotated[int, typer.Option(help="validity of a new CA and its certificates")] = 30,
) -> None:
    """A local CA with a server certificate and client certificates (never for production).

    The CA key stays in DIRECTORY as ca.key (mode 0600): run again with more
    --identity options to add identities to the same CA. The server certificate
    is written once (again when --host is given).
    """
    from router.devtools.pki import CaFilesError, local_ca
    from router.domain import parse_identity

    uris = identity or []
    for uri in uris:
        try:
            parse_identity(uri)
        except RouterError as exc:
            fail(f"--identity: {exc}")
    if days < 1:
        fail("--days must be at least 1")
    try:
        ca, created = local_ca(directory, days=days)
        pairs = {}
        if created or host or not (directory / "server.pem").exists():
            pairs["server"] = ca.server(*(host or []))
        for uri in uris:
            pairs[uri.removeprefix("ballast://").replace("/", "-")] = ca.client(uri)
        written = ca.write(directory, pairs)
    except CaFilesError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{directory}: cannot write there ({exc.strerror})")
    state = "new" if created else "existing"
    typer.echo(
        f"CA ({state}): {directory / 'ca.pem'} (its key: {directory / 'ca.key'}, keep it private)"
    )
    for name, (cert, key) in written.items():
        typer.echo(f"{name}: {cert} {key}")


@app.command()
def token(
    identity: Annotated[
        str, typer.Option("--identity", "-i", help="e.g. ballast://operator/alice")
    ],
    config: ConfigOpt = None,
    ttl: Annotated[int, typer.Option(help="seconds the token is valid")] = 3600,
) -> None:
    """Issue a bearer token for token auth mode (signed with auth.token_secret)."""
    from router.api.auth import TokenSigner
    from router.domain import parse_identity

    settings = load_config(config)
    if settings.auth.token_secret is None:
        fail("auth.token_secret is not set")
    try:
        who = parse_identity(identity)
        signer = TokenSigner(settings.auth.token_secret)
    except RouterError as exc:
        fail(f"--identity: {exc}")
    except ValueError as exc:  # the signer's own checks; they never quote the secret
        fail(f"auth.token_secret: {exc}")
    typer.echo(signer.issue(who, ttl_seconds=ttl))


# ---------------------------------------------------------------- execution


@app.command()
def worker(
    config: ConfigOpt = None, verbose: bool = False, log_format: LogFormatOpt = None
) -> None:
    """Run an executor worker: carries approved plans out on chain (Temporal task queue).

    Needs the chains' signer keys and the Temporal address (temporal.address);
    any number of workers may serve one queue.
    """
    import signal

    from router.execution.worker import run_worker
    from router.telemetry.metrics import worker_metrics

    settings = load_config(config)
    _logging(verbose, log_format, settings)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        t = settings.telemetry
        with worker_metrics(t.metrics_host, t.metrics_port):
            await run_worker(settings, stop)

    try:
        asyncio.run(go())
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}")
    except RouterError as exc:
        fail(f"the worker stopped: {exc}", 1)


@app.command()
def resolve(
    plan_id: str,
    step: Annotated[int, typer.Argument(help="the stuck step's index")],
    action: Annotated[str, typer.Argument(help="retry or refunded")],
    reason: ReasonOpt,
    config: ConfigOpt = None,
    raw: RawOpt = False,
) -> None:
    """Resolve a STUCK step: retry it, or record it refunded after checking the chain."""
    codes = {
        "retry": treasury_pb2.STEP_RESOLUTION_RETRY,
        "refunded": treasury_pb2.STEP_RESOLUTION_REFUNDED,
    }
    if action not in codes:
        fail(f"action must be retry or refunded, not {action!r}")
    settings = load_config(config)
    request = treasury_pb2.ResolveStepRequest(
        plan_id=plan_id, step_index=step, resolution=codes[action], reason=reason
    )
    resp = run_call(settings, lambda c: c.treasury.ResolveStep(request))
    _show_plan(resp.plan, settings, raw)


# --------------------------------------------------------------------- main


app.command("deploy")(deploy_command)
app.command("rebalance", help=REBALANCE_HELP)(rebalance_command)
app.command("report")(report_command)
app.add_typer(protocols_app, name="protocols")
app.command("pause")(pause_command)
app.command("resume")(resume_command)
app.command("pauses")(pauses_command)
app.add_typer(change_app, name="change")
app.command("prune")(prune_command)
app.command("incidents")(cli_claims.incidents)
app.command("claims")(cli_claims.claims)
app.command("payouts")(cli_claims.payouts)
app.command("recoverables")(cli_claims.recoverables)


def main() -> None:
    """The ``ballast`` entry point: usage errors and surprises are one line too."""
    # typer vendors click; these are its usage errors (bad options, no arguments).
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="ballast", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        typer.echo(exc.format_message())
        code = 2
    except UsageError as exc:
        where = f"{exc.ctx.command_path} --help" if exc.ctx is not None else "ballast --help"
        typer.secho(
            f"error: {' '.join(exc.format_message().split())} (see {where})",
            err=True,
            fg=typer.colors.RED,
        )
        code = 2
    except typer.Abort:
        code = 130
    except Exception as exc:  # a defect: its text could carry a secret, so the class only
        log.debug("unexpected failure", exc_info=True)
        typer.secho(
            f"error: unexpected {type(exc).__name__}; run again with --verbose where "
            "the command has it, and report it",
            err=True,
            fg=typer.colors.RED,
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

"""``ballast``: the operator CLI and the entry points of the router's processes.

Config comes from ``--config FILE`` (TOML) and ``BALLAST_*`` environment
variables (see :mod:`router.config`); the caller's credentials are in its
``[client]`` section. Amounts are shown in whole units of the asset (exact:
integer arithmetic) and sent as base units.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import grpc
import typer
from ballast.v1 import common_pb2, treasury_pb2
from rich.console import Console
from rich.table import Table

from router.agent.client import RouterClient
from router.config import ChainConfig, RouterSettings, load_settings

# Plain help text: Rich markup would swallow "[client]" as a style tag.
app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, rich_markup_mode=None)
console = Console()
T = TypeVar("T")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file", exists=True, dir_okay=False),
]


def _settings(config: Path | None) -> RouterSettings:
    try:
        return load_settings(config)
    except ValueError as exc:
        console.print(f"[red]invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from exc


def _client(settings: RouterSettings) -> RouterClient:
    c = settings.client
    ca = c.ca_cert.read_bytes() if c.ca_cert else None
    if c.token is not None:
        return RouterClient.token(c.address, c.token.get_secret_value(), ca_pem=ca)
    if ca is None or c.cert is None or c.key is None:
        console.print("[red]no credentials:[/red] set client.ca_cert/cert/key or client.token")
        raise typer.Exit(2)
    return RouterClient.mtls(
        c.address, ca_pem=ca, cert_pem=c.cert.read_bytes(), key_pem=c.key.read_bytes()
    )


def _run(settings: RouterSettings, call: Callable[[RouterClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with _client(settings) as client:
            return await call(client)

    try:
        return asyncio.run(go())
    except grpc.aio.AioRpcError as err:
        console.print(f"[red]{err.code().name}:[/red] {err.details()}")
        raise typer.Exit(1) from err


def units(amount: common_pb2.Amount, decimals: int = 6) -> str:
    """Base units -> whole units, exactly (no float)."""
    n = int(amount.value or "0")
    if decimals == 0:
        return f"{n:,}"
    whole, frac = divmod(n, 10**decimals)
    return f"{whole:,}.{frac:0{decimals}d}"


def _decimals(settings: RouterSettings) -> dict[str, int]:
    return {c.name: c.decimals for c in settings.chains}


def position_table(resp: treasury_pb2.GetPositionResponse, decimals: dict[str, int]) -> Table:
    t = Table(title="Pools")
    for col in (
        "chain",
        "pool",
        "capital",
        "locked",
        "in flight",
        "SCR",
        "MCR",
        "ratio",
        "age",
        "",
    ):
        t.add_column(col, justify="right" if col not in ("chain", "pool", "") else "left")
    for p in resp.pools:
        d = decimals.get(p.chain, 6)
        ratio = f"{p.solvency_ratio_bps / 100:.2f} %" if p.HasField("solvency_ratio_bps") else "-"
        age = f"{p.staleness.seconds}s" if p.HasField("confirmed_at") else "never"
        style = "red" if p.stale else ""
        t.add_row(
            p.chain,
            p.pool_id,
            units(p.capital, d),
            units(p.locked, d),
            units(p.in_flight, d),
            units(p.scr, d),
            units(p.mcr, d),
            ratio,
            age,
            "STALE" if p.stale else "",
            style=style,
        )
    return t


def plan_table(plan: treasury_pb2.Plan) -> Table:
    state = treasury_pb2.PlanState.Name(plan.state).removeprefix("PLAN_STATE_")
    approvals = f"{len(plan.approved_by)}/{plan.approvals_required}"
    title = f"Plan {plan.plan_id or '(dry run)'} — {state}, approvals {approvals}"
    t = Table(title=title, caption=plan.summary)
    for col in ("#", "kind", "from", "to", "amount", "cost", "state"):
        t.add_column(col)
    for s in plan.steps:
        t.add_row(
            str(s.index),
            treasury_pb2.StepKind.Name(s.kind).removeprefix("STEP_KIND_").lower(),
            f"{s.source_chain}/{s.source_pool_id}",
            f"{s.destination_chain}/{s.destination_id}",
            units(s.amount),
            units(s.cost),
            treasury_pb2.StepState.Name(s.state).removeprefix("STEP_STATE_").lower(),
        )
    return t


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


@app.command()
def serve(config: ConfigOpt = None, verbose: bool = False) -> None:
    """Run the router until SIGTERM/Ctrl-C (then stop gracefully)."""
    from router.api.server import serve as serve_router

    _logging(verbose)
    settings = _settings(config)
    asyncio.run(serve_router(settings))


def _check_adapter_config(chain: ChainConfig) -> None:
    if chain.family == "evm":
        if chain.chain_id is None or chain.signer_key is None or not chain.rpc_urls:
            raise typer.BadParameter(f"chain {chain.name}: set chain_id, rpc_urls and signer_key")
    elif chain.signer_key is None or not chain.rpc_urls or chain.settlement_asset is None:
        raise typer.BadParameter(
            f"chain {chain.name}: set rpc_urls, settlement_asset and signer_key"
        )


async def _adapter(chain: ChainConfig) -> Any:
    """Build the chain adapter an agent reads with, from the chain's config."""
    assert chain.signer_key is not None
    if chain.family == "evm":
        from chains.evm import EvmChainConfig, connect_evm

        assert chain.chain_id is not None
        return await connect_evm(
            EvmChainConfig(
                chain=chain.name,
                chain_id=chain.chain_id,
                operator_key=chain.signer_key,
                endpoints=chain.rpc_urls,
                settlement_asset=chain.settlement_asset,
                batch_reader=chain.batch_reader,
            )
        )
    from pydantic import SecretBytes
    from solders.keypair import Keypair

    from chains.solana import SolanaConfig, connect_solana

    assert chain.settlement_asset is not None
    key = bytes(Keypair.from_base58_string(chain.signer_key.get_secret_value()))
    return await connect_solana(
        SolanaConfig(
            chain=chain.name,
            rpc_url=chain.rpc_urls[0],
            settlement_mint=chain.settlement_asset,
            treasury_key=SecretBytes(key),
            decimals=chain.decimals,
        )
    )


@app.command()
def agent(
    chain: Annotated[str, typer.Option("--chain", help="chain name from the config")],
    config: ConfigOpt = None,
    interval: Annotated[float, typer.Option(help="seconds between reads")] = 5.0,
    rounds: Annotated[int | None, typer.Option(help="stop after N rounds")] = None,
    verbose: bool = False,
) -> None:
    """Run a reporting agent for one chain: read its pools in a loop, stream to the router."""
    import signal

    from chains.base import PoolRef
    from router.agent.reporting import ReportingAgent

    _logging(verbose)
    settings = _settings(config)
    spec = next((c for c in settings.chains if c.name == chain), None)
    if spec is None:
        raise typer.BadParameter(
            f"unknown chain {chain!r}; configured: {[c.name for c in settings.chains]}"
        )
    _check_adapter_config(spec)
    pools = [
        PoolRef(p.chain, p.pool_id, p.address, spec.settlement_asset or p.asset)
        for p in settings.pools
        if p.chain == chain
    ]

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        adapter = await _adapter(spec)
        try:
            async with _client(settings) as client:
                ag = ReportingAgent(
                    adapter, pools, client, asset=spec.asset, interval_seconds=interval
                )
                stats = await ag.run(rounds=rounds, stop=stop)
        finally:
            await adapter.aclose()
        console.print(
            f"{stats.rounds} rounds, {stats.sent} reports sent, {stats.accepted} accepted, "
            f"{stats.rejected} rejected, {stats.failed_reads} failed reads"
        )

    asyncio.run(go())


@app.command()
def status(config: ConfigOpt = None) -> None:
    """Show every pool's capital, requirement, ratio and report age."""
    settings = _settings(config)
    resp = _run(settings, lambda c: c.treasury.GetPosition(treasury_pb2.GetPositionRequest()))
    console.print(position_table(resp, _decimals(settings)))


@app.command()
def plan(
    config: ConfigOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="compute, do not store")] = False,
) -> None:
    """Compute a rebalancing plan (stored for approval unless --dry-run)."""
    settings = _settings(config)
    resp = _run(
        settings,
        lambda c: c.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest(dry_run=dry_run)),
    )
    console.print(plan_table(resp.plan))
    for s in resp.plan.shortfalls:
        console.print(f"[yellow]shortfall:[/yellow] {s}")


@app.command()
def approve(plan_id: str, config: ConfigOpt = None) -> None:
    """Approve a plan as the configured operator."""
    settings = _settings(config)
    resp = _run(
        settings, lambda c: c.treasury.ApprovePlan(treasury_pb2.ApprovePlanRequest(plan_id=plan_id))
    )
    console.print(plan_table(resp.plan))


@app.command()
def execute(
    plan_id: str,
    config: ConfigOpt = None,
    key: Annotated[
        str | None, typer.Option(help="idempotency key; reuse it to retry safely")
    ] = None,
) -> None:
    """Request execution of an approved plan (recorded; the executor comes later)."""
    settings = _settings(config)
    key = key or f"cli-{uuid.uuid4().hex[:16]}"
    resp = _run(
        settings,
        lambda c: c.treasury.ExecutePlan(
            treasury_pb2.ExecutePlanRequest(plan_id=plan_id, idempotency_key=key)
        ),
    )
    console.print(plan_table(resp.plan))
    console.print(f"idempotency key: {key}\n[yellow]{resp.note}[/yellow]")


@app.command()
def rebalance(config: ConfigOpt = None) -> None:
    """Scheduled job: refresh positions, compute and store a plan, report.

    Executing within pre-approved limits comes with the executor; until then
    the plan waits for operators' approval and this job says so.
    """
    settings = _settings(config)

    async def go(c: RouterClient) -> tuple[Any, Any]:
        pos = await c.treasury.GetPosition(treasury_pb2.GetPositionRequest())
        made = await c.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest())
        return pos, made

    pos, made = _run(settings, go)
    console.print(position_table(pos, _decimals(settings)))
    console.print(plan_table(made.plan))
    for s in made.plan.shortfalls:
        console.print(f"[yellow]shortfall:[/yellow] {s}")
    console.print(
        "[yellow]automatic execution is not enabled yet:[/yellow] the plan is stored "
        f"for approval (ballast approve {made.plan.plan_id})"
    )


@app.command("dev-certs")
def dev_certs(
    directory: Annotated[Path, typer.Argument(help="where to write the PEM files")],
    identity: Annotated[
        list[str], typer.Option("--identity", "-i", help="client identity URI, repeatable")
    ],
) -> None:
    """Write a throwaway CA, a server certificate and client certificates (local use only).

    The CA key is not kept: run it again to issue more. Never use these in production.
    """
    from router.api.auth import parse_identity
    from router.devtools.pki import TestCA

    for uri in identity:
        try:
            parse_identity(uri)
        except Exception as exc:
            raise typer.BadParameter(str(exc)) from exc
    ca = TestCA("Ballast dev CA")
    pairs = {"server": ca.server()}
    for uri in identity:
        pairs[uri.removeprefix("ballast://").replace("/", "-")] = ca.client(uri)
    written = ca.write(directory, pairs)
    for name, (cert, key) in written.items():
        console.print(f"{name}: {cert} {key}")
    console.print(f"CA: {directory / 'ca.pem'}")


@app.command()
def token(
    identity: Annotated[
        str, typer.Option("--identity", "-i", help="e.g. ballast://operator/alice")
    ],
    config: ConfigOpt = None,
    ttl: Annotated[int, typer.Option(help="seconds the token is valid")] = 3600,
) -> None:
    """Issue a bearer token for token auth mode (signed with auth.token_secret)."""
    from router.api.auth import TokenSigner, parse_identity

    settings = _settings(config)
    if settings.auth.token_secret is None:
        console.print("[red]auth.token_secret is not set[/red]")
        raise typer.Exit(2)
    try:
        who = parse_identity(identity)
    except Exception as exc:
        raise typer.BadParameter(str(exc)) from exc
    print(TokenSigner(settings.auth.token_secret).issue(who, ttl_seconds=ttl))


@app.command()
def worker(config: ConfigOpt = None, verbose: bool = False) -> None:
    """Run an executor worker: carries approved plans out on chain (Temporal task queue).

    Needs the chains' signer keys and the Temporal address (temporal.address);
    any number of workers may serve one queue.
    """
    import signal

    from router.execution.worker import run_worker

    _logging(verbose)
    settings = _settings(config)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(go())


@app.command()
def resolve(
    plan_id: str,
    step: Annotated[int, typer.Argument(help="the stuck step's index")],
    action: Annotated[str, typer.Argument(help="retry or refunded")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    config: ConfigOpt = None,
) -> None:
    """Resolve a STUCK step: retry it, or record it refunded after checking the chain."""
    codes = {
        "retry": treasury_pb2.STEP_RESOLUTION_RETRY,
        "refunded": treasury_pb2.STEP_RESOLUTION_REFUNDED,
    }
    if action not in codes:
        raise typer.BadParameter("action must be retry or refunded")
    settings = _settings(config)
    resp = _run(
        settings,
        lambda c: c.treasury.ResolveStep(
            treasury_pb2.ResolveStepRequest(
                plan_id=plan_id, step_index=step, resolution=codes[action], reason=reason
            )
        ),
    )
    console.print(plan_table(resp.plan))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

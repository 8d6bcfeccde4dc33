"""`ballast rebalance`: the scheduled job's command (the job itself is
:class:`router.app.job.RebalanceJob`)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, NoReturn

import typer
from ballast.v1 import treasury_pb2

from router.cli_common import ConfigOpt, RawOpt, router_client
from router.cli_views import Units, fail, job_report, plan_sheet, show
from router.config import ConfigError, RouterSettings, load_settings
from router.config_tls import ClientCredentials
from router.errors import InvalidRequest, NotReady, RouterError, StoreUnavailable

REBALANCE_HELP = """Scheduled job: check the data, plan, execute within pre-approved limits, report.

Reads and writes the database (database_url) directly; one run at a time
across machines (a lease in the database). A run refuses stale data, adds no
plan while one is pending approval, approved or executing, and stores the
plan it makes; a plan whose net capital leaving pools is at most
policy.auto_execute_below (0: never) is executed without a human (as
ExecutePlan, key rebalance-job-PLAN_ID), any other waits for operators.

Exit codes: 0 nothing to do, or executed; 10 plan stored, awaiting approval;
11 a plan is already in progress (nothing added); 12 a pool's last confirmed
report is stale (nothing planned); 13 another run holds the lease; 14 pools
stay below target that no plan here can fix; 15 the run lost its lease
to another run and stopped; 1 the database or router
refused; 2 usage or configuration. --dry-run: the same checks and exit code,
no lease, nothing stored.
"""


class _LazyStarter:
    """Connects to the Temporal cluster only when a plan is to start (most runs need none)."""

    def __init__(self, settings: RouterSettings) -> None:
        self._settings = settings
        self._starter: Any = None

    async def _get(self) -> Any:
        if self._starter is None:
            from temporalio.client import Client

            from router.execution.starter import TemporalStarter

            t = self._settings.temporal
            client = await Client.connect(t.address, namespace=t.namespace)
            self._starter = TemporalStarter(client, t.task_queue, self._settings.execution)
        return self._starter

    async def start(self, plan_id: str) -> bool:
        return bool(await (await self._get()).start(plan_id))

    async def resolve(
        self, plan_id: str, seq: int, action: str, operator: str, reason: str
    ) -> None:
        await (await self._get()).resolve(plan_id, seq, action, operator, reason)


class _ViaRouter:
    """With the embedded Temporal (a dev server inside ``ballast serve``) only the
    router can start sagas: the job repeats its recorded request there, as
    ExecutePlan under the same key, and the replay starts the plan's saga."""

    def __init__(self, address: str, creds: ClientCredentials) -> None:
        self._address = address
        self._creds = creds

    async def start(self, plan_id: str) -> bool:
        from router.app.job import execution_key

        request = treasury_pb2.ExecutePlanRequest(
            plan_id=plan_id, idempotency_key=execution_key(plan_id)
        )
        async with router_client(self._address, self._creds) as client:
            resp = await client.treasury.ExecutePlan(request)
        if resp.note in ("execution started", "execution already under way"):
            return resp.note == "execution started"
        raise NotReady(f"the router did not start it: {resp.note}")

    async def resolve(
        self, plan_id: str, seq: int, action: str, operator: str, reason: str
    ) -> None:
        raise NotReady("resolve steps with `ballast resolve`")


def _job_executor(settings: RouterSettings) -> Any:
    """Who starts the sagas of plans the job executes: the Temporal cluster, or the
    router (embedded Temporal; needs [client]); None: recorded only."""
    if not settings.execution.enabled:
        return None
    if settings.temporal.address != "embedded":
        return _LazyStarter(settings)
    try:
        creds = settings.client.credentials()
    except ConfigError:
        return None
    return _ViaRouter(settings.client.address, creds)


def rebalance(
    config: ConfigOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="plan and print; no lease, nothing stored")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object on stdout, for schedulers")
    ] = False,
    raw: RawOpt = False,
) -> None:
    import json
    from datetime import timedelta

    from router.api.convert import plan_to_proto
    from router.app.engine import ReinsuranceEngine
    from router.app.job import RebalanceJob
    from router.app.limit_changes import EffectiveLimits
    from router.app.plans import Plans
    from router.domain import Identity, Role
    from router.store import open_store

    def failed(message: str, code: int) -> NoReturn:
        if as_json:  # schedulers read stdout: one object there too
            typer.echo(json.dumps({"status": "error", "exit_code": code, "error": message}))
        fail(message, code)

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        failed(f"invalid configuration: {exc}", 2)
    executor = _job_executor(settings)

    async def go() -> tuple[Any, dict[str, str]]:
        store = await open_store(settings.database_url)
        try:
            engine = ReinsuranceEngine(settings.policy, settings.routes)
            plans = Plans(
                store,
                engine,
                settings.policy,
                executor=executor,
                limits=settings.limits.policy(),
                limits_source=EffectiveLimits(store, settings.limits.policy()),
            )
            job = RebalanceJob(
                store,
                plans,
                settings.policy,
                Identity(Role.OPERATOR, settings.job.operator),
                lease_ttl=timedelta(seconds=settings.job.lease_seconds),
            )
            run = await job.run(dry_run=dry_run)
            chains = {p.pool_id: p.chain for p in await store.list_pools()}
            return run, chains
        finally:
            await store.aclose()

    try:
        run, chains = asyncio.run(go())
    except InvalidRequest as exc:
        failed(f"invalid configuration: {exc}", 2)
    except StoreUnavailable as exc:
        failed(f"database_url: cannot open the database ({exc}); check that it runs", 1)
    except RouterError as exc:
        failed(f"the job was refused: {exc}", 1)
    if as_json:
        typer.echo(json.dumps(job_report(run), sort_keys=True))
    else:
        if run.plan is not None:
            asset = settings.chains[0].asset if settings.chains else "USDC"
            plan_pb = plan_to_proto(run.plan, asset, chains)
            plan_pb.shortfalls.extend(run.shortfalls)
            show(plan_sheet(plan_pb, Units.of(settings, raw)))
        for pool in run.stale_pools:
            typer.echo(f"stale: {pool}")
        if run.plan is None:
            for text in run.shortfalls:
                typer.echo(f"shortfall: {text}")
        dry = " (dry run)" if run.dry_run else ""
        line = f"{run.outcome.value}{dry}: {run.note}" if run.note else f"{run.outcome.value}{dry}"
        typer.secho(line, fg=typer.colors.YELLOW if run.exit_code else None)
    raise typer.Exit(run.exit_code)

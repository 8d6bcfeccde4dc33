"""`ballast report`: the operator's HTML report of the positions and a plan
(the rendering is :mod:`router.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from ballast.v1 import treasury_pb2

from router.agent.client import RouterClient
from router.cli_common import ConfigOpt, RawOpt, load_config, run_call
from router.cli_views import Units, fail

PlanOpt = Annotated[
    str | None, typer.Option("--plan", help="the plan to show (default: the latest)")
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="the HTML file to write (default: ballast-report-PLAN.html)"),
]


#: Plans not yet executed: the report projects what they would leave.
_NOT_EXECUTED = (treasury_pb2.PLAN_STATE_PENDING_APPROVAL, treasury_pb2.PLAN_STATE_APPROVED)


async def fetch(
    client: RouterClient, plan_id: str | None
) -> tuple[
    treasury_pb2.GetPositionResponse, treasury_pb2.Plan | None, treasury_pb2.GetLimitsResponse
]:
    """The positions now, the plan (the one named, or the newest stored; None:
    none) and the limits' headroom."""
    position = await client.treasury.GetPosition(treasury_pb2.GetPositionRequest())
    limits = await client.treasury.GetLimits(treasury_pb2.GetLimitsRequest())
    if plan_id:
        got = await client.treasury.GetPlan(treasury_pb2.GetPlanRequest(plan_id=plan_id))
        return position, got.plan, limits
    page = await client.treasury.ListPlans(treasury_pb2.ListPlansRequest(page_size=1))
    return position, page.plans[0] if page.plans else None, limits


async def fetch_all(
    client: RouterClient, plan_id: str | None
) -> tuple[
    treasury_pb2.GetPositionResponse,
    treasury_pb2.Plan | None,
    treasury_pb2.GetLimitsResponse,
    treasury_pb2.ProjectPlanResponse | None,
]:
    """:func:`fetch`, and for a plan not yet executed its projection."""
    position, plan, limits = await fetch(client, plan_id)
    projection = None
    if plan is not None and plan.plan_id and plan.state in _NOT_EXECUTED:
        request = treasury_pb2.ProjectPlanRequest(plan_id=plan.plan_id)
        projection = await client.treasury.ProjectPlan(request)
    return position, plan, limits, projection


def report(
    plan: PlanOpt = None, out: OutOpt = None, raw: RawOpt = False, config: ConfigOpt = None
) -> None:
    """Write the operator's report, one HTML file with its charts: every pool's
    ratio against target and 100 % (for a plan not yet executed, also projected
    after it), the plan's flows between chains and vaults,
    capital in flight and stuck, the limits' headroom. Prints the file's path."""
    from router.report import render

    settings = load_config(config)
    position, chosen, limits, projection = run_call(settings, lambda c: fetch_all(c, plan))
    html = render(
        position,
        chosen,
        Units.of(settings, raw),
        settings.policy.target_ratio_bps,
        limits=limits,
        projection=projection,
    )
    name = chosen.plan_id if chosen is not None and chosen.plan_id else "no-plan"
    path = out if out is not None else Path(f"ballast-report-{name}.html")
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
    typer.echo(str(path))

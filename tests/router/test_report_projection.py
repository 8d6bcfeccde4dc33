"""The report for a plan not yet executed: every pool now and PROJECTED after the
plan, labelled as a projection, next to the positions now."""

from __future__ import annotations

from ballast.v1 import treasury_pb2

from router.report import render
from tests.router.test_report import BEFORE, UNITS, USDC, images, the_plan, usdc


def projection() -> treasury_pb2.ProjectPlanResponse:
    out = treasury_pb2.ProjectPlanResponse(plan_id="plan-pending-1")
    for chain, pool_id, now, after, scr_now, scr_after in (
        ("base", "bas-pool-0", 50_000, 139_910, 100_000, 93_000),
        ("ethereum", "eth-pool-0", 3_000_000, 2_899_700, 1_000_000, 1_000_000),
    ):
        p = out.pools.add(
            chain=chain,
            pool_id=pool_id,
            capital_now=usdc(now * USDC),
            capital_after=usdc(after * USDC),
            scr_now=usdc(scr_now * USDC),
            scr_after=usdc(scr_after * USDC),
        )
        p.ratio_now_bps = now * 10_000 // scr_now
        p.ratio_after_bps = after * 10_000 // scr_after
    return out


def test_a_pending_plan_shows_each_pool_now_and_projected_after() -> None:
    plan = the_plan()
    plan.state = treasury_pb2.PLAN_STATE_PENDING_APPROVAL
    html = render(BEFORE, plan, UNITS, 15_000, projection=projection())
    section = html[html.index("projected after the plan (not executed)") :]
    assert "PROJECTED" in section and "nothing has moved" in section
    assert "ratio after (projected)" in section and "capital after (projected)" in section
    row = section[section.index("bas-pool-0") :].split("</tr>")[0]
    # now 50 % -> projected 150 %, amounts in whole units
    assert "50 %" in row and "150 %" in row and "139,910.000000 USDC" in row
    assert len(images(html)) == 4  # ratio now, projected, flows, in flight


def test_without_a_projection_there_is_no_projected_section() -> None:
    html = render(BEFORE, the_plan(), UNITS, 15_000)
    assert "projected" not in html.lower()

"""The operator's HTML report, rendered from hand-built router answers."""

from __future__ import annotations

import base64
import io
import re

from ballast.v1 import common_pb2, treasury_pb2
from matplotlib import image as mpimg

from router.cli_views import Units
from router.report import flow_chart, flows, ratio_chart, render, transit_chart

USDC = 10**6
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert(1)</script>"


def usdc(n: int) -> common_pb2.Amount:
    return common_pb2.Amount(asset="USDC", value=str(n))


def pool(chain: str, pool_id: str, capital: int, scr: int) -> treasury_pb2.PoolPosition:
    p = treasury_pb2.PoolPosition(
        chain=chain, pool_id=pool_id, capital=usdc(capital), locked=usdc(capital // 4),
        in_flight=usdc(0), scr=usdc(scr), mcr=usdc(scr // 3),
    )  # fmt: skip
    if scr:
        p.solvency_ratio_bps = capital * 10_000 // scr
    return p


def positions(
    *pools: treasury_pb2.PoolPosition, transit: bool = False
) -> treasury_pb2.GetPositionResponse:
    resp = treasury_pb2.GetPositionResponse(pools=list(pools))
    resp.as_of.FromSeconds(1_800_000_000)
    if transit:
        resp.in_transit.extend(
            [
                treasury_pb2.Transit(
                    plan_id="plan-1", step_index=2, chain="ethereum", place="bridge",
                    destination_chain="base", amount=usdc(40_000 * USDC + 5),
                    state=treasury_pb2.STEP_STATE_DELIVERING,
                ),
                treasury_pb2.Transit(
                    plan_id="plan-1", step_index=5, chain="solana", place="hub",
                    destination_chain="solana", amount=usdc(12_345 * USDC),
                    state=treasury_pb2.STEP_STATE_STUCK, detail="past its deadline",
                ),
            ]
        )  # fmt: skip
    return resp


def step(i: int, src_chain: str, src: str, dst_chain: str, dst: str, amount: int,
         kind: int = treasury_pb2.STEP_KIND_TRANSFER) -> treasury_pb2.PlanStep:  # fmt: skip
    return treasury_pb2.PlanStep(
        index=i, kind=kind, source_chain=src_chain, source_pool_id=src,
        destination_chain=dst_chain, destination_id=dst, amount=usdc(amount),
        cost=usdc(amount // 1000), state=treasury_pb2.STEP_STATE_DONE,
        route="r" if src_chain != dst_chain else "",
    )  # fmt: skip


def the_plan() -> treasury_pb2.Plan:
    steps = [
        step(1, "ethereum", "eth-pool-0", "ethereum", "hub:ethereum", 100_000 * USDC),
        step(2, "ethereum", "hub:ethereum", "base", "hub:base", 60_000 * USDC),
        step(3, "ethereum", "hub:ethereum", "base", "hub:base", 30_000 * USDC),
        step(4, "ethereum", "hub:ethereum", "solana", "hub:solana", 10_000 * USDC),
        step(5, "base", "hub:base", "base", "bas-pool-0", 89_910 * USDC),
        step(6, "base", "bas-pool-0", "", "base-vault", 20_000 * USDC,
             treasury_pb2.STEP_KIND_CESSION),
    ]  # fmt: skip
    return treasury_pb2.Plan(
        plan_id="plan-1", state=treasury_pb2.PLAN_STATE_COMPLETED, steps=steps,
        total_moved=usdc(309_910 * USDC), total_cost=usdc(309_910 * USDC // 1000),
        shortfalls=["sol-pool-1: 5000000 base units below target"],
    )  # fmt: skip


BEFORE = positions(
    pool("base", "bas-pool-0", 50_000 * USDC, 100_000 * USDC),
    pool("ethereum", "eth-pool-0", 3_000_000 * USDC, 1_000_000 * USDC),
    pool("solana", "sol-pool-1", 80_000 * USDC, 100_000 * USDC),
)
AFTER = positions(
    pool("base", "bas-pool-0", 139_910 * USDC, 93_000 * USDC),
    pool("ethereum", "eth-pool-0", 2_899_700 * USDC, 1_000_000 * USDC),
    pool("solana", "sol-pool-1", 90_000 * USDC, 100_000 * USDC),
    transit=True,
)
UNITS = Units({"base": 6, "ethereum": 6, "solana": 6})


def images(html: str) -> list[bytes]:
    return [
        base64.b64decode(b) for b in re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    ]


def test_report_shows_every_pool_ratios_and_amounts_in_whole_units() -> None:
    html = render(AFTER, the_plan(), UNITS, 15_000, before=BEFORE)
    for pool_id in ("bas-pool-0", "eth-pool-0", "sol-pool-1"):
        assert pool_id in html
    row = re.search(r"<tr[^>]*><td>base</td><td>bas-pool-0</td>.*?</tr>", html)
    assert row is not None
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row[0])
    # capital, ratio before 50 %, ratio after 150 % (whole percent), below 100 % before only
    assert cells[2] == "139,910.000000 USDC"
    assert cells[6:8] == ["50 %", "150 %"]
    assert "<td>90 %" not in html and '<td class="n">90 %</td>' in html  # sol-pool-1 after
    assert re.search(r'<tr class="red"><td>solana</td><td>sol-pool-1</td>', html)
    assert "BELOW 100 %" in html
    assert "40,000.000005 USDC" in html  # in transit, exact
    assert "12,345.000000 USDC" in html and "stuck" in html
    assert "309,910.000000 USDC" in html  # moved
    assert "base units" not in html


def test_raw_shows_base_units() -> None:
    html = render(AFTER, the_plan(), Units(UNITS.decimals, raw=True), 15_000, before=BEFORE)
    assert "139910000000 USDC base units" in html
    assert "40000000005 USDC base units" in html
    assert "139,910.000000" not in html


def test_three_charts_are_valid_pngs() -> None:
    html = render(AFTER, the_plan(), UNITS, 15_000, before=BEFORE)
    pngs = images(html)
    assert len(pngs) == 3
    sizes = set()
    for png in pngs:
        assert png.startswith(PNG_SIGNATURE)
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        height, width = pixels.shape[:2]
        assert width >= 400 and height >= 300
        sizes.add((width, height))
    assert len(sizes) == 3  # three different charts, not one image thrice


def test_charts_are_deterministic() -> None:
    plan = the_plan()
    assert ratio_chart(AFTER, 15_000, BEFORE) == ratio_chart(AFTER, 15_000, BEFORE)
    assert flow_chart(plan, UNITS) == flow_chart(plan, UNITS)
    assert transit_chart(AFTER, UNITS) == transit_chart(AFTER, UNITS)


def test_flows_sum_per_source_and_destination() -> None:
    between, within = flows(the_plan())
    summed = {(f.source, f.destination): f.amount for f in between}
    assert summed == {
        ("ethereum", "base"): 90_000 * USDC,
        ("ethereum", "solana"): 10_000 * USDC,
        ("base", "vault base-vault"): 20_000 * USDC,
    }
    assert within == {("ethereum", "USDC"): 100_000 * USDC, ("base", "USDC"): 89_910 * USDC}


def test_text_from_the_router_is_escaped() -> None:
    after = positions(pool("base", EVIL, 10 * USDC, 20 * USDC))
    plan = treasury_pb2.Plan(plan_id="plan-<b>", shortfalls=[f"{EVIL}: short"])
    html = render(after, plan, UNITS, 15_000)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(images(html)) == 3  # an empty plan and no transit still draw


def test_dollar_signs_in_names_are_drawn_as_text() -> None:
    # Unescaped, "$\\nope$" is mathtext with an unknown command: the chart would fail.
    after = positions(pool("ba$e", "pool-$\\nope$", 10 * USDC, 20 * USDC))
    plan = treasury_pb2.Plan(
        plan_id="p",
        steps=[
            step(
                1, "ba$e", "pool-$\\nope$", "", "vault-$\\nope$", 5, treasury_pb2.STEP_KIND_CESSION
            )
        ],
    )
    html = render(after, plan, UNITS, 15_000)
    assert "pool-$\\nope$" in html and len(images(html)) == 3


def test_without_before_the_ratio_is_now() -> None:
    html = render(AFTER, None, UNITS, 15_000)
    assert "ratio before" not in html and "No plan" in html
    assert len(images(html)) == 3

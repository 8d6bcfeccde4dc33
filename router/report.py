"""The operator's report: one self-contained HTML file with PNG charts.

Pure functions of the router's answers (``GetPositionResponse``, a ``Plan``, and
optionally the positions before the plan): nothing here calls the router, so
the CLI, the demo and the tests render the same file from the same messages.

- Amounts are printed as :class:`router.cli_views.Units` prints them: whole
  units with the asset's symbol, exactly (integer arithmetic), base units with
  ``--raw``. Floats appear only as chart geometry (bar heights), never in a
  printed figure.
- Ratios are whole percent, rounded down (a pool at 149.99 % is not shown at
  a 150 % target).
- Charts are drawn with matplotlib on the Agg canvas (no display, no pyplot
  state) at fixed sizes, with no timestamps and no software tag in the PNG,
  and embedded as base64 data URIs: the file needs nothing else to open.
- Every text that comes from the router or the config is HTML-escaped.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from ballast.v1 import common_pb2, treasury_pb2
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from router.cli_views import _SHORTFALL, Units, _health, _int, when

_RED, _GREY, _BLUE, _GREEN, _ORANGE = "#c62828", "#9e9e9e", "#1565c0", "#2e7d32", "#ef6c00"
_DPI = 100


def percent(bps: int | None) -> str:
    """Basis points -> whole percent, rounded down; '-' when there is no SCR."""
    return "-" if bps is None else f"{bps // 100:,} %"


def _bps(p: treasury_pb2.PoolPosition) -> int | None:
    return p.solvency_ratio_bps if p.HasField("solvency_ratio_bps") else None


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No "Software" tag: the same inputs give the same bytes across versions' metadata.
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def _plain(text: str) -> str:
    """A name as matplotlib should draw it: a "$" would start mathtext (and an odd
    one fails the chart)."""
    return text.replace("$", r"\$")


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ------------------------------------------------------------------- ratios


def ratio_chart(
    after: treasury_pb2.GetPositionResponse,
    target_bps: int,
    before: treasury_pb2.GetPositionResponse | None = None,
    labels: tuple[str, str] = ("before", "after"),
    hatch_after: bool = False,
) -> bytes:
    """Per pool, the ratio before (grey) and after (blue; red below 100 %), against
    the target and the 100 % minimum. Bars above the visible range are cut at its
    top; their label carries the true figure. ``labels`` name the two bars (a
    projection: "now" and "projected after", its bars hatched)."""
    pools = list(after.pools)
    was = {(p.chain, p.pool_id): _bps(p) for p in before.pools} if before is not None else None
    top = max(target_bps, 10_000) * 2 / 100  # percent
    fig = Figure(figsize=(max(6.0, 1.1 * len(pools) + 2), 4.2))
    ax = fig.add_subplot()
    width = 0.38 if was is not None else 0.6
    for i, p in enumerate(pools):
        bars: list[tuple[float, int | None, str]] = []
        if was is not None:
            bars.append((i - width / 2, was.get((p.chain, p.pool_id)), labels[0]))
            bars.append((i + width / 2, _bps(p), labels[1]))
        else:
            bars.append((i, _bps(p), "now"))
        for x, bps, which in bars:
            value = 0.0 if bps is None else bps / 100
            below = bps is not None and bps < 10_000
            color = _RED if below else (_GREY if which == labels[0] else _BLUE)
            hatch = "//" if hatch_after and which == labels[1] else None
            ax.bar(
                x,
                min(value, top),
                width,
                color=color,
                edgecolor="black",
                linewidth=0.4,
                hatch=hatch,
            )
            label = "no SCR" if bps is None else percent(bps)
            ax.text(x, min(value, top) + top * 0.01, label, ha="center", va="bottom", fontsize=7)
    ax.axhline(
        target_bps / 100,
        color=_GREEN,
        linestyle="--",
        linewidth=1.2,
        label=f"target {percent(target_bps)}",
    )
    ax.axhline(100, color=_RED, linestyle=":", linewidth=1.2, label="minimum 100 % (SCR)")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.95)
    names = [_plain(f"{p.chain}\n{p.pool_id}") for p in pools]
    ax.set_xticks(range(len(pools)), names, fontsize=8)
    ax.set_xlim(-0.6, max(len(pools), 1) - 0.4)
    ax.set_ylim(0, top * 1.08)
    ax.set_ylabel("capital / SCR (%)")
    legend = f"{labels[0]} (grey) and {labels[1]} (blue)" if was is not None else "now"
    ax.set_title(f"Capital ratio per pool: {legend}; red below 100 %", fontsize=10)
    fig.tight_layout()
    return _png(fig)


# -------------------------------------------------------------------- flows


@dataclass(frozen=True, slots=True)
class Flow:
    """The plan's steps summed per (source chain, destination chain or vault)."""

    source: str  # a chain
    destination: str  # a chain, or "vault <id>" for a cession
    asset: str
    amount: int  # base units


def _vault(node: str) -> bool:
    return node.startswith("vault ")


def _chain_of(end: str, chain: str) -> str:
    return end.removeprefix("hub:") if end.startswith("hub:") else chain


def flows(plan: treasury_pb2.Plan) -> tuple[list[Flow], dict[tuple[str, str], int]]:
    """(flows between chains and into vaults, amounts moved within each (chain, asset))."""
    between: dict[tuple[str, str, str], int] = {}
    within: dict[tuple[str, str], int] = {}
    for s in sorted(plan.steps, key=lambda s: s.index):
        src = _chain_of(s.source_pool_id, s.source_chain)
        n = _int(s.amount)
        if s.kind == treasury_pb2.STEP_KIND_CESSION:
            dst = f"vault {s.destination_id}"
        else:
            dst = _chain_of(s.destination_id, s.destination_chain or src)
            if dst == src:
                within[(src, s.amount.asset)] = within.get((src, s.amount.asset), 0) + n
                continue
        key = (src, dst, s.amount.asset)
        between[key] = between.get(key, 0) + n
    return [Flow(*k, v) for k, v in sorted(between.items())], dict(sorted(within.items()))


def flow_chart(plan: treasury_pb2.Plan, units: Units) -> bytes:
    """Chains on a circle, each vault outside the chain that cedes to it; one arrow
    per (source, destination) labelled with the summed amount; what moves between
    a chain's pools and its hub is written under the chain's name."""
    moves, within = flows(plan)
    chains = sorted(
        {f.source for f in moves}
        | {f.destination for f in moves if not _vault(f.destination)}
        | {c for c, _ in within}
    )
    at: dict[str, tuple[float, float]] = {}
    for i, c in enumerate(chains):
        angle = math.pi / 2 - 2 * math.pi * i / len(chains)
        r = 1.8 if len(chains) > 1 else 0.0
        at[c] = (r * math.cos(angle), r * math.sin(angle))
    vaults = sorted({(f.source, f.destination) for f in moves if _vault(f.destination)})
    for chain, vault in vaults:
        cx, cy = at[chain]
        norm = math.hypot(cx, cy)
        ux, uy = (cx / norm, cy / norm) if norm else (0.0, 1.0)
        mine = [v for c, v in vaults if c == chain]
        k = mine.index(vault) - (len(mine) - 1) / 2  # fan a chain's vaults out sideways
        at.setdefault(vault, (cx + 0.95 * ux - 0.9 * k * uy, cy + 0.95 * uy + 0.9 * k * ux))
    fig = Figure(figsize=(8.0, 6.5))
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.axis("off")
    xs, ys = [x for x, _ in at.values()] or [0.0], [y for _, y in at.values()] or [0.0]
    ax.set_xlim(min(xs) - 1.4, max(xs) + 1.4)  # room for the widest box at either side
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    if not chains:
        ax.text(0, 0, "the plan moves nothing", ha="center", va="center", fontsize=12)
    nodes = {}
    for name, (x, y) in at.items():
        if _vault(name):
            label, fc, ec = _plain(name), "#fff3e0", _ORANGE
        else:
            inner = [
                units.money(_amount(a, n), c) for (c, a), n in sorted(within.items()) if c == name
            ]
            label = _plain(name) + "".join(f"\n(within: {m})" for m in inner)
            fc, ec = "#e3f2fd", _BLUE
        nodes[name] = ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=9,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.5", "fc": fc, "ec": ec},
        )
    rad = 0.15
    for f in moves:
        (x1, y1), (x2, y2) = at[f.source], at[f.destination]
        # Drawn above the nodes: their boxes are placed when the arrow clips at them.
        ax.annotate(
            "",
            xy=(x2, y2),
            xytext=(x1, y1),
            zorder=4,
            arrowprops={
                "arrowstyle": "-|>,head_length=0.8,head_width=0.4",
                "color": _ORANGE if _vault(f.destination) else _BLUE,
                "lw": 1.8,
                "shrinkA": 2,
                "shrinkB": 2,
                "patchA": nodes[f.source].get_bbox_patch(),
                "patchB": nodes[f.destination].get_bbox_patch(),
                "connectionstyle": f"arc3,rad={rad}",
            },
        )
        # The midpoint of arc3's quadratic curve: half-way out towards its control point.
        mx = (x1 + x2) / 2 + rad * (y2 - y1) / 2
        my = (y1 + y2) / 2 - rad * (x2 - x1) / 2
        ax.text(
            mx,
            my,
            units.money(_amount(f.asset, f.amount), f.source),
            fontsize=8,
            ha="center",
            va="center",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#cccccc"},
        )
    ax.set_title(
        "Plan flows, summed per source chain and destination (chain or vault)", fontsize=10
    )
    fig.tight_layout()
    return _png(fig)


def _amount(asset: str, n: int) -> common_pb2.Amount:
    return common_pb2.Amount(asset=asset, value=str(n))


# ---------------------------------------------------------------- in transit


def _stuck(t: treasury_pb2.Transit) -> bool:
    return t.state == treasury_pb2.STEP_STATE_STUCK


def transit_chart(position: treasury_pb2.GetPositionResponse, units: Units) -> bytes:
    """Per chain where the capital is now: moving (blue) and stuck (red), stacked."""
    sums: dict[tuple[str, str], list[int]] = {}
    for t in position.in_transit:
        row = sums.setdefault((t.chain, t.amount.asset), [0, 0])
        row[1 if _stuck(t) else 0] += _int(t.amount)
    keys = sorted(sums)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    if not keys:
        ax.axis("off")
        ax.text(0.5, 0.5, "nothing in flight or stuck", ha="center", va="center", fontsize=12)
    labels = {units.label(a, units.places(c)) for c, a in keys}
    for i, (chain, asset) in enumerate(keys):
        places = units.places(chain)
        scale = 10 ** (places or 0)
        moving, stuck = sums[(chain, asset)]
        ax.bar(i, moving / scale, 0.6, color=_BLUE, label="in flight" if i == 0 else None)
        ax.bar(
            i,
            stuck / scale,
            0.6,
            bottom=moving / scale,
            color=_RED,
            label="stuck" if i == 0 else None,
        )
        lines = [f"in flight {units.money(_amount(asset, moving), chain)}"] if moving else []
        if stuck:
            lines.append(f"stuck {units.money(_amount(asset, stuck), chain)}")
        text = "\n".join(lines)
        ax.text(i, (moving + stuck) / scale, text, ha="center", va="bottom", fontsize=7)
    if keys:
        ax.set_xticks(range(len(keys)), [_plain(c) for c, _ in keys])
        ax.set_xlim(-0.7, len(keys) - 0.3)
        ax.set_ylim(
            0,
            max((m + s) / 10 ** (units.places(c) or 0) for (c, _), (m, s) in sums.items()) * 1.35
            or 1,
        )
        ax.set_ylabel(labels.pop() if len(labels) == 1 else "amount (see labels)")
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.legend(loc="upper right", fontsize=8)
    ax.set_title("Capital in flight and stuck, per chain where it is now", fontsize=10)
    fig.tight_layout()
    return _png(fig)


# ---------------------------------------------------------------------- HTML

_STYLE = """body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.red td{background:#ffebee}tr.yellow td{background:#fffde7}tr.magenta td{background:#f3e5f5}
img{max-width:100%;border:1px solid #eee}.note{color:#555;font-size:.9em}"""


def _table(headers: Sequence[str], rows: Iterable[tuple[Sequence[str], str]]) -> str:
    """Rows of (cells, css class); a cell is right-aligned when its header is a figure."""
    figures = {
        "capital",
        "locked",
        "in flight",
        "SCR",
        "ratio before",
        "ratio after",
        "ratio",
        "#",
        "amount",
        "cost",
        "step",
    }
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for cells, css in rows:
        tds = "".join(
            f'<td class="n">{escape(c)}</td>' if h in figures else f"<td>{escape(c)}</td>"
            for h, c in zip(headers, cells, strict=True)
        )
        body.append(f'<tr class="{escape(css)}">{tds}</tr>' if css else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    return f'<p><img src="{data_uri(png)}" alt="{escape(alt)}"></p>'


def _name(enum: object, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()  # type: ignore[attr-defined]


def pools_table(
    after: treasury_pb2.GetPositionResponse,
    units: Units,
    target_bps: int,
    before: treasury_pb2.GetPositionResponse | None = None,
) -> str:
    was = {(p.chain, p.pool_id): _bps(p) for p in before.pools} if before is not None else {}
    headers = ["chain", "pool", "capital", "locked", "in flight", "SCR"]
    headers += ["ratio before", "ratio after"] if before is not None else ["ratio"]
    rows = []
    for p in after.pools:
        flags, style = _health(_bps(p), target_bps, p.stale)
        cells = [p.chain, p.pool_id]
        cells += [units.money(getattr(p, f), p.chain) for f in ("capital", "locked", "in_flight")]
        cells.append(units.money(p.scr, p.chain))
        if before is not None:
            cells.append(percent(was.get((p.chain, p.pool_id))))
        cells.append(percent(_bps(p)))
        rows.append(([*cells, flags], style))
    return _table([*headers, "flags"], rows)


def projected_position(
    projection: treasury_pb2.ProjectPlanResponse,
) -> tuple[treasury_pb2.GetPositionResponse, treasury_pb2.GetPositionResponse]:
    """The projection as two position answers (now, projected after) for the chart."""
    now, after = treasury_pb2.GetPositionResponse(), treasury_pb2.GetPositionResponse()
    for p in projection.pools:
        a = now.pools.add(chain=p.chain, pool_id=p.pool_id, capital=p.capital_now, scr=p.scr_now)
        b = after.pools.add(
            chain=p.chain, pool_id=p.pool_id, capital=p.capital_after, scr=p.scr_after
        )
        if p.HasField("ratio_now_bps"):
            a.solvency_ratio_bps = p.ratio_now_bps
        if p.HasField("ratio_after_bps"):
            b.solvency_ratio_bps = p.ratio_after_bps
    return now, after


def projection_table(
    projection: treasury_pb2.ProjectPlanResponse, units: Units, target_bps: int
) -> str:
    """Per pool: capital, SCR and ratio now, and PROJECTED after the plan."""
    rows = []
    for p in projection.pools:
        after = p.ratio_after_bps if p.HasField("ratio_after_bps") else None
        now = p.ratio_now_bps if p.HasField("ratio_now_bps") else None
        flags, style = _health(after, target_bps, False)
        cells = [
            p.chain,
            p.pool_id,
            units.money(p.capital_now, p.chain),
            units.money(p.capital_after, p.chain),
            units.money(p.scr_now, p.chain),
            units.money(p.scr_after, p.chain),
            percent(now),
            percent(after),
        ]
        rows.append(([*cells, flags], style))
    headers = [
        "chain",
        "pool",
        "capital now",
        "capital after (projected)",
        "SCR now",
        "SCR after (projected)",
        "ratio now",
        "ratio after (projected)",
        "flags (projected)",
    ]
    return _table(headers, rows)


def steps_table(plan: treasury_pb2.Plan, units: Units) -> str:
    rows = []
    for s in plan.steps:
        to_chain = s.destination_chain or s.source_chain  # a cession's vault is on the pool's chain
        cells = [
            str(s.index),
            _name(treasury_pb2.StepKind, s.kind, "STEP_KIND_"),
            f"{s.source_chain}/{s.source_pool_id}",
            f"{to_chain}/{s.destination_id}",
            s.route or "-",
            units.money(s.amount, s.source_chain),
            units.money(s.cost, s.source_chain),
            _name(treasury_pb2.StepState, s.state, "STEP_STATE_"),
        ]
        stuck = s.state == treasury_pb2.STEP_STATE_STUCK
        rows.append((cells, "red" if stuck else ""))
    headers = ["#", "kind", "from", "to", "route", "amount", "cost", "state"]
    return _table(headers, rows)


def transit_table(position: treasury_pb2.GetPositionResponse, units: Units) -> str:
    rows = []
    for t in position.in_transit:
        cells = [
            t.plan_id,
            str(t.step_index),
            f"{t.chain} {t.place}",
            t.destination_chain,
            units.money(t.amount, t.chain),
            _name(treasury_pb2.StepState, t.state, "STEP_STATE_"),
            t.detail,
        ]
        rows.append((cells, "red" if _stuck(t) else ""))
    headers = ["plan", "step", "where", "to", "amount", "state", "detail"]
    return _table(headers, rows)


def scope_chains(scope: str, chain_of: dict[str, str]) -> list[str]:
    """The chains a limit's amounts are counted on (for their decimals)."""
    kind, _, rest = scope.partition(":")
    if kind == "lane":
        return rest.split("->")
    if kind == "chain":
        return [rest]
    return [chain_of[rest]] if rest in chain_of else []


def limits_table(
    limits: treasury_pb2.GetLimitsResponse, units: Units, chain_of: dict[str, str]
) -> str:
    """Each lane bucket and 24-hour cap: its size, what it can take now, how much is used."""
    if not limits.limits:
        return '<p class="note">no limits configured: nothing caps the capital moved</p>'
    rows = []
    for lim in limits.limits:
        cap, left = int(lim.capacity.value), int(lim.headroom.value)
        used = f"{(cap - left) * 100 // cap} %" if cap else "-"
        on = scope_chains(lim.scope, chain_of)
        cells = [lim.scope, units.money(lim.capacity, *on), units.money(lim.headroom, *on)]
        rows.append(([*cells, used], "red" if cap and left == 0 else ""))
    return _table(["scope", "capacity", "headroom now", "used"], rows)


def _shortfall(text: str, asset: str, chain: dict[str, str], units: Units) -> str:
    """The router's "<pool>: <n> base units below target", in the report's units."""
    m = _SHORTFALL.match(text)
    if m is None:
        return text
    n = units.money(_amount(asset, int(m["n"])), chain.get(m["pool"], ""))
    return f"{m['pool']}: {n} below target"


def render(
    position: treasury_pb2.GetPositionResponse,
    plan: treasury_pb2.Plan | None,
    units: Units,
    target_bps: int,
    before: treasury_pb2.GetPositionResponse | None = None,
    limits: treasury_pb2.GetLimitsResponse | None = None,
    projection: treasury_pb2.ProjectPlanResponse | None = None,
) -> str:
    """The whole report as one HTML document. ``position`` is the state after the
    plan (or now); ``before``, when given, the positions the plan started from;
    ``limits``, when given, each limit's headroom now; ``projection``, for a plan
    not yet executed, every pool now and projected after it (labelled so)."""
    as_of = when(position.as_of) if position.HasField("as_of") else "now"
    plan = plan if plan is not None else treasury_pb2.Plan()
    state = _name(treasury_pb2.PlanState, plan.state, "PLAN_STATE_")
    plan_title = f"Plan {plan.plan_id} ({state})" if plan.plan_id else "No plan"
    chains = [p.chain for p in position.pools]
    unknown = units.unknown(chains)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(f'Ballast report: {plan_title}')}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Ballast report: {escape(plan_title)}</h1>",
        f'<p class="note">positions as of {escape(as_of)}; amounts in '
        f"{'base units' if units.raw else 'whole units of the asset'}; ratio = capital / SCR "
        f"in whole percent (rounded down); target {escape(percent(target_bps))} "
        "(policy.target_ratio_bps), minimum 100 %</p>",
    ]
    if unknown:
        parts.append(
            f'<p class="note">amounts of {escape(", ".join(unknown))} are in base units: '
            "the config gives no decimals for them</p>"
        )
    before_note = (
        "before the plan and after it"
        if before is not None
        else "now (the router keeps no earlier positions)"
    )
    parts += [
        "<h2>Pools: capital ratio</h2>",
        f'<p class="note">{escape(before_note)}</p>',
        _img(ratio_chart(position, target_bps, before), "capital ratio per pool"),
        pools_table(position, units, target_bps, before),
    ]
    if projection is not None and projection.pools:
        now, after = projected_position(projection)
        parts += [
            "<h2>Pools: projected after the plan (not executed)</h2>",
            f'<p class="note">PROJECTED: what plan {escape(projection.plan_id)} would leave '
            "if every step ran; it has not been executed and nothing has moved. Capital "
            "after = capital now less what its steps take out of each pool plus what they "
            "bring; the SCR after counts its cessions as placed.</p>",
            _img(
                ratio_chart(after, target_bps, now, ("now", "projected after"), hatch_after=True),
                "capital ratio per pool, now and projected after the plan",
            ),
            projection_table(projection, units, target_bps),
        ]
    parts += [
        f"<h2>{escape(plan_title)}: flows between chains and vaults</h2>",
        _img(flow_chart(plan, units), "plan flows"),
    ]
    if plan.steps:
        moved = units.money(plan.total_moved, *{s.source_chain for s in plan.steps})
        cost = units.money(plan.total_cost, *{s.source_chain for s in plan.steps})
        parts.append(
            f'<p class="note">{len(plan.steps)} steps; moves {escape(moved)}; '
            f"costs {escape(cost)} (bridge fees and premiums)</p>"
        )
        parts.append(steps_table(plan, units))
    chain_of = {p.pool_id: p.chain for p in position.pools}
    asset = plan.total_moved.asset or (position.pools[0].capital.asset if position.pools else "")
    parts += [
        f'<p class="note">shortfall: {escape(_shortfall(s, asset, chain_of, units))}</p>'
        for s in plan.shortfalls
    ]
    parts += [
        "<h2>Capital in flight and stuck</h2>",
        _img(transit_chart(position, units), "capital in flight and stuck per chain"),
    ]
    if position.in_transit:
        parts.append(transit_table(position, units))
    else:
        parts.append('<p class="note">no executing plan holds capital between pools</p>')
    if limits is not None:
        parts.append("<h2>Limits: headroom now</h2>")
        parts.append(limits_table(limits, units, {p.pool_id: p.chain for p in position.pools}))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

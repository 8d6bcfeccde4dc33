"""What the operator CLI prints: amounts, positions, plans, as tables that print in full.

- Amounts are whole units of their asset with its symbol, exactly (integer
  arithmetic), using the decimals of each chain in the caller's config; base
  units with ``--raw``, or for a chain the config does not list (said so).
- A table on a terminal is drawn at the width it needs, never cut to the
  terminal's; piped, it is plain aligned text without styling, so a file, a
  mail or a chat message carries every figure.
- Nothing is printed as Rich markup: pool ids, reasons and router messages
  are shown as they are.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, NoReturn

import typer
from ballast.v1 import common_pb2, treasury_pb2
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from router.config import RouterSettings

console = Console(markup=False, emoji=False, highlight=False)

# ------------------------------------------------------------------ amounts


def whole(n: int, decimals: int) -> str:
    """Base units -> whole units with thousands separators, exactly (no float)."""
    if decimals == 0:
        return f"{n:,}"
    q, r = divmod(n, 10**decimals)
    return f"{q:,}.{r:0{decimals}d}"


def _int(amount: common_pb2.Amount) -> int:
    v = amount.value or "0"
    return int(v) if v.isascii() and v.isdigit() else 0


@dataclass(frozen=True, slots=True)
class Units:
    """How amounts print: whole units with each chain's decimals (from the config's
    [[chains]]), or base units with --raw or for a chain the config does not list."""

    decimals: Mapping[str, int]
    raw: bool = False

    @classmethod
    def of(cls, settings: RouterSettings, raw: bool) -> Units:
        return cls({c.name: c.decimals for c in settings.chains}, raw)

    def places(self, *chains: str) -> int | None:
        """The decimals all of ``chains`` share; None (base units) if unknown or mixed."""
        found = {self.decimals.get(c) for c in chains}
        if self.raw or len(found) != 1:
            return None
        return found.pop()

    def number(self, n: int, places: int | None) -> str:
        return str(n) if places is None else whole(n, places)

    def label(self, asset: str, places: int | None) -> str:
        asset = asset or "?"
        return asset if places is not None else f"{asset} base units"

    def money(self, amount: common_pb2.Amount, *chains: str) -> str:
        places = self.places(*chains)
        return f"{self.number(_int(amount), places)} {self.label(amount.asset, places)}"

    def total(self, amount: common_pb2.Amount, places: int | None) -> str:
        return f"{self.number(_int(amount), places)} {self.label(amount.asset, places)}"

    def unknown(self, chains: Sequence[str]) -> list[str]:
        return [] if self.raw else sorted({c for c in chains if c not in self.decimals})


def _unknown_note(units: Units, chains: Sequence[str]) -> list[tuple[str, str]]:
    missing = units.unknown(chains)
    if not missing:
        return []
    return [
        (
            f"amounts of {', '.join(missing)} are in base units: add a [[chains]] entry "
            "with its decimals to this config to see whole units",
            "yellow",
        )
    ]


# ------------------------------------------------------------------- tables


@dataclass(slots=True)
class Sheet:
    """A table that prints in full: a Rich table on a terminal (at the width it
    needs, however narrow the terminal), plain aligned text when piped."""

    title: str
    columns: Sequence[tuple[str, bool]]  # (header, right-aligned)
    rows: list[tuple[list[str], str]] = field(default_factory=list)  # (cells, style)
    totals: list[tuple[list[str], str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (line, style)


def show(sheet: Sheet) -> None:
    if console.is_terminal:
        _show_rich(sheet)
    else:
        _show_plain(sheet)


def _show_rich(sheet: Sheet) -> None:
    table = Table(title=Text(sheet.title), title_justify="left")
    for header, right in sheet.columns:
        table.add_column(Text(header), justify="right" if right else "left", no_wrap=True)
    for i, (cells, style) in enumerate(sheet.rows):
        last = i == len(sheet.rows) - 1 and bool(sheet.totals)
        table.add_row(*(Text(c) for c in cells), style=style or None, end_section=last)
    for cells, style in sheet.totals:
        table.add_row(*(Text(c) for c in cells), style=f"bold {style}".strip())
    unbounded = console.options.update_width(100_000)  # measure what it needs, not what fits
    width = max(console.width, Measurement.get(console, unbounded, table).maximum)
    # Console.print clamps its width argument to the terminal's: draw on a console
    # as wide as the table (the terminal wraps long lines; nothing is cut).
    wide = Console(
        file=console.file,
        width=width,
        color_system=console.color_system,  # type: ignore[arg-type]  # one of its names
        force_terminal=True,
        markup=False,
        emoji=False,
        highlight=False,
    )
    wide.print(table, crop=False)
    for line, style in sheet.notes:
        console.print(Text(line, style=style or ""), soft_wrap=True)


def _show_plain(sheet: Sheet) -> None:
    headers = [h for h, _ in sheet.columns]
    body = [cells for cells, _ in sheet.rows]
    totals = [cells for cells, _ in sheet.totals]
    widths = [max(len(r[i]) for r in [headers, *body, *totals]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if right else c.ljust(w)
            for c, w, (_, right) in zip(cells, widths, sheet.columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [sheet.title, line(headers), rule, *(line(r) for r in body)]
    if totals:
        out += [rule, *(line(r) for r in totals)]
    out += [text for text, _ in sheet.notes]
    sys.stdout.write("\n".join(out) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- positions

_AMOUNTS = ("capital", "locked", "in_flight", "arriving", "active_cover", "scr", "mcr")
_POSITION_COLUMNS = (
    ("chain", False),
    ("pool", False),
    ("asset", False),
    ("capital", True),
    ("locked", True),
    ("in flight", True),
    ("arriving", True),
    ("cover in force", True),
    ("SCR", True),
    ("MCR", True),
    ("ratio", True),
    ("age", True),
    ("", False),
)


def _health(ratio_bps: int | None, target_bps: int, stale: bool) -> tuple[str, str]:
    """(flags, style): below 100 % red, below target yellow, stale magenta."""
    flags, style = [], ""
    if stale:
        flags.append("STALE")
        style = "magenta"
    if ratio_bps is not None and ratio_bps < 10_000:
        flags.append("BELOW 100 %")
        style = "red"
    elif ratio_bps is not None and ratio_bps < target_bps:
        flags.append("below target")
        style = style or "yellow"
    return ", ".join(flags), style


def _ratio(bps: int | None) -> str:
    return "-" if bps is None else f"{bps // 100:,}.{bps % 100:02d} %"


def _age(p: treasury_pb2.PoolPosition) -> str:
    if not p.HasField("confirmed_at"):
        return "never"
    s = p.staleness.seconds
    if s < 120:
        return f"{s}s"
    if s < 2 * 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 2 * 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def when(ts: Any) -> str:
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def position_sheet(resp: treasury_pb2.GetPositionResponse, units: Units, target_bps: int) -> Sheet:
    sheet = Sheet("Pools", _POSITION_COLUMNS)
    groups: dict[tuple[str, int | None], list[int]] = {}
    for p in resp.pools:
        places = units.places(p.chain)
        ratio = p.solvency_ratio_bps if p.HasField("solvency_ratio_bps") else None
        flags, style = _health(ratio, target_bps, p.stale)
        figures = [_int(getattr(p, f)) for f in _AMOUNTS]
        asset = units.label(p.capital.asset, places)
        sums = groups.setdefault((asset, places), [0] * len(_AMOUNTS))
        for i, n in enumerate(figures):
            sums[i] += n
        cells = [p.chain, p.pool_id, asset, *(units.number(n, places) for n in figures)]
        sheet.rows.append(([*cells, _ratio(ratio), _age(p), flags], style))
    if len(resp.pools) > 1:
        for (asset, places), sums in groups.items():
            capital, scr = sums[0], sums[_AMOUNTS.index("scr")]
            ratio = capital * 10_000 // scr if scr else None
            flags, style = _health(ratio, target_bps, False)
            cells = ["total", "", asset, *(units.number(n, places) for n in sums)]
            sheet.totals.append(([*cells, _ratio(ratio), "", flags], style))
    as_of = when(resp.as_of) if resp.HasField("as_of") else "now"
    sheet.notes.append(
        (
            f"as of {as_of}; ratio = capital / SCR; target {_ratio(target_bps)} "
            "(policy.target_ratio_bps of this config); in flight: sent, not yet final; "
            "arriving: on its way in",
            "",
        )
    )
    sheet.notes += _unknown_note(units, [p.chain for p in resp.pools])
    return sheet


def transit_sheet(resp: treasury_pb2.GetPositionResponse, units: Units) -> Sheet | None:
    """Capital of executing plans between pools: at a hub, or in the bridge (None: none)."""
    if not resp.in_transit:
        return None
    sheet = Sheet(
        "In transit (executing plans; neither available nor lost)",
        (
            ("plan", False),
            ("step", True),
            ("where", False),
            ("to", False),
            ("amount", True),
            ("state", False),
            ("detail", False),
        ),
    )
    for t in resp.in_transit:
        places = units.places(t.chain)
        state = _name(treasury_pb2.StepState, t.state, "STEP_STATE_").lower()
        sheet.rows.append(
            (
                [
                    t.plan_id,
                    str(t.step_index),
                    f"{t.chain} {t.place}",
                    t.destination_chain,
                    f"{units.number(_int(t.amount), places)} {units.label(t.amount.asset, places)}",
                    state,
                    t.detail[:60],
                ],
                "bold red" if state == "stuck" else "",
            )
        )
    return sheet


# -------------------------------------------------------------------- plans

_SHORTFALL = re.compile(r"^(?P<pool>\S+): (?P<n>\d+) base units below target\Z")


def _name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix)


def plan_sheet(plan: treasury_pb2.Plan, units: Units) -> Sheet:
    chains = [c for s in plan.steps for c in (s.source_chain, s.destination_chain) if c]
    places = units.places(*chains) if chains else units.places(*units.decimals)
    state = _name(treasury_pb2.PlanState, plan.state, "PLAN_STATE_")
    if not plan.plan_id:
        title = "DRY RUN: computed, not stored (nothing to approve)"
    else:
        approvals = f"{len(plan.approved_by)}/{plan.approvals_required}"
        title = f"Plan {plan.plan_id}: {state}, approvals {approvals}"
    sheet = Sheet(
        title,
        (
            ("#", True),
            ("kind", False),
            ("from", False),
            ("to", False),
            ("route", False),
            ("amount", True),
            ("cost", True),
            ("state", False),
        ),
    )
    for s in plan.steps:
        sheet.rows.append(
            (
                [
                    str(s.index),
                    _name(treasury_pb2.StepKind, s.kind, "STEP_KIND_").lower(),
                    f"{s.source_chain}/{s.source_pool_id}",
                    f"{s.destination_chain}/{s.destination_id}",
                    s.route or "-",
                    units.money(s.amount, s.source_chain),
                    units.money(s.cost, s.source_chain),
                    _name(treasury_pb2.StepState, s.state, "STEP_STATE_").lower(),
                ],
                "",
            )
        )
    kinds = [s.kind for s in plan.steps]
    moved = units.total(plan.total_moved, places)
    cost = units.total(plan.total_cost, places)
    sheet.notes.append(
        (
            f"{len(kinds)} steps ({kinds.count(treasury_pb2.STEP_KIND_TRANSFER)} transfers, "
            f"{kinds.count(treasury_pb2.STEP_KIND_CESSION)} cessions); "
            f"moves {moved}; costs {cost} (bridge fees and premiums)",
            "",
        )
    )
    if plan.created_by:
        sheet.notes.append((f"proposed by {plan.created_by} at {when(plan.created_at)}", ""))
    if plan.approved_by:
        sheet.notes.append((f"approved by {', '.join(plan.approved_by)}", ""))
    for s in plan.steps:  # a plan the executor stopped for re-approval says why
        if s.detail.startswith("drift:"):
            sheet.notes.append((f"step {s.index} stopped, {s.detail}", "red"))
    for text in plan.shortfalls:
        m = _SHORTFALL.match(text)
        if m is not None:
            n = units.number(int(m["n"]), places)
            text = f"{m['pool']}: {n} {units.label(plan.total_moved.asset, places)} below target"
        sheet.notes.append((f"shortfall: {text}", "yellow"))
    if units.raw and plan.summary:
        sheet.notes.append((f"router summary: {plan.summary}", ""))
    sheet.notes += _unknown_note(units, chains)
    return sheet


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit: 2 for usage/config, 1 for a refusal."""
    typer.secho(f"error: {' '.join(message.split())}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


# --------------------------------------------------------------- the job


def job_report(run: Any) -> dict[str, Any]:
    """``ballast rebalance --json``: one object a scheduler can act on (amounts in
    base units, as strings). ``run`` is a :class:`router.app.job.JobRun`."""
    plan = run.plan
    return {
        "status": run.outcome.value,
        "exit_code": run.exit_code,
        "dry_run": run.dry_run,
        "plan_id": plan.plan_id if plan is not None and plan.plan_id else None,
        "plan_status": plan.status.value if plan is not None and plan.plan_id else None,
        "approvals_required": plan.approvals_required if plan is not None else None,
        "approved_by": list(plan.approvals) if plan is not None else [],
        "total_amount": str(plan.total_amount) if plan is not None else None,
        "cost": str(plan.cost) if plan is not None else None,
        "steps": [
            {
                "seq": s.seq,
                "kind": s.kind.value,
                "src_pool": s.src_pool,
                "dst_chain": s.dst_chain,
                "dst_pool": s.dst_pool,
                "vault_id": s.vault_id,
                "route_id": s.route_id,
                "amount": str(s.amount),
                "fee": str(s.fee),
                "status": s.status.value,
            }
            for s in (plan.steps if plan is not None else ())
        ],
        "shortfalls": list(run.shortfalls),
        "stale_pools": list(run.stale_pools),
        "lease_holder": run.lease.holder if run.lease is not None else None,
        "lease_expires_at": run.lease.expires_at.isoformat() if run.lease is not None else None,
        "idempotency_key": run.key or None,
        "note": run.note,
    }

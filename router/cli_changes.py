"""`ballast change propose|approve|apply|list|show`: off-chain change control
(the rules are :mod:`router.domain.changes`, the use case :mod:`router.app.changes`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from ballast.v1 import treasury_pb2

from router.cli_common import ConfigOpt, load_config, run_call
from router.cli_views import Sheet, fail, show, when

change_app = typer.Typer(
    help="Off-chain changes (the destinations allow-list first): propose, approve "
    "by other operators, applied after a delay. Every step is audited.",
    no_args_is_help=True,
)

ChangeId = Annotated[str, typer.Argument(help="the change's id (chg-...)")]


def _state(value: int) -> str:
    return str(treasury_pb2.ChangeState.Name(value)).removeprefix("CHANGE_STATE_").lower()


def _sheet(c: treasury_pb2.ChangeProposal) -> Sheet:
    sheet = Sheet(f"change {c.change_id}", [("", False), ("", False)])
    rows = [
        ("kind", c.kind),
        ("state", _state(c.state)),
        ("proposed by", f"{c.proposed_by} at {when(c.proposed_at)}"),
        ("reason", c.reason),
        (
            "approvals",
            f"{len(c.approved_by)}/{c.approvals_required} "
            f"({', '.join(c.approved_by) or 'none yet'}; the proposer does not count)",
        ),
        ("not before", when(c.not_before)),
        ("expires", when(c.expires_at)),
        ("payload", c.payload),
    ]
    if c.decided_by:
        rows.append(("decided", f"{c.decided_by} at {when(c.decided_at)}"))
    sheet.rows = [([k, v], "") for k, v in rows]
    sheet.notes = [(line, "bold") for line in c.diff.splitlines()]
    return sheet


@change_app.command("propose")
def propose(
    kind: Annotated[
        str,
        typer.Argument(
            help="allowlist.add|remove, limits.set, route.set|remove, vault.set, "
            "partner.add|deactivate, reporter.add|deactivate"
        ),
    ],
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
    chain: Annotated[str, typer.Option(help="an allow-list change: the chain")] = "",
    address: Annotated[str, typer.Option(help="an allow-list change: the address")] = "",
    label: Annotated[str, typer.Option(help="what the address is (a pool, a vault)")] = "",
    payload: Annotated[
        str, typer.Option(help='any kind: its terms as a JSON object, e.g. {"partner_id": "x"}')
    ] = "",
    config: ConfigOpt = None,
) -> None:
    """Propose a change; prints its id and the diff others will approve."""
    settings = load_config(config)
    if payload:
        try:
            terms = json.loads(payload)
        except ValueError:
            fail("--payload must be a JSON object")
        if not isinstance(terms, dict):
            fail("--payload must be a JSON object")
        if chain or address or label:
            fail("give either --payload or --chain/--address/--label, not both")
    elif chain and address:
        terms = {"chain": chain, "address": address} | ({"label": label} if label else {})
    else:
        fail("give the change's terms: --payload JSON, or --chain and --address")
    request = treasury_pb2.ProposeChangeRequest(kind=kind, payload=json.dumps(terms), reason=reason)
    resp = run_call(settings, lambda c: c.treasury.ProposeChange(request))
    show(_sheet(resp.change))
    typer.echo(f"proposed: {resp.change.change_id}")


@change_app.command("approve")
def approve(change_id: ChangeId, config: ConfigOpt = None) -> None:
    """Approve another operator's change (applied at once when enough approved
    and its delay passed)."""
    settings = load_config(config)
    request = treasury_pb2.ApproveChangeRequest(change_id=change_id)
    resp = run_call(settings, lambda c: c.treasury.ApproveChange(request))
    show(_sheet(resp.change))


@change_app.command("apply")
def apply(change_id: ChangeId, config: ConfigOpt = None) -> None:
    """Apply an approved change whose delay has passed."""
    settings = load_config(config)
    request = treasury_pb2.ApplyChangeRequest(change_id=change_id)
    resp = run_call(settings, lambda c: c.treasury.ApplyChange(request))
    show(_sheet(resp.change))


@change_app.command("reject")
def reject(
    change_id: ChangeId,
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
    config: ConfigOpt = None,
) -> None:
    """Refuse an undecided change for good (the proposer may withdraw its own)."""
    settings = load_config(config)
    request = treasury_pb2.RejectChangeRequest(change_id=change_id, reason=reason)
    resp = run_call(settings, lambda c: c.treasury.RejectChange(request))
    show(_sheet(resp.change))


@change_app.command("show")
def show_change(change_id: ChangeId, config: ConfigOpt = None) -> None:
    """One change with its diff."""
    settings = load_config(config)
    request = treasury_pb2.GetChangeRequest(change_id=change_id)
    resp = run_call(settings, lambda c: c.treasury.GetChange(request))
    show(_sheet(resp.change))


@change_app.command("list")
def list_changes(
    state: Annotated[
        str | None, typer.Option(help="proposed, approved, applied, rejected or expired")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Change proposals, newest first."""
    settings = load_config(config)
    value = 0
    if state:
        try:
            value = treasury_pb2.ChangeState.Value(f"CHANGE_STATE_{state.upper()}")
        except ValueError:
            fail(f"--state: unknown state {state!r}")
    request = treasury_pb2.ListChangesRequest(state=value)
    resp = run_call(settings, lambda c: c.treasury.ListChanges(request))
    sheet = Sheet(
        "changes",
        [
            ("id", False),
            ("kind", False),
            ("state", False),
            ("by", False),
            ("approvals", True),
            ("not before", False),
            ("diff", False),
        ],
    )
    for c in resp.changes:
        sheet.rows.append(
            (
                [
                    c.change_id,
                    c.kind,
                    _state(c.state),
                    c.proposed_by,
                    f"{len(c.approved_by)}/{c.approvals_required}",
                    when(c.not_before),
                    c.diff.splitlines()[0] if c.diff else "",
                ],
                "",
            )
        )
    if not resp.changes:
        sheet.notes.append(("no changes", ""))
    show(sheet)

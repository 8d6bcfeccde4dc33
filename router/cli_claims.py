"""`ballast incidents|claims|payouts|recoverables`: the operators' views of the
insurance side, read from the router (TreasuryService), printed as tables."""

from __future__ import annotations

from typing import Annotated

import typer
from ballast.v1 import common_pb2, treasury_pb2

from router.cli_common import ConfigOpt, RawOpt, load_config, run_call
from router.cli_views import Sheet, Units, show, when
from router.config import RouterSettings

StateOpt = Annotated[str | None, typer.Option("--state", help="only this state")]

_CLAIM_STATES = {
    name.removeprefix("CLAIM_STATE_").lower(): number
    for name, number in common_pb2.ClaimState.items()
    if number
}
_INCIDENT_STATES = {
    name.removeprefix("INCIDENT_STATE_").lower(): number
    for name, number in common_pb2.IncidentState.items()
    if number
}


class _Chains:
    """The chain(s) whose decimals an amount of a pool prints with: the pool's
    chain from the config, else every configured chain (whole units if they agree)."""

    def __init__(self, settings: RouterSettings) -> None:
        self._of = {p.pool_id: p.chain for p in settings.pools}
        self._all = tuple(c.name for c in settings.chains)

    def get(self, pool_id: str, _default: str = "") -> tuple[str, ...]:
        chain = self._of.get(pool_id)
        return (chain,) if chain else self._all


def _chain_of(settings: RouterSettings) -> _Chains:
    return _Chains(settings)


def _state(value: str | None, states: dict[str, int]) -> int:
    from router.cli_views import fail

    if value is None:
        return 0
    if value not in states:
        fail(f"--state must be one of {', '.join(states)}")
    return states[value]


def incidents(state: StateOpt = None, raw: RawOpt = False, config: ConfigOpt = None) -> None:
    """Incidents reported by oracle reporters, newest first, with their alerts."""

    settings = load_config(config)
    request = treasury_pb2.ListIncidentsRequest(state=_state(state, _INCIDENT_STATES))
    resp = run_call(settings, lambda c: c.treasury.ListIncidents(request))
    units = Units.of(settings, raw)
    names = {v: k for k, v in _INCIDENT_STATES.items()}
    chain = _chain_of(settings)
    sheet = Sheet(
        f"Incidents ({len(resp.incidents)})",
        (
            ("incident", False),
            ("deployment", False),
            ("kind", False),
            ("occurred at", False),
            ("state", False),
            ("loss", True),
            ("agree", True),
            ("reports", True),
            ("alerts", False),
        ),
    )
    for i in resp.incidents:
        alerts = ", ".join(sorted({a.kind for a in i.alerts})) or "-"
        style = "red" if i.alerts and i.state != common_pb2.INCIDENT_STATE_CONFIRMED else ""
        row = [
            i.incident_id,
            i.deployment_id,
            i.kind,
            when(i.occurred_at),
            names.get(i.state, "?"),
            units.money(i.loss, *chain.get("")),
            str(i.agreeing_reporters),
            str(i.reports),
            alerts,
        ]
        sheet.rows.append((row, style))
    show(sheet)


def claims(state: StateOpt = None, raw: RawOpt = False, config: ConfigOpt = None) -> None:
    """Every partner's claims, newest first: claimed, approved, paid, disputed."""

    settings = load_config(config)
    request = treasury_pb2.TreasuryServiceListClaimsRequest(state=_state(state, _CLAIM_STATES))
    resp = run_call(settings, lambda c: c.treasury.ListClaims(request))
    units = Units.of(settings, raw)
    chain = _chain_of(settings)
    names = {v: k for k, v in _CLAIM_STATES.items()}
    sheet = Sheet(
        f"Claims ({len(resp.claims)})",
        (
            ("claim", False),
            ("partner", False),
            ("cover", False),
            ("incident", False),
            ("state", False),
            ("claimed", True),
            ("approved", True),
            ("paid", True),
            ("disputed", True),
            ("reason", False),
        ),
    )
    for c in resp.claims:
        on = chain.get(c.pool_id)
        style = "yellow" if c.state == common_pb2.CLAIM_STATE_DISPUTED else ""
        row = [
            c.claim_id,
            c.partner_id,
            c.cover_id,
            c.incident_id,
            names.get(c.state, "?"),
            units.money(c.claimed_loss, *on),
            units.money(c.approved, *on),
            units.money(c.paid, *on),
            units.money(c.disputed, *on),
            c.reason or "-",
        ]
        sheet.rows.append((row, style))
    show(sheet)


def payouts(raw: RawOpt = False, config: ConfigOpt = None) -> None:
    """Claim payments, oldest first, with the transaction that paid each."""

    settings = load_config(config)
    resp = run_call(settings, lambda c: c.treasury.ListPayouts(treasury_pb2.ListPayoutsRequest()))
    units = Units.of(settings, raw)
    chain = _chain_of(settings)
    sheet = Sheet(
        f"Payouts ({len(resp.payouts)})",
        (
            ("payment id", False),
            ("claim", False),
            ("pool", False),
            ("amount", True),
            ("status", False),
            ("transaction", False),
            ("block", True),
        ),
    )
    for p in resp.payouts:
        style = "red" if p.status == "failed" else ""
        row = [
            p.payment_id,
            p.claim_id,
            p.pool_id,
            units.money(p.amount, *chain.get(p.pool_id)),
            p.status,
            p.tx_ref or "-",
            str(p.block_number) if p.block_number else "-",
        ]
        sheet.rows.append((row, style))
    show(sheet)


def recoverables(
    status: Annotated[str | None, typer.Option("--status", help="due, collected or failed")] = None,
    raw: RawOpt = False,
    config: ConfigOpt = None,
) -> None:
    """What reinsurance vaults owe on paid claims, until collected."""

    settings = load_config(config)
    request = treasury_pb2.ListRecoverablesRequest(status=status or "")
    resp = run_call(settings, lambda c: c.treasury.ListRecoverables(request))
    units = Units.of(settings, raw)
    chain = _chain_of(settings)
    sheet = Sheet(
        f"Recoverables ({len(resp.recoverables)})",
        (
            ("recovery id", False),
            ("vault", False),
            ("cession", False),
            ("pool", False),
            ("amount", True),
            ("status", False),
            ("transaction", False),
        ),
    )
    for r in resp.recoverables:
        style = "yellow" if r.status == "due" else ("red" if r.status == "failed" else "")
        row = [
            r.recovery_id,
            r.vault_id,
            r.cession_id,
            r.pool_id,
            units.money(r.amount, *chain.get(r.pool_id)),
            r.status,
            r.tx_ref or "-",
        ]
        sheet.rows.append((row, style))
    show(sheet)

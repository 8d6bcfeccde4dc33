"""`ballast prune`: removes balance-report history past the retention window
(``[retention] history_days``) now, batch by batch, and the limit consumptions
of ended plans past it; ``--dry-run`` only counts.
``ballast serve`` does the same in the background, one batch per tick."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from router.cli_common import ConfigOpt
from router.cli_views import fail
from router.config import ConfigError, load_settings
from router.errors import RouterError, StoreUnavailable


def prune(
    config: ConfigOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="count what would go; delete nothing")
    ] = False,
) -> None:
    """Prune report history past the retention window (confirmed balances and audit stay)."""
    from router.app.retention import Retention
    from router.store import open_store

    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}")

    async def go() -> object:
        store = await open_store(settings.database_url)
        try:
            return await Retention(store, settings.retention).prune(dry_run=dry_run)
        finally:
            await store.aclose()

    try:
        report = asyncio.run(go())
    except StoreUnavailable as exc:
        fail(f"database_url: cannot open the database ({exc}); check that it runs", 1)
    except RouterError as exc:
        fail(f"pruning was refused: {exc}", 1)
    from router.app.retention import PruneReport

    assert isinstance(report, PruneReport)
    if settings.retention.history_days <= 0:
        typer.echo(f"retention is off (history_days = 0): {report.kept} history rows kept")
        return
    when = report.cutoff.strftime("%Y-%m-%d %H:%M:%S UTC")
    if report.dry_run:
        typer.echo(
            f"would remove {report.removed} of {report.kept} history rows received before {when}"
        )
    else:
        typer.echo(
            f"removed {report.removed} history rows received before {when}; {report.kept} kept"
        )
    verb = "would remove" if report.dry_run else "removed"
    typer.echo(f"{verb} {report.usage_removed} limit consumptions of ended plans before {when}")

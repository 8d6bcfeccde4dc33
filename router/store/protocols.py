"""The registry of covered deployments, their TVL readings, and pauses.

Persists :mod:`router.domain.protocols`; decides only what a row can: a
deployment keeps its protocol, chain and valuation asset for life, and a TVL
reading from the reporter replaces the stored one only when it is newer
(``only_newer``), compared in the same transaction as the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from router.domain.checks import utcnow
from router.domain.protocols import (
    AuditFacts,
    Deployment,
    IncidentHistory,
    Pause,
    PauseTarget,
    TvlReading,
)
from router.errors import Conflict, NotFound
from router.store._base import StoreBase
from router.store.tables import metadata

DEPLOYMENTS, PAUSES = metadata.tables["deployments"], metadata.tables["pauses"]


def _deployment(r: Mapping[Any, Any]) -> Deployment:
    return Deployment(
        deployment_id=r["deployment_id"],
        protocol_id=r["protocol_id"],
        chain=r["chain"],
        addresses=tuple(a for a in r["addresses"].split("\n") if a),
        asset=r["asset"],
        tvl=int(r["tvl"]),
        tvl_source=r["tvl_source"],
        tvl_as_of=r["tvl_as_of"],
        incidents=IncidentHistory(
            r["incident_count"], r["incident_severity_bps"], r["incident_window_days"]
        ),
        audits=AuditFacts(tuple(a for a in r["auditors"].split("\n") if a), r["last_audit_at"]),
        governance_assets=int(r["governance_assets"]),
    )


def _row(d: Deployment) -> dict[str, Any]:
    return {
        "deployment_id": d.deployment_id,
        "protocol_id": d.protocol_id,
        "chain": d.chain,
        "addresses": "\n".join(d.addresses),
        "asset": d.asset,
        "tvl": d.tvl,
        "tvl_source": d.tvl_source,
        "tvl_as_of": d.tvl_as_of,
        "incident_count": d.incidents.count,
        "incident_severity_bps": d.incidents.severity_bps,
        "incident_window_days": d.incidents.window_days,
        "auditors": "\n".join(d.audits.auditors),
        "last_audit_at": d.audits.last_audit_at,
        "governance_assets": d.governance_assets,
        "updated_at": utcnow(),
    }


class ProtocolsPart(StoreBase):
    # -- deployments -----------------------------------------------------------

    async def put_deployment(self, deployment: Deployment) -> bool:
        """Register a deployment or update its facts; True when it was new.

        Its protocol, chain and valuation asset never change (``Conflict``):
        covers and the loss model's links are tied to them."""
        async with self._tx() as conn:
            stmt = sa.select(DEPLOYMENTS).where(
                DEPLOYMENTS.c.deployment_id == deployment.deployment_id
            )
            was = await self._one(conn, stmt.with_for_update() if self._pg else stmt)
            if was is not None:
                for name, value in (
                    ("protocol_id", deployment.protocol_id),
                    ("chain", deployment.chain),
                    ("asset", deployment.asset),
                ):
                    if was[name] != value:
                        raise Conflict(
                            f"deployment {deployment.deployment_id!r} has {name} "
                            f"{was[name]!r}; it cannot change to {value!r} "
                            "(register a new deployment)"
                        )
            await self._upsert(conn, DEPLOYMENTS, ["deployment_id"], _row(deployment))
        return was is None

    async def get_deployment(self, deployment_id: str) -> Deployment:
        async with self._tx() as conn:
            r = await self._one(
                conn, sa.select(DEPLOYMENTS).where(DEPLOYMENTS.c.deployment_id == deployment_id)
            )
        if r is None:
            raise NotFound("deployment", deployment_id)
        return _deployment(r)

    async def list_deployments(self, protocol_id: str | None = None) -> list[Deployment]:
        """By protocol, then chain, then id."""
        stmt = sa.select(DEPLOYMENTS).order_by(
            DEPLOYMENTS.c.protocol_id, DEPLOYMENTS.c.chain, DEPLOYMENTS.c.deployment_id
        )
        if protocol_id is not None:
            stmt = stmt.where(DEPLOYMENTS.c.protocol_id == protocol_id)
        async with self._tx() as conn:
            return [_deployment(r) for r in (await conn.execute(stmt)).mappings()]

    async def record_tvl(self, reading: TvlReading, *, only_newer: bool) -> Deployment | None:
        """Store a TVL reading; None when ``only_newer`` and it is not newer than the stored one.

        The reading's asset must be the deployment's valuation asset (``Conflict``)."""
        async with self._tx() as conn:
            stmt = sa.select(DEPLOYMENTS).where(
                DEPLOYMENTS.c.deployment_id == reading.deployment_id
            )
            r = await self._one(conn, stmt.with_for_update() if self._pg else stmt)
            if r is None:
                raise NotFound("deployment", reading.deployment_id)
            if r["asset"] != reading.asset:
                raise Conflict(
                    f"deployment {reading.deployment_id!r} is valued in {r['asset']}, "
                    f"not {reading.asset}"
                )
            if only_newer and reading.as_of <= r["tvl_as_of"]:
                return None
            values = {
                "tvl": reading.tvl,
                "tvl_source": reading.source,
                "tvl_as_of": reading.as_of,
                "updated_at": utcnow(),
            }
            await conn.execute(
                sa.update(DEPLOYMENTS)
                .where(DEPLOYMENTS.c.deployment_id == reading.deployment_id)
                .values(**values)
            )
        return _deployment({**r, **values})

    # -- pauses ----------------------------------------------------------------

    async def set_pause(self, pause: Pause | None, target: PauseTarget) -> bool:
        """Pause ``target`` (``pause`` given) or resume it (None); True if it was paused.

        Pausing what is already paused keeps the first pause (who, why, since)."""
        async with self._tx() as conn:
            was = await self._one(
                conn, sa.select(PAUSES.c.target).where(PAUSES.c.target == target.key)
            )
            if pause is None:
                await conn.execute(sa.delete(PAUSES).where(PAUSES.c.target == target.key))
            elif was is None:
                await conn.execute(
                    sa.insert(PAUSES).values(
                        target=target.key,
                        reason=pause.reason,
                        operator=pause.operator,
                        since=pause.since,
                    )
                )
        return was is not None

    async def list_pauses(self, targets: list[PauseTarget] | None = None) -> list[Pause]:
        """What is paused (of ``targets``, or all), oldest first; read fresh, never cached."""
        stmt = sa.select(PAUSES).order_by(PAUSES.c.since, PAUSES.c.target)
        if targets is not None:
            stmt = stmt.where(PAUSES.c.target.in_([t.key for t in targets]))
        async with self._tx() as conn:
            return [
                Pause(PauseTarget.parse(r["target"]), r["reason"], r["operator"], r["since"])
                for r in (await conn.execute(stmt)).mappings()
            ]

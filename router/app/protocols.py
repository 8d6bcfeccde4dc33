"""Covered protocols as data: the operators' registry, the TVL feed, and pauses.

Operators register deployments and correct their facts (``AddDeployment``,
``SetDeploymentTvl``); the TVL reporter feeds readings through the reporting
service (``ReportTvl``): a reporter identity reports only for deployments on
the chain its identity names, must be registered and allowed (read fresh),
and a reading not newer than the stored one is ignored, so a late or replayed
reading never rolls the TVL back. A reading stamped later than the router's
clock plus ``policy.max_clock_skew_seconds`` is refused. Every operator change
and every applied reading is audited in the same unit of work.

Pauses: a cover type or a pool; while paused, quotes and binds for it are
refused (:meth:`Protocols.check_not_paused`, called by the cover use cases).
Claims are not affected: a pause stops new risk, never payment of risk taken.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from router import domain as m
from router.app.ports import DeploymentBook, ProtocolStore
from router.config import PolicyConfig
from router.errors import InvalidRequest, NotFound, Paused, PermissionDenied, UnknownEntity


@dataclasses.dataclass(frozen=True, slots=True)
class DeploymentView:
    """A deployment with the other deployments of its protocol (its loss-model links)."""

    deployment: m.Deployment
    linked: tuple[str, ...]


class Protocols:
    def __init__(self, store: ProtocolStore, policy: PolicyConfig) -> None:
        self._store = store
        self._policy = policy

    async def add(
        self, operator: m.Identity, deployment: m.Deployment
    ) -> tuple[DeploymentView, bool]:
        self._not_future(deployment.tvl_as_of, "tvl_as_of")
        async with self._store.unit_of_work():
            created = await self._store.put_deployment(deployment)
            await self._store.append_audit(
                operator.uri,
                "deployment_added" if created else "deployment_updated",
                deployment.deployment_id,
                {
                    "protocol_id": deployment.protocol_id,
                    "chain": deployment.chain,
                    "tvl": deployment.tvl,
                    "tvl_source": deployment.tvl_source,
                    "incident_count": deployment.incidents.count,
                },
            )
        return await self.show(deployment.deployment_id), created

    async def show(self, deployment_id: str) -> DeploymentView:
        d = await self.deployment(deployment_id)
        same = await self._store.list_deployments(d.protocol_id)
        return DeploymentView(d, tuple(o.deployment_id for o in same if o != d))

    async def deployment(self, deployment_id: str) -> m.Deployment:
        try:
            return await self._store.get_deployment(deployment_id)
        except NotFound:
            raise UnknownEntity("deployment", deployment_id) from None

    async def list_views(self, protocol_id: str | None) -> list[DeploymentView]:
        every = await self._store.list_deployments(protocol_id)
        by_protocol: dict[str, list[str]] = {}
        for d in every:
            by_protocol.setdefault(d.protocol_id, []).append(d.deployment_id)
        return [
            DeploymentView(d, tuple(i for i in by_protocol[d.protocol_id] if i != d.deployment_id))
            for d in every
        ]

    async def set_tvl(self, operator: m.Identity, reading: m.TvlReading) -> DeploymentView:
        """An operator's TVL figure: replaces the stored one whatever its time (a correction)."""
        self._not_future(reading.as_of, "as_of")
        async with self._store.unit_of_work():
            try:
                await self._store.record_tvl(reading, only_newer=False)
            except NotFound:
                raise UnknownEntity("deployment", reading.deployment_id) from None
            await self._audit_tvl(operator, reading)
        return await self.show(reading.deployment_id)

    async def report_tvl(self, reporter: m.Identity, reading: m.TvlReading) -> bool:
        """The TVL reporter's reading; True when it replaced the stored one."""
        try:
            registered = await self._store.get_reporter(reporter.name)
        except NotFound:
            raise PermissionDenied(f"{reporter.uri} is not a registered reporter") from None
        if not registered.allowed:
            raise PermissionDenied(f"reporter {reporter.name} is deactivated")
        self._not_future(reading.as_of, "as_of")
        deployment = await self.deployment(reading.deployment_id)
        if deployment.chain != reporter.chain:
            raise PermissionDenied(
                f"reporter {reporter.name} reports for chain {reporter.chain}, "
                f"not for deployment {deployment.deployment_id} on {deployment.chain}"
            )
        async with self._store.unit_of_work():
            applied = await self._store.record_tvl(reading, only_newer=True)
            if applied is not None:
                await self._audit_tvl(reporter, reading)
        return applied is not None

    async def _audit_tvl(self, actor: m.Identity, reading: m.TvlReading) -> None:
        await self._store.append_audit(
            actor.uri,
            "deployment_tvl",
            reading.deployment_id,
            {"tvl": reading.tvl, "source": reading.source, "as_of": reading.as_of.isoformat()},
        )

    def _not_future(self, at: datetime, field: str) -> None:
        if at > m.utcnow() + timedelta(seconds=self._policy.max_clock_skew_seconds):
            raise InvalidRequest(field, "is later than the router's clock (plus the allowed skew)")

    # -- pauses ----------------------------------------------------------------

    async def set_paused(
        self, operator: m.Identity, target: m.PauseTarget, paused: bool, reason: str
    ) -> bool:
        """Pause or resume; returns whether it was paused. Audited with the reason."""
        if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= 500:
            raise InvalidRequest("reason", "must be 1-500 characters")
        pause = m.Pause(target, reason.strip(), operator.uri, m.utcnow()) if paused else None
        async with self._store.unit_of_work():
            was = await self._store.set_pause(pause, target)
            await self._store.append_audit(
                operator.uri,
                "paused" if paused else "resumed",
                target.key,
                {"reason": reason.strip(), "was_paused": was},
            )
        return was

    async def pauses(self) -> list[m.Pause]:
        return await self._store.list_pauses()


async def check_not_paused(store: DeploymentBook, cover_type: m.CoverType, pool_id: str) -> None:
    """Refuse new cover of a paused type or on a paused pool (read fresh, every call)."""
    targets = [m.PauseTarget(cover_type=cover_type), m.PauseTarget(pool_id=pool_id)]
    found = await store.list_pauses(targets)
    if found:
        raise Paused(found[0].target.describe())

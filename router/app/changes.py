"""Off-chain change control: propose, approve, apply; every step audited.

The rules are :mod:`router.domain.changes`; this use case persists them and
applies an approved change through the applier of its kind, in one unit of
work with its audit entry. The destinations allow-list is the first kind
(``allowlist.add``, ``allowlist.remove``), limits the second (``limits.set``,
:mod:`router.app.limit_changes`), routes, vaults, partners and reporters the
others (:mod:`router.app.registry_changes`); a new kind is an enum value and an
:class:`Applier` (parse the payload, show the diff, apply it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from router import domain as m
from router.app.limit_changes import EffectiveLimits, LimitsChange, OverrideBook
from router.app.ports import AuditLog, Transactional
from router.app.registry_changes import (
    EffectiveRoutes,
    PartnerChange,
    RegistryBook,
    ReporterChange,
    RouteChange,
    VaultChange,
)
from router.config import ChangesConfig, RouterSettings
from router.domain.changes import (
    DECIDED,
    ChangeKind,
    ChangeProposal,
    ChangeStatus,
    Destination,
    canonical,
    normal_address,
    parse_destination,
)
from router.errors import InvalidRequest, NotFound, PreconditionFailed, StaleVersion


class AllowList(Protocol):
    async def add_destination(
        self, dest: Destination, added_by: str, *, now: datetime | None = None
    ) -> bool: ...
    async def remove_destination(self, chain: str, address: str) -> bool: ...
    async def list_destinations(self) -> list[Destination]: ...
    async def destination_allowed(self, chain: str, address: str) -> bool: ...
    async def allowlist_touched(self) -> bool: ...


class AllowListSeed(Protocol):
    """What seeding the allow-list at first start needs."""

    async def add_destination(
        self, dest: Destination, added_by: str, *, now: datetime | None = None
    ) -> bool: ...
    async def allowlist_touched(self) -> bool: ...


class ChangeBook(Protocol):
    async def create_change(self, change: ChangeProposal) -> ChangeProposal: ...
    async def get_change(self, change_id: str) -> ChangeProposal: ...
    async def list_changes(
        self, status: ChangeStatus | None = None, *, limit: int = 100
    ) -> list[ChangeProposal]: ...
    async def save_change(
        self, change: ChangeProposal, *, expected_version: int
    ) -> ChangeProposal: ...
    async def list_chains(self) -> list[m.Chain]: ...


class ChangeStore(
    ChangeBook, AllowList, OverrideBook, RegistryBook, AuditLog, Transactional, Protocol
):
    pass


class Applier(Protocol):
    """One kind of change: its payload checked, its diff, its effect."""

    async def parse(self, payload: Mapping[str, object]) -> dict[str, object]:
        """The payload validated and normalised (raises InvalidRequest)."""
        ...

    async def diff(self, terms: Mapping[str, object]) -> str:
        """What applying it changes now, for the approvers (PreconditionFailed: nothing)."""
        ...

    async def apply(self, terms: Mapping[str, object], change: ChangeProposal) -> None: ...


class AllowListChange:
    """``allowlist.add`` / ``allowlist.remove`` of a (chain, address)."""

    def __init__(self, store: ChangeStore, add: bool) -> None:
        self._store = store
        self._add = add

    async def parse(self, payload: Mapping[str, object]) -> dict[str, object]:
        dest = parse_destination(payload)
        chains = {c.name: c for c in await self._store.list_chains()}
        chain = chains.get(dest.chain)
        if chain is None:
            raise InvalidRequest("payload", f"chain {dest.chain!r} is not registered")
        address = normal_address(chain.family, dest.address)
        return {"chain": dest.chain, "address": address, "label": dest.label}

    async def diff(self, terms: Mapping[str, object]) -> str:
        chain, address = str(terms["chain"]), str(terms["address"])
        present = await self._store.destination_allowed(chain, address)
        if self._add and present:
            raise PreconditionFailed(f"{chain}:{address} is on the allow-list already")
        if not self._add and not present:
            raise PreconditionFailed(f"{chain}:{address} is not on the allow-list")
        label = f" ({terms['label']})" if terms.get("label") else ""
        return f"{'+' if self._add else '-'} allow-list {chain} {address}{label}"

    async def apply(self, terms: Mapping[str, object], change: ChangeProposal) -> None:
        chain, address = str(terms["chain"]), str(terms["address"])
        if self._add:
            dest = Destination(chain, address, str(terms.get("label", "")))
            await self._store.add_destination(dest, change.proposed_by)
        else:
            await self._store.remove_destination(chain, address)


@dataclass(frozen=True, slots=True)
class ChangePolicy:
    approvals_required: int = 1
    delay: timedelta = timedelta(hours=1)
    ttl: timedelta = timedelta(days=7)


def change_policy(config: ChangesConfig) -> ChangePolicy:
    """The ``[changes]`` settings as the use case's policy."""
    return ChangePolicy(
        approvals_required=config.approvals_required,
        delay=timedelta(seconds=config.delay_seconds),
        ttl=timedelta(seconds=config.ttl_seconds),
    )


class Changes:
    """The change-control use cases over the store and the appliers by kind."""

    def __init__(
        self,
        store: ChangeStore,
        policy: ChangePolicy = ChangePolicy(),
        *,
        appliers: Mapping[ChangeKind, Applier] | None = None,
        clock: Callable[[], datetime] = m.utcnow,
        limits: EffectiveLimits | None = None,
        routes: EffectiveRoutes | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        defaults: dict[ChangeKind, Applier] = {
            ChangeKind.ALLOWLIST_ADD: AllowListChange(store, add=True),
            ChangeKind.ALLOWLIST_REMOVE: AllowListChange(store, add=False),
            ChangeKind.VAULT_SET: VaultChange(store),
            ChangeKind.PARTNER_ADD: PartnerChange(store, add=True),
            ChangeKind.PARTNER_DEACTIVATE: PartnerChange(store, add=False),
            ChangeKind.REPORTER_ADD: ReporterChange(store, add=True),
            ChangeKind.REPORTER_DEACTIVATE: ReporterChange(store, add=False),
        }
        if limits is not None:
            defaults[ChangeKind.LIMITS_SET] = LimitsChange(store, limits)
        if routes is not None:
            defaults[ChangeKind.ROUTE_SET] = RouteChange(store, routes, remove=False)
            defaults[ChangeKind.ROUTE_REMOVE] = RouteChange(store, routes, remove=True)
        self._appliers: Mapping[ChangeKind, Applier] = appliers or defaults

    def _applier(self, kind: str) -> tuple[ChangeKind, Applier]:
        try:
            k = ChangeKind(kind)
        except ValueError:
            known = ", ".join(sorted(self._appliers))
            raise InvalidRequest("kind", f"unknown change kind {kind!r} (known: {known})") from None
        applier = self._appliers.get(k)
        if applier is None:
            raise InvalidRequest("kind", f"change kind {k.value} is not enabled here")
        return k, applier

    async def propose(
        self,
        operator: m.Identity,
        kind: str,
        payload: Mapping[str, object],
        reason: str,
    ) -> ChangeProposal:
        """Record a proposed change with its diff against the state now; audited."""
        k, applier = self._applier(kind)
        terms = await applier.parse(payload)
        diff = await applier.diff(terms)
        now = self._clock()
        change = ChangeProposal(
            change_id=f"chg-{uuid.uuid4().hex[:20]}",
            kind=k,
            payload=canonical(terms),
            diff=diff,
            proposed_by=operator.name,
            reason=reason,
            required=self._policy.approvals_required,
            status=ChangeStatus.PROPOSED,
            proposed_at=now,
            not_before=now + self._policy.delay,
            expires_at=now + self._policy.ttl,
        )
        async with self._store.unit_of_work():
            await self._store.create_change(change)
            await self._store.append_audit(
                operator.uri,
                "change_proposed",
                change.change_id,
                {"kind": k.value, "payload": change.payload, "diff": diff, "reason": reason},
            )
        return change

    async def get(self, change_id: str) -> ChangeProposal:
        """The change (an unknown or forged id is NotFound), expiry applied as read."""
        if not isinstance(change_id, str) or not change_id.startswith("chg-"):
            raise NotFound("change", str(change_id)[:64])
        change = await self._store.get_change(change_id)
        return await self._expire(change)

    async def list_changes(
        self, status: ChangeStatus | None = None, *, limit: int = 100
    ) -> list[ChangeProposal]:
        return [await self._expire(c) for c in await self._store.list_changes(status, limit=limit)]

    async def approve(self, operator: m.Identity, change_id: str) -> ChangeProposal:
        """Add the operator's approval (the proposer's is refused; a second one by
        the same operator counts once); then apply the change if it is due."""
        change = await self.get(change_id)
        now = self._clock()
        after = change.approved_by(operator.name, now)
        if after is change:
            return change  # approved before: counts once
        async with self._store.unit_of_work():
            saved = await self._store.save_change(after, expected_version=change.version)
            await self._store.append_audit(
                operator.uri,
                "change_approved",
                change_id,
                {
                    "approvals": len(saved.approvals),
                    "required": saved.required,
                    "status": saved.status.value,
                },
            )
        if saved.why_not_applicable(now) is None:
            return await self.apply(operator, change_id)
        return saved

    async def apply(self, operator: m.Identity, change_id: str) -> ChangeProposal:
        """Apply an approved change whose delay passed; its effect, its status and
        its audit entry commit together. Anything else is refused, saying why."""
        change = await self.get(change_id)
        now = self._clock()
        why = change.why_not_applicable(now)
        if why is not None:
            raise PreconditionFailed(why)
        _, applier = self._applier(change.kind)
        terms = change.terms
        async with self._store.unit_of_work():
            applied = change.decided(ChangeStatus.APPLIED, operator.name, now)
            saved = await self._store.save_change(applied, expected_version=change.version)
            await applier.apply(terms, change)
            await self._store.append_audit(
                operator.uri,
                "change_applied",
                change_id,
                {
                    "kind": change.kind.value,
                    "payload": change.payload,
                    "approved_by": ",".join(change.approvals),
                },
            )
        return saved

    async def reject(self, operator: m.Identity, change_id: str, reason: str) -> ChangeProposal:
        """Refuse an undecided change for good (any operator, the proposer too:
        withdrawing is rejecting); audited with the reason."""
        if not isinstance(reason, str) or not 1 <= len(reason) <= 512:
            raise InvalidRequest("reason", "must be 1-512 characters")
        change = await self.get(change_id)
        rejected = change.decided(ChangeStatus.REJECTED, operator.name, self._clock())
        async with self._store.unit_of_work():
            saved = await self._store.save_change(rejected, expected_version=change.version)
            await self._store.append_audit(
                operator.uri, "change_rejected", change_id, {"reason": reason}
            )
        return saved

    async def apply_due(self, operator: m.Identity) -> list[ChangeProposal]:
        """Apply every approved change whose delay has passed (a scheduler's tick)."""
        done = []
        for change in await self._store.list_changes(ChangeStatus.APPROVED, limit=1000):
            if change.why_not_applicable(self._clock()) is None:
                try:
                    done.append(await self.apply(operator, change.change_id))
                except StaleVersion:
                    continue  # another replica applied it meanwhile
        return done

    async def _expire(self, change: ChangeProposal) -> ChangeProposal:
        now = self._clock()
        if change.status in DECIDED or change.state_at(now) is not ChangeStatus.EXPIRED:
            return change
        expired = change.decided(ChangeStatus.EXPIRED, "ballast://router", now)
        try:
            async with self._store.unit_of_work():
                saved = await self._store.save_change(expired, expected_version=change.version)
                await self._store.append_audit(
                    "ballast://router", "change_expired", change.change_id, {}
                )
        except StaleVersion:
            return await self._store.get_change(change.change_id)
        return saved


async def seed_allowlist(store: AllowListSeed, settings: RouterSettings) -> int:
    """At first start, allow the config's own destinations: every pool, every
    chain's hub (the bridge's recipient) and every vault, so the configured
    flows work. Later starts change nothing: the list then changes only
    through approved changes. Returns how many were added."""
    if await store.allowlist_touched():
        return 0
    families = {c.name: c.family for c in settings.chains}
    found: list[Destination] = []
    for c in settings.chains:
        if c.hub:
            found.append(Destination(c.name, normal_address(c.family, c.hub), f"hub:{c.name}"))
    for p in settings.pools:
        found.append(
            Destination(p.chain, normal_address(families.get(p.chain), p.address), p.pool_id)
        )
    for v in settings.vaults:
        found.append(
            Destination(v.chain, normal_address(families.get(v.chain), v.address), v.vault_id)
        )
    added = 0
    for dest in found:
        added += await store.add_destination(dest, "ballast://config")
    return added

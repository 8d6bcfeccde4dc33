"""Routes, vaults, partners and reporters as change control sets them.

The kinds ``route.set`` / ``route.remove``, ``vault.set``, ``partner.add`` /
``partner.deactivate`` and ``reporter.add`` / ``reporter.deactivate`` take the
path of ``limits.set``: proposed with a diff, approved by N operators other
than the proposer, applied after the delay, audited (:mod:`router.app.changes`).

Routes and vaults come from the config; an applied change is stored as an
override (:meth:`set_registry_override`) that wins over the config's entry:
the planner reads the routes in force from :class:`EffectiveRoutes` at every
plan, and vault overrides are written to the vault registry and re-applied
after the config sync at start-up (:func:`reapply_vault_overrides`), so a
restart does not undo an approved change. Partners and reporters live in the
store already; their changes write there. An emergency deactivation stays
immediate (``SetPartnerActive`` / ``SetReporterActive``, audited there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from pydantic import ValidationError

from router import domain as m
from router.config import RouteConfig, VaultConfig
from router.domain.changes import ChangeProposal, canonical
from router.errors import InvalidRecord, InvalidRequest, PreconditionFailed

ROUTE, VAULT = "route", "vault"


class RegistryOverrides(Protocol):
    async def set_registry_override(
        self, kind: str, key: str, body: str, change_id: str, *, removed: bool = False
    ) -> None: ...
    async def registry_overrides(self, kind: str) -> list[tuple[str, str, bool]]: ...


class RegistryBook(RegistryOverrides, Protocol):
    """What the registry kinds of change read and write."""

    async def list_chains(self) -> list[m.Chain]: ...
    async def list_vaults(self) -> list[m.Vault]: ...
    async def upsert_vault(self, vault: m.Vault) -> m.Vault: ...
    async def list_partners(self) -> list[m.Partner]: ...
    async def register_partner(self, partner: m.Partner) -> m.Partner: ...
    async def set_partner_active(self, partner_id: str, active: bool) -> bool: ...
    async def list_reporters(self, chain: str | None = None) -> list[m.Reporter]: ...
    async def register_reporter(self, reporter: m.Reporter) -> m.Reporter: ...
    async def set_reporter_allowed(self, reporter_id: str, allowed: bool) -> bool: ...


class VaultRegistry(RegistryOverrides, Protocol):
    async def upsert_vault(self, vault: m.Vault) -> m.Vault: ...


class EffectiveRoutes:
    """The routes in force: the config's, each one an applied change set or
    removed replaced, plus those changes added."""

    def __init__(self, store: RegistryOverrides, base: Sequence[RouteConfig]) -> None:
        self._store = store
        self.base = tuple(base)

    async def __call__(self) -> tuple[RouteConfig, ...]:
        routes = {r.route_id: r for r in self.base}
        for key, body, removed in await self._store.registry_overrides(ROUTE):
            if removed:
                routes.pop(key, None)
            else:
                routes[key] = RouteConfig.model_validate(json.loads(body))
        return tuple(routes[k] for k in sorted(routes))


async def reapply_vault_overrides(store: VaultRegistry) -> int:
    """After the config sync at start-up: vaults set by applied changes win."""
    count = 0
    for _key, body, _removed in await store.registry_overrides(VAULT):
        await store.upsert_vault(_vault(json.loads(body)))
        count += 1
    return count


def _fields(payload: Mapping[str, object], allowed: set[str], kind: str) -> None:
    extra = set(payload) - allowed
    if extra:
        raise InvalidRequest("payload", f"unknown field(s) {sorted(extra)} for {kind}")


def _validation(exc: ValidationError) -> InvalidRequest:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
    return InvalidRequest("payload", f"{where}: {first.get('msg', 'invalid')}")


def _name(payload: Mapping[str, object], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str):
        raise InvalidRequest("payload", f"{field} (a string) is required")
    try:
        m.check_id(value, field)
    except InvalidRecord as exc:
        raise InvalidRequest("payload", str(exc)) from None
    return value


def _describe_route(r: RouteConfig) -> str:
    return (
        f"{r.src_chain}->{r.dst_chain} fee {r.fee_bps:g} bps + {r.fixed_fee}, "
        f"latency {r.latency_s:g} s, capacity {r.capacity}, min {r.min_transfer}"
    )


class RouteChange:
    """``route.set`` (payload: a route's fields as in ``[[routes]]``) and
    ``route.remove`` (payload ``{"route_id"}``)."""

    def __init__(self, store: RegistryBook, routes: EffectiveRoutes, *, remove: bool) -> None:
        self._store = store
        self._routes = routes
        self._remove = remove

    async def parse(self, payload: Mapping[str, object]) -> dict[str, object]:
        if self._remove:
            _fields(payload, {"route_id"}, "route.remove")
            return {"route_id": _name(payload, "route_id")}
        _fields(payload, set(RouteConfig.model_fields), "route.set")
        try:
            route = RouteConfig.model_validate(dict(payload))
        except ValidationError as exc:
            raise _validation(exc) from None
        chains = {c.name for c in await self._store.list_chains()}
        for side in (route.src_chain, route.dst_chain):
            if side not in chains:
                raise InvalidRequest("payload", f"chain {side!r} is not registered")
        if route.src_chain == route.dst_chain:
            raise InvalidRequest("payload", "a route joins two different chains")
        return dict(route.model_dump())

    async def diff(self, terms: Mapping[str, object]) -> str:
        current = {r.route_id: r for r in await self._routes()}
        route_id = str(terms["route_id"])
        old = current.get(route_id)
        if self._remove:
            if old is None:
                raise PreconditionFailed(f"route {route_id} is not in force")
            return f"- route {route_id}: {_describe_route(old)}"
        new = RouteConfig.model_validate(dict(terms))
        if old == new:
            raise PreconditionFailed(f"route {route_id} is {_describe_route(new)} already")
        before = _describe_route(old) if old is not None else "none"
        return f"route {route_id}: {before} -> {_describe_route(new)}"

    async def apply(self, terms: Mapping[str, object], change: ChangeProposal) -> None:
        route_id = str(terms["route_id"])
        await self._store.set_registry_override(
            ROUTE, route_id, canonical(terms), change.change_id, removed=self._remove
        )


def _vault(terms: Mapping[str, object]) -> m.Vault:
    v = VaultConfig.model_validate(dict(terms))
    return m.Vault(v.vault_id, v.chain, v.address, v.asset, v.capacity, v.premium_bps)


def _describe_vault(v: m.Vault) -> str:
    return f"{v.chain} {v.address} {v.asset}, capacity {v.capacity}, premium {v.premium_bps} bps"


class VaultChange:
    """``vault.set``: payload a vault's fields as in ``[[vaults]]`` (base units). A new
    vault's address is paid to only once an ``allowlist.add`` puts it on the list."""

    def __init__(self, store: RegistryBook) -> None:
        self._store = store

    async def parse(self, payload: Mapping[str, object]) -> dict[str, object]:
        _fields(payload, set(VaultConfig.model_fields), "vault.set")
        try:
            v = VaultConfig.model_validate(dict(payload))
            m.check_id(v.vault_id, "vault_id")
        except ValidationError as exc:
            raise _validation(exc) from None
        except InvalidRecord as exc:
            raise InvalidRequest("payload", str(exc)) from None
        if v.chain not in {c.name for c in await self._store.list_chains()}:
            raise InvalidRequest("payload", f"chain {v.chain!r} is not registered")
        if not re.fullmatch(r"0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44}", v.address):
            raise InvalidRequest(
                "payload", "address must be a 0x-prefixed EVM address or a base58 account"
            )
        return dict(v.model_dump())

    async def diff(self, terms: Mapping[str, object]) -> str:
        new = _vault(terms)
        old = {v.vault_id: v for v in await self._store.list_vaults()}.get(new.vault_id)
        if old is not None and _describe_vault(old) == _describe_vault(new):
            raise PreconditionFailed(f"vault {new.vault_id} is {_describe_vault(new)} already")
        before = _describe_vault(old) if old is not None else "none"
        return f"vault {new.vault_id}: {before} -> {_describe_vault(new)}"

    async def apply(self, terms: Mapping[str, object], change: ChangeProposal) -> None:
        vault = _vault(terms)
        await self._store.upsert_vault(vault)
        await self._store.set_registry_override(
            VAULT, vault.vault_id, canonical(terms), change.change_id
        )


class PartnerChange:
    """``partner.add`` (payload ``{"partner_id", "name"}``; re-activates a
    deactivated one) and ``partner.deactivate`` (``{"partner_id"}``)."""

    def __init__(self, store: RegistryBook, *, add: bool) -> None:
        self._store = store
        self._add = add

    async def parse(self, payload: Mapping[str, object]) -> dict[str, object]:
        if not self._add:
            _fields(payload, {"partner_id"}, "partner.deactivate")
            return {"partner_id": _name(payload, "partner_id")}
        _fields(payload, {"partner_id", "name"}, "partner.add")
        partner_id = _name(payload, "partner_id")
        name = payload.get("name", partner_id)
        if not isinstance(name, str) or not 1 <= len(name) <= 128:
            raise InvalidRequest("payload", "name must be 1-128 characters")
        return {"partner_id": partner_id, "name": name}

    async def diff(self, terms: Mapping[str, object]) -> str:
        pid = str(terms["partner_id"])
        was = {p.partner_id: p for p in await self._store.list_partners()}.get(pid)
        if not self._add:
            if was is None:
                raise PreconditionFailed(f"partner {pid} is not registered")
            if not was.active:
                raise PreconditionFailed(f"partner {pid} is deactivated already")
            return f"- partner {pid} ({was.name}): active -> deactivated"
        if was is not None and was.active:
            raise PreconditionFailed(f"partner {pid} is registered and active already")
        state = "deactivated" if was is not None else "none"
        return f"+ partner {pid} ({terms['name']}): {state} -> active"

    async def apply(self, terms: Mapping[str, object], change: ChangeProposal) -> None:
        pid = str(terms["partner_id"])
        if self._add:
            await self._store.register_partner(m.Partner(pid, str(terms["name"]), active=True))
        else:
            await self._store.set_partner_active(pid, False)


class ReporterChange:
    """``reporter.add`` (payload ``{"reporter_id", "chain"}``; re-allows a refused
    one) and ``reporter.deactivate`` (``{"reporter_id"}``)."""

    def __init__(self, store: RegistryBook, *, add: bool) -> None:
        self._store = store
        self._add = add

    async def parse(self, payload: Mapping[str, object]) -> dict[str, object]:
        if not self._add:
            _fields(payload, {"reporter_id"}, "reporter.deactivate")
            return {"reporter_id": _reporter_id(payload)}
        _fields(payload, {"reporter_id", "chain"}, "reporter.add")
        rid, chain = _reporter_id(payload), _name(payload, "chain")
        if chain not in {c.name for c in await self._store.list_chains()}:
            raise InvalidRequest("payload", f"chain {chain!r} is not registered")
        return {"reporter_id": rid, "chain": chain}

    async def diff(self, terms: Mapping[str, object]) -> str:
        rid = str(terms["reporter_id"])
        was = {r.reporter_id: r for r in await self._store.list_reporters()}.get(rid)
        if not self._add:
            if was is None:
                raise PreconditionFailed(f"reporter {rid} is not registered")
            if not was.allowed:
                raise PreconditionFailed(f"reporter {rid} is deactivated already")
            return f"- reporter {rid} ({was.chain}): allowed -> deactivated"
        if was is not None and was.allowed:
            raise PreconditionFailed(f"reporter {rid} is registered and allowed already")
        state = "deactivated" if was is not None else "none"
        return f"+ reporter {rid} ({terms['chain']}): {state} -> allowed"

    async def apply(self, terms: Mapping[str, object], change: ChangeProposal) -> None:
        rid = str(terms["reporter_id"])
        if self._add:
            await self._store.register_reporter(m.Reporter(rid, str(terms["chain"]), True))
        else:
            await self._store.set_reporter_allowed(rid, False)


def _reporter_id(payload: Mapping[str, object]) -> str:
    """A reporter id is an identity name: segments joined by '/' (``ethereum/node-a``)."""
    value = payload.get("reporter_id")
    if not isinstance(value, str) or not value:
        raise InvalidRequest("payload", "reporter_id (a string) is required")
    try:
        m.Reporter(value, "x")
    except InvalidRecord as exc:
        raise InvalidRequest("payload", str(exc)) from None
    return value

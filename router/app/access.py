"""Who may act: the registry synced from config, deactivation, certificate revocation.

Every change is audited in the same unit of work. Partners and reporters are
never deleted (their history stays attributable): removing one from the
config deactivates it, and an operator's deactivation survives restarts until
an operator reactivates it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Awaitable, Callable

from cryptography import x509

from router import domain as m
from router.app.ports import AccessStore, RegistrySync
from router.config import RouterSettings
from router.errors import InvalidRequest, NotFound, Unauthenticated, UnknownEntity


def fingerprint_of(cert_pem: bytes) -> str:
    """SHA-256 of a certificate's DER, lowercase hex: how revocations name it."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise InvalidRequest("certificate", "is not a PEM X.509 certificate") from None
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


class AccessControl:
    def __init__(self, store: AccessStore) -> None:
        self._store = store

    async def check(self, identity: m.Identity, fingerprint: str | None) -> None:
        """Refuse a caller whose certificate was revoked (read fresh, every call)."""
        if fingerprint is not None and await self._store.is_revoked(fingerprint):
            raise Unauthenticated(
                f"the certificate presented for {identity.uri} was revoked; "
                "ask an operator for a new one"
            )

    async def reporter_allowed(self, reporter_id: str) -> bool | None:
        """True/False for a registered reporter, None for one never registered."""
        flags = await self._store.reporters_allowed([reporter_id])
        return flags.get(reporter_id)

    async def set_partner_active(
        self, operator: m.Identity, partner_id: str, active: bool, reason: str
    ) -> bool:
        """Activate or deactivate a partner at once; returns the previous state."""
        return await self._set_active(
            operator, "partner", partner_id, active, reason, self._store.set_partner_active
        )

    async def set_reporter_allowed(
        self, operator: m.Identity, reporter_id: str, allowed: bool, reason: str
    ) -> bool:
        """Allow or refuse a reporter at once (its next batch); returns the previous state."""
        return await self._set_active(
            operator, "reporter", reporter_id, allowed, reason, self._store.set_reporter_allowed
        )

    async def _set_active(
        self,
        operator: m.Identity,
        kind: str,
        key: str,
        active: bool,
        reason: str,
        setter: Callable[[str, bool], Awaitable[bool]],
    ) -> bool:
        try:
            async with self._store.unit_of_work():
                was = await setter(key, active)
                await self._store.append_audit(
                    operator.uri,
                    f"{kind}_{'activated' if active else 'deactivated'}",
                    f"{kind}:{key}",
                    {"reason": reason, "was_active": was},
                )
        except NotFound:
            raise UnknownEntity(kind, key) from None
        return was

    async def revoke(
        self, operator: m.Identity, fingerprint: str, identity: str, reason: str
    ) -> m.Revocation:
        revocation = m.Revocation(fingerprint, identity, reason, operator.uri, m.utcnow())
        async with self._store.unit_of_work():
            stored = await self._store.revoke(revocation)
            if stored == revocation:
                await self._store.append_audit(
                    operator.uri,
                    "certificate_revoked",
                    f"cert:{fingerprint[:32]}",
                    {"identity": identity, "reason": reason, "fingerprint": fingerprint},
                )
        return stored

    async def revocations(self) -> list[m.Revocation]:
        return await self._store.list_revocations()


async def sync_registry(store: RegistrySync, settings: RouterSettings) -> None:
    """Make the store's chains, pools, reporters, partners and vaults match the config.

    Adds and updates; never deletes; never resets a pool's reserve. A partner
    or reporter missing from the config is deactivated; one present keeps the
    state an operator last set (a new one starts active), unless the config
    says ``active = false``.
    """
    for c in settings.chains:
        await store.upsert_chain(m.Chain(name=c.name, family=c.family, quorum=c.quorum))  # type: ignore[arg-type]
    existing = {p.pool_id: p for p in await store.list_pools()}
    await store.upsert_pools(
        [
            dataclasses.replace(existing[p.pool_id], address=p.address, asset=p.asset)
            if p.pool_id in existing
            else m.Pool(pool_id=p.pool_id, chain=p.chain, address=p.address, asset=p.asset)
            for p in settings.pools
        ]
    )
    known_reporters = {r.reporter_id: r for r in await store.list_reporters()}
    configured = {r.reporter_id for r in settings.reporters}
    for r in settings.reporters:
        was = known_reporters.get(r.reporter_id)
        allowed = was.allowed if was is not None and was.chain == r.chain else True
        allowed = allowed and r.active
        await store.register_reporter(
            m.Reporter(reporter_id=r.reporter_id, chain=r.chain, allowed=allowed)
        )
    for rid, rep in known_reporters.items():
        if rid not in configured and rep.allowed:
            await store.set_reporter_allowed(rid, False)
    known_partners = {p.partner_id: p for p in await store.list_partners()}
    listed = {p.partner_id for p in settings.partners}
    for partner in settings.partners:
        was_p = known_partners.get(partner.partner_id)
        await store.register_partner(
            m.Partner(
                partner_id=partner.partner_id,
                name=partner.display_name or partner.partner_id,
                active=(was_p.active if was_p is not None else True) and partner.active,
            )
        )
    for pid, p in known_partners.items():
        if pid not in listed and p.active:
            await store.set_partner_active(pid, False)
    await _seed_deployments(store, settings)
    for v in settings.vaults:
        await store.upsert_vault(
            m.Vault(
                vault_id=v.vault_id,
                chain=v.chain,
                address=v.address,
                asset=v.asset,
                capacity=v.capacity,
                premium_bps=v.premium_bps,
            )
        )


async def _seed_deployments(store: RegistrySync, settings: RouterSettings) -> None:
    """Register the config's deployments that the store does not know yet (seeds
    only: operators and the TVL reporter keep registered ones current)."""
    if not settings.deployments:
        return
    known = {d.deployment_id for d in await store.list_deployments()}
    now = m.utcnow()
    for d in settings.deployments:
        if d.deployment_id in known:
            continue
        await store.put_deployment(
            m.Deployment(
                deployment_id=d.deployment_id,
                protocol_id=d.protocol_id,
                chain=d.chain,
                addresses=d.addresses,
                asset=d.asset,
                tvl=d.tvl,
                tvl_source=d.tvl_source,
                tvl_as_of=now,
                incidents=m.IncidentHistory(
                    d.incident_count, d.incident_severity_bps, d.incident_window_days
                ),
                audits=m.AuditFacts(d.auditors, d.last_audit_at),
                governance_assets=d.governance_assets,
            )
        )

"""The ports the use cases need: narrow slices of the store and the engine.

``router.store.Store`` fits every store port, ``router.app.engine.ReinsuranceEngine``
the engine port. Each use case asks for the slices it touches, so a reader
sees at a glance what a use case may read and write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from router import domain as m
from router.domain.changes import ChangeProposal, ChangeStatus, Destination
from router.domain.drift import PoolBasis
from router.domain.ingest import ReportIn, ReportOutcome
from router.domain.limits import Headroom, LimitsPolicy

if TYPE_CHECKING:
    from router.config import RouteConfig


class Transactional(Protocol):
    def unit_of_work(self) -> AbstractAsyncContextManager[None]:
        """Every store call inside the block commits together or not at all."""
        ...


class Registry(Protocol):
    async def list_chains(self) -> list[m.Chain]: ...
    async def list_pools(self, chain: str | None = None) -> list[m.Pool]: ...
    async def get_pool(self, pool_id: str) -> m.Pool: ...
    async def get_partner(self, partner_id: str) -> m.Partner: ...
    async def list_vaults(self) -> list[m.Vault]: ...


class Balances(Protocol):
    async def latest_balance(self, pool_id: str) -> m.ConfirmedBalance | None: ...
    async def latest_balances(self, chain: str | None = None) -> dict[str, m.ConfirmedBalance]: ...


class CoverBook(Protocol):
    async def covers_in_force(
        self, *, now: datetime | None = None, pool_id: str | None = None
    ) -> list[m.CoverInForce]: ...
    async def save_quote(self, quote: m.Quote) -> m.Quote: ...
    async def get_quote(self, partner_id: str, quote_id: str) -> m.Quote: ...
    async def find_cover(self, partner_id: str, idempotency_key: str) -> m.Cover | None: ...
    async def bind_cover(
        self, request: m.CoverRequest, *, capacity: m.CapacityRule | None = None
    ) -> m.BindResult: ...
    async def list_covers(
        self, partner_id: str, *, limit: int | None = None, offset: int = 0
    ) -> list[m.Cover]: ...


class DeploymentBook(Protocol):
    """The registry of covered deployments and the pauses (``store/protocols.py``)."""

    async def put_deployment(self, deployment: m.Deployment) -> bool: ...
    async def get_deployment(self, deployment_id: str) -> m.Deployment: ...
    async def list_deployments(self, protocol_id: str | None = None) -> list[m.Deployment]: ...
    async def record_tvl(
        self, reading: m.TvlReading, *, only_newer: bool
    ) -> m.Deployment | None: ...
    async def set_pause(self, pause: m.Pause | None, target: m.PauseTarget) -> bool: ...
    async def list_pauses(self, targets: list[m.PauseTarget] | None = None) -> list[m.Pause]: ...


class PlanBook(Protocol):
    async def create_plan(self, draft: m.PlanDraft) -> m.Plan: ...
    async def get_plan(self, plan_id: str) -> m.Plan: ...
    async def list_plans(
        self, status: m.PlanStatus | None = None, *, limit: int = 100
    ) -> list[m.Plan]: ...
    async def update_plan_status(
        self, plan_id: str, status: m.PlanStatus, *, expected_version: int
    ) -> m.Plan: ...
    async def approve_plan(
        self, plan_id: str, operator_id: str, *, reviewed_hash: str | None = None
    ) -> m.Plan: ...
    async def list_transfers(
        self, status: m.TransferState | None = None
    ) -> list[m.TransferRecord]: ...


class TreasuryBook(Protocol):
    """The basis a plan was approved on, and the destinations allow-list."""

    async def record_basis(
        self, plan_id: str, basis: Sequence[PoolBasis], *, now: datetime | None = None
    ) -> None: ...
    async def destination_allowed(self, chain: str, address: str) -> bool: ...


class LimitBook(Protocol):
    async def limit_headroom(
        self, policy: LimitsPolicy, *, now: datetime | None = None
    ) -> Headroom: ...


class AuditLog(Protocol):
    async def append_audit(
        self,
        actor: str,
        action: str,
        subject: str,
        detail: Mapping[str, str | int | bool | None],
    ) -> m.AuditEntry: ...


class Keys(Protocol):
    async def find_key(self, scope: str, key: str) -> m.IdempotencyRecord | None: ...
    async def record_key(self, record: m.IdempotencyRecord) -> m.IdempotencyRecord: ...


class Access(Protocol):
    async def set_partner_active(self, partner_id: str, active: bool) -> bool: ...
    async def set_reporter_allowed(self, reporter_id: str, allowed: bool) -> bool: ...
    async def reporters_allowed(self, reporter_ids: list[str]) -> dict[str, bool]: ...
    async def revoke(self, revocation: m.Revocation) -> m.Revocation: ...
    async def is_revoked(self, fingerprint: str) -> bool: ...
    async def list_revocations(self) -> list[m.Revocation]: ...


class RegistrySync(Protocol):
    """What syncing the registry from config writes."""

    async def list_changes(
        self, status: ChangeStatus | None = None, *, limit: int = 100
    ) -> list[ChangeProposal]: ...
    async def upsert_chain(self, chain: m.Chain) -> m.Chain: ...
    async def list_pools(self, chain: str | None = None) -> list[m.Pool]: ...
    async def upsert_pools(self, pools: Sequence[m.Pool]) -> list[m.Pool]: ...
    async def list_reporters(self, chain: str | None = None) -> list[m.Reporter]: ...
    async def register_reporter(self, reporter: m.Reporter) -> m.Reporter: ...
    async def set_reporter_allowed(self, reporter_id: str, allowed: bool) -> bool: ...
    async def list_partners(self) -> list[m.Partner]: ...
    async def register_partner(self, partner: m.Partner) -> m.Partner: ...
    async def set_partner_active(self, partner_id: str, active: bool) -> bool: ...
    async def upsert_vault(self, vault: m.Vault) -> m.Vault: ...
    async def list_deployments(self, protocol_id: str | None = None) -> list[m.Deployment]: ...
    async def put_deployment(self, deployment: m.Deployment) -> bool: ...
    # the destinations allow-list, seeded from the config at first start
    async def add_destination(
        self, dest: Destination, added_by: str, *, now: datetime | None = None
    ) -> bool: ...
    async def allowlist_touched(self) -> bool: ...


class ReportSink(Protocol):
    async def record_reports(
        self,
        reports: Sequence[ReportIn],
        *,
        now: datetime | None = None,
        max_skew: timedelta = ...,
    ) -> list[ReportOutcome]: ...


class PositionStore(Registry, Balances, CoverBook, Protocol):
    async def list_deployments(self, protocol_id: str | None = None) -> list[m.Deployment]: ...
    async def moving_transfers(self) -> list[m.TransferRecord]: ...
    async def list_plans(
        self, status: m.PlanStatus | None = None, *, limit: int = 100
    ) -> list[m.Plan]: ...
    async def list_cessions(self, pool_id: str | None = None) -> list[m.Cession]: ...


class ProtocolStore(DeploymentBook, AuditLog, Transactional, Protocol):
    async def get_reporter(self, reporter_id: str) -> m.Reporter: ...


class CoverStore(Registry, Balances, CoverBook, DeploymentBook, AuditLog, Transactional, Protocol):
    pass


class PlanStore(
    PositionStore, PlanBook, LimitBook, TreasuryBook, AuditLog, Keys, Transactional, Protocol
):
    pass


class AccessStore(Access, AuditLog, Transactional, Protocol):
    pass


class Executor(Protocol):
    """Carries approved plans out on chain (``router.execution`` over Temporal)."""

    async def start(self, plan_id: str) -> bool:
        """Start the plan's saga; False if it already runs or ran (never twice)."""
        ...

    async def resolve(
        self, plan_id: str, seq: int, action: str, operator: str, reason: str
    ) -> None:
        """Hand an operator's decision about a stuck step to the running saga."""
        ...


class Engine(Protocol):
    """What the use cases need of the reinsurance engine (``router.app.engine``)."""

    def requirements(self, pools: Sequence[m.PoolExposure]) -> dict[str, m.Requirement]:
        """SCR and MCR of every pool, from its capital and its cover in force by type."""
        ...

    def premium(
        self,
        pool: m.Pool,
        terms: m.CoverTerms,
        deployment: m.Deployment,
        *,
        capital: int,
        free: int,
    ) -> m.Premium:
        """The premium of ``terms`` on ``deployment``, explained (parts sum to it)."""
        ...

    def plan(
        self,
        pools: Sequence[m.PoolView],
        vaults: Sequence[m.Vault],
        target_ratio_bps: int,
        band_bps: int = 0,
        headroom: Headroom | None = None,
        routes: Sequence[RouteConfig] | None = None,
    ) -> m.PlanProposal:
        """A plan within ``headroom`` (what the limits leave; None: unlimited), over
        ``routes`` (the routes in force; None: the engine's configured ones)."""
        ...


__all__ = [
    "Access",
    "AccessStore",
    "AuditLog",
    "Balances",
    "CoverBook",
    "CoverStore",
    "DeploymentBook",
    "Engine",
    "Executor",
    "Keys",
    "PlanBook",
    "PlanStore",
    "PositionStore",
    "ProtocolStore",
    "Registry",
    "RegistrySync",
    "ReportSink",
    "Transactional",
    "TreasuryBook",
]


class HistoryStore(Protocol):
    """The report history's retention (``router/store/retention.py``)."""

    async def count_history(self) -> int: ...
    async def count_prunable_history(self, before: datetime) -> int: ...
    async def prune_history(self, before: datetime, *, limit: int) -> int: ...
    async def count_prunable_limit_usage(self, before: datetime) -> int: ...
    async def prune_limit_usage(self, before: datetime, *, limit: int) -> int: ...

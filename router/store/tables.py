"""sqlmodel table rows: the storage shape, never the API.

``table=True`` models skip validation, so nothing here is built from untrusted
input: the repository converts validated :mod:`router.domain` values to
rows and rows back to values. Column types come from :mod:`router.store.types`
so amounts stay exact and timestamps stay UTC on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from router.store.types import Amount
from router.store.types import amount_column as _amount
from router.store.types import time_column as _ts

metadata = SQLModel.metadata

# Naming convention so Alembic names constraints the same on both backends.
metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _fk(target: str, *, nullable: bool = False, index: bool = False) -> sa.Column[str]:
    return sa.Column(sa.String(128), sa.ForeignKey(target), nullable=nullable, index=index)


class ChainRow(SQLModel, table=True):
    __tablename__ = "chains"
    name: str = Field(primary_key=True, max_length=128)
    family: str = Field(max_length=16)
    quorum: int
    updated_at: datetime = Field(sa_column=_ts())


class PoolRow(SQLModel, table=True):
    __tablename__ = "pools"
    pool_id: str = Field(primary_key=True, max_length=128)
    chain: str = Field(sa_column=_fk("chains.name", index=True))
    address: str = Field(max_length=128)
    asset: str = Field(max_length=128)
    locked_capital: int = Field(sa_column=_amount())
    active_cover: int = Field(sa_column=_amount())
    target_ratio_bps: int
    min_ratio_bps: int
    updated_at: datetime = Field(sa_column=_ts())


class ReporterRow(SQLModel, table=True):
    __tablename__ = "reporters"
    reporter_id: str = Field(primary_key=True, max_length=128)
    chain: str = Field(sa_column=_fk("chains.name", index=True))
    allowed: bool
    updated_at: datetime = Field(sa_column=_ts())


class BalanceReportRow(SQLModel, table=True):
    """Append-only history: every vote a reporter cast, one per (pool, block, reporter).

    The hot ingestion tables carry no foreign keys: a per-row FK check costs
    more than the insert, ingestion only accepts pools and reporters it found
    in the pools/reporters tables, and pools are never deleted.
    """

    __tablename__ = "balance_reports"
    pool_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    block_number: int = Field(
        sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False)
    )
    reporter_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    chain: str = Field(max_length=128)
    amount: int = Field(sa_column=_amount())
    block_hash: str = Field(max_length=96)
    observed_at: datetime = Field(sa_column=_ts())
    received_at: datetime = Field(sa_column=_ts())


class BalanceLatestRow(SQLModel, table=True):
    """The latest confirmed balance per pool; only ever moves to a higher block."""

    __tablename__ = "balance_latest"
    # Rewritten row by row on every confirmation: free space per page lets
    # PostgreSQL update in place (HOT) without touching the index.
    __table_args__ = {"postgresql_with": {"fillfactor": 50}}
    pool_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    chain: str = Field(max_length=128)
    amount: int = Field(sa_column=_amount())
    block_number: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    block_hash: str = Field(max_length=96)
    observed_at: datetime = Field(sa_column=_ts())
    confirmed_at: datetime = Field(sa_column=_ts())
    reporters: int
    #: The chain's own time of that block, when the reporter sent it.
    block_time: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class DisagreementRow(SQLModel, table=True):
    __tablename__ = "balance_disagreements"
    pool_id: str = Field(
        sa_column=sa.Column(sa.String(128), sa.ForeignKey("pools.pool_id"), primary_key=True)
    )
    block_number: int = Field(
        sa_column=sa.Column(sa.BigInteger(), primary_key=True, autoincrement=False)
    )
    chain: str = Field(max_length=128)
    votes: str  # newline-separated "reporter=hash:amount"
    detected_at: datetime = Field(sa_column=_ts())


class PartnerRow(SQLModel, table=True):
    __tablename__ = "partners"
    partner_id: str = Field(primary_key=True, max_length=128)
    name: str = Field(max_length=128)
    active: bool
    updated_at: datetime = Field(sa_column=_ts())


class QuoteRow(SQLModel, table=True):
    __tablename__ = "quotes"
    quote_id: str = Field(primary_key=True, max_length=128)
    partner_id: str = Field(sa_column=_fk("partners.partner_id", index=True))
    pool_id: str = Field(sa_column=_fk("pools.pool_id"))
    cover_type: str = Field(max_length=128)
    limit_amount: int = Field(sa_column=_amount())
    premium: int = Field(sa_column=_amount())
    inputs_hash: str = Field(max_length=64)
    expires_at: datetime = Field(sa_column=_ts())
    created_at: datetime = Field(sa_column=_ts())


class CoverRow(SQLModel, table=True):
    __tablename__ = "covers"
    __table_args__ = (
        sa.UniqueConstraint("partner_id", "idempotency_key", name="uq_covers_idempotency"),
        # A quote binds at most once, whatever key the bind carries.
        sa.UniqueConstraint("quote_id", name="uq_covers_quote_id"),
    )
    cover_id: str = Field(primary_key=True, max_length=64)
    partner_id: str = Field(sa_column=_fk("partners.partner_id", index=True))
    idempotency_key: str = Field(max_length=128)
    request_hash: str = Field(max_length=64)
    request_json: str  # canonical payload, to name the fields a mismatching replay changes
    pool_id: str = Field(sa_column=_fk("pools.pool_id", index=True))
    cover_type: str = Field(max_length=128)
    limit_amount: int = Field(sa_column=_amount())
    premium: int = Field(sa_column=_amount())
    starts_at: datetime = Field(sa_column=_ts())
    ends_at: datetime = Field(sa_column=_ts())
    status: str = Field(max_length=16)
    quote_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=_ts())
    # The terms (migration 0011); covers bound before it have no deployment.
    deployment_id: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(128), nullable=True, index=True)
    )
    deductible: int = Field(sa_column=sa.Column(Amount(), nullable=False, server_default="0"))
    per_event_max: int = Field(sa_column=sa.Column(Amount(), nullable=False, server_default="0"))
    trigger_kinds: str = Field(
        sa_column=sa.Column(sa.String(256), nullable=False, server_default="")
    )  # comma-separated, as bound
    insured_value: int = Field(sa_column=sa.Column(Amount(), nullable=False, server_default="0"))
    position_ref: str = Field(
        sa_column=sa.Column(sa.String(128), nullable=False, server_default="")
    )


class VaultRow(SQLModel, table=True):
    __tablename__ = "vaults"
    vault_id: str = Field(primary_key=True, max_length=128)
    chain: str = Field(sa_column=_fk("chains.name"))
    address: str = Field(max_length=128)
    asset: str = Field(max_length=128)
    capacity: int = Field(sa_column=_amount())
    premium_bps: int
    updated_at: datetime = Field(sa_column=_ts())
    #: What the vault can still take, read on chain at ``free_at_block`` (final).
    free_on_chain: int | None = Field(default=None, sa_column=sa.Column(Amount(), nullable=True))
    free_at_block: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))


class CessionRow(SQLModel, table=True):
    __tablename__ = "cessions"
    cession_id: str = Field(primary_key=True, max_length=128)
    vault_id: str = Field(sa_column=_fk("vaults.vault_id", index=True))
    pool_id: str = Field(sa_column=_fk("pools.pool_id", index=True))
    amount: int = Field(sa_column=_amount())
    premium: int = Field(sa_column=_amount())
    plan_id: str | None = Field(default=None, max_length=128)
    status: str = Field(max_length=16)
    created_at: datetime = Field(sa_column=_ts())
    #: Quota share ceded, in parts per million of the pool's retained risk.
    share_ppm: int | None = None
    step_seq: int | None = None
    tx_ref: str | None = Field(default=None, max_length=128)
    block_number: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))


class PlanRow(SQLModel, table=True):
    __tablename__ = "plans"
    plan_id: str = Field(primary_key=True, max_length=128)
    status: str = Field(max_length=32, index=True)
    version: int
    created_by: str = Field(max_length=128)
    total_amount: int = Field(sa_column=_amount())
    cost: int = Field(sa_column=_amount())
    summary: str
    approvals_required: int
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    #: SHA-256 of the steps as proposed (``router.domain.steps_hash``).
    steps_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))


class PlanStepRow(SQLModel, table=True):
    __tablename__ = "plan_steps"
    plan_id: str = Field(
        sa_column=sa.Column(sa.String(128), sa.ForeignKey("plans.plan_id"), primary_key=True)
    )
    seq: int = Field(sa_column=sa.Column(sa.Integer(), primary_key=True, autoincrement=False))
    kind: str = Field(max_length=16)
    src_pool: str = Field(max_length=128)
    dst_chain: str | None = Field(default=None, max_length=128)
    dst_pool: str | None = Field(default=None, max_length=128)
    vault_id: str | None = Field(default=None, max_length=128)
    amount: int = Field(sa_column=_amount())
    fee: int = Field(sa_column=_amount())
    transfer_id: str | None = Field(default=None, max_length=66)
    status: str = Field(max_length=16)
    version: int
    updated_at: datetime = Field(sa_column=_ts())
    route_id: str | None = Field(default=None, max_length=128)
    #: What the executor last learnt (why it waits, why it is stuck); for operators.
    detail: str | None = Field(default=None, max_length=512)
    #: Past this the step is STUCK: in flight until an operator resolves it.
    deadline_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    #: A cession's quota share, parts per million of the pool's retained risk.
    share_ppm: int | None = None


class ApprovalRow(SQLModel, table=True):
    __tablename__ = "approvals"
    plan_id: str = Field(
        sa_column=sa.Column(sa.String(128), sa.ForeignKey("plans.plan_id"), primary_key=True)
    )
    operator_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    approved_at: datetime = Field(sa_column=_ts())
    #: The steps hash this approval was given for: a plan changed since is not approved.
    steps_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))


class TransferRow(SQLModel, table=True):
    __tablename__ = "transfers"
    transfer_id: str = Field(primary_key=True, max_length=66)
    plan_id: str | None = Field(default=None, max_length=128, index=True)
    step_seq: int | None = None
    src_chain: str = Field(max_length=128)
    src_pool: str = Field(max_length=128)
    dst_chain: str = Field(max_length=128)
    recipient: str = Field(max_length=128)
    amount: int = Field(sa_column=_amount())
    status: str = Field(max_length=16, index=True)
    #: The pool the capital is for (None: a hub or an outside recipient).
    dst_pool: str | None = Field(default=None, max_length=128)
    #: Block (slot) of the source chain that included it; None before.
    block_number: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))
    #: Bridge transfers: the delivery's transaction and block on the destination.
    delivery_tx: str | None = Field(default=None, max_length=128)
    delivered_block: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))
    tx_ref: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class AuditRow(SQLModel, table=True):
    """Append-only: the store has no update or delete for it."""

    __tablename__ = "audit_log"
    seq: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    at: datetime = Field(sa_column=_ts())
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    subject: str = Field(max_length=128, index=True)
    detail: str


class IdempotencyRow(SQLModel, table=True):
    """A request key used once: the first request's hash and what it produced.

    Written in the same transaction as the state change it guards, so a
    retry after a crash finds either both or neither.
    """

    __tablename__ = "idempotency_keys"
    scope: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    key: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    request_hash: str = Field(max_length=64)
    request_json: str
    subject: str = Field(max_length=128)
    result: str  # JSON object: what the first request produced
    actor: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=_ts())


class RevocationRow(SQLModel, table=True):
    """A client certificate refused at every call, by the SHA-256 of its DER."""

    __tablename__ = "revocations"
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    identity: str = Field(max_length=128)
    reason: str = Field(max_length=256)
    revoked_by: str = Field(max_length=128)
    revoked_at: datetime = Field(sa_column=_ts())


class LeaseRow(SQLModel, table=True):
    """One holder per name until ``expires_at`` (the scheduled job's run lock)."""

    __tablename__ = "leases"
    name: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    holder: str = Field(max_length=128)
    expires_at: datetime = Field(sa_column=_ts())


class TxAttemptRow(SQLModel, table=True):
    """Every transaction signed for an effect, recorded before it is broadcast."""

    __tablename__ = "tx_attempts"
    effect_id: str = Field(sa_column=sa.Column(sa.String(66), primary_key=True))
    attempt: int = Field(sa_column=sa.Column(sa.Integer(), primary_key=True, autoincrement=False))
    plan_id: str = Field(max_length=128, index=True)
    seq: int
    leg: str = Field(max_length=16)
    chain: str = Field(max_length=128)
    tx_ref: str = Field(max_length=128)
    signed: str  # the adapter's signed transaction, JSON, verbatim
    state: str = Field(max_length=16)
    block_number: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class LimitBucketRow(SQLModel, table=True):
    """One row per limited scope: a lane's token bucket (level at ``updated_at``);
    for a daily cap the row is what consumers lock (its level is unused)."""

    __tablename__ = "limit_buckets"
    scope: str = Field(sa_column=sa.Column(sa.String(300), primary_key=True))
    level: int = Field(sa_column=_amount())
    updated_at: datetime = Field(sa_column=_ts())


class LimitUsageRow(SQLModel, table=True):
    """What each plan step consumed per scope; the key makes a retried step consume once."""

    __tablename__ = "limit_usage"
    __table_args__ = (sa.Index("ix_limit_usage_scope_at", "scope", "at"),)
    plan_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    seq: int = Field(sa_column=sa.Column(sa.Integer(), primary_key=True, autoincrement=False))
    scope: str = Field(sa_column=sa.Column(sa.String(300), primary_key=True))
    amount: int = Field(sa_column=_amount())
    at: datetime = Field(sa_column=_ts())


from router.store import tables_changes as _tables_changes  # noqa: E402,F401  (treasury controls)
from router.store import tables_claims as _tables_claims  # noqa: E402,F401  (incidents, claims)
from router.store import tables_covers as tables_covers  # noqa: E402  (deployments, pauses)
from router.store import tables_governance as _tables_governance  # noqa: E402, F401
from router.store import tables_openings as _tables_openings  # noqa: E402, F401
from router.store import tables_retention as _tables_retention  # noqa: E402, F401

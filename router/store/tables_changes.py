"""Tables of treasury controls: off-chain change proposals and their approvals,
the destinations allow-list, the basis each plan was approved on, and limit
consumptions given back (a step that moved nothing)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from router.store.types import Amount, UtcDateTime


def _ts(nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(UtcDateTime(), nullable=nullable)


def _amount() -> sa.Column[int]:
    return sa.Column(Amount(), nullable=False)


class ChangeRow(SQLModel, table=True):
    """An off-chain parameter change: proposed, approved by N operators, applied."""

    __tablename__ = "change_proposals"
    change_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    kind: str = Field(max_length=64)
    payload: str  # canonical JSON of the change's terms
    diff: str  # what applying it changes, as the proposer was shown it
    proposed_by: str = Field(max_length=128)
    reason: str = Field(max_length=512)
    required: int
    status: str = Field(max_length=16, index=True)
    proposed_at: datetime = Field(sa_column=_ts())
    not_before: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    decided_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    decided_by: str | None = Field(default=None, max_length=128)
    version: int


class ChangeApprovalRow(SQLModel, table=True):
    """One operator's approval of a change (one per operator: the key)."""

    __tablename__ = "change_approvals"
    change_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    operator_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    approved_at: datetime = Field(sa_column=_ts())


class AllowedDestinationRow(SQLModel, table=True):
    """An address plan steps may pay to (a pool, a hub, a vault) on one chain."""

    __tablename__ = "allowed_destinations"
    chain: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    address: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    label: str = Field(max_length=128)
    added_by: str = Field(max_length=128)
    added_at: datetime = Field(sa_column=_ts())


class PlanBasisRow(SQLModel, table=True):
    """A source pool's confirmed balance when its plan was (last) approved."""

    __tablename__ = "plan_basis"
    plan_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    pool_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    balance: int = Field(sa_column=_amount())
    block_number: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))
    captured_at: datetime = Field(sa_column=_ts())


class LimitReleaseRow(SQLModel, table=True):
    """A limit consumption given back: its step moved nothing (failed, refunded)."""

    __tablename__ = "limit_releases"
    plan_id: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    seq: int = Field(sa_column=sa.Column(sa.Integer(), primary_key=True, autoincrement=False))
    scope: str = Field(sa_column=sa.Column(sa.String(300), primary_key=True))
    amount: int = Field(sa_column=_amount())
    at: datetime = Field(sa_column=_ts())


class LimitOverrideRow(SQLModel, table=True):
    """A limit set through an approved change; replaces the configured one of its scope."""

    __tablename__ = "limit_overrides"
    scope: str = Field(sa_column=sa.Column(sa.String(300), primary_key=True))
    capacity: int = Field(sa_column=_amount())
    refill_per_second: int | None = Field(default=None, sa_column=sa.Column(Amount()))
    change_id: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=_ts())

"""Tables of the underwriting side: covered deployments and pauses.

The terms columns of ``covers`` (deployment, deductible, per-event maximum,
trigger kinds, insured value, position) are on :class:`router.store.tables.CoverRow`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from router.store.types import amount_column as _amount
from router.store.types import time_column as _ts


class DeploymentRow(SQLModel, table=True):
    __tablename__ = "deployments"
    deployment_id: str = Field(primary_key=True, max_length=128)
    protocol_id: str = Field(sa_column=sa.Column(sa.String(128), nullable=False, index=True))
    chain: str = Field(max_length=128)
    addresses: str  # newline-separated
    asset: str = Field(max_length=128)
    tvl: int = Field(sa_column=_amount())
    tvl_source: str = Field(max_length=128)
    tvl_as_of: datetime = Field(sa_column=_ts())
    incident_count: int
    incident_severity_bps: int
    incident_window_days: int
    auditors: str  # newline-separated
    last_audit_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    governance_assets: int = Field(sa_column=_amount())
    updated_at: datetime = Field(sa_column=_ts())


class PauseRow(SQLModel, table=True):
    __tablename__ = "pauses"
    target: str = Field(primary_key=True, max_length=200)  # cover_type:<t> | pool:<id>
    reason: str = Field(max_length=500)
    operator: str = Field(max_length=200)
    since: datetime = Field(sa_column=_ts())

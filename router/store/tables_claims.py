"""Tables of incidents, claims, payouts and recoverables (migration 0012).

Reports are stored with their signed bytes and signature verbatim, so any
stored report can be verified again against its reporter's key.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from router.store.types import amount_column as _amount
from router.store.types import time_column as _ts


class OracleReporterRow(SQLModel, table=True):
    """An identity that may report incidents, and the Ed25519 key its reports verify under."""

    __tablename__ = "oracle_reporters"
    reporter_id: str = Field(primary_key=True, max_length=128)
    public_key: str = Field(max_length=64)
    active: bool
    updated_at: datetime = Field(sa_column=_ts())


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incidents"
    __table_args__ = (sa.Index("ix_incidents_deployment_kind", "deployment_id", "kind"),)
    incident_id: str = Field(primary_key=True, max_length=64)
    deployment_id: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    occurred_at: datetime = Field(sa_column=_ts())
    status: str = Field(max_length=16, index=True)
    loss: int = Field(sa_column=_amount())
    reporters: int
    reports: int
    detail: str = Field(default="", max_length=512)
    confirmed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    updated_at: datetime = Field(sa_column=_ts())


class IncidentReportRow(SQLModel, table=True):
    """Append-only: every verified report, refused twice by hash and by (reporter, nonce)."""

    __tablename__ = "incident_reports"
    __table_args__ = (
        sa.UniqueConstraint("reporter_id", "nonce", name="uq_incident_reports_nonce"),
    )
    report_hash: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    reporter_id: str = Field(max_length=128)
    nonce: str = Field(max_length=128)
    incident_id: str = Field(max_length=64, index=True)
    deployment_id: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    occurred_at: datetime = Field(sa_column=_ts())
    loss: int = Field(sa_column=_amount())
    payload: str  # the signed bytes, UTF-8 canonical JSON, verbatim
    signature: str = Field(max_length=128)  # Ed25519, hex
    received_at: datetime = Field(sa_column=_ts())


class IncidentAlertRow(SQLModel, table=True):
    """Append-only: what operators must look at instead of a payout."""

    __tablename__ = "incident_alerts"
    seq: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    incident_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=32)
    detail: str = Field(max_length=512)
    raised_at: datetime = Field(sa_column=_ts())


class ClaimRow(SQLModel, table=True):
    __tablename__ = "claims"
    __table_args__ = (
        # One claim per cover and incident, whoever (partner or automation) opens it.
        sa.UniqueConstraint("cover_id", "incident_id", name="uq_claims_cover_incident"),
    )
    claim_id: str = Field(primary_key=True, max_length=64)
    cover_id: str = Field(max_length=64, index=True)
    partner_id: str = Field(max_length=128, index=True)
    incident_id: str = Field(max_length=64, index=True)
    pool_id: str = Field(max_length=128)
    claimed_loss: int = Field(sa_column=_amount())
    status: str = Field(max_length=16, index=True)
    approved: int = Field(sa_column=_amount())
    paid: int = Field(sa_column=_amount())
    disputed: int = Field(sa_column=_amount())
    reason: str = Field(default="", max_length=512)
    filed_by: str = Field(max_length=128)
    version: int
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class ClaimPaymentRow(SQLModel, table=True):
    __tablename__ = "claim_payments"
    payment_id: str = Field(sa_column=sa.Column(sa.String(66), primary_key=True))
    claim_id: str = Field(max_length=64, index=True)
    cover_id: str = Field(max_length=64, index=True)
    pool_id: str = Field(max_length=128)
    amount: int = Field(sa_column=_amount())
    status: str = Field(max_length=16, index=True)
    tx_ref: str | None = Field(default=None, max_length=128)
    block_number: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger()))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class RecoverableRow(SQLModel, table=True):
    __tablename__ = "recoverables"
    recovery_id: str = Field(sa_column=sa.Column(sa.String(66), primary_key=True))
    payment_id: str = Field(max_length=66, index=True)
    cession_id: str = Field(max_length=128)
    vault_id: str = Field(max_length=128)
    pool_id: str = Field(max_length=128)
    amount: int = Field(sa_column=_amount())
    status: str = Field(max_length=16, index=True)
    tx_ref: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())

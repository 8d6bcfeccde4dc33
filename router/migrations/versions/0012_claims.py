"""incidents, claims, payouts and recoverables

- ``oracle_reporters``: identities that may report incidents, with the
  Ed25519 public key their reports are signed with.
- ``incidents``, ``incident_reports`` (append-only; the signed bytes and
  signature verbatim; unique by hash and by (reporter, nonce)),
  ``incident_alerts`` (append-only).
- ``claims`` (one per cover and incident), ``claim_payments`` (id = the
  chain-enforced payment id), ``recoverables`` (id = the vault-enforced
  recovery id).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from router.store.types import Amount, UtcDateTime

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "oracle_reporters",
        sa.Column("reporter_id", _s(128), nullable=False),
        sa.Column("public_key", _s(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("reporter_id", name="pk_oracle_reporters"),
    )
    op.create_table(
        "incidents",
        sa.Column("incident_id", _s(64), nullable=False),
        sa.Column("deployment_id", _s(128), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        _ts("occurred_at"),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("loss", Amount(), nullable=False),
        sa.Column("reporters", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("detail", _s(512), nullable=False),
        _ts("confirmed_at", nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_deployment_kind", "incidents", ["deployment_id", "kind"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "incident_reports",
        sa.Column("report_hash", sa.String(64), nullable=False),
        sa.Column("reporter_id", _s(128), nullable=False),
        sa.Column("nonce", _s(128), nullable=False),
        sa.Column("incident_id", _s(64), nullable=False),
        sa.Column("deployment_id", _s(128), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        _ts("occurred_at"),
        sa.Column("loss", Amount(), nullable=False),
        sa.Column("payload", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("signature", _s(128), nullable=False),
        _ts("received_at"),
        sa.PrimaryKeyConstraint("report_hash", name="pk_incident_reports"),
        sa.UniqueConstraint("reporter_id", "nonce", name="uq_incident_reports_nonce"),
    )
    op.create_index("ix_incident_reports_incident_id", "incident_reports", ["incident_id"])
    op.create_table(
        "incident_alerts",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("incident_id", _s(64), nullable=False),
        sa.Column("kind", _s(32), nullable=False),
        sa.Column("detail", _s(512), nullable=False),
        _ts("raised_at"),
        sa.PrimaryKeyConstraint("seq", name="pk_incident_alerts"),
    )
    op.create_index("ix_incident_alerts_incident_id", "incident_alerts", ["incident_id"])
    op.create_table(
        "claims",
        sa.Column("claim_id", _s(64), nullable=False),
        sa.Column("cover_id", _s(64), nullable=False),
        sa.Column("partner_id", _s(128), nullable=False),
        sa.Column("incident_id", _s(64), nullable=False),
        sa.Column("pool_id", _s(128), nullable=False),
        sa.Column("claimed_loss", Amount(), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("approved", Amount(), nullable=False),
        sa.Column("paid", Amount(), nullable=False),
        sa.Column("disputed", Amount(), nullable=False),
        sa.Column("reason", _s(512), nullable=False),
        sa.Column("filed_by", _s(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("claim_id", name="pk_claims"),
        sa.UniqueConstraint("cover_id", "incident_id", name="uq_claims_cover_incident"),
    )
    for col in ("cover_id", "partner_id", "incident_id", "status"):
        op.create_index(f"ix_claims_{col}", "claims", [col])
    op.create_table(
        "claim_payments",
        sa.Column("payment_id", sa.String(66), nullable=False),
        sa.Column("claim_id", _s(64), nullable=False),
        sa.Column("cover_id", _s(64), nullable=False),
        sa.Column("pool_id", _s(128), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("tx_ref", _s(128), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("payment_id", name="pk_claim_payments"),
    )
    for col in ("claim_id", "cover_id", "status"):
        op.create_index(f"ix_claim_payments_{col}", "claim_payments", [col])
    op.create_table(
        "recoverables",
        sa.Column("recovery_id", sa.String(66), nullable=False),
        sa.Column("payment_id", _s(66), nullable=False),
        sa.Column("cession_id", _s(128), nullable=False),
        sa.Column("vault_id", _s(128), nullable=False),
        sa.Column("pool_id", _s(128), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("tx_ref", _s(128), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("recovery_id", name="pk_recoverables"),
    )
    for col in ("payment_id", "status"):
        op.create_index(f"ix_recoverables_{col}", "recoverables", [col])


def downgrade() -> None:
    for table in (
        "recoverables",
        "claim_payments",
        "claims",
        "incident_alerts",
        "incident_reports",
        "incidents",
        "oracle_reporters",
    ):
        op.drop_table(table)

"""covered deployments, pauses, the five cover types and their terms

- ``deployments``: the registry of covered protocol deployments (protocol,
  chain, addresses, TVL with source and time, incident history, audit facts,
  governance-controlled assets).
- ``pauses``: cover types and pools an operator paused (no new covers).
- ``covers``: the terms of each cover: ``deployment_id`` (NULL for covers bound
  before the registry), ``deductible``, ``per_event_max``, ``trigger_kinds``,
  ``insured_value``, ``position_ref``.
- The old cover types become the nearest new one (smart_contract and slashing
  -> protocol, depeg -> oracle, custody -> position) in ``covers`` and
  ``quotes``; existing covers get per_event_max = their limit and the new
  type's trigger kinds.

Revision ID: 0011
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from router.domain.covers import COVER_DEFINITIONS, CoverType
from router.store.types import Amount, UtcDateTime

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TO_NEW = {
    "smart_contract": CoverType.PROTOCOL,
    "slashing": CoverType.PROTOCOL,
    "depeg": CoverType.ORACLE,
    "custody": CoverType.POSITION,
}


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("deployment_id", sa.String(128), nullable=False),
        sa.Column("protocol_id", sa.String(128), nullable=False),
        sa.Column("chain", sa.String(128), nullable=False),
        sa.Column("addresses", sa.String(), nullable=False),
        sa.Column("asset", sa.String(128), nullable=False),
        sa.Column("tvl", Amount(precision=78, scale=0), nullable=False),
        sa.Column("tvl_source", sa.String(128), nullable=False),
        sa.Column("tvl_as_of", UtcDateTime(timezone=True), nullable=False),
        sa.Column("incident_count", sa.Integer(), nullable=False),
        sa.Column("incident_severity_bps", sa.Integer(), nullable=False),
        sa.Column("incident_window_days", sa.Integer(), nullable=False),
        sa.Column("auditors", sa.String(), nullable=False),
        sa.Column("last_audit_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("governance_assets", Amount(precision=78, scale=0), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deployment_id", name="pk_deployments"),
    )
    op.create_index("ix_deployments_protocol_id", "deployments", ["protocol_id"])
    op.create_table(
        "pauses",
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("since", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target", name="pk_pauses"),
    )
    with op.batch_alter_table("covers") as batch:
        batch.add_column(sa.Column("deployment_id", sa.String(128), nullable=True))
        for name in ("deductible", "per_event_max", "insured_value"):
            batch.add_column(
                sa.Column(name, Amount(precision=78, scale=0), nullable=False, server_default="0")
            )
        batch.add_column(
            sa.Column("trigger_kinds", sa.String(256), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("position_ref", sa.String(128), nullable=False, server_default="")
        )
        batch.create_index("ix_covers_deployment_id", ["deployment_id"])
    conn = op.get_bind()
    for old, new in OLD_TO_NEW.items():
        for table in ("covers", "quotes"):
            conn.execute(
                sa.text(f"UPDATE {table} SET cover_type = :new WHERE cover_type = :old"),
                {"new": new.value, "old": old},
            )
    for ctype, definition in COVER_DEFINITIONS.items():
        conn.execute(
            sa.text("UPDATE covers SET trigger_kinds = :k WHERE cover_type = :t"),
            {"k": ",".join(definition.trigger_kinds()), "t": ctype.value},
        )
    conn.execute(sa.text("UPDATE covers SET per_event_max = limit_amount"))


def downgrade() -> None:
    with op.batch_alter_table("covers") as batch:
        batch.drop_index("ix_covers_deployment_id")
        for name in (
            "position_ref",
            "trigger_kinds",
            "insured_value",
            "per_event_max",
            "deductible",
            "deployment_id",
        ):
            batch.drop_column(name)
    op.drop_table("pauses")
    op.drop_index("ix_deployments_protocol_id", table_name="deployments")
    op.drop_table("deployments")

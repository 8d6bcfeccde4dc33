"""treasury controls: change proposals, the destinations allow-list, plan basis, limit releases

- ``change_proposals``, ``change_approvals``: off-chain parameter changes
  (``router.domain.changes``), applied only after N distinct operators'
  approvals and a delay.
- ``allowed_destinations``: (chain, address) that plan steps may pay to.
- ``plan_basis``: each source pool's confirmed balance when its plan was
  approved; the saga stops for re-approval when it drifted beyond tolerance.
- ``limit_releases``: limit consumptions given back by steps that moved nothing.
- ``limit_overrides``: limits set through approved changes (``limits.set``).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from router.store.types import Amount, UtcDateTime

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    op.create_table(
        "change_proposals",
        sa.Column("change_id", sa.String(64), nullable=False),
        sa.Column("kind", _s(64), nullable=False),
        sa.Column("payload", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("diff", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("proposed_by", _s(128), nullable=False),
        sa.Column("reason", _s(512), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("status", _s(16), nullable=False),
        sa.Column("proposed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("not_before", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", _s(128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("change_id", name="pk_change_proposals"),
    )
    op.create_index(
        "ix_change_proposals_status", "change_proposals", ["status"], unique=False
    )
    op.create_table(
        "change_approvals",
        sa.Column("change_id", sa.String(64), nullable=False),
        sa.Column("operator_id", sa.String(128), nullable=False),
        sa.Column("approved_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("change_id", "operator_id", name="pk_change_approvals"),
    )
    op.create_table(
        "allowed_destinations",
        sa.Column("chain", sa.String(128), nullable=False),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("label", _s(128), nullable=False),
        sa.Column("added_by", _s(128), nullable=False),
        sa.Column("added_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain", "address", name="pk_allowed_destinations"),
    )
    op.create_table(
        "plan_basis",
        sa.Column("plan_id", sa.String(128), nullable=False),
        sa.Column("pool_id", sa.String(128), nullable=False),
        sa.Column("balance", Amount(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("captured_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "pool_id", name="pk_plan_basis"),
    )
    op.create_table(
        "limit_releases",
        sa.Column("plan_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "seq", "scope", name="pk_limit_releases"),
    )


    op.create_table(
        "limit_overrides",
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("capacity", Amount(), nullable=False),
        sa.Column("refill_per_second", Amount(), nullable=True),
        sa.Column("change_id", _s(64), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name="pk_limit_overrides"),
    )


def downgrade() -> None:
    for table in (
        "limit_overrides",
        "limit_releases",
        "plan_basis",
        "allowed_destinations",
        "change_approvals",
        "change_proposals",
    ):
        op.drop_table(table)

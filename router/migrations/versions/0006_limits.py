"""limits: lane token buckets and rolling daily caps

- ``limit_buckets``: one row per limited scope (a lane's bucket level at
  ``updated_at``; for a daily cap, the row consumers lock).
- ``limit_usage``: what each plan step consumed per scope, keyed by
  (plan, step, scope) so a retried step consumes once; the daily window sums
  it by (scope, at).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from router.store.types import Amount, UtcDateTime

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "limit_buckets",
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("level", Amount(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name="pk_limit_buckets"),
    )
    op.create_table(
        "limit_usage",
        sa.Column("plan_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("amount", Amount(), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "seq", "scope", name="pk_limit_usage"),
    )
    op.create_index("ix_limit_usage_scope_at", "limit_usage", ["scope", "at"])


def downgrade() -> None:
    op.drop_index("ix_limit_usage_scope_at", table_name="limit_usage")
    op.drop_table("limit_usage")
    op.drop_table("limit_buckets")

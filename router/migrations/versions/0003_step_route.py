"""plan steps name their bridge route

A cross-chain step must say which lane it travels: the executor sends on that
route and operators review it. Same-chain moves leave it empty.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plan_steps") as batch:
        batch.add_column(sa.Column("route_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_steps") as batch:
        batch.drop_column("route_id")

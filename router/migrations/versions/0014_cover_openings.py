"""cover openings: a bound cover opened on chain by the executor

- ``cover_openings``: one row per cover bound with a holder and a payer, its
  opening's status (opening, open, failed), transaction and certificate holder.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from router.store.types import Amount, UtcDateTime

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cover_openings",
        sa.Column(
            "cover_id", sa.String(64), sa.ForeignKey("covers.cover_id"), primary_key=True
        ),
        sa.Column("chain_cover_id", sa.String(80), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("payer", sa.String(128), nullable=False),
        sa.Column("locked", Amount(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("tx_ref", sa.String(128), nullable=False),
        sa.Column("certificate_holder", sa.String(128), nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cover_openings")

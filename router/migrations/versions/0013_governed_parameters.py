"""governed parameters: routes and vaults set by change, terms bound with a cover

- ``registry_overrides``: a route or vault as an applied off-chain change set
  it (or a configured route removed); read over the config's.
- ``cover_governed_terms``: the on-chain terms (PoolTerms contract, final
  block, version, coverage limit) a cover was bound under, one row per cover
  bound while governance is configured; never updated.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from router.store.types import Amount, UtcDateTime

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_overrides",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("change_id", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "cover_governed_terms",
        sa.Column(
            "cover_id", sa.String(64), sa.ForeignKey("covers.cover_id"), primary_key=True
        ),
        sa.Column("terms", sa.String(64), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("coverage_limit", Amount(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cover_governed_terms")
    op.drop_table("registry_overrides")

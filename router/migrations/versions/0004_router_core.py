"""router core: idempotency records, one bind per quote, revocations, arrival pools

- ``idempotency_keys``: a use case records its request key in the same
  transaction as the state change it guards (ExecutePlan, and later others).
- ``covers.quote_id`` is unique: a quote binds at most once, whatever key.
- ``revocations``: client certificates refused at every call.
- ``transfers.dst_pool``: in-flight capital is credited to the pool it is for.
- ``balance_latest.block_time``: the chain's time of the confirmed block,
  so staleness never rests on the reporter's clock alone.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from router.store.types import UtcDateTime

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("request_hash", S(length=64), nullable=False),
        sa.Column("request_json", S(), nullable=False),
        sa.Column("subject", S(length=128), nullable=False),
        sa.Column("result", S(), nullable=False),
        sa.Column("actor", S(length=128), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )
    op.create_table(
        "revocations",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("identity", S(length=128), nullable=False),
        sa.Column("reason", S(length=256), nullable=False),
        sa.Column("revoked_by", S(length=128), nullable=False),
        sa.Column("revoked_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_revocations"),
    )
    with op.batch_alter_table("covers") as batch:
        batch.create_unique_constraint("uq_covers_quote_id", ["quote_id"])
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("dst_pool", S(length=128), nullable=True))
    with op.batch_alter_table("balance_latest") as batch:
        batch.add_column(sa.Column("block_time", UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("balance_latest") as batch:
        batch.drop_column("block_time")
    with op.batch_alter_table("transfers") as batch:
        batch.drop_column("dst_pool")
    with op.batch_alter_table("covers") as batch:
        batch.drop_constraint("uq_covers_quote_id", type_="unique")
    op.drop_table("revocations")
    op.drop_table("idempotency_keys")

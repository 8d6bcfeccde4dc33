"""execution: signed transactions before broadcast, step progress, where capital is

- ``tx_attempts``: every transaction signed for an effect, recorded before it
  is broadcast (raw bytes, hash/signature, nonce/blockhash), so a restarted
  worker reconciles instead of signing again.
- ``plan_steps.detail`` / ``deadline_at``: why a step waits; when it is stuck.
- ``transfers.block_number`` / ``delivery_tx`` / ``delivered_block``: where a
  transfer landed, so positions count it exactly once.
- ``cessions.share_ppm`` / ``step_seq`` / ``tx_ref`` / ``block_number``: a
  cession placed on chain, and what it cedes.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from router.store.types import Amount, UtcDateTime

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "tx_attempts",
        sa.Column("effect_id", sa.String(66), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("plan_id", S(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("leg", S(length=16), nullable=False),
        sa.Column("chain", S(length=128), nullable=False),
        sa.Column("tx_ref", S(length=128), nullable=False),
        sa.Column("signed", S(), nullable=False),
        sa.Column("state", S(length=16), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("effect_id", "attempt", name="pk_tx_attempts"),
    )
    op.create_index("ix_tx_attempts_plan_id", "tx_attempts", ["plan_id"])
    with op.batch_alter_table("plan_steps") as batch:
        batch.add_column(sa.Column("detail", S(length=512), nullable=True))
        batch.add_column(sa.Column("deadline_at", UtcDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("share_ppm", sa.Integer(), nullable=True))
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("block_number", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("delivery_tx", S(length=128), nullable=True))
        batch.add_column(sa.Column("delivered_block", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("vaults") as batch:
        batch.add_column(sa.Column("free_on_chain", Amount(), nullable=True))
        batch.add_column(sa.Column("free_at_block", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("cessions") as batch:
        batch.add_column(sa.Column("share_ppm", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("step_seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tx_ref", S(length=128), nullable=True))
        batch.add_column(sa.Column("block_number", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cessions") as batch:
        for c in ("block_number", "tx_ref", "step_seq", "share_ppm"):
            batch.drop_column(c)
    with op.batch_alter_table("vaults") as batch:
        batch.drop_column("free_at_block")
        batch.drop_column("free_on_chain")
    with op.batch_alter_table("transfers") as batch:
        for c in ("delivered_block", "delivery_tx", "block_number"):
            batch.drop_column(c)
    with op.batch_alter_table("plan_steps") as batch:
        batch.drop_column("share_ppm")
        batch.drop_column("deadline_at")
        batch.drop_column("detail")
    op.drop_index("ix_tx_attempts_plan_id", "tx_attempts")
    op.drop_table("tx_attempts")

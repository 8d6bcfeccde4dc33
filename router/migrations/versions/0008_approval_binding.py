"""approvals are bound to the plan's steps

- ``plans.steps_hash``: SHA-256 of the steps as proposed
  (``router.domain.steps_hash``).
- ``approvals.steps_hash``: the steps hash each approval was given for.
  Execution is refused when the steps hash otherwise: any change voids them.

Existing plans and approvals get the hash of the steps they have now (the
steps they were proposed and approved with: nothing changed steps before).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from router.domain import PlanStep, StepKind, steps_hash

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("steps_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("steps_hash", sa.String(64), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT plan_id, seq, kind, src_pool, dst_chain, dst_pool, vault_id, route_id, "
            "amount, fee, share_ppm FROM plan_steps"
        )
    ).mappings()
    steps: dict[str, list[PlanStep]] = {}
    for r in rows:
        steps.setdefault(r["plan_id"], []).append(
            PlanStep(
                seq=r["seq"],
                kind=StepKind(r["kind"]),
                src_pool=r["src_pool"],
                amount=int(r["amount"]),
                dst_chain=r["dst_chain"],
                dst_pool=r["dst_pool"],
                vault_id=r["vault_id"],
                fee=int(r["fee"]),
                route_id=r["route_id"],
                share_ppm=r["share_ppm"],
            )
        )
    for (plan_id,) in conn.execute(sa.text("SELECT plan_id FROM plans")).all():
        digest = steps_hash(steps.get(plan_id, ()))
        for table in ("plans", "approvals"):
            conn.execute(
                sa.text(f"UPDATE {table} SET steps_hash = :h WHERE plan_id = :p"),
                {"h": digest, "p": plan_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("steps_hash")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("steps_hash")

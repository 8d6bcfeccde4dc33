"""history retention: the balance-report history may be pruned, by permit only

- ``history_prune_permit``: a pruning transaction inserts a permit
  (``before``), deletes history rows received before it, and removes the
  permit before it commits.
- ``balance_reports`` still refuses every UPDATE; a DELETE passes only for a
  row received before a permit visible to the deleting transaction (only
  its own: the permit is never committed). ``audit_log`` stays append-only,
  untouched.
- ``ix_balance_reports_received_at``: the pruner's way to rows past the window.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from router.store.types import UtcDateTime

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "history_prune_permit",
        sa.Column("permit_id", sa.String(64), nullable=False),
        sa.Column("before", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("permit_id", name="pk_history_prune_permit"),
    )
    op.create_index("ix_balance_reports_received_at", "balance_reports", ["received_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ballast_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM history_prune_permit p "
            "WHERE OLD.received_at < p.before) THEN RETURN OLD; END IF; "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME "
            "USING ERRCODE = 'integrity_constraint_violation'; END $$"
        )
        op.execute("DROP TRIGGER balance_reports_append_only ON balance_reports")
        op.execute(
            "CREATE TRIGGER balance_reports_append_only BEFORE UPDATE OR DELETE "
            "ON balance_reports FOR EACH ROW EXECUTE FUNCTION ballast_history_guard()"
        )
    else:
        op.execute("DROP TRIGGER balance_reports_no_delete")
        op.execute(
            "CREATE TRIGGER balance_reports_no_delete BEFORE DELETE ON balance_reports "
            "WHEN NOT EXISTS (SELECT 1 FROM history_prune_permit p "
            "WHERE OLD.received_at < p.before) "
            "BEGIN SELECT RAISE(ABORT, 'balance_reports is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER balance_reports_append_only ON balance_reports")
        op.execute(
            "CREATE TRIGGER balance_reports_append_only BEFORE UPDATE OR DELETE "
            "ON balance_reports FOR EACH ROW EXECUTE FUNCTION ballast_append_only()"
        )
        op.execute("DROP FUNCTION ballast_history_guard()")
    else:
        op.execute("DROP TRIGGER balance_reports_no_delete")
        op.execute(
            "CREATE TRIGGER balance_reports_no_delete BEFORE DELETE ON balance_reports "
            "BEGIN SELECT RAISE(ABORT, 'balance_reports is append-only'); END"
        )
    op.drop_index("ix_balance_reports_received_at", table_name="balance_reports")
    op.drop_table("history_prune_permit")

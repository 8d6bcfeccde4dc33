"""Retention of the balance-report history (migration 0010).

``balance_reports`` refuses UPDATE always and DELETE unless the deleting
transaction holds a permit here whose ``before`` is later than the row's
``received_at``: the pruner inserts the permit, deletes a bounded batch of
rows older than the window and removes the permit in the same transaction,
so no other path (and no other transaction) can delete history.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from router.store.types import UtcDateTime


class HistoryPrunePermitRow(SQLModel, table=True):
    """A pruning transaction's permit: rows received before ``before`` may go."""

    __tablename__ = "history_prune_permit"
    permit_id: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    before: datetime = Field(sa_column=sa.Column(UtcDateTime(), nullable=False))


#: The pruner finds rows past the window by this index; every row of a batch
#: shares one ``received_at`` and it only grows, so inserts append at its end.
HISTORY_RECEIVED_INDEX = sa.Index(
    "ix_balance_reports_received_at",
    SQLModel.metadata.tables["balance_reports"].c.received_at,
)

"""Table of cover openings on chain (migration 0014).

One row per cover bound with a holder and a payer: the opening the executor
carries out (OPENING -> OPEN | FAILED), its transaction and, once open, the
certificate holder read back from chain.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from router.store.types import Amount, UtcDateTime


class CoverOpeningRow(SQLModel, table=True):
    __tablename__ = "cover_openings"
    cover_id: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("covers.cover_id"), primary_key=True)
    )
    chain_cover_id: str = Field(max_length=80)
    holder: str = Field(max_length=128)
    payer: str = Field(max_length=128)
    locked: int = Field(sa_column=sa.Column(Amount(), nullable=False))
    status: str = Field(max_length=16, index=True)
    tx_ref: str = Field(default="", max_length=128)
    certificate_holder: str = Field(default="", max_length=128)
    detail: str = Field(default="", max_length=512)
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime(), nullable=False))

"""Tables of governed parameters: registry entries set through approved
off-chain changes (routes, vaults), and the on-chain terms each cover was
bound under (fixed at bind, never read back from chain)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from router.store.types import Amount, UtcDateTime


class RegistryOverrideRow(SQLModel, table=True):
    """A route or vault as an applied change set it (``body``: canonical JSON);
    ``removed`` marks a configured route taken out. Read over the config's."""

    __tablename__ = "registry_overrides"
    kind: str = Field(sa_column=sa.Column(sa.String(32), primary_key=True))
    key: str = Field(sa_column=sa.Column(sa.String(128), primary_key=True))
    body: str
    removed: bool = False
    change_id: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=sa.Column(UtcDateTime(), nullable=False))


class CoverGovernedTermsRow(SQLModel, table=True):
    """The governed terms a cover was bound under: the PoolTerms contract, the
    final block they were read at, their version and the limit that held."""

    __tablename__ = "cover_governed_terms"
    cover_id: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("covers.cover_id"), primary_key=True)
    )
    terms: str = Field(max_length=64)
    block_number: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    version: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    coverage_limit: int = Field(sa_column=sa.Column(Amount(), nullable=False))
    recorded_at: datetime = Field(sa_column=sa.Column(UtcDateTime(), nullable=False))

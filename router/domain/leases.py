"""Leases: one holder at a time for work that must not run twice (the scheduled job).

A lease is a row (name, holder, expires_at). Taking it inserts the row, or
takes it over when the earlier holder's time ran out (it crashed or hung):
a crashed holder blocks others for at most the lease's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from router.domain.checks import check_id, check_text, check_utc


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds ``name`` until when (UTC)."""

    name: str
    holder: str
    expires_at: datetime

    def __post_init__(self) -> None:
        check_id(self.name, "name")
        check_text(self.holder, "holder", max_len=128)
        object.__setattr__(self, "expires_at", check_utc(self.expires_at, "expires_at"))

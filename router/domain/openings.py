"""A bound cover's opening on chain: premium collected from the payer, capital
locked, certificate issued to the holder (``chains.base.CoverOpening``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class OpeningStatus(StrEnum):
    OPENING = "opening"  # recorded with the bind; the executor carries it out
    OPEN = "open"  # landed final on chain
    FAILED = "failed"  # refused for good (e.g. premium not approved): not open on chain


@dataclass(frozen=True)
class Opening:
    cover_id: str
    chain_cover_id: str
    holder: str
    payer: str
    locked: int
    status: OpeningStatus = OpeningStatus.OPENING
    tx_ref: str = ""
    certificate_holder: str = ""
    detail: str = ""


def chain_cover_id(cover_id: str) -> str:
    """The cover's id on chain (``CoverOpening.cover_id``): 0x + SHA-256 of ours."""
    return "0x" + hashlib.sha256(f"ballast/cover/v1/{cover_id}".encode()).hexdigest()

"""Confirmed balances and reporter disagreements (values; the rules are in ``ingest``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ConfirmedBalance:
    """The latest balance of a pool that reached its chain's quorum."""

    pool_id: str
    chain: str
    amount: int
    block_number: int
    block_hash: str
    observed_at: datetime  # when the reporter read it: staleness is measured from here
    confirmed_at: datetime  # when the router confirmed it
    reporters: int  # how many distinct reporters agreed
    block_time: datetime | None = None  # the chain's time of the block, if reported

    @property
    def fresh_at(self) -> datetime:
        """The moment this balance is vouched for: the earliest of the reporter's
        read, the chain's block time and the router's confirmation. Staleness
        counts from here, so no clock but the router's can make it look fresher."""
        times = [self.observed_at, self.confirmed_at]
        if self.block_time is not None:
            times.append(self.block_time)
        return min(times)


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Reporters of one chain disagreed on a pool at one block: surfaced, never averaged."""

    pool_id: str
    chain: str
    block_number: int
    #: "reporter_id=block_hash:amount" for every vote seen at that block.
    votes: tuple[str, ...]
    detected_at: datetime

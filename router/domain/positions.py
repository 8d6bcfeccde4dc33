"""A pool as positions and plans see it: store values combined with requirements."""

from __future__ import annotations

from dataclasses import dataclass

from router.domain.registry import Pool


@dataclass(frozen=True, slots=True)
class Requirement:
    """Solvency capital requirement and minimum capital requirement, base units."""

    scr: int
    mcr: int

    @property
    def required(self) -> int:
        return max(self.scr, self.mcr)


NO_REQUIREMENT = Requirement(0, 0)


@dataclass(frozen=True, slots=True)
class PoolView:
    """One pool's capital and requirement at one moment."""

    pool: Pool
    capital: int  # last confirmed balance, 0 if none
    in_flight: int  # outgoing transfers not final
    active_cover: int
    requirement: Requirement
    stale: bool

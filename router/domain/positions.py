"""A pool as positions and plans see it: its capital, what is locked and in flight,
and its requirement, at one moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from router.domain.protocols import Deployment
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
    """One pool's position.

    ``capital`` is the last confirmed balance (0 if none). ``in_flight`` has
    left the pool (or is signed to leave) and is not yet in that balance.
    ``locked`` backs cover in force (the pool's reserve plus the limits of its
    active covers, at most its capital): it never moves. ``arriving`` is on its
    way to the pool and not final (counted towards its target, never as
    capital it can pay with).
    ``fresh_at`` is when the balance was last vouched for (None: never).
    """

    pool: Pool
    capital: int
    in_flight: int
    active_cover: int
    requirement: Requirement
    stale: bool
    locked: int = 0
    arriving: int = 0
    confirmed_block: int = 0
    fresh_at: datetime | None = None
    #: Arrived and final on chain after the confirmed block: capital the next
    #: report will show, that the pool may already count.
    arriving_final: int = 0

    @property
    def spendable(self) -> int:
        """What the planner may treat as the pool's capital now: the confirmed
        balance less what has left (or may be leaving) since, plus final arrivals."""
        return max(0, self.capital - self.in_flight) + self.arriving_final

    @property
    def ratio_bps(self) -> int | None:
        """capital / requirement in basis points; None when nothing is required."""
        req = self.requirement.required
        return None if req == 0 else self.capital * 10_000 // req

    def stale_at(self, now: datetime, limit: timedelta) -> bool:
        return self.fresh_at is None or now - self.fresh_at > limit


@dataclass(frozen=True, slots=True)
class DeploymentCover:
    """A pool's cover in force of one type on one registered deployment."""

    cover_type: str
    deployment: Deployment
    amount: int


@dataclass(frozen=True, slots=True)
class PoolExposure:
    """What the solvency model needs of one pool: its capital and its cover by type.

    ``by_deployment`` is the part of it on registered deployments: the loss
    model links deployments of one protocol (one shock on every chain); the
    rest (covers bound before the registry) is modelled per cover type."""

    pool: Pool
    capital: int
    cover_by_type: Mapping[str, int]
    #: Quota share ceded to reinsurers and placed on chain, parts per million.
    ceded_ppm: int = 0
    by_deployment: tuple[DeploymentCover, ...] = ()

    @property
    def active_cover(self) -> int:
        return sum(self.cover_by_type.values())


@dataclass(frozen=True, slots=True)
class Transit:
    """Capital of an executing plan between places: at a chain's hub between legs,
    or in the bridge (sent, not yet delivered). Neither available nor lost."""

    plan_id: str
    seq: int  # the step that holds it
    chain: str  # where it is now
    place: str  # "hub" or "bridge"
    destination_chain: str
    amount: int
    status: str
    detail: str = ""

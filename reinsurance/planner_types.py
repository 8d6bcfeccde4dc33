"""Inputs and outputs of the rebalancing + placement planner, and their checks.

All values are frozen; money is ``int`` base units; ratios are floats >= 1
(compared exactly, as the binary fraction they are). ``PlanInput.validate``
rejects bad input with :class:`InvalidInput` naming the field, before anything
is solved; ``plan_rebalance`` calls it.

Modelling choice (why the planner scales): a bridge route moves capital between
*chains*, not pools. Each chain has one hub (the operator's settlement account
there); pools send to / receive from their chain's hub with plain same-chain
transfers (no bridge fee), and at most one bridge transfer per route is made per
plan. So the integer part (one binary per route with a fixed fee or minimum
size) stays as small as the route table, whatever the number of pools, while
every pool keeps its own solvency constraints: a pool's capital never counts
for another pool. Capital never transits a chain (what leaves a chain was given
by that chain's pools).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from reinsurance.errors import InvalidInput
from reinsurance.money import (
    MAX_AMOUNT,
    check_amount,
    check_probability,
    check_ratio,
    check_real,
)


@dataclass(frozen=True, slots=True)
class PoolState:
    """One risk pool as the planner sees it.

    ``capital``: final on-chain balance. ``locked``: the part that must not move
    (reserved for claims). ``scr``/``mcr``: the requirement components from
    :func:`reinsurance.solvency.assess_pool` (net of existing reinsurance);
    required capital is ``max(scr, mcr)``. ``band``: no action while the ratio
    is within ``[target - band, target + band]`` (avoids churn).
    """

    pool_id: str
    chain: str
    capital: int
    locked: int
    scr: int
    mcr: int
    target_ratio: float
    min_ratio: float = 1.0
    band: float = 0.0

    @property
    def required(self) -> int:
        return max(self.scr, self.mcr)


@dataclass(frozen=True, slots=True)
class BridgeRoute:
    """A lane from one chain to another. Fee: ``fee_bps`` of the amount sent,
    rounded up, plus ``fixed_fee``, both taken from the amount (the destination
    receives ``amount - fee``). ``capacity`` is what the lane can still carry."""

    route_id: str
    src_chain: str
    dst_chain: str
    fee_bps: float
    fixed_fee: int
    latency_s: float
    capacity: int
    min_transfer: int = 0


@dataclass(frozen=True, slots=True)
class InFlightTransfer:
    """A transfer the executor already sent towards ``dst_pool_id``.

    ``final=True``: the credit is final on the destination chain but not yet in
    the pool's balance read, so it counts as capital. ``final=False``: it does
    not count as capital (solvency ratios ignore it) but does count towards the
    target, so the planner does not send the same money twice."""

    transfer_id: str
    dst_pool_id: str
    amount: int
    final: bool


@dataclass(frozen=True, slots=True)
class Vault:
    """An external reinsurance vault (one counterparty).

    Quota share: ceding share ``s`` of a pool's retained loss reduces its SCR
    and MCR by the factor ``1 - s`` and costs ``qs_rate * (1 - qs_commission)
    * s * scr``; it uses ``s * scr`` of the vault's capacity.
    Layer (optional): attachment and limit as shares of the pool's SCR; buying
    a fraction ``f`` of it costs ``layer_rate_on_line * f * limit * scr``,
    relieves ``f * min(max(1 - attachment, 0), limit) * scr`` of SCR (not MCR)
    and uses ``f * limit * scr`` of capacity.
    ``max_share`` caps the share of one pool's retained risk this counterparty
    takes (quota share ``s <= max_share``; layer ``f * limit <= max_share``).
    Capacity is used in SCR ceded only, so a pool whose SCR is 0 cedes (its MCR)
    to any vault, even one with no capacity left.
    ``accepts_from``: the chains whose pools may cede to this vault (``None`` or
    empty: any chain); a pool on another chain is never placed with it.
    """

    vault_id: str
    capacity: int
    qs_rate: float
    qs_commission: float = 0.0
    max_share: float = 1.0
    layer_attachment: float | None = None
    layer_limit: float | None = None
    layer_rate_on_line: float | None = None
    accepts_from: frozenset[str] | None = None

    def accepts(self, chain: str) -> bool:
        """Whether a pool on ``chain`` may cede to this vault."""
        return not self.accepts_from or chain in self.accepts_from

    @property
    def has_layer(self) -> bool:
        return (
            self.layer_attachment is not None
            and self.layer_limit is not None
            and self.layer_rate_on_line is not None
            and self.layer_limit > 0
            and self.layer_attachment < 1
        )


@dataclass(frozen=True, slots=True)
class PlannerConfig:
    """Solver knobs. The time limit is always set: the solver never hangs.

    ``mip_rel_gap`` bounds the gap on the whole objective (costs + penalties),
    ``cost_rel_gap`` the gap on the plan's costs alone (``CostBreakdown.total``)
    against any plan leaving no more shortfall: a plan is ``Optimal`` only when
    both are proven (see README)."""

    time_limit_s: float = 10.0
    mip_rel_gap: float = 1e-3  # 0.1 %: the plan is proven within this of the optimum
    cost_of_capital: float = 0.10  # annual rate charged on capital in transit
    shortfall_penalty: float = 50.0  # per unit of capital missing for the target
    min_shortfall_penalty: float = 500.0  # per unit missing for the minimum ratio
    threads: int = 1
    cost_rel_gap: float = 1e-3  # 0.1 % of what the plan costs


@dataclass(frozen=True, slots=True)
class PlanInput:
    pools: tuple[PoolState, ...]
    routes: tuple[BridgeRoute, ...] = ()
    vaults: tuple[Vault, ...] = ()
    in_flight: tuple[InFlightTransfer, ...] = ()
    config: PlannerConfig = field(default_factory=PlannerConfig)
    chains: tuple[str, ...] = ()  # known chains besides the pools' (routes may use them)

    def validate(self) -> None:
        """Raise :class:`InvalidInput` naming the first bad field."""
        chains: set[str] = set(self.chains) | {p.chain for p in self.pools}
        if not _pools_plainly_valid(self.pools):
            self._validate_pools()
        self._validate_rest(chains)

    def _validate_pools(self) -> None:
        """The slow path: find and name the first bad pool field."""
        ids: set[str] = set()
        for i, p in enumerate(self.pools):
            f = f"pools[{i}]"
            if not p.pool_id:
                raise InvalidInput(f"{f}.pool_id", "must be non-empty")
            if p.pool_id in ids:
                raise InvalidInput(f"{f}.pool_id", f"duplicate pool id {p.pool_id!r}")
            ids.add(p.pool_id)
            if not p.chain:
                raise InvalidInput(f"{f}.chain", "must be non-empty")
            check_amount(p.capital, f"{f}.capital")
            check_amount(p.locked, f"{f}.locked")
            if p.locked > p.capital:
                raise InvalidInput(f"{f}.locked", f"{p.locked} exceeds capital {p.capital}")
            check_amount(p.scr, f"{f}.scr")
            check_amount(p.mcr, f"{f}.mcr")
            check_ratio(p.target_ratio, f"{f}.target_ratio")
            check_ratio(p.min_ratio, f"{f}.min_ratio")
            if p.min_ratio > p.target_ratio:
                raise InvalidInput(f"{f}.min_ratio", "must not exceed target_ratio")
            check_real(p.band, f"{f}.band", lo=0.0, hi=p.target_ratio)

    def _validate_rest(self, chains: set[str]) -> None:
        ids = {p.pool_id for p in self.pools}
        rids: set[str] = set()
        for i, r in enumerate(self.routes):
            f = f"routes[{i}]"
            if not r.route_id or r.route_id in rids:
                raise InvalidInput(f"{f}.route_id", f"empty or duplicate route id {r.route_id!r}")
            rids.add(r.route_id)
            if r.src_chain not in chains:
                raise InvalidInput(f"{f}.src_chain", f"unknown chain {r.src_chain!r}")
            if r.dst_chain not in chains:
                raise InvalidInput(f"{f}.dst_chain", f"unknown chain {r.dst_chain!r}")
            if r.src_chain == r.dst_chain:
                raise InvalidInput(f"{f}.dst_chain", "a bridge route must change chain")
            check_real(r.fee_bps, f"{f}.fee_bps", lo=0.0, hi=10_000.0)
            check_amount(r.fixed_fee, f"{f}.fixed_fee")
            check_real(r.latency_s, f"{f}.latency_s", lo=0.0)
            check_amount(r.capacity, f"{f}.capacity")
            check_amount(r.min_transfer, f"{f}.min_transfer")
        tids: set[str] = set()
        for i, t in enumerate(self.in_flight):
            f = f"in_flight[{i}]"
            if not t.transfer_id or t.transfer_id in tids:
                raise InvalidInput(f"{f}.transfer_id", "empty or duplicate transfer id")
            tids.add(t.transfer_id)
            if t.dst_pool_id not in ids:
                raise InvalidInput(f"{f}.dst_pool_id", f"unknown pool {t.dst_pool_id!r}")
            check_amount(t.amount, f"{f}.amount")
        vids: set[str] = set()
        for i, v in enumerate(self.vaults):
            f = f"vaults[{i}]"
            if not v.vault_id or v.vault_id in vids:
                raise InvalidInput(f"{f}.vault_id", f"empty or duplicate vault id {v.vault_id!r}")
            vids.add(v.vault_id)
            check_amount(v.capacity, f"{f}.capacity")
            check_real(v.qs_rate, f"{f}.qs_rate", lo=0.0, hi=10.0)
            check_probability(v.qs_commission, f"{f}.qs_commission")
            check_probability(v.max_share, f"{f}.max_share")
            acc = v.accepts_from
            if acc is not None and (
                not isinstance(acc, frozenset) or not all(isinstance(c, str) and c for c in acc)
            ):
                raise InvalidInput(
                    f"{f}.accepts_from", "must be None or a frozenset of non-empty chain names"
                )
            layer = (v.layer_attachment, v.layer_limit, v.layer_rate_on_line)
            if any(x is not None for x in layer) and any(x is None for x in layer):
                raise InvalidInput(f"{f}.layer_limit", "layer needs attachment, limit and rate")
            if v.layer_attachment is not None:
                check_probability(v.layer_attachment, f"{f}.layer_attachment")
                check_real(v.layer_limit, f"{f}.layer_limit", lo=0.0, hi=1.0)
                check_real(v.layer_rate_on_line, f"{f}.layer_rate_on_line", lo=0.0, hi=1.0)
        c = self.config
        check_real(c.time_limit_s, "config.time_limit_s", lo=0.001, hi=3600.0)
        check_real(c.mip_rel_gap, "config.mip_rel_gap", lo=0.0, hi=1.0)
        check_real(c.cost_rel_gap, "config.cost_rel_gap", lo=0.0, hi=1.0)
        check_real(c.cost_of_capital, "config.cost_of_capital", lo=0.0, hi=10.0)
        check_real(c.shortfall_penalty, "config.shortfall_penalty", lo=1.0)
        check_real(c.min_shortfall_penalty, "config.min_shortfall_penalty", lo=1.0)
        if not isinstance(c.threads, int) or c.threads < 1:
            raise InvalidInput("config.threads", "must be an int >= 1")


def _pools_plainly_valid(pools: tuple[PoolState, ...]) -> bool:
    """Fast path of the pool checks (bulk, no per-field calls): True only if
    every pool passes; otherwise the slow path finds and names the culprit."""
    if not pools:
        return True
    ids = [p.pool_id for p in pools]
    if len(set(ids)) != len(ids) or not all(ids) or not all(p.chain for p in pools):
        return False
    cap = [p.capital for p in pools]
    locked = [p.locked for p in pools]
    amounts = cap + locked + [p.scr for p in pools] + [p.mcr for p in pools]
    if not all(type(a) is int for a in amounts) or min(amounts) < 0:
        return False
    if max(amounts) > MAX_AMOUNT:
        return False
    if any(lk > c for lk, c in zip(locked, cap, strict=True)):
        return False
    reals = [(p.target_ratio, p.min_ratio, p.band) for p in pools]
    if not all(type(x) in (float, int) for r in reals for x in r):
        return False
    arr = np.array(reals, dtype=float)
    t, mn, band = arr[:, 0], arr[:, 1], arr[:, 2]
    return bool(
        np.isfinite(arr).all()
        and (t >= 1.0).all()
        and (t <= 1e6).all()
        and (mn >= 1.0).all()
        and (mn <= t).all()
        and (band >= 0.0).all()
        and (band <= t).all()
    )


class CessionKind(StrEnum):
    QUOTA_SHARE = "quota_share"
    LAYER = "layer"


@dataclass(frozen=True, slots=True)
class BridgeTransfer:
    """One bridge transfer from ``src_chain``'s hub: ``sent = fee + received``."""

    route_id: str
    src_chain: str
    dst_chain: str
    sent: int
    fee: int
    received: int


@dataclass(frozen=True, slots=True)
class PoolMove:
    """Same-chain transfer between a pool and its chain's hub.

    ``amount > 0``: hub -> pool; ``amount < 0``: pool -> hub."""

    pool_id: str
    chain: str
    amount: int


@dataclass(frozen=True, slots=True)
class Cession:
    """Exposure placed with a vault. ``share_ppm``: quota share of the pool's
    retained loss, or fraction of the vault's layer bought, in parts per million."""

    pool_id: str
    vault_id: str
    kind: CessionKind
    share_ppm: int
    scr_relief: int
    mcr_relief: int
    capacity_used: int
    premium: int


@dataclass(frozen=True, slots=True)
class PoolOutcome:
    """A pool before and after the plan. ``shortfall``: capital still missing to
    reach the lower edge of its band, ``max(target - band, min_ratio)``, after
    the plan (0 when met; pending in-flight arrivals count towards it).
    Ratios are ``None`` when nothing is required."""

    pool_id: str
    chain: str
    capital_before: int
    capital_after: int
    required_before: int
    required_after: int
    ratio_before: float | None
    ratio_after: float | None
    premium_paid: int
    shortfall: int


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cash costs (``bridge_fees``, ``premiums``) and the economic cost of
    capital in transit (not paid to anyone). ``total`` is their sum."""

    bridge_fees: int
    premiums: int
    transit_cost: int
    total: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why the plan is what it is.

    ``status``: ``Optimal`` only when the returned (integer) plan is proven within
    ``mip_rel_gap`` of the documented model's optimum on the whole objective and
    within ``cost_rel_gap`` on its costs; else ``Feasible`` (a plan, gap not
    proven), ``Time limit reached``, ``Empty`` (nothing to do) or the HiGHS
    status that stopped it.
    ``mip_gap``: ``(objective - dual_bound) / objective`` of the returned plan.
    ``cost_gap``: ``(objective - dual_bound) / costs``: no plan with no more
    shortfall (penalty) costs less than ``costs * (1 - cost_gap)``.
    ``objective``/``dual_bound``: the plan's objective (costs + tie-break +
    penalties, base units) and a lower bound of it over the documented model.
    ``proof``: ``model`` when the bound holds for the documented model (always,
    unless the solve stopped early), ``fixed_routes`` when only the model with the
    routes it chose was solved to optimality, ``none`` without a bound.
    ``binding``: constraints at their limit, e.g. ``route:r1:capacity``,
    ``vault:v2:capacity``, ``pool:p3:counterparty:v2``, ``pool:p4:shortfall``.
    ``repaired``: rounding broke a property somewhere and it was repaired
    locally (that route, that pool's cession, that vault's cessions).
    ``scale``: 1.0; 0.0 only if local repair failed and the empty plan (always
    safe) was returned instead. ``penalty``: the shortfall penalties in
    ``objective``."""

    status: str
    mip_gap: float
    objective: float
    dual_bound: float
    binding: tuple[str, ...]
    solve_time_s: float
    build_time_s: float
    repaired: bool
    scale: float
    n_cols: int
    n_rows: int
    n_binaries: int
    cost_gap: float = 0.0
    penalty: float = 0.0
    proof: str = "model"


@dataclass(frozen=True, slots=True)
class Plan:
    bridges: tuple[BridgeTransfer, ...]
    moves: tuple[PoolMove, ...]
    cessions: tuple[Cession, ...]
    pools: tuple[PoolOutcome, ...]
    costs: CostBreakdown
    explanation: Explanation

    @property
    def shortfalls(self) -> dict[str, int]:
        """Pools still below target after the plan, with the capital missing."""
        return {p.pool_id: p.shortfall for p in self.pools if p.shortfall > 0}

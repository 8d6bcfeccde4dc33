"""Ballast's pure reinsurance engine: money, loss model, solvency, treaties,
pricing and the rebalancing + placement planner. No I/O; numpy and HiGHS only.
See README.md for the entry points and invariants."""

from reinsurance.errors import InsufficientCapacity, InvalidInput, ReinsuranceError, SolverError
from reinsurance.losses import (
    AggregateDistribution,
    Correlation,
    LossSample,
    Risk,
    exact_aggregate,
    simulate,
)
from reinsurance.planner import plan_rebalance
from reinsurance.planner_check import check_plan
from reinsurance.planner_types import (
    BridgeRoute,
    BridgeTransfer,
    Cession,
    CessionKind,
    CostBreakdown,
    Explanation,
    InFlightTransfer,
    Plan,
    PlanInput,
    PlannerConfig,
    PoolMove,
    PoolOutcome,
    PoolState,
    Vault,
)
from reinsurance.pricing import CoverQuote, CoverRequest, PricingConfig, price_cover
from reinsurance.solvency import (
    GroupSolvency,
    PoolCapital,
    PoolSolvency,
    SolvencyConfig,
    SolvencyReport,
    assess,
)
from reinsurance.treaties import ExcessOfLoss, NetLoss, QuotaShare, StopLoss, apply_treaties

__all__ = [
    "AggregateDistribution",
    "BridgeRoute",
    "BridgeTransfer",
    "Cession",
    "CessionKind",
    "Correlation",
    "CostBreakdown",
    "CoverQuote",
    "CoverRequest",
    "ExcessOfLoss",
    "Explanation",
    "GroupSolvency",
    "InFlightTransfer",
    "InsufficientCapacity",
    "InvalidInput",
    "LossSample",
    "NetLoss",
    "Plan",
    "PlanInput",
    "PlannerConfig",
    "PoolCapital",
    "PoolMove",
    "PoolOutcome",
    "PoolSolvency",
    "PoolState",
    "PricingConfig",
    "QuotaShare",
    "ReinsuranceError",
    "Risk",
    "SolvencyConfig",
    "SolvencyReport",
    "SolverError",
    "StopLoss",
    "Vault",
    "apply_treaties",
    "assess",
    "check_plan",
    "exact_aggregate",
    "plan_rebalance",
    "price_cover",
    "simulate",
]

"""Covered deployments as risks of the loss model, linked by protocol.

A protocol deployed on several chains runs the same code: a bug found on one
chain is a bug on every chain. :func:`deployment_risks` turns exposures per
(pool, deployment) into :class:`~reinsurance.losses.Risk` values whose
``protocol`` is the deployment's protocol id, so the common-shock model of
:mod:`reinsurance.losses` draws one protocol shock that hits every deployment
of that protocol at once (``Correlation.protocol_weight`` of each one's
probability), while each deployment keeps its own marginal probability.
Deployments of distinct protocols only share the market shock. So capital
for correlated deployments is at least what independent ones need
(``tests/reinsurance/test_deployments.py`` shows the 99.5 % quantile grows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reinsurance.errors import InvalidInput
from reinsurance.losses import Risk


@dataclass(frozen=True, slots=True)
class DeploymentExposure:
    """Cover in force on one deployment from one pool (base units)."""

    pool_id: str
    deployment_id: str
    protocol_id: str
    chain: str  # the deployment's chain
    exposure: int
    probability: float  # annual incident probability of the deployment
    severity_alpha: float = 2.0
    severity_beta: float = 5.0
    kind: str = ""  # e.g. the cover type: a separate risk per (pool, deployment, kind)


def deployment_risks(exposures: Sequence[DeploymentExposure]) -> list[Risk]:
    """One risk per (pool, deployment, kind), its protocol the deployment's protocol id."""
    seen: set[tuple[str, str, str]] = set()
    out: list[Risk] = []
    for i, e in enumerate(exposures):
        key = (e.pool_id, e.deployment_id, e.kind)
        if key in seen:
            raise InvalidInput(f"exposures[{i}]", f"duplicate (pool, deployment, kind) {key}")
        seen.add(key)
        if not e.protocol_id:
            raise InvalidInput(f"exposures[{i}].protocol_id", "must be non-empty")
        suffix = f":{e.kind}" if e.kind else ""
        out.append(
            Risk(
                risk_id=f"{e.pool_id}:{e.deployment_id}{suffix}",
                protocol=e.protocol_id,
                chain=e.chain,
                pool_id=e.pool_id,
                exposure=e.exposure,
                probability=e.probability,
                severity_alpha=e.severity_alpha,
                severity_beta=e.severity_beta,
            )
        )
    return out

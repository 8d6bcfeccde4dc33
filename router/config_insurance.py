"""The insurance side's settings: oracle reporters, when their reports confirm
an incident, and the covered deployments seeded at start-up."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import AwareDatetime, Field, field_validator

from router.config_common import Section, check_name
from router.domain.incidents import IncidentKind, QuorumPolicy, QuorumRule


class OracleConfig(Section):
    """An oracle reporter: may submit incident reports signed with this Ed25519 key."""

    #: The reporter identity's name: "oracle-a" for ``ballast://reporter/oracle-a``.
    reporter_id: str
    #: The Ed25519 public key its reports verify under, 64 hex digits (public: not a secret).
    public_key: str
    #: False deactivates the reporter at the next start (removing it does too).
    active: bool = True

    @field_validator("public_key")
    @classmethod
    def _check_key(cls, v: str) -> str:
        if not re.match(r"^[0-9a-f]{64}\Z", v):
            raise ValueError("must be an Ed25519 public key as 64 lowercase hex digits")
        return v


class QuorumConfig(Section):
    """When oracle reports confirm an incident (see ``router.domain.incidents``)."""

    #: Agreeing, distinct reporters that confirm.
    k: int = Field(default=2, ge=1, le=100)
    #: Reports within this many seconds of the first count for one incident.
    window_seconds: int = Field(default=3600, ge=1)
    #: Loss figures within this share (bps) of their median agree.
    tolerance_bps: int = Field(default=500, ge=0, le=10_000)


class IncidentsConfig(Section):
    default: QuorumConfig = QuorumConfig()
    #: Per incident kind ("flash_loan", "oracle_manipulation", ...), else ``default``.
    by_kind: dict[str, QuorumConfig] = Field(default_factory=dict)

    def policy(self) -> QuorumPolicy:
        def rule(q: QuorumConfig) -> QuorumRule:
            return QuorumRule(q.k, timedelta(seconds=q.window_seconds), q.tolerance_bps)

        return QuorumPolicy(
            rule(self.default), {IncidentKind(k): rule(q) for k, q in self.by_kind.items()}
        )

    @field_validator("by_kind")
    @classmethod
    def _check_kinds(cls, v: dict[str, QuorumConfig]) -> dict[str, QuorumConfig]:
        for kind in v:
            if kind not in {k.value for k in IncidentKind}:
                raise ValueError(f"unknown incident kind {kind!r}")
        return v


class DeploymentConfig(Section):
    """A covered protocol deployment to seed the registry with at start-up.

    Seeds only: a deployment already in the store is left as it is (operators
    and the TVL reporter keep it current through the API)."""

    deployment_id: str
    protocol_id: str
    chain: str  # the deployment's chain; need not host a pool
    addresses: tuple[str, ...]
    asset: str = "USDC"
    tvl: int = Field(ge=0)  # base units of ``asset``
    tvl_source: str = "config"
    incident_count: int = Field(default=0, ge=0)
    incident_severity_bps: int = Field(default=0, ge=0, le=10000)
    incident_window_days: int = Field(default=365, ge=1, le=3650)
    auditors: tuple[str, ...] = ()
    last_audit_at: AwareDatetime | None = None  # required with auditors
    governance_assets: int = Field(default=0, ge=0)

    @field_validator("deployment_id", "protocol_id", "chain")
    @classmethod
    def _check_ids(cls, v: str) -> str:
        return check_name(v, "deployment, protocol or chain id")

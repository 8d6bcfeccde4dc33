import datetime

from ballast.v1 import common_pb2 as _common_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlanState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_STATE_UNSPECIFIED: _ClassVar[PlanState]
    PLAN_STATE_PENDING_APPROVAL: _ClassVar[PlanState]
    PLAN_STATE_APPROVED: _ClassVar[PlanState]
    PLAN_STATE_EXECUTING: _ClassVar[PlanState]
    PLAN_STATE_COMPLETED: _ClassVar[PlanState]
    PLAN_STATE_FAILED: _ClassVar[PlanState]
    PLAN_STATE_CANCELLED: _ClassVar[PlanState]

class StepKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_KIND_UNSPECIFIED: _ClassVar[StepKind]
    STEP_KIND_TRANSFER: _ClassVar[StepKind]
    STEP_KIND_CESSION: _ClassVar[StepKind]

class StepState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_STATE_UNSPECIFIED: _ClassVar[StepState]
    STEP_STATE_PENDING: _ClassVar[StepState]
    STEP_STATE_SENT: _ClassVar[StepState]
    STEP_STATE_DONE: _ClassVar[StepState]
    STEP_STATE_FAILED: _ClassVar[StepState]
    STEP_STATE_SKIPPED: _ClassVar[StepState]
    STEP_STATE_SIGNED: _ClassVar[StepState]
    STEP_STATE_DELIVERING: _ClassVar[StepState]
    STEP_STATE_STUCK: _ClassVar[StepState]
    STEP_STATE_REFUNDED: _ClassVar[StepState]

class StepResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_RESOLUTION_UNSPECIFIED: _ClassVar[StepResolution]
    STEP_RESOLUTION_RETRY: _ClassVar[StepResolution]
    STEP_RESOLUTION_REFUNDED: _ClassVar[StepResolution]

class ChangeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_STATE_UNSPECIFIED: _ClassVar[ChangeState]
    CHANGE_STATE_PROPOSED: _ClassVar[ChangeState]
    CHANGE_STATE_APPROVED: _ClassVar[ChangeState]
    CHANGE_STATE_APPLIED: _ClassVar[ChangeState]
    CHANGE_STATE_REJECTED: _ClassVar[ChangeState]
    CHANGE_STATE_EXPIRED: _ClassVar[ChangeState]
PLAN_STATE_UNSPECIFIED: PlanState
PLAN_STATE_PENDING_APPROVAL: PlanState
PLAN_STATE_APPROVED: PlanState
PLAN_STATE_EXECUTING: PlanState
PLAN_STATE_COMPLETED: PlanState
PLAN_STATE_FAILED: PlanState
PLAN_STATE_CANCELLED: PlanState
STEP_KIND_UNSPECIFIED: StepKind
STEP_KIND_TRANSFER: StepKind
STEP_KIND_CESSION: StepKind
STEP_STATE_UNSPECIFIED: StepState
STEP_STATE_PENDING: StepState
STEP_STATE_SENT: StepState
STEP_STATE_DONE: StepState
STEP_STATE_FAILED: StepState
STEP_STATE_SKIPPED: StepState
STEP_STATE_SIGNED: StepState
STEP_STATE_DELIVERING: StepState
STEP_STATE_STUCK: StepState
STEP_STATE_REFUNDED: StepState
STEP_RESOLUTION_UNSPECIFIED: StepResolution
STEP_RESOLUTION_RETRY: StepResolution
STEP_RESOLUTION_REFUNDED: StepResolution
CHANGE_STATE_UNSPECIFIED: ChangeState
CHANGE_STATE_PROPOSED: ChangeState
CHANGE_STATE_APPROVED: ChangeState
CHANGE_STATE_APPLIED: ChangeState
CHANGE_STATE_REJECTED: ChangeState
CHANGE_STATE_EXPIRED: ChangeState

class PoolPosition(_message.Message):
    __slots__ = ("chain", "pool_id", "capital", "locked", "in_flight", "scr", "mcr", "solvency_ratio_bps", "confirmed_block", "confirmed_at", "staleness", "stale", "arriving", "active_cover")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    SCR_FIELD_NUMBER: _ClassVar[int]
    MCR_FIELD_NUMBER: _ClassVar[int]
    SOLVENCY_RATIO_BPS_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_BLOCK_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    STALENESS_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    ARRIVING_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_COVER_FIELD_NUMBER: _ClassVar[int]
    chain: str
    pool_id: str
    capital: _common_pb2.Amount
    locked: _common_pb2.Amount
    in_flight: _common_pb2.Amount
    scr: _common_pb2.Amount
    mcr: _common_pb2.Amount
    solvency_ratio_bps: int
    confirmed_block: int
    confirmed_at: _timestamp_pb2.Timestamp
    staleness: _duration_pb2.Duration
    stale: bool
    arriving: _common_pb2.Amount
    active_cover: _common_pb2.Amount
    def __init__(self, chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., capital: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., locked: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., in_flight: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., scr: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., mcr: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., solvency_ratio_bps: _Optional[int] = ..., confirmed_block: _Optional[int] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., staleness: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stale: _Optional[bool] = ..., arriving: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., active_cover: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ...) -> None: ...

class GetPositionRequest(_message.Message):
    __slots__ = ("chains",)
    CHAINS_FIELD_NUMBER: _ClassVar[int]
    chains: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, chains: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPositionResponse(_message.Message):
    __slots__ = ("pools", "as_of", "in_transit")
    POOLS_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    IN_TRANSIT_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[PoolPosition]
    as_of: _timestamp_pb2.Timestamp
    in_transit: _containers.RepeatedCompositeFieldContainer[Transit]
    def __init__(self, pools: _Optional[_Iterable[_Union[PoolPosition, _Mapping]]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_transit: _Optional[_Iterable[_Union[Transit, _Mapping]]] = ...) -> None: ...

class Transit(_message.Message):
    __slots__ = ("plan_id", "step_index", "chain", "place", "destination_chain", "amount", "state", "detail")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    PLACE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CHAIN_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    step_index: int
    chain: str
    place: str
    destination_chain: str
    amount: _common_pb2.Amount
    state: StepState
    detail: str
    def __init__(self, plan_id: _Optional[str] = ..., step_index: _Optional[int] = ..., chain: _Optional[str] = ..., place: _Optional[str] = ..., destination_chain: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., state: _Optional[_Union[StepState, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class PlanStep(_message.Message):
    __slots__ = ("index", "kind", "source_chain", "source_pool_id", "destination_chain", "destination_id", "route", "amount", "cost", "state", "transfer_id", "detail")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHAIN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_CHAIN_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    index: int
    kind: StepKind
    source_chain: str
    source_pool_id: str
    destination_chain: str
    destination_id: str
    route: str
    amount: _common_pb2.Amount
    cost: _common_pb2.Amount
    state: StepState
    transfer_id: str
    detail: str
    def __init__(self, index: _Optional[int] = ..., kind: _Optional[_Union[StepKind, str]] = ..., source_chain: _Optional[str] = ..., source_pool_id: _Optional[str] = ..., destination_chain: _Optional[str] = ..., destination_id: _Optional[str] = ..., route: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., cost: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., state: _Optional[_Union[StepState, str]] = ..., transfer_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("plan_id", "state", "created_at", "created_by", "steps", "total_cost", "total_moved", "approved_by", "approvals_required", "shortfalls", "version", "summary")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MOVED_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    SHORTFALLS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    state: PlanState
    created_at: _timestamp_pb2.Timestamp
    created_by: str
    steps: _containers.RepeatedCompositeFieldContainer[PlanStep]
    total_cost: _common_pb2.Amount
    total_moved: _common_pb2.Amount
    approved_by: _containers.RepeatedScalarFieldContainer[str]
    approvals_required: int
    shortfalls: _containers.RepeatedScalarFieldContainer[str]
    version: int
    summary: str
    def __init__(self, plan_id: _Optional[str] = ..., state: _Optional[_Union[PlanState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[PlanStep, _Mapping]]] = ..., total_cost: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., total_moved: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., approved_by: _Optional[_Iterable[str]] = ..., approvals_required: _Optional[int] = ..., shortfalls: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ..., summary: _Optional[str] = ...) -> None: ...

class PlanRebalanceRequest(_message.Message):
    __slots__ = ("dry_run", "target_ratio_bps")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    TARGET_RATIO_BPS_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    target_ratio_bps: int
    def __init__(self, dry_run: _Optional[bool] = ..., target_ratio_bps: _Optional[int] = ...) -> None: ...

class PlanRebalanceResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ("plan_id",)
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    def __init__(self, plan_id: _Optional[str] = ...) -> None: ...

class GetPlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: PlanState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[PlanState, str]] = ...) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans", "next_page_token")
    PLANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    next_page_token: str
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ApprovePlanRequest(_message.Message):
    __slots__ = ("plan_id",)
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    def __init__(self, plan_id: _Optional[str] = ...) -> None: ...

class ApprovePlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class ExecutePlanRequest(_message.Message):
    __slots__ = ("plan_id", "idempotency_key")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    idempotency_key: str
    def __init__(self, plan_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ExecutePlanResponse(_message.Message):
    __slots__ = ("plan", "note")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    note: str
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class ResolveStepRequest(_message.Message):
    __slots__ = ("plan_id", "step_index", "resolution", "reason")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    step_index: int
    resolution: StepResolution
    reason: str
    def __init__(self, plan_id: _Optional[str] = ..., step_index: _Optional[int] = ..., resolution: _Optional[_Union[StepResolution, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ResolveStepResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class WatchPlanRequest(_message.Message):
    __slots__ = ("plan_id",)
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    def __init__(self, plan_id: _Optional[str] = ...) -> None: ...

class WatchPlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: Plan
    def __init__(self, plan: _Optional[_Union[Plan, _Mapping]] = ...) -> None: ...

class SetPartnerActiveRequest(_message.Message):
    __slots__ = ("partner_id", "active", "reason")
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    partner_id: str
    active: bool
    reason: str
    def __init__(self, partner_id: _Optional[str] = ..., active: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class SetPartnerActiveResponse(_message.Message):
    __slots__ = ("was_active",)
    WAS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    was_active: bool
    def __init__(self, was_active: _Optional[bool] = ...) -> None: ...

class SetReporterActiveRequest(_message.Message):
    __slots__ = ("reporter_id", "active", "reason")
    REPORTER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    reporter_id: str
    active: bool
    reason: str
    def __init__(self, reporter_id: _Optional[str] = ..., active: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class SetReporterActiveResponse(_message.Message):
    __slots__ = ("was_active",)
    WAS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    was_active: bool
    def __init__(self, was_active: _Optional[bool] = ...) -> None: ...

class RevokeCertificateRequest(_message.Message):
    __slots__ = ("pem", "fingerprint", "reason")
    PEM_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    pem: str
    fingerprint: str
    reason: str
    def __init__(self, pem: _Optional[str] = ..., fingerprint: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Revocation(_message.Message):
    __slots__ = ("fingerprint", "identity", "reason", "revoked_by", "revoked_at")
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVOKED_BY_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    fingerprint: str
    identity: str
    reason: str
    revoked_by: str
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, fingerprint: _Optional[str] = ..., identity: _Optional[str] = ..., reason: _Optional[str] = ..., revoked_by: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RevokeCertificateResponse(_message.Message):
    __slots__ = ("revocation",)
    REVOCATION_FIELD_NUMBER: _ClassVar[int]
    revocation: Revocation
    def __init__(self, revocation: _Optional[_Union[Revocation, _Mapping]] = ...) -> None: ...

class ListRevocationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRevocationsResponse(_message.Message):
    __slots__ = ("revocations",)
    REVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    revocations: _containers.RepeatedCompositeFieldContainer[Revocation]
    def __init__(self, revocations: _Optional[_Iterable[_Union[Revocation, _Mapping]]] = ...) -> None: ...

class GetLimitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Limit(_message.Message):
    __slots__ = ("scope", "capacity", "headroom")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    HEADROOM_FIELD_NUMBER: _ClassVar[int]
    scope: str
    capacity: _common_pb2.Amount
    headroom: _common_pb2.Amount
    def __init__(self, scope: _Optional[str] = ..., capacity: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., headroom: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ...) -> None: ...

class GetLimitsResponse(_message.Message):
    __slots__ = ("limits",)
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: _containers.RepeatedCompositeFieldContainer[Limit]
    def __init__(self, limits: _Optional[_Iterable[_Union[Limit, _Mapping]]] = ...) -> None: ...

class Deployment(_message.Message):
    __slots__ = ("deployment_id", "protocol_id", "chain", "addresses", "tvl", "tvl_source", "tvl_as_of", "incident_count", "incident_severity_bps", "incident_window_days", "auditors", "last_audit_at", "governance_assets", "linked_deployments")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    TVL_FIELD_NUMBER: _ClassVar[int]
    TVL_SOURCE_FIELD_NUMBER: _ClassVar[int]
    TVL_AS_OF_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_SEVERITY_BPS_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    AUDITORS_FIELD_NUMBER: _ClassVar[int]
    LAST_AUDIT_AT_FIELD_NUMBER: _ClassVar[int]
    GOVERNANCE_ASSETS_FIELD_NUMBER: _ClassVar[int]
    LINKED_DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    protocol_id: str
    chain: str
    addresses: _containers.RepeatedScalarFieldContainer[str]
    tvl: _common_pb2.Amount
    tvl_source: str
    tvl_as_of: _timestamp_pb2.Timestamp
    incident_count: int
    incident_severity_bps: int
    incident_window_days: int
    auditors: _containers.RepeatedScalarFieldContainer[str]
    last_audit_at: _timestamp_pb2.Timestamp
    governance_assets: _common_pb2.Amount
    linked_deployments: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deployment_id: _Optional[str] = ..., protocol_id: _Optional[str] = ..., chain: _Optional[str] = ..., addresses: _Optional[_Iterable[str]] = ..., tvl: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., tvl_source: _Optional[str] = ..., tvl_as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., incident_count: _Optional[int] = ..., incident_severity_bps: _Optional[int] = ..., incident_window_days: _Optional[int] = ..., auditors: _Optional[_Iterable[str]] = ..., last_audit_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., governance_assets: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., linked_deployments: _Optional[_Iterable[str]] = ...) -> None: ...

class AddDeploymentRequest(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...

class AddDeploymentResponse(_message.Message):
    __slots__ = ("deployment", "created")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    created: bool
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ListDeploymentsRequest(_message.Message):
    __slots__ = ("protocol_id",)
    PROTOCOL_ID_FIELD_NUMBER: _ClassVar[int]
    protocol_id: str
    def __init__(self, protocol_id: _Optional[str] = ...) -> None: ...

class ListDeploymentsResponse(_message.Message):
    __slots__ = ("deployments",)
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[Deployment]
    def __init__(self, deployments: _Optional[_Iterable[_Union[Deployment, _Mapping]]] = ...) -> None: ...

class GetDeploymentRequest(_message.Message):
    __slots__ = ("deployment_id",)
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    def __init__(self, deployment_id: _Optional[str] = ...) -> None: ...

class GetDeploymentResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...

class SetDeploymentTvlRequest(_message.Message):
    __slots__ = ("deployment_id", "tvl", "source", "as_of")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TVL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    tvl: _common_pb2.Amount
    source: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, deployment_id: _Optional[str] = ..., tvl: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., source: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetDeploymentTvlResponse(_message.Message):
    __slots__ = ("deployment",)
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    deployment: Deployment
    def __init__(self, deployment: _Optional[_Union[Deployment, _Mapping]] = ...) -> None: ...

class PauseTarget(_message.Message):
    __slots__ = ("cover_type", "pool_id")
    COVER_TYPE_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    cover_type: _common_pb2.CoverType
    pool_id: str
    def __init__(self, cover_type: _Optional[_Union[_common_pb2.CoverType, str]] = ..., pool_id: _Optional[str] = ...) -> None: ...

class SetPausedRequest(_message.Message):
    __slots__ = ("target", "paused", "reason")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    target: PauseTarget
    paused: bool
    reason: str
    def __init__(self, target: _Optional[_Union[PauseTarget, _Mapping]] = ..., paused: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class SetPausedResponse(_message.Message):
    __slots__ = ("was_paused",)
    WAS_PAUSED_FIELD_NUMBER: _ClassVar[int]
    was_paused: bool
    def __init__(self, was_paused: _Optional[bool] = ...) -> None: ...

class Pause(_message.Message):
    __slots__ = ("target", "reason", "operator", "since")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    target: PauseTarget
    reason: str
    operator: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, target: _Optional[_Union[PauseTarget, _Mapping]] = ..., reason: _Optional[str] = ..., operator: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPausesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPausesResponse(_message.Message):
    __slots__ = ("pauses",)
    PAUSES_FIELD_NUMBER: _ClassVar[int]
    pauses: _containers.RepeatedCompositeFieldContainer[Pause]
    def __init__(self, pauses: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ...) -> None: ...

class ChangeProposal(_message.Message):
    __slots__ = ("change_id", "kind", "payload", "diff", "proposed_by", "reason", "approvals_required", "approved_by", "state", "proposed_at", "not_before", "expires_at", "decided_at", "decided_by")
    CHANGE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DIFF_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_AT_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    change_id: str
    kind: str
    payload: str
    diff: str
    proposed_by: str
    reason: str
    approvals_required: int
    approved_by: _containers.RepeatedScalarFieldContainer[str]
    state: ChangeState
    proposed_at: _timestamp_pb2.Timestamp
    not_before: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    decided_by: str
    def __init__(self, change_id: _Optional[str] = ..., kind: _Optional[str] = ..., payload: _Optional[str] = ..., diff: _Optional[str] = ..., proposed_by: _Optional[str] = ..., reason: _Optional[str] = ..., approvals_required: _Optional[int] = ..., approved_by: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[ChangeState, str]] = ..., proposed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ...) -> None: ...

class ProposeChangeRequest(_message.Message):
    __slots__ = ("kind", "payload", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    payload: str
    reason: str
    def __init__(self, kind: _Optional[str] = ..., payload: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ProposeChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: ChangeProposal
    def __init__(self, change: _Optional[_Union[ChangeProposal, _Mapping]] = ...) -> None: ...

class ApproveChangeRequest(_message.Message):
    __slots__ = ("change_id",)
    CHANGE_ID_FIELD_NUMBER: _ClassVar[int]
    change_id: str
    def __init__(self, change_id: _Optional[str] = ...) -> None: ...

class ApproveChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: ChangeProposal
    def __init__(self, change: _Optional[_Union[ChangeProposal, _Mapping]] = ...) -> None: ...

class ListChangesRequest(_message.Message):
    __slots__ = ("state", "limit")
    STATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    state: ChangeState
    limit: int
    def __init__(self, state: _Optional[_Union[ChangeState, str]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListChangesResponse(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[ChangeProposal]
    def __init__(self, changes: _Optional[_Iterable[_Union[ChangeProposal, _Mapping]]] = ...) -> None: ...

class GetChangeRequest(_message.Message):
    __slots__ = ("change_id",)
    CHANGE_ID_FIELD_NUMBER: _ClassVar[int]
    change_id: str
    def __init__(self, change_id: _Optional[str] = ...) -> None: ...

class GetChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: ChangeProposal
    def __init__(self, change: _Optional[_Union[ChangeProposal, _Mapping]] = ...) -> None: ...

class ApplyChangeRequest(_message.Message):
    __slots__ = ("change_id",)
    CHANGE_ID_FIELD_NUMBER: _ClassVar[int]
    change_id: str
    def __init__(self, change_id: _Optional[str] = ...) -> None: ...

class ApplyChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: ChangeProposal
    def __init__(self, change: _Optional[_Union[ChangeProposal, _Mapping]] = ...) -> None: ...

class ProjectPlanRequest(_message.Message):
    __slots__ = ("plan_id",)
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    def __init__(self, plan_id: _Optional[str] = ...) -> None: ...

class PoolProjection(_message.Message):
    __slots__ = ("chain", "pool_id", "capital_now", "capital_after", "scr_now", "scr_after", "ratio_now_bps", "ratio_after_bps")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_NOW_FIELD_NUMBER: _ClassVar[int]
    CAPITAL_AFTER_FIELD_NUMBER: _ClassVar[int]
    SCR_NOW_FIELD_NUMBER: _ClassVar[int]
    SCR_AFTER_FIELD_NUMBER: _ClassVar[int]
    RATIO_NOW_BPS_FIELD_NUMBER: _ClassVar[int]
    RATIO_AFTER_BPS_FIELD_NUMBER: _ClassVar[int]
    chain: str
    pool_id: str
    capital_now: _common_pb2.Amount
    capital_after: _common_pb2.Amount
    scr_now: _common_pb2.Amount
    scr_after: _common_pb2.Amount
    ratio_now_bps: int
    ratio_after_bps: int
    def __init__(self, chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., capital_now: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., capital_after: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., scr_now: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., scr_after: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., ratio_now_bps: _Optional[int] = ..., ratio_after_bps: _Optional[int] = ...) -> None: ...

class ProjectPlanResponse(_message.Message):
    __slots__ = ("plan_id", "pools")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    pools: _containers.RepeatedCompositeFieldContainer[PoolProjection]
    def __init__(self, plan_id: _Optional[str] = ..., pools: _Optional[_Iterable[_Union[PoolProjection, _Mapping]]] = ...) -> None: ...

class RejectChangeRequest(_message.Message):
    __slots__ = ("change_id", "reason")
    CHANGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    change_id: str
    reason: str
    def __init__(self, change_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectChangeResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: ChangeProposal
    def __init__(self, change: _Optional[_Union[ChangeProposal, _Mapping]] = ...) -> None: ...

class IncidentAlert(_message.Message):
    __slots__ = ("kind", "detail", "raised_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    detail: str
    raised_at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[str] = ..., detail: _Optional[str] = ..., raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Incident(_message.Message):
    __slots__ = ("incident_id", "deployment_id", "kind", "occurred_at", "state", "loss", "agreeing_reporters", "reports", "detail", "alerts")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    AGREEING_REPORTERS_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    deployment_id: str
    kind: str
    occurred_at: _timestamp_pb2.Timestamp
    state: _common_pb2.IncidentState
    loss: _common_pb2.Amount
    agreeing_reporters: int
    reports: int
    detail: str
    alerts: _containers.RepeatedCompositeFieldContainer[IncidentAlert]
    def __init__(self, incident_id: _Optional[str] = ..., deployment_id: _Optional[str] = ..., kind: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.IncidentState, str]] = ..., loss: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., agreeing_reporters: _Optional[int] = ..., reports: _Optional[int] = ..., detail: _Optional[str] = ..., alerts: _Optional[_Iterable[_Union[IncidentAlert, _Mapping]]] = ...) -> None: ...

class ListIncidentsRequest(_message.Message):
    __slots__ = ("state", "page_size")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.IncidentState
    page_size: int
    def __init__(self, state: _Optional[_Union[_common_pb2.IncidentState, str]] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListIncidentsResponse(_message.Message):
    __slots__ = ("incidents",)
    INCIDENTS_FIELD_NUMBER: _ClassVar[int]
    incidents: _containers.RepeatedCompositeFieldContainer[Incident]
    def __init__(self, incidents: _Optional[_Iterable[_Union[Incident, _Mapping]]] = ...) -> None: ...

class TreasuryServiceListClaimsRequest(_message.Message):
    __slots__ = ("state", "incident_id", "page_size")
    STATE_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    state: _common_pb2.ClaimState
    incident_id: str
    page_size: int
    def __init__(self, state: _Optional[_Union[_common_pb2.ClaimState, str]] = ..., incident_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class TreasuryServiceListClaimsResponse(_message.Message):
    __slots__ = ("claims",)
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    claims: _containers.RepeatedCompositeFieldContainer[_common_pb2.Claim]
    def __init__(self, claims: _Optional[_Iterable[_Union[_common_pb2.Claim, _Mapping]]] = ...) -> None: ...

class ListPayoutsRequest(_message.Message):
    __slots__ = ("page_size",)
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    def __init__(self, page_size: _Optional[int] = ...) -> None: ...

class ListPayoutsResponse(_message.Message):
    __slots__ = ("payouts",)
    PAYOUTS_FIELD_NUMBER: _ClassVar[int]
    payouts: _containers.RepeatedCompositeFieldContainer[_common_pb2.ClaimPayment]
    def __init__(self, payouts: _Optional[_Iterable[_Union[_common_pb2.ClaimPayment, _Mapping]]] = ...) -> None: ...

class Recoverable(_message.Message):
    __slots__ = ("recovery_id", "payment_id", "cession_id", "vault_id", "pool_id", "amount", "status", "tx_ref")
    RECOVERY_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CESSION_ID_FIELD_NUMBER: _ClassVar[int]
    VAULT_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TX_REF_FIELD_NUMBER: _ClassVar[int]
    recovery_id: str
    payment_id: str
    cession_id: str
    vault_id: str
    pool_id: str
    amount: _common_pb2.Amount
    status: str
    tx_ref: str
    def __init__(self, recovery_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., cession_id: _Optional[str] = ..., vault_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., status: _Optional[str] = ..., tx_ref: _Optional[str] = ...) -> None: ...

class ListRecoverablesRequest(_message.Message):
    __slots__ = ("status", "page_size")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    status: str
    page_size: int
    def __init__(self, status: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListRecoverablesResponse(_message.Message):
    __slots__ = ("recoverables",)
    RECOVERABLES_FIELD_NUMBER: _ClassVar[int]
    recoverables: _containers.RepeatedCompositeFieldContainer[Recoverable]
    def __init__(self, recoverables: _Optional[_Iterable[_Union[Recoverable, _Mapping]]] = ...) -> None: ...

class RejectIncidentRequest(_message.Message):
    __slots__ = ("incident_id", "reason")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    reason: str
    def __init__(self, incident_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectIncidentResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: Incident
    def __init__(self, incident: _Optional[_Union[Incident, _Mapping]] = ...) -> None: ...

class ResolveClaimRequest(_message.Message):
    __slots__ = ("claim_id", "accepted_loss", "reason")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_LOSS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    accepted_loss: _common_pb2.Amount
    reason: str
    def __init__(self, claim_id: _Optional[str] = ..., accepted_loss: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ResolveClaimResponse(_message.Message):
    __slots__ = ("claim",)
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: _common_pb2.Claim
    def __init__(self, claim: _Optional[_Union[_common_pb2.Claim, _Mapping]] = ...) -> None: ...

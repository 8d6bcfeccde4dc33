import datetime

from ballast.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CapacityLimit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPACITY_LIMIT_UNSPECIFIED: _ClassVar[CapacityLimit]
    CAPACITY_LIMIT_CAPACITY_SHARE: _ClassVar[CapacityLimit]
    CAPACITY_LIMIT_STALE_BALANCE: _ClassVar[CapacityLimit]
    CAPACITY_LIMIT_NO_BALANCE: _ClassVar[CapacityLimit]

class CoverState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COVER_STATE_UNSPECIFIED: _ClassVar[CoverState]
    COVER_STATE_ACTIVE: _ClassVar[CoverState]
    COVER_STATE_EXPIRED: _ClassVar[CoverState]
    COVER_STATE_CLAIMED: _ClassVar[CoverState]
    COVER_STATE_CANCELLED: _ClassVar[CoverState]
CAPACITY_LIMIT_UNSPECIFIED: CapacityLimit
CAPACITY_LIMIT_CAPACITY_SHARE: CapacityLimit
CAPACITY_LIMIT_STALE_BALANCE: CapacityLimit
CAPACITY_LIMIT_NO_BALANCE: CapacityLimit
COVER_STATE_UNSPECIFIED: CoverState
COVER_STATE_ACTIVE: CoverState
COVER_STATE_EXPIRED: CoverState
COVER_STATE_CLAIMED: CoverState
COVER_STATE_CANCELLED: CoverState

class Capacity(_message.Message):
    __slots__ = ("chain", "cover_type", "available", "pool_id", "limit", "in_force", "binding_limit", "frees_at")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    COVER_TYPE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    BINDING_LIMIT_FIELD_NUMBER: _ClassVar[int]
    FREES_AT_FIELD_NUMBER: _ClassVar[int]
    chain: str
    cover_type: _common_pb2.CoverType
    available: _common_pb2.Amount
    pool_id: str
    limit: _common_pb2.Amount
    in_force: _common_pb2.Amount
    binding_limit: CapacityLimit
    frees_at: _timestamp_pb2.Timestamp
    def __init__(self, chain: _Optional[str] = ..., cover_type: _Optional[_Union[_common_pb2.CoverType, str]] = ..., available: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., pool_id: _Optional[str] = ..., limit: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., in_force: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., binding_limit: _Optional[_Union[CapacityLimit, str]] = ..., frees_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCapacityRequest(_message.Message):
    __slots__ = ("chain", "cover_type")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    COVER_TYPE_FIELD_NUMBER: _ClassVar[int]
    chain: str
    cover_type: _common_pb2.CoverType
    def __init__(self, chain: _Optional[str] = ..., cover_type: _Optional[_Union[_common_pb2.CoverType, str]] = ...) -> None: ...

class GetCapacityResponse(_message.Message):
    __slots__ = ("capacities",)
    CAPACITIES_FIELD_NUMBER: _ClassVar[int]
    capacities: _containers.RepeatedCompositeFieldContainer[Capacity]
    def __init__(self, capacities: _Optional[_Iterable[_Union[Capacity, _Mapping]]] = ...) -> None: ...

class QuoteCoverRequest(_message.Message):
    __slots__ = ("chain", "pool_id", "cover_type", "cover_amount", "period_days", "terms", "spill_over")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    COVER_TYPE_FIELD_NUMBER: _ClassVar[int]
    COVER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    SPILL_OVER_FIELD_NUMBER: _ClassVar[int]
    chain: str
    pool_id: str
    cover_type: _common_pb2.CoverType
    cover_amount: _common_pb2.Amount
    period_days: int
    terms: CoverTerms
    spill_over: bool
    def __init__(self, chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., cover_type: _Optional[_Union[_common_pb2.CoverType, str]] = ..., cover_amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., period_days: _Optional[int] = ..., terms: _Optional[_Union[CoverTerms, _Mapping]] = ..., spill_over: _Optional[bool] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("quote_id", "chain", "pool_id", "cover_type", "cover_amount", "period_days", "premium", "expires_at", "terms", "premium_breakdown", "spilled_from")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    COVER_TYPE_FIELD_NUMBER: _ClassVar[int]
    COVER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    SPILLED_FROM_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    chain: str
    pool_id: str
    cover_type: _common_pb2.CoverType
    cover_amount: _common_pb2.Amount
    period_days: int
    premium: _common_pb2.Amount
    expires_at: _timestamp_pb2.Timestamp
    terms: CoverTerms
    premium_breakdown: PremiumBreakdown
    spilled_from: str
    def __init__(self, quote_id: _Optional[str] = ..., chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., cover_type: _Optional[_Union[_common_pb2.CoverType, str]] = ..., cover_amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., period_days: _Optional[int] = ..., premium: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., terms: _Optional[_Union[CoverTerms, _Mapping]] = ..., premium_breakdown: _Optional[_Union[PremiumBreakdown, _Mapping]] = ..., spilled_from: _Optional[str] = ...) -> None: ...

class QuoteCoverResponse(_message.Message):
    __slots__ = ("quote", "terms_block_number", "terms_version", "terms_contract")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    TERMS_BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TERMS_VERSION_FIELD_NUMBER: _ClassVar[int]
    TERMS_CONTRACT_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    terms_block_number: int
    terms_version: int
    terms_contract: str
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ..., terms_block_number: _Optional[int] = ..., terms_version: _Optional[int] = ..., terms_contract: _Optional[str] = ...) -> None: ...

class BindCoverRequest(_message.Message):
    __slots__ = ("idempotency_key", "quote_id", "chain", "pool_id", "cover_type", "cover_amount", "period_days", "terms", "holder_address", "payer_address")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    COVER_TYPE_FIELD_NUMBER: _ClassVar[int]
    COVER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    HOLDER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PAYER_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    quote_id: str
    chain: str
    pool_id: str
    cover_type: _common_pb2.CoverType
    cover_amount: _common_pb2.Amount
    period_days: int
    terms: CoverTerms
    holder_address: str
    payer_address: str
    def __init__(self, idempotency_key: _Optional[str] = ..., quote_id: _Optional[str] = ..., chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., cover_type: _Optional[_Union[_common_pb2.CoverType, str]] = ..., cover_amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., period_days: _Optional[int] = ..., terms: _Optional[_Union[CoverTerms, _Mapping]] = ..., holder_address: _Optional[str] = ..., payer_address: _Optional[str] = ...) -> None: ...

class Cover(_message.Message):
    __slots__ = ("cover_id", "quote_id", "chain", "pool_id", "cover_type", "cover_amount", "premium", "starts_at", "ends_at", "state", "terms", "opening")
    COVER_ID_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    COVER_TYPE_FIELD_NUMBER: _ClassVar[int]
    COVER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    cover_id: str
    quote_id: str
    chain: str
    pool_id: str
    cover_type: _common_pb2.CoverType
    cover_amount: _common_pb2.Amount
    premium: _common_pb2.Amount
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    state: CoverState
    terms: CoverTerms
    opening: CoverOpening
    def __init__(self, cover_id: _Optional[str] = ..., quote_id: _Optional[str] = ..., chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., cover_type: _Optional[_Union[_common_pb2.CoverType, str]] = ..., cover_amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., premium: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[CoverState, str]] = ..., terms: _Optional[_Union[CoverTerms, _Mapping]] = ..., opening: _Optional[_Union[CoverOpening, _Mapping]] = ...) -> None: ...

class BindCoverResponse(_message.Message):
    __slots__ = ("cover", "created", "terms_block_number", "terms_version", "terms_contract")
    COVER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    TERMS_BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TERMS_VERSION_FIELD_NUMBER: _ClassVar[int]
    TERMS_CONTRACT_FIELD_NUMBER: _ClassVar[int]
    cover: Cover
    created: bool
    terms_block_number: int
    terms_version: int
    terms_contract: str
    def __init__(self, cover: _Optional[_Union[Cover, _Mapping]] = ..., created: _Optional[bool] = ..., terms_block_number: _Optional[int] = ..., terms_version: _Optional[int] = ..., terms_contract: _Optional[str] = ...) -> None: ...

class ListPositionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPositionsResponse(_message.Message):
    __slots__ = ("covers", "next_page_token")
    COVERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    covers: _containers.RepeatedCompositeFieldContainer[Cover]
    next_page_token: str
    def __init__(self, covers: _Optional[_Iterable[_Union[Cover, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CoverTerms(_message.Message):
    __slots__ = ("deployment_id", "deductible", "per_event_max", "insured_value", "position_ref", "trigger_kinds")
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIBLE_FIELD_NUMBER: _ClassVar[int]
    PER_EVENT_MAX_FIELD_NUMBER: _ClassVar[int]
    INSURED_VALUE_FIELD_NUMBER: _ClassVar[int]
    POSITION_REF_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_KINDS_FIELD_NUMBER: _ClassVar[int]
    deployment_id: str
    deductible: _common_pb2.Amount
    per_event_max: _common_pb2.Amount
    insured_value: _common_pb2.Amount
    position_ref: str
    trigger_kinds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deployment_id: _Optional[str] = ..., deductible: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., per_event_max: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., insured_value: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., position_ref: _Optional[str] = ..., trigger_kinds: _Optional[_Iterable[str]] = ...) -> None: ...

class PremiumBreakdown(_message.Message):
    __slots__ = ("pure_premium", "cost_of_capital", "fees", "utilisation_surcharge", "incident_probability_ppm", "utilisation_bps")
    PURE_PREMIUM_FIELD_NUMBER: _ClassVar[int]
    COST_OF_CAPITAL_FIELD_NUMBER: _ClassVar[int]
    FEES_FIELD_NUMBER: _ClassVar[int]
    UTILISATION_SURCHARGE_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_PROBABILITY_PPM_FIELD_NUMBER: _ClassVar[int]
    UTILISATION_BPS_FIELD_NUMBER: _ClassVar[int]
    pure_premium: _common_pb2.Amount
    cost_of_capital: _common_pb2.Amount
    fees: _common_pb2.Amount
    utilisation_surcharge: _common_pb2.Amount
    incident_probability_ppm: int
    utilisation_bps: int
    def __init__(self, pure_premium: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., cost_of_capital: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., fees: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., utilisation_surcharge: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., incident_probability_ppm: _Optional[int] = ..., utilisation_bps: _Optional[int] = ...) -> None: ...

class FileClaimRequest(_message.Message):
    __slots__ = ("cover_id", "incident_id", "claimed_loss")
    COVER_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_LOSS_FIELD_NUMBER: _ClassVar[int]
    cover_id: str
    incident_id: str
    claimed_loss: _common_pb2.Amount
    def __init__(self, cover_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., claimed_loss: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ...) -> None: ...

class FileClaimResponse(_message.Message):
    __slots__ = ("claim", "created")
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    claim: _common_pb2.Claim
    created: bool
    def __init__(self, claim: _Optional[_Union[_common_pb2.Claim, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetClaimRequest(_message.Message):
    __slots__ = ("claim_id",)
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    def __init__(self, claim_id: _Optional[str] = ...) -> None: ...

class GetClaimResponse(_message.Message):
    __slots__ = ("claim",)
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: _common_pb2.Claim
    def __init__(self, claim: _Optional[_Union[_common_pb2.Claim, _Mapping]] = ...) -> None: ...

class ListClaimsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListClaimsResponse(_message.Message):
    __slots__ = ("claims", "next_page_token")
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    claims: _containers.RepeatedCompositeFieldContainer[_common_pb2.Claim]
    next_page_token: str
    def __init__(self, claims: _Optional[_Iterable[_Union[_common_pb2.Claim, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CoverOpening(_message.Message):
    __slots__ = ("status", "chain_cover_id", "tx_ref", "certificate_holder", "detail")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHAIN_COVER_ID_FIELD_NUMBER: _ClassVar[int]
    TX_REF_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_HOLDER_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    status: str
    chain_cover_id: str
    tx_ref: str
    certificate_holder: str
    detail: str
    def __init__(self, status: _Optional[str] = ..., chain_cover_id: _Optional[str] = ..., tx_ref: _Optional[str] = ..., certificate_holder: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CoverType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COVER_TYPE_UNSPECIFIED: _ClassVar[CoverType]
    COVER_TYPE_PROTOCOL: _ClassVar[CoverType]
    COVER_TYPE_POSITION: _ClassVar[CoverType]
    COVER_TYPE_ORACLE: _ClassVar[CoverType]
    COVER_TYPE_GOVERNANCE: _ClassVar[CoverType]
    COVER_TYPE_LIQUIDITY: _ClassVar[CoverType]

class ClaimState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLAIM_STATE_UNSPECIFIED: _ClassVar[ClaimState]
    CLAIM_STATE_FILED: _ClassVar[ClaimState]
    CLAIM_STATE_VALIDATED: _ClassVar[ClaimState]
    CLAIM_STATE_APPROVED: _ClassVar[ClaimState]
    CLAIM_STATE_PAYING: _ClassVar[ClaimState]
    CLAIM_STATE_PAID: _ClassVar[ClaimState]
    CLAIM_STATE_DISPUTED: _ClassVar[ClaimState]
    CLAIM_STATE_REJECTED: _ClassVar[ClaimState]

class IncidentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCIDENT_STATE_UNSPECIFIED: _ClassVar[IncidentState]
    INCIDENT_STATE_PENDING: _ClassVar[IncidentState]
    INCIDENT_STATE_CONFIRMED: _ClassVar[IncidentState]
    INCIDENT_STATE_REJECTED: _ClassVar[IncidentState]
COVER_TYPE_UNSPECIFIED: CoverType
COVER_TYPE_PROTOCOL: CoverType
COVER_TYPE_POSITION: CoverType
COVER_TYPE_ORACLE: CoverType
COVER_TYPE_GOVERNANCE: CoverType
COVER_TYPE_LIQUIDITY: CoverType
CLAIM_STATE_UNSPECIFIED: ClaimState
CLAIM_STATE_FILED: ClaimState
CLAIM_STATE_VALIDATED: ClaimState
CLAIM_STATE_APPROVED: ClaimState
CLAIM_STATE_PAYING: ClaimState
CLAIM_STATE_PAID: ClaimState
CLAIM_STATE_DISPUTED: ClaimState
CLAIM_STATE_REJECTED: ClaimState
INCIDENT_STATE_UNSPECIFIED: IncidentState
INCIDENT_STATE_PENDING: IncidentState
INCIDENT_STATE_CONFIRMED: IncidentState
INCIDENT_STATE_REJECTED: IncidentState

class Amount(_message.Message):
    __slots__ = ("asset", "value")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    asset: str
    value: str
    def __init__(self, asset: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ClaimPayment(_message.Message):
    __slots__ = ("payment_id", "claim_id", "cover_id", "pool_id", "amount", "status", "tx_ref", "block_number", "updated_at")
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    COVER_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TX_REF_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    claim_id: str
    cover_id: str
    pool_id: str
    amount: Amount
    status: str
    tx_ref: str
    block_number: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, payment_id: _Optional[str] = ..., claim_id: _Optional[str] = ..., cover_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., amount: _Optional[_Union[Amount, _Mapping]] = ..., status: _Optional[str] = ..., tx_ref: _Optional[str] = ..., block_number: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Claim(_message.Message):
    __slots__ = ("claim_id", "cover_id", "incident_id", "pool_id", "claimed_loss", "state", "approved", "paid", "disputed", "reason", "filed_by", "created_at", "payments", "partner_id")
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    COVER_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    CLAIMED_LOSS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    APPROVED_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FILED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    cover_id: str
    incident_id: str
    pool_id: str
    claimed_loss: Amount
    state: ClaimState
    approved: Amount
    paid: Amount
    disputed: Amount
    reason: str
    filed_by: str
    created_at: _timestamp_pb2.Timestamp
    payments: _containers.RepeatedCompositeFieldContainer[ClaimPayment]
    partner_id: str
    def __init__(self, claim_id: _Optional[str] = ..., cover_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., pool_id: _Optional[str] = ..., claimed_loss: _Optional[_Union[Amount, _Mapping]] = ..., state: _Optional[_Union[ClaimState, str]] = ..., approved: _Optional[_Union[Amount, _Mapping]] = ..., paid: _Optional[_Union[Amount, _Mapping]] = ..., disputed: _Optional[_Union[Amount, _Mapping]] = ..., reason: _Optional[str] = ..., filed_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payments: _Optional[_Iterable[_Union[ClaimPayment, _Mapping]]] = ..., partner_id: _Optional[str] = ...) -> None: ...

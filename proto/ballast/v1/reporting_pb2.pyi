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

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_POOL: _ClassVar[RejectReason]
    REJECT_REASON_REPORTER_NOT_ALLOWED: _ClassVar[RejectReason]
    REJECT_REASON_STALE_BLOCK: _ClassVar[RejectReason]
    REJECT_REASON_NOT_FINAL: _ClassVar[RejectReason]
    REJECT_REASON_INVALID: _ClassVar[RejectReason]
    REJECT_REASON_CONFLICT: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_CHAIN: _ClassVar[RejectReason]
    REJECT_REASON_FROM_FUTURE: _ClassVar[RejectReason]
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_UNKNOWN_POOL: RejectReason
REJECT_REASON_REPORTER_NOT_ALLOWED: RejectReason
REJECT_REASON_STALE_BLOCK: RejectReason
REJECT_REASON_NOT_FINAL: RejectReason
REJECT_REASON_INVALID: RejectReason
REJECT_REASON_CONFLICT: RejectReason
REJECT_REASON_UNKNOWN_CHAIN: RejectReason
REJECT_REASON_FROM_FUTURE: RejectReason

class BalanceReport(_message.Message):
    __slots__ = ("chain", "pool_id", "amount", "block_number", "block_hash", "finalized", "observed_at", "block_time")
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_TIME_FIELD_NUMBER: _ClassVar[int]
    chain: str
    pool_id: str
    amount: _common_pb2.Amount
    block_number: int
    block_hash: str
    finalized: bool
    observed_at: _timestamp_pb2.Timestamp
    block_time: _timestamp_pb2.Timestamp
    def __init__(self, chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Amount, _Mapping]] = ..., block_number: _Optional[int] = ..., block_hash: _Optional[str] = ..., finalized: _Optional[bool] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., block_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StreamReportsRequest(_message.Message):
    __slots__ = ("batch_id", "reports")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    REPORTS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    reports: _containers.RepeatedCompositeFieldContainer[BalanceReport]
    def __init__(self, batch_id: _Optional[str] = ..., reports: _Optional[_Iterable[_Union[BalanceReport, _Mapping]]] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("index", "chain", "pool_id", "reason", "detail")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    index: int
    chain: str
    pool_id: str
    reason: RejectReason
    detail: str
    def __init__(self, index: _Optional[int] = ..., chain: _Optional[str] = ..., pool_id: _Optional[str] = ..., reason: _Optional[_Union[RejectReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class StreamReportsResponse(_message.Message):
    __slots__ = ("batch_id", "accepted", "rejected", "rejections", "reporter_id", "confirmed")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    REPORTER_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    accepted: int
    rejected: int
    rejections: _containers.RepeatedCompositeFieldContainer[Rejection]
    reporter_id: str
    confirmed: int
    def __init__(self, batch_id: _Optional[str] = ..., accepted: _Optional[int] = ..., rejected: _Optional[int] = ..., rejections: _Optional[_Iterable[_Union[Rejection, _Mapping]]] = ..., reporter_id: _Optional[str] = ..., confirmed: _Optional[int] = ...) -> None: ...

class ReportTvlRequest(_message.Message):
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

class ReportTvlResponse(_message.Message):
    __slots__ = ("applied",)
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    def __init__(self, applied: _Optional[bool] = ...) -> None: ...

class SubmitIncidentReportRequest(_message.Message):
    __slots__ = ("payload", "signature")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    signature: bytes
    def __init__(self, payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ...) -> None: ...

class SubmitIncidentReportResponse(_message.Message):
    __slots__ = ("report_hash", "incident_id", "state", "confirmed_now", "agreeing_reporters", "detail")
    REPORT_HASH_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_NOW_FIELD_NUMBER: _ClassVar[int]
    AGREEING_REPORTERS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    report_hash: str
    incident_id: str
    state: _common_pb2.IncidentState
    confirmed_now: bool
    agreeing_reporters: int
    detail: str
    def __init__(self, report_hash: _Optional[str] = ..., incident_id: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.IncidentState, str]] = ..., confirmed_now: _Optional[bool] = ..., agreeing_reporters: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

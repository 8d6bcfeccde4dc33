from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class CoverType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COVER_TYPE_UNSPECIFIED: _ClassVar[CoverType]
    COVER_TYPE_PROTOCOL: _ClassVar[CoverType]
    COVER_TYPE_POSITION: _ClassVar[CoverType]
    COVER_TYPE_ORACLE: _ClassVar[CoverType]
    COVER_TYPE_GOVERNANCE: _ClassVar[CoverType]
    COVER_TYPE_LIQUIDITY: _ClassVar[CoverType]
COVER_TYPE_UNSPECIFIED: CoverType
COVER_TYPE_PROTOCOL: CoverType
COVER_TYPE_POSITION: CoverType
COVER_TYPE_ORACLE: CoverType
COVER_TYPE_GOVERNANCE: CoverType
COVER_TYPE_LIQUIDITY: CoverType

class Amount(_message.Message):
    __slots__ = ("asset", "value")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    asset: str
    value: str
    def __init__(self, asset: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

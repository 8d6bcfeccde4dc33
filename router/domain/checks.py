"""Formats and checks every domain value goes through: one definition each.

A value failing its check raises :class:`router.errors.InvalidRecord` naming
the field. Amounts are ``int`` base units in ``[0, MAX_AMOUNT]``; block
numbers fit a signed 64-bit column; timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from chains.base import MAX_AMOUNT as CHAIN_MAX_AMOUNT
from router.errors import InvalidRecord

#: Largest amount anywhere in the system (uint256): one definition, in ``chains.base``.
MAX_AMOUNT = CHAIN_MAX_AMOUNT
#: Largest block number / slot (fits a signed 64-bit column).
MAX_BLOCK = 2**63 - 1

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}\Z")
#: EVM 0x + 64 lowercase hex, or a Solana base58 blockhash.
BLOCK_HASH = re.compile(r"^(0x[0-9a-f]{64}|[1-9A-HJ-NP-Za-km-z]{32,44})\Z")
TRANSFER_ID = re.compile(r"^0x[0-9a-f]{64}\Z")
SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


def check_id(value: object, what: str) -> str:
    """Identifiers: 1-128 chars of letters, digits and ``._:/@-``, not starting with a symbol."""
    if not isinstance(value, str) or not ID.match(value):
        raise InvalidRecord(
            f"{what} must be 1-128 characters of letters, digits and ._:/@- "
            f"starting with a letter or digit, got {value!r}",
            field=what,
        )
    return value


def check_text(value: object, what: str, *, max_len: int = 256) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidRecord(
            f"{what} must be a non-empty string of at most {max_len} characters", field=what
        )
    return value


def check_amount(value: object, what: str) -> int:
    """Non-negative integer base units that fit uint256."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(
            f"{what} must be an integer in base units, got {type(value).__name__}", field=what
        )
    if value < 0:
        raise InvalidRecord(f"{what} must not be negative, got {value}", field=what)
    if value > MAX_AMOUNT:
        raise InvalidRecord(f"{what} {value} exceeds uint256", field=what)
    return value


def check_int(value: object, what: str, *, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidRecord(f"{what} must be an integer in [{lo}, {hi}], got {value!r}", field=what)
    return value


def check_block_hash(value: object, what: str = "block_hash") -> str:
    """EVM 0x + 64 lowercase hex, or a Solana base58 blockhash."""
    if not isinstance(value, str) or not BLOCK_HASH.match(value):
        raise InvalidRecord(
            f"{what} must be 0x + 64 lowercase hex (EVM) or base58 (Solana), got {value!r}",
            field=what,
        )
    return value


def check_transfer_id(value: object, what: str = "transfer_id") -> str:
    if not isinstance(value, str) or not TRANSFER_ID.match(value):
        raise InvalidRecord(
            f"{what} must be 0x + 64 lowercase hex digits, got {value!r}", field=what
        )
    return value


def check_sha256(value: object, what: str) -> str:
    if not isinstance(value, str) or not SHA256.match(value):
        raise InvalidRecord(f"{what} must be a lowercase hex SHA-256 digest", field=what)
    return value


def check_utc(value: object, what: str) -> datetime:
    """Aware datetimes only (a naive one is ambiguous); normalised to UTC."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidRecord(f"{what} must be a timezone-aware datetime", field=what)
    return value.astimezone(UTC)


def opt_utc(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if value is not None:
        object.__setattr__(obj, name, check_utc(value, name))


def utcnow() -> datetime:
    return datetime.now(UTC)


E = TypeVar("E", bound=StrEnum)


def check_enum(cls: type[E], value: object, what: str) -> E:
    try:
        return cls(value)  # type: ignore[arg-type]  # validated right here
    except ValueError:
        raise InvalidRecord(
            f"{what} must be one of {[m.value for m in cls]}, got {value!r}", field=what
        ) from None

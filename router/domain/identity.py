"""Who acts: an authenticated caller's role and name, from credentials only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from router.domain.checks import check_text, check_utc
from router.errors import InvalidRecord, Unauthenticated


class Role(StrEnum):
    OPERATOR = "operator"
    PARTNER = "partner"
    REPORTER = "reporter"


_SEGMENT = r"[a-z0-9][a-z0-9._-]{0,62}"
_URI = re.compile(rf"^ballast://(operator|partner|reporter)/({_SEGMENT}(?:/{_SEGMENT})?)\Z")


@dataclass(frozen=True, slots=True)
class Identity:
    role: Role
    name: str  # "alice", "acme", "ethereum/node-a"

    @property
    def uri(self) -> str:
        return f"ballast://{self.role}/{self.name}"

    @property
    def chain(self) -> str | None:
        """The one chain a reporter may report for; None for other roles."""
        return self.name.split("/", 1)[0] if self.role is Role.REPORTER else None

    @property
    def key(self) -> str:
        """Rate-limit and audit key."""
        return f"{self.role}:{self.name}"


def parse_identity(uri: str) -> Identity:
    """``ballast://<role>/<name>`` (a reporter may add ``/<node>``), nothing else."""
    m = _URI.match(uri)
    if m is None:
        raise Unauthenticated(
            f"credential identity {uri[:100]!r} is not of the form ballast://<role>/<name>"
        )
    role, name = m.group(1), m.group(2)
    if role != Role.REPORTER and "/" in name:
        raise Unauthenticated(f"{role} identity {uri!r} must have a single name segment")
    return Identity(Role(role), name)


_FINGERPRINT = re.compile(r"^[0-9a-f]{64}\Z")


@dataclass(frozen=True, slots=True)
class Revocation:
    """A client certificate refused at every call: SHA-256 of its DER, lowercase hex."""

    fingerprint: str
    identity: str  # the certificate's identity URI, for the operator's eyes
    reason: str
    revoked_by: str
    revoked_at: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.fingerprint, str) or not _FINGERPRINT.match(self.fingerprint):
            raise InvalidRecord(
                "fingerprint must be the certificate's SHA-256 as 64 lowercase hex digits",
                field="fingerprint",
            )
        check_text(self.identity, "identity", max_len=128)
        check_text(self.reason, "reason", max_len=256)
        check_text(self.revoked_by, "revoked_by", max_len=128)
        object.__setattr__(self, "revoked_at", check_utc(self.revoked_at, "revoked_at"))

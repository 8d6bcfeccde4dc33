"""Idempotent requests: a key used once, bound to the hash of its first request.

A retried request with the same key and the same payload gets the first
answer; the same key with another payload is refused, naming what differs.
The record is written in the same unit of work as the state change it
guards, so a crash leaves both or neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from router.domain.checks import check_id, check_sha256, check_text, check_utc


def canonical(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(canonical JSON, its SHA-256 hex): the same payload always hashes the same."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def mismatch(stored: Mapping[str, Any], given: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields in which two payloads differ, sorted."""
    return tuple(sorted(k for k in set(stored) | set(given) if stored.get(k) != given.get(k)))


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """One use of a key within a scope (e.g. ``execute_plan``)."""

    scope: str
    key: str
    request_json: str  # canonical JSON of the first request
    request_hash: str
    subject: str  # what the request acted on (a plan id, ...)
    actor: str  # identity URI of the first caller
    result: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        check_id(self.scope, "scope")
        check_id(self.key, "key")
        check_sha256(self.request_hash, "request_hash")
        check_text(self.subject, "subject", max_len=128)
        check_text(self.actor, "actor", max_len=128)
        if self.created_at is not None:
            object.__setattr__(self, "created_at", check_utc(self.created_at, "created_at"))

    @classmethod
    def of(
        cls,
        scope: str,
        key: str,
        request: Mapping[str, Any],
        *,
        subject: str,
        actor: str,
        result: Mapping[str, str] | None = None,
    ) -> IdempotencyRecord:
        text, digest = canonical(request)
        return cls(scope, key, text, digest, subject, actor, dict(result or {}))

    def differs_from(self, other: IdempotencyRecord) -> tuple[str, ...]:
        """Fields of the request that differ (empty: the same request again)."""
        if self.request_hash == other.request_hash:
            return ()
        return mismatch(json.loads(self.request_json), json.loads(other.request_json)) or (
            "request",
        )

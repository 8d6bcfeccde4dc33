"""The one error tree of the store.

Every exception that leaves ``router.store`` (and :mod:`router.ingest`) is one
of these; SQLAlchemy and driver errors are mapped at the repository boundary
and never leak. ``retryable`` says whether the same call can succeed later
unchanged; the gRPC edge maps the classes to status codes.

::

    StoreError                        (retryable=False unless noted)
    ├── InvalidRecord(ValueError)     a value failed validation; nothing written
    │                                 -> INVALID_ARGUMENT (``field`` names it)
    ├── NotFound(LookupError)         no such row, or not visible to the caller
    │                                 -> NOT_FOUND (``kind``, ``key``)
    ├── Conflict                      the row changed under you / already exists
    │   │                             -> FAILED_PRECONDITION / ABORTED
    │   ├── StaleVersion              optimistic concurrency: expected version
    │   │                             differs from the stored one; retryable
    │   │                             after re-reading
    │   ├── DuplicateApproval         same operator approved twice
    │   ├── CapacityExceeded          a bind would push the pool's cover in
    │   │                             force past its limit (``pool_id``,
    │   │                             ``requested``, ``available``)
    │   └── InvalidTransition         status change not allowed from the state
    ├── IdempotencyMismatch           same idempotency key, different payload
    │                                 -> FAILED_PRECONDITION (``mismatch`` lists
    │                                 the differing fields)
    └── StoreUnavailable              connection lost or refused, deadlock
                                      victim, pool timeout; retryable -> UNAVAILABLE

    A bare ``StoreError`` means the database refused a statement outright
    (a defect, not a blip): not retryable -> INTERNAL.
"""

from __future__ import annotations

from typing import Any, ClassVar


class StoreError(Exception):
    """Root of every error the store raises."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields

    def __str__(self) -> str:
        return self.message


class InvalidRecord(StoreError, ValueError):
    """A value failed validation before anything was written."""

    def __init__(self, message: str, *, field: str, **fields: Any) -> None:
        super().__init__(message, field=field, **fields)
        self.field = field


class NotFound(StoreError, LookupError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found", kind=kind, key=key)
        self.kind = kind
        self.key = key


class Conflict(StoreError):
    """The write contradicts what is stored; nothing was changed."""


class StaleVersion(Conflict):
    retryable = True  # re-read, then try again

    def __init__(self, kind: str, key: object, *, expected: int, actual: int | None) -> None:
        super().__init__(
            f"{kind} {key!r} is at version {actual}, not the expected {expected}",
            kind=kind,
            key=key,
            expected=expected,
            actual=actual,
        )
        self.expected = expected
        self.actual = actual


class DuplicateApproval(Conflict):
    pass


class CapacityExceeded(Conflict):
    """Checked under the pool's row lock, so replicas binding at once cannot oversell."""

    def __init__(self, pool_id: str, *, requested: int, available: int) -> None:
        super().__init__(
            f"pool {pool_id!r} has capacity {available} left, {requested} requested; "
            "bind at most that amount (quote again) or use another pool",
            pool_id=pool_id,
            requested=requested,
            available=available,
        )
        self.pool_id = pool_id
        self.requested = requested
        self.available = available


class InvalidTransition(Conflict):
    pass


class IdempotencyMismatch(StoreError):
    """A replayed idempotency key carries a different request than the first use."""

    def __init__(self, kind: str, key: str, *, mismatch: tuple[str, ...]) -> None:
        fields = ", ".join(mismatch) if mismatch else "request payload"
        super().__init__(
            f"idempotency key {key!r} was used for a different {kind} request "
            f"(differs in: {fields})",
            kind=kind,
            key=key,
            mismatch=mismatch,
        )
        self.kind = kind
        self.key = key
        self.mismatch = mismatch


class StoreUnavailable(StoreError):
    retryable = True

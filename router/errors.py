"""The router's own errors, and the ONE table from every error tree to gRPC.

::

    RouterError                       (retryable=False unless noted)
    ├── Unauthenticated               no or invalid credentials
    ├── PermissionDenied              authenticated, not allowed for this
    ├── InvalidRequest(ValueError)    a field is malformed (``field`` names it)
    ├── UnknownEntity(LookupError)    no such chain/pool/partner/plan/quote
    ├── PreconditionFailed            valid request, wrong state (expired quote,
    │   │                             plan not approved, capacity exceeded)
    │   └── IdempotencyConflict       same key, different payload
    ├── RateLimited                   the caller's token bucket is empty
    ├── DeadlineCapped                a unary call ran past the server's cap
    └── NotReady                      the server is shutting down; retryable

Servicers raise typed errors from any package (``chains.errors``,
``router.store.errors``, ``reinsurance`` errors, the tree above) and never
call ``context.abort`` themselves: the error interceptor looks the exception
up in :data:`STATUS_TABLE` (most specific class first) and aborts with that
code and the error's message, which says what to fix. Anything not in the
table is a bug: INTERNAL with the request id only, never the exception text.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import grpc

from chains import errors as chain_errors


class RouterError(Exception):
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields

    def __str__(self) -> str:
        return self.message


class Unauthenticated(RouterError):
    pass


class PermissionDenied(RouterError):
    pass


class InvalidRequest(RouterError, ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field)
        self.field = field


class UnknownEntity(RouterError, LookupError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"unknown {kind} {key!r}", kind=kind, key=key)
        self.kind = kind
        self.key = key


class PreconditionFailed(RouterError):
    pass


class IdempotencyConflict(PreconditionFailed):
    def __init__(self, key: str, mismatched: list[str]) -> None:
        super().__init__(
            f"idempotency key {key!r} was used with a different request: "
            f"{', '.join(mismatched)} differ; use a new key or repeat the first request",
            key=key,
            mismatched=mismatched,
        )
        self.mismatched = mismatched


class RateLimited(RouterError):
    retryable = True


class DeadlineCapped(RouterError):
    retryable = True


class NotReady(RouterError):
    retryable = True


Code = grpc.StatusCode


def _store_rows() -> list[tuple[type[BaseException], grpc.StatusCode]]:
    try:
        store = importlib.import_module("router.store.errors")
    except ImportError:  # the store package is optional for the edge itself
        return []
    rows = [
        ("IdempotencyMismatch", Code.FAILED_PRECONDITION),
        ("StaleVersion", Code.ABORTED),
        ("CapacityExceeded", Code.FAILED_PRECONDITION),
        ("DuplicateApproval", Code.FAILED_PRECONDITION),
        ("InvalidTransition", Code.FAILED_PRECONDITION),
        ("Conflict", Code.FAILED_PRECONDITION),
        ("InvalidRecord", Code.INVALID_ARGUMENT),
        ("NotFound", Code.NOT_FOUND),
        ("StoreUnavailable", Code.UNAVAILABLE),
        ("StoreError", Code.INTERNAL),
    ]
    return [(getattr(store, n), c) for n, c in rows if hasattr(store, n)]


def _reinsurance_rows() -> list[tuple[type[BaseException], grpc.StatusCode]]:
    try:
        mod = importlib.import_module("reinsurance.errors")
    except ImportError:
        return []
    rows = [
        ("InvalidInput", Code.INVALID_ARGUMENT),
        ("InsufficientCapacity", Code.FAILED_PRECONDITION),
        ("SolverError", Code.FAILED_PRECONDITION),
        ("ReinsuranceError", Code.FAILED_PRECONDITION),
    ]
    return [(getattr(mod, n), c) for n, c in rows if hasattr(mod, n)]


#: The one table: first matching class wins, so subclasses come first.
STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (Unauthenticated, Code.UNAUTHENTICATED),
    (PermissionDenied, Code.PERMISSION_DENIED),
    (InvalidRequest, Code.INVALID_ARGUMENT),
    (UnknownEntity, Code.NOT_FOUND),
    (PreconditionFailed, Code.FAILED_PRECONDITION),
    (RateLimited, Code.RESOURCE_EXHAUSTED),
    (DeadlineCapped, Code.DEADLINE_EXCEEDED),
    (NotReady, Code.UNAVAILABLE),
    *_store_rows(),
    *_reinsurance_rows(),
    (chain_errors.InvalidInput, Code.INVALID_ARGUMENT),
    (chain_errors.UnknownChain, Code.NOT_FOUND),
    (chain_errors.UnknownPool, Code.NOT_FOUND),
    (chain_errors.AccountMismatch, Code.FAILED_PRECONDITION),
    (chain_errors.NotFinal, Code.UNAVAILABLE),
    (chain_errors.RpcError, Code.UNAVAILABLE),
    (chain_errors.EndpointDisagreement, Code.UNAVAILABLE),
    (chain_errors.InsufficientCapital, Code.FAILED_PRECONDITION),
    (chain_errors.DuplicateTransfer, Code.ALREADY_EXISTS),
    (chain_errors.TransactionError, Code.FAILED_PRECONDITION),
    (chain_errors.ChainError, Code.INTERNAL),
)


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """The status and message for one of our errors, or None for a bug."""
    for cls, code in STATUS_TABLE:
        if isinstance(exc, cls):
            if code is Code.INTERNAL:
                return None
            return code, str(exc) or cls.__name__
    return None

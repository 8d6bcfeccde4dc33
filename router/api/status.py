"""The ONE table from every error tree (ours, ``reinsurance``, ``chains``) to gRPC status.

The error interceptor looks an exception up here (first matching class wins,
so subclasses come first) and aborts with that code and the error's message,
which says what to fix. Anything not in the table, or mapped to INTERNAL, is a
bug: INTERNAL with the request id only, never the exception text.
"""

from __future__ import annotations

import grpc

from chains import errors as chain_errors
from reinsurance import errors as reinsurance_errors
from router import errors as e

Code = grpc.StatusCode

STATUS_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (e.Unauthenticated, Code.UNAUTHENTICATED),
    (e.PermissionDenied, Code.PERMISSION_DENIED),
    (e.InvalidRequest, Code.INVALID_ARGUMENT),
    (e.NotFound, Code.NOT_FOUND),
    (e.StaleVersion, Code.ABORTED),
    (e.PreconditionFailed, Code.FAILED_PRECONDITION),
    (e.RateLimited, Code.RESOURCE_EXHAUSTED),
    (e.DeadlineCapped, Code.DEADLINE_EXCEEDED),
    (e.NotReady, Code.UNAVAILABLE),
    (e.StoreUnavailable, Code.UNAVAILABLE),
    (e.StoreError, Code.INTERNAL),
    (reinsurance_errors.InvalidInput, Code.INVALID_ARGUMENT),
    (reinsurance_errors.InsufficientCapacity, Code.FAILED_PRECONDITION),
    (reinsurance_errors.SolverError, Code.FAILED_PRECONDITION),
    (reinsurance_errors.ReinsuranceError, Code.FAILED_PRECONDITION),
    (chain_errors.InvalidInput, Code.INVALID_ARGUMENT),
    (chain_errors.UnknownChain, Code.NOT_FOUND),
    (chain_errors.UnknownPool, Code.NOT_FOUND),
    (chain_errors.UnknownCover, Code.NOT_FOUND),
    (chain_errors.AccountMismatch, Code.FAILED_PRECONDITION),
    (chain_errors.NotFinal, Code.UNAVAILABLE),
    (chain_errors.RpcError, Code.UNAVAILABLE),
    (chain_errors.EndpointDisagreement, Code.UNAVAILABLE),
    (chain_errors.InsufficientCapital, Code.FAILED_PRECONDITION),
    (chain_errors.ReadOnlyAdapter, Code.FAILED_PRECONDITION),
    (chain_errors.BridgeError, Code.FAILED_PRECONDITION),
    (chain_errors.FeeCapExceeded, Code.UNAVAILABLE),
    (chain_errors.NonceError, Code.FAILED_PRECONDITION),
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

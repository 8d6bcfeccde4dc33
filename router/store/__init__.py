"""Persistence for the router: validated values in, validated values out.

See README.md for invariants and the API; errors live in
:mod:`router.errors`.
"""

from router.errors import (
    CapacityExceeded,
    Conflict,
    DuplicateApproval,
    IdempotencyMismatch,
    InvalidRecord,
    InvalidTransition,
    NotFound,
    StaleVersion,
    StoreError,
    StoreUnavailable,
)
from router.store.repo import Store, open_store

__all__ = [
    "CapacityExceeded",
    "Conflict",
    "DuplicateApproval",
    "IdempotencyMismatch",
    "InvalidRecord",
    "InvalidTransition",
    "NotFound",
    "StaleVersion",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]

"""The one error tree of the reinsurance engine.

Everything ``reinsurance/`` raises on purpose is one of these. The engine is
pure (no I/O), so nothing here is worth retrying with the same input:
``retryable`` is ``False`` throughout; the router maps ``InvalidInput`` to
``INVALID_ARGUMENT`` and the rest to ``FAILED_PRECONDITION``/``INTERNAL``.

::

    ReinsuranceError                    (retryable=False)
    ├── InvalidInput(ValueError)        bad input; ``field`` names the culprit
    │                                   (e.g. ``pools[3].capital``); nothing computed
    ├── InsufficientCapacity            a cover would lock more than the pool's free
    │                                   capital (pricing refuses to quote)
    └── SolverError                     HiGHS failed in a way we cannot turn
                                        into a plan (never raised for infeasible
                                        targets: those return a plan with
                                        shortfalls)

Infeasible solvency targets are not errors: the planner returns its best plan
and each pool's remaining shortfall.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ReinsuranceError(Exception):
    """Root of every error the reinsurance engine raises."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = fields


class InvalidInput(ReinsuranceError, ValueError):
    """The input itself is wrong; ``field`` is its path, e.g. ``routes[2].dst_chain``."""

    def __init__(self, field: str, message: str, **fields: Any) -> None:
        super().__init__(f"{field}: {message}", **fields)
        self.field = field


class SolverError(ReinsuranceError):
    """HiGHS returned no usable solution (not an infeasibility: that gives a plan)."""

    def __init__(self, message: str, *, status: str = "") -> None:
        super().__init__(message, status=status)
        self.status = status


class InsufficientCapacity(ReinsuranceError):
    """The pool cannot take the cover: it would lock more than its free capital."""

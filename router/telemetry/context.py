"""What a log line is about: request, plan, step, transfer and chain ids.

Context variables, so every line a task logs carries the ids of the work it
is doing without passing them around: the gRPC interceptor binds the request
id for the whole call, the saga's activities bind the plan, step, transfer
and chain for the activity. Each gRPC call and each activity runs in its own
task, whose context is a copy: what one binds never leaks into another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

#: The context fields, in the order log lines show them.
FIELDS = ("request_id", "plan_id", "step_id", "transfer_id", "chain")

_VARS: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"ballast_log_{name}", default=None) for name in FIELDS
}


def _check(fields: dict[str, object]) -> None:
    unknown = set(fields) - set(_VARS)
    if unknown:
        raise ValueError(f"unknown log context field(s) {sorted(unknown)}; known: {FIELDS}")


def bind(**fields: object) -> None:
    """Set fields for the rest of this task (None values are skipped)."""
    _check(fields)
    for name, value in fields.items():
        if value is not None:
            _VARS[name].set(str(value))


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Set fields for the block, then put back what was there."""
    _check(fields)
    tokens: list[tuple[str, Token[str | None]]] = [
        (name, _VARS[name].set(str(value))) for name, value in fields.items() if value is not None
    ]
    try:
        yield
    finally:
        for name, token in reversed(tokens):
            _VARS[name].reset(token)


def current() -> dict[str, str]:
    """The fields set in this context, in :data:`FIELDS` order."""
    out = {}
    for name in FIELDS:
        value = _VARS[name].get()
        if value is not None:
            out[name] = value
    return out

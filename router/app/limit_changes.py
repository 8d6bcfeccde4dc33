"""Limits as change control sets them: the ``limits.set`` kind of change, and the
limits in force (the configuration's, each scope a change set replaced).

A limit raised, lowered or added takes the same path as an allow-list entry:
proposed with its diff, approved by other operators, applied after the delay,
audited. The planner and the executor read the limits in force from here each
time, so an applied change holds at the next plan and the next step, on every
replica and worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from router.domain.changes import ChangeProposal
from router.domain.limits import LimitOverride, LimitsPolicy, with_overrides
from router.errors import InvalidRecord, InvalidRequest, PreconditionFailed


class OverrideBook(Protocol):
    async def set_limit_override(self, override: LimitOverride, change_id: str) -> None: ...
    async def limit_overrides(self) -> list[LimitOverride]: ...


class EffectiveLimits:
    """The limits in force: ``base`` (the config) with the stored overrides."""

    def __init__(self, store: OverrideBook, base: LimitsPolicy) -> None:
        self._store = store
        self.base = base

    async def __call__(self) -> LimitsPolicy:
        return with_overrides(self.base, await self._store.limit_overrides())


def _describe(lim: object) -> str:
    cap = getattr(lim, "capacity", None)
    if cap is not None:
        return f"capacity {cap}, refill {getattr(lim, 'refill_per_second', 0)}/s"
    return f"24-hour cap {getattr(lim, 'cap', 0)}"


class LimitsChange:
    """``limits.set``: payload ``{"scope", "capacity"[, "refill_per_second"]}``
    (base units; a lane's bucket needs its refill, a 24-hour cap has none)."""

    def __init__(self, store: OverrideBook, limits: EffectiveLimits) -> None:
        self._store = store
        self._limits = limits

    async def parse(self, payload: Mapping[str, object]) -> dict[str, object]:
        extra = set(payload) - {"scope", "capacity", "refill_per_second"}
        if extra:
            raise InvalidRequest("payload", f"unknown field(s) {sorted(extra)} for limits.set")
        scope, cap, refill = (
            payload.get("scope"),
            payload.get("capacity"),
            payload.get("refill_per_second"),
        )
        try:
            o = LimitOverride(
                str(scope),
                _int(cap, "capacity"),
                None if refill is None else _int(refill, "refill"),
            )
        except InvalidRecord as exc:
            raise InvalidRequest("payload", str(exc)) from None
        out: dict[str, object] = {"scope": o.scope, "capacity": str(o.capacity)}
        if o.refill_per_second is not None:
            out["refill_per_second"] = str(o.refill_per_second)
        return out

    async def diff(self, terms: Mapping[str, object]) -> str:
        new = _override(terms)
        policy = await self._limits()
        old = policy.lane(new.scope) or policy.daily_cap(new.scope)
        after = new.limit()
        if old == after:
            raise PreconditionFailed(f"limit {new.scope} is {_describe(old)} already")
        before = _describe(old) if old is not None else "unlimited"
        return f"limit {new.scope}: {before} -> {_describe(after)}"

    async def apply(self, terms: Mapping[str, object], change: ChangeProposal) -> None:
        await self._store.set_limit_override(_override(terms), change.change_id)


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidRequest("payload", f"{what} must be an integer in base units")
    text = str(value)
    if not text.isascii() or not text.isdigit():
        raise InvalidRequest("payload", f"{what} must be a non-negative integer in base units")
    return int(text)


def _override(terms: Mapping[str, object]) -> LimitOverride:
    refill = terms.get("refill_per_second")
    return LimitOverride(
        str(terms["scope"]),
        int(str(terms["capacity"])),
        None if refill is None else int(str(refill)),
    )

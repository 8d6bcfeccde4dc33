"""Crashes injected on purpose, for the fault tests: kill -9 at a chosen boundary.

``BALLAST_CRASH_AT="sign:2"`` makes the worker process SIGKILL itself right
after its second ``sign`` boundary is recorded (points: sign, broadcast,
seen, final, delivery, credit). Plan steps and one-shot effects (claim
payments, recoveries, cover openings) count towards the same boundaries; a
payment's ``credit`` is its claim recorded paid. Read once by the worker's
entry point; unset (the default), nothing happens.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

POINTS = ("sign", "broadcast", "seen", "final", "delivery", "credit")


class CrashPlan:
    def __init__(self, spec: str = "") -> None:
        self._at: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            point, _, nth = part.partition(":")
            if point not in POINTS or not nth.isdigit() or int(nth) < 1:
                raise ValueError(f"crash point {part!r}: use <point>:<n>, point one of {POINTS}")
            self._at[point] = int(nth)
        self._seen: Counter[str] = Counter()

    @classmethod
    def from_env(cls) -> CrashPlan:
        return cls(os.environ.get("BALLAST_CRASH_AT", ""))

    def at(self, point: str) -> None:
        if point not in self._at:
            return
        self._seen[point] += 1
        if self._seen[point] == self._at[point]:
            os.kill(os.getpid(), signal.SIGKILL)

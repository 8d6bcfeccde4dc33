"""What every saga's activities share: the chain ports they are given, the
signed transaction as stored, the heartbeat that makes a dead worker show,
and the mapping of a transaction's state to the saga's progress.

The plan saga (:mod:`router.execution.activities`), the payouts and the cover
openings use these; none of them decides anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from temporalio import activity

from chains.base import InboundTransfer, SignedTx, TxOutcome, TxState
from router.domain.execution import LIVE_ATTEMPTS, AttemptState, TxAttempt
from router.execution.messages import EffectReport, Progress, StepRef
from router.telemetry import context as log_context


class Attester(Protocol):
    """What the saga needs of the bridge: an attested delivery for a final send."""

    async def attest(self, src_chain: str, dst_chain: str, transfer_id: str) -> InboundTransfer:
        """Read the send at finality on ``src_chain``; the delivery it entitles to.
        Raises a retryable error while the send is not final yet."""
        ...


class Chains(Protocol):
    """The signing adapters by chain name (``chains.base`` saga ports)."""

    def __getitem__(self, chain: str) -> Any: ...
    def __contains__(self, chain: object) -> bool: ...


def signed_dict(signed: SignedTx) -> dict[str, Any]:
    return {
        k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(signed).items()
    }


def signed_of(attempt: TxAttempt) -> SignedTx:
    return SignedTx(**dict(attempt.signed))


def heartbeating(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Heartbeat every second while the activity runs: a worker that dies is noticed
    within the saga's short heartbeat timeout, not after the activity's full timeout.
    When it returns, the activities' ``on_change`` hears that execution state may
    have moved (steps, transfers, cessions). ``self`` is the activities object:
    anything with an ``on_change`` attribute (a callable or None)."""

    @functools.wraps(fn)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            with log_context.bound(**_log_fields(args)):
                return await _beating(fn, self, *args, **kwargs)
        finally:
            if self.on_change is not None:
                self.on_change()

    return wrapper


def _log_fields(args: tuple[Any, ...]) -> dict[str, object]:
    """The plan and step an activity works on (its first argument), for its log lines."""
    first = args[0] if args else None
    if isinstance(first, StepRef):
        return {"plan_id": first.plan_id, "step_id": f"{first.seq}/{first.leg}"}
    if isinstance(first, str):
        return {"plan_id": first}
    if isinstance(first, list) and first and isinstance(first[0], str):
        return {"plan_id": first[0]}
    return {}


async def _beating(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    if not activity.in_activity():  # called directly (a benchmark, a tool)
        return await fn(*args, **kwargs)

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(1.0)

    ticker = asyncio.create_task(beat())
    try:
        return await fn(*args, **kwargs)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


class NonRetryable(Exception):
    """An activity error Temporal must not retry (see the saga's retry policy)."""


def progress_of(outcome: TxOutcome) -> Progress:
    if outcome.state is TxState.FINAL or outcome.final:
        return Progress.FINAL
    return Progress.INCLUDED


def report_of(attempt: TxAttempt) -> EffectReport:
    progress = {
        AttemptState.SIGNED: Progress.SIGNED,
        AttemptState.SENT: Progress.SENT,
        AttemptState.INCLUDED: Progress.INCLUDED,
        AttemptState.FINAL: Progress.FINAL,
        AttemptState.FAILED: Progress.FAILED,
        AttemptState.DROPPED: Progress.DROPPED,
        AttemptState.REPLACED: Progress.SENT,
    }[attempt.state]
    return EffectReport(progress, attempt.tx_ref, "", attempt.block_number)


def adopt_live(attempts: Iterable[TxAttempt], adapters: Mapping[str, Any]) -> int:
    """Before a worker acts: the nonce of every live signed transaction counts as
    ours again (EVM adapters), so a restart never signs a second transaction at a
    nonce it already used. How many were adopted."""
    adopted = 0
    for attempt in attempts:
        adapter = adapters.get(attempt.chain)
        if attempt.state in LIVE_ATTEMPTS and adapter is not None and hasattr(adapter, "adopt"):
            adapter.adopt(signed_of(attempt))
            adopted += 1
    return adopted

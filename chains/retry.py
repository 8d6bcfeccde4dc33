"""The one retry policy of the chain layer.

Only errors whose ``retryable`` is true are retried; attempts and total time
are bounded; backoff is exponential with jitter; the last error is re-raised
as itself (``reraise=True``) so callers see our typed error, never tenacity's.
A log line goes out before each sleep. Writes go through here only when they
carry an idempotency id (a transfer id the chain enforces).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from chains.errors import ChainError

log = logging.getLogger("ballast.chains.retry")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    max_seconds: float = 10.0
    initial_wait: float = 0.05  # first backoff; doubles each attempt
    jitter: float = 0.05  # uniform extra wait, so replicas do not retry in step
    max_wait: float = 1.0


DEFAULT_RETRY = RetryPolicy()


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ChainError) and bool(exc.retryable)


async def with_retries(
    call: Callable[[], Awaitable[T]], *, policy: RetryPolicy = DEFAULT_RETRY
) -> T:
    """Run ``call`` under the policy; ``call`` must already map errors to ours."""
    retrying = AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
        wait=wait_exponential_jitter(
            multiplier=policy.initial_wait, jitter=policy.jitter, max=policy.max_wait
        ),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises on the last attempt")

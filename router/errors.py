"""The router's one error tree: every room (domain, app, store, api, execution) raises these.

::

    RouterError                       (retryable=False unless noted)
    ├── InvalidRequest(ValueError)    a request field is malformed (``field``)
    │   ├── InvalidRecord             a domain value failed validation (``field``);
    │   │                             nothing was written
    │   └── BadSignature              a signed payload does not verify under the
    │                                 signer's registered key
    ├── Unauthenticated               no or invalid credentials
    ├── PermissionDenied              authenticated, not allowed for this
    │   └── ReporterRefused           not a registered oracle reporter, or deactivated
    │                                 (``reason``: unknown, deactivated, not_self)
    ├── NotFound(LookupError)         no such row, or not visible to the caller
    │   ├── UnknownEntity             (``kind``, ``key``) as a request names it
    │   └── NotHolder                 a claim on a cover the caller does not hold
    ├── PreconditionFailed            valid request, wrong state
    │   ├── IdempotencyConflict       same key, different payload (``mismatched``)
    │   ├── IdempotencyMismatch       the store's view of the same (``mismatch``)
    │   ├── LimitExceeded             a move above a lane's bucket or a daily cap
    │   │                             (``scope``, ``requested``, ``headroom``,
    │   │                             ``frees_at``); retryable once it frees
    │   ├── CoverCapExceeded          a cover's limit above its type's cap on the
    │   │                             deployment (``cover_type``, ``basis``, ``cap``)
    │   ├── Paused                    new covers refused: an operator paused the
    │   │                             cover type or the pool (``target``)
    │   ├── DestinationNotAllowed     a step pays to an address not on the
    │   │                             destinations allow-list (``chain``, ``address``)
    │   └── Conflict                  the write contradicts what is stored
    │       ├── StaleVersion          optimistic concurrency lost; retryable after re-reading
    │       ├── DuplicateApproval     the same operator approved twice
    │       ├── PlanChanged           a plan's steps differ from what was proposed or
    │       │                         approved: its approvals are void (``plan_id``)
    │       ├── PlanInProgress        another plan is pending, approved or executing
    │       │                         (``plan_id``, ``status``)
    │       ├── CapacityExceeded      a bind would oversell a pool (``pool_id``,
    │       │                         ``requested``, ``available``, ``limit``)
    │       ├── InvalidTransition     a state change not allowed from the state
    │       ├── ReplayedReport        an incident report (payload or nonce) seen before
    │       └── ClaimRefused          a claim the cover's terms or the incident do not
    │                                 support (``reason``: expired, already_paid,
    │                                 not_matching, not_confirmed, ...)
    ├── RateLimited                   the caller's token bucket is empty; retryable
    ├── DeadlineCapped                a unary call ran past the server's cap; retryable
    ├── NotReady                      the server is shutting down; retryable
    └── StoreError                    the database refused a statement (a defect)
        └── StoreUnavailable          connection lost, deadlock victim, pool
                                      timeout; retryable

Use cases raise these (and the typed errors of ``chains`` and ``reinsurance``)
and never call ``context.abort``: the gRPC edge maps every class through the
one table in :mod:`router.api.status`. ``retryable`` says whether the same
call can succeed later unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar


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


class InvalidRecord(InvalidRequest):
    """A domain value failed validation before anything was written."""

    def __init__(self, message: str, *, field: str, **fields: Any) -> None:
        RouterError.__init__(self, message, field=field, **fields)
        self.field = field


class NotFound(RouterError, LookupError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found", kind=kind, key=key)
        self.kind = kind
        self.key = key


class UnknownEntity(NotFound):
    def __init__(self, kind: str, key: str) -> None:
        RouterError.__init__(self, f"unknown {kind} {key!r}", kind=kind, key=key)
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


class IdempotencyMismatch(PreconditionFailed):
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


class LimitExceeded(PreconditionFailed):
    """A move does not fit a configured limit now; nothing was consumed."""

    retryable = True  # later, when the bucket refills or the window moves on

    def __init__(self, message: str, *, scope: str, requested: int, headroom: int, frees_at: Any):
        super().__init__(
            message, scope=scope, requested=requested, headroom=headroom, frees_at=frees_at
        )
        self.scope = scope
        self.requested = requested
        self.headroom = headroom
        self.frees_at = frees_at


class CoverCapExceeded(PreconditionFailed):
    """A cover's limit above what its type allows on the deployment (e.g. 90 % of TVL)."""

    def __init__(
        self, cover_type: str, deployment_id: str, *, basis: str, cap: int, requested: int
    ) -> None:
        super().__init__(
            f"{cover_type} cover on {deployment_id!r} is capped at {cap} ({basis}), "
            f"{requested} requested; ask for at most {cap}",
            cover_type=cover_type,
            deployment_id=deployment_id,
            basis=basis,
            cap=cap,
            requested=requested,
        )
        self.cap = cap
        self.basis = basis


class Paused(PreconditionFailed):
    """An operator paused a cover type or a pool: no new quotes or binds for it."""

    def __init__(self, target: str) -> None:
        super().__init__(
            f"{target} is paused by an operator: no new quotes or binds until it is resumed "
            "(covers in force and their claims are not affected)",
            target=target,
        )
        self.target = target


class DestinationNotAllowed(PreconditionFailed):
    """A plan step would pay to an address the destinations allow-list does not
    hold; nothing is signed. The list changes only through an approved change."""

    def __init__(self, message: str, *, chain: str, address: str) -> None:
        super().__init__(message, chain=chain, address=address)
        self.chain = chain
        self.address = address


class Conflict(PreconditionFailed):
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


class PlanChanged(Conflict):
    """The plan's steps are not those its approvals were given for."""

    def __init__(self, plan_id: str, message: str) -> None:
        super().__init__(message, plan_id=plan_id)
        self.plan_id = plan_id


class PlanInProgress(Conflict):
    """Another plan is under way: the scheduled job adds none beside it."""

    def __init__(self, plan_id: str, status: str) -> None:
        super().__init__(
            f"plan {plan_id} is {status}: no new plan until it is completed, failed or cancelled",
            plan_id=plan_id,
            status=status,
        )
        self.plan_id = plan_id
        self.status = status


class CapacityExceeded(Conflict):
    """A cover that does not fit: says which limit binds and what is available now."""

    def __init__(
        self,
        pool_id: str,
        *,
        requested: int,
        available: int,
        limit: str = "capacity",
        detail: str = "",
    ) -> None:
        why = f": {detail}" if detail else ""
        super().__init__(
            f"pool {pool_id!r} has capacity {available} left, {requested} requested; "
            f"binding limit {limit}{why}; bind at most that amount (quote again) "
            "or use another pool",
            pool_id=pool_id,
            requested=requested,
            available=available,
            limit=limit,
        )
        self.pool_id = pool_id
        self.requested = requested
        self.available = available
        self.limit = limit


class InvalidTransition(Conflict):
    pass


class RateLimited(RouterError):
    retryable = True


class DeadlineCapped(RouterError):
    retryable = True


class NotReady(RouterError):
    retryable = True


class StoreError(RouterError):
    """The database refused a statement outright: a defect, not a blip."""


class StoreUnavailable(StoreError):
    retryable = True


class BadSignature(InvalidRequest):
    """A signed payload (an incident report) does not verify under the signer's key."""

    def __init__(self, problem: str) -> None:
        super().__init__("signature", problem)


class ReporterRefused(PermissionDenied):
    """An incident report from an identity that may not report incidents now."""

    def __init__(self, reporter: str, reason: str, message: str) -> None:
        super().__init__(message, reporter=reporter, reason=reason)
        self.reporter = reporter
        self.reason = reason


class NotHolder(NotFound):
    """A claim on a cover the caller does not hold: NOT_FOUND, so ids do not leak."""

    def __init__(self, cover_id: str) -> None:
        RouterError.__init__(
            self,
            f"cover {cover_id!r} not found among your covers: only its holder may claim on it",
            kind="cover",
            key=cover_id,
        )
        self.kind = "cover"
        self.key = cover_id


class ReplayedReport(Conflict):
    """The same signed report (or the same reporter nonce) was received before."""

    def __init__(self, message: str, *, report_hash: str) -> None:
        super().__init__(message, report_hash=report_hash)
        self.report_hash = report_hash


class ClaimRefused(Conflict):
    """A claim the cover's terms or the incident do not support; nothing is paid."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason

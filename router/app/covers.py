"""Covers: capacity, quotes bound to their inputs, binds at most once per quote.

The partner is always the authenticated caller and must be registered and
active (checked on every call, so a deactivation takes effect at once on
every replica). A cover refers to a registered deployment: its limit must fit
the cover type's cap on it (90 % of TVL for protocol cover, ...:
:func:`router.domain.limit_cap`) and the pool must settle in the deployment's
valuation asset; a paused cover type or pool takes no new quote or bind. The
premium is priced from the deployment's incident history and TVL, the pool's
free capital and the period, and explained part by part. Capacity per pool
is the :class:`~router.domain.CapacityRule` applied to its last confirmed
balance and the cover in force; quoting shows it as advice and the store
enforces it in the bind transaction under the pool's row lock. A bind commits with its audit entry.
With ``[governance]``, the pool's on-chain terms in force (pause, coverage
limit per type, covered contracts) are checked at quote and again at bind,
and the terms a bind used are stored with the cover: fixed for its life.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from router import domain as m
from router.app.governance import NO_TERMS, GovernedCovers, TermsStamp
from router.app.governance import CoverTerms as GovernedCoverTerms
from router.app.governance import stamp as terms_stamp
from router.app.openings import Openings
from router.app.ports import CoverStore, Engine
from router.app.protocols import check_not_paused
from router.config import PolicyConfig
from router.errors import (
    CapacityExceeded,
    Conflict,
    CoverCapExceeded,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    UnknownEntity,
)


@dataclass(frozen=True, slots=True)
class CoverAsk:
    """What a partner asks cover for: where, and the terms. The same for a quote
    and its bind (the terms are checked by :class:`router.domain.CoverTerms`)."""

    chain: str
    pool_id: str
    terms: m.CoverTerms
    #: A quote may move the whole cover to another pool of the chain when this
    #: one lacks capacity (never split across pools); a bind names the quote's pool.
    spill_over: bool = False

    @property
    def cover_type(self) -> m.CoverType:
        return self.terms.cover_type

    @property
    def amount(self) -> int:
        return self.terms.limit

    @property
    def period_days(self) -> int:
        return self.terms.period_days


@dataclass(frozen=True, slots=True)
class Quoted:
    quote: m.Quote
    pool: m.Pool
    terms: m.CoverTerms
    premium: m.Premium
    #: The governed terms the quote used (block, version); NO_TERMS without governance.
    governed: TermsStamp = NO_TERMS
    #: The pool asked for, when the cover spilled over to ``pool``; else "".
    spilled_from: str = ""

    @property
    def period_days(self) -> int:
        return self.terms.period_days


class Covers:
    def __init__(
        self,
        store: CoverStore,
        engine: Engine,
        policy: PolicyConfig,
        on_change: Callable[[], None] | None = None,
        governance: GovernedCovers | None = None,
        openings: Openings | None = None,
    ) -> None:
        self._store = store
        self.openings = openings  # records a bind's opening on chain (router.app.openings)
        self._governance = governance
        self._engine = engine
        self._policy = policy
        self._on_change = on_change or (lambda: None)
        self._bind_locks: dict[str, asyncio.Lock] = {}

    @property
    def rule(self) -> m.CapacityRule:
        return m.CapacityRule(
            capacity_bps=self._policy.capacity_bps,
            max_staleness=timedelta(seconds=self._policy.staleness_limit_seconds),
        )

    async def partner(self, caller: m.Identity) -> str:
        """The caller's partner id if it is registered and active (read fresh)."""
        try:
            partner = await self._store.get_partner(caller.name)
        except NotFound:
            raise PermissionDenied(f"{caller.uri} is not a registered partner") from None
        if not partner.active:
            raise PermissionDenied(f"partner {partner.partner_id} is deactivated")
        return partner.partner_id

    async def pool(self, chain: str, pool_id: str) -> m.Pool:
        try:
            pool = await self._store.get_pool(pool_id)
        except NotFound:
            raise UnknownEntity("pool", pool_id) from None
        if pool.chain != chain:
            raise UnknownEntity("pool", f"{chain}/{pool_id}")
        return pool

    async def capacity(
        self, caller: m.Identity, chain: str | None
    ) -> list[tuple[m.PoolCapacity, m.Pool]]:
        """Every pool's capacity (of one chain, or all), sorted by chain then pool."""
        await self.partner(caller)
        if chain is not None and chain not in {c.name for c in await self._store.list_chains()}:
            raise UnknownEntity("chain", chain)
        now = m.utcnow()
        balances = await self._store.latest_balances(chain)
        covers: dict[str, list[tuple[int, datetime]]] = {}
        for c in await self._store.covers_in_force(now=now):
            covers.setdefault(c.pool_id, []).append((c.limit_amount, c.ends_at))
        pools = sorted(await self._store.list_pools(chain), key=lambda p: (p.chain, p.pool_id))
        return [
            (self._capacity_of(p, balances.get(p.pool_id), covers.get(p.pool_id, []), now), p)
            for p in pools
        ]

    def _capacity_of(
        self,
        pool: m.Pool,
        balance: m.ConfirmedBalance | None,
        covers: list[tuple[int, datetime]],
        now: datetime,
    ) -> m.PoolCapacity:
        return m.pool_capacity(
            self.rule,
            pool.pool_id,
            balance=balance.amount if balance else None,
            fresh_at=balance.fresh_at if balance else None,
            reserved=pool.locked_capital,
            covers=covers,
            now=now,
        )

    async def deployment(self, pool: m.Pool, terms: m.CoverTerms) -> m.Deployment:
        """The covered deployment, checked against the pool and the type's cap."""
        try:
            d = await self._store.get_deployment(terms.deployment_id)
        except NotFound:
            raise UnknownEntity("deployment", terms.deployment_id) from None
        oldest = m.utcnow() - timedelta(seconds=self._policy.max_tvl_age_seconds)
        if d.tvl_as_of < oldest:
            raise PreconditionFailed(
                f"the TVL of deployment {d.deployment_id} is as of {d.tvl_as_of.isoformat()}, "
                f"older than {self._policy.max_tvl_age_seconds} s: no cover until an "
                "operator or the TVL reporter records a fresh one"
            )
        if d.asset != pool.asset:
            raise PreconditionFailed(
                f"deployment {d.deployment_id} is valued in {d.asset} but pool "
                f"{pool.pool_id} settles in {pool.asset}: choose a pool in {d.asset}"
            )
        cap, basis = m.limit_cap(terms, tvl=d.tvl, governance_assets=d.governance_assets)
        if terms.limit > cap:
            raise CoverCapExceeded(
                terms.cover_type.value,
                d.deployment_id,
                basis=f"{terms.definition.cap_bps / 100:g} % of {basis.value}",
                cap=cap,
                requested=terms.limit,
            )
        return d

    async def quote(self, caller: m.Identity, ask: CoverAsk) -> Quoted:
        terms = ask.terms
        partner = await self.partner(caller)
        pool = await self.pool(ask.chain, ask.pool_id)
        await check_not_paused(self._store, terms.cover_type, pool.pool_id)
        deployment = await self.deployment(pool, terms)
        governed = await self._governed(pool, terms, deployment)
        now = m.utcnow()
        asked = pool
        pool, balance, cap = await self._placed(pool, terms, now, ask.spill_over)
        if pool is not asked:  # spilled over: the new pool's pause and governed terms
            await check_not_paused(self._store, terms.cover_type, pool.pool_id)
            governed = await self._governed(pool, terms, deployment)
        capital = balance.amount if balance else 0
        premium = self._engine.premium(
            pool,
            terms,
            deployment,
            capital=capital,
            free=max(0, capital - pool.locked_capital - cap.in_force),
        )
        stamp = now.replace(microsecond=0)
        expires = stamp + timedelta(seconds=self._policy.quote_ttl_seconds)
        quote = await self._store.save_quote(
            m.Quote(
                quote_id=f"q-{uuid.uuid4().hex}",
                partner_id=partner,
                pool_id=pool.pool_id,
                cover_type=terms.cover_type.value,
                limit_amount=terms.limit,
                premium=premium.total,
                inputs_hash=m.quote_hash(
                    partner,
                    pool.chain,
                    pool.pool_id,
                    terms.cover_type.value,
                    terms.limit,
                    terms.period_days,
                    premium.total,
                    expires,
                    terms.hashed(),
                ),
                expires_at=expires,
                created_at=stamp,
            )
        )
        spilled = asked.pool_id if pool is not asked else ""
        return Quoted(quote, pool, terms, premium, terms_stamp(governed), spilled)

    async def _placed(
        self, pool: m.Pool, terms: m.CoverTerms, now: datetime, spill_over: bool
    ) -> tuple[m.Pool, m.ConfirmedBalance | None, m.PoolCapacity]:
        """The pool the cover goes to, its balance and capacity: the one asked for if
        it can carry the whole limit; else, with ``spill_over``, the pool of the same
        chain and asset, not paused, with the most capacity left that can carry it
        (ties by pool id). A refusal names the binding limit of every pool tried."""
        balance = await self._store.latest_balance(pool.pool_id)
        live = await self._store.covers_in_force(now=now, pool_id=pool.pool_id)
        cap = self._capacity_of(pool, balance, [(c.limit_amount, c.ends_at) for c in live], now)
        if terms.limit <= cap.available:
            return pool, balance, cap
        if not spill_over:
            raise CapacityExceeded(
                pool.pool_id,
                requested=terms.limit,
                available=cap.available,
                limit=cap.binding.value,
                detail=cap.explain(),
            )
        balances = await self._store.latest_balances(pool.chain)
        by_pool: dict[str, list[tuple[int, datetime]]] = {}
        for f in await self._store.covers_in_force(now=now):
            by_pool.setdefault(f.pool_id, []).append((f.limit_amount, f.ends_at))
        paused = {
            p.target.pool_id
            for p in await self._store.list_pauses(None)
            if p.target.pool_id is not None
        }
        tried: list[str] = []
        fits: list[tuple[int, str, m.Pool, m.PoolCapacity]] = []
        for other in await self._store.list_pools(pool.chain):
            if other.pool_id == pool.pool_id or other.asset != pool.asset:
                continue
            if other.pool_id in paused:
                tried.append(f"{other.pool_id} paused")
                continue
            room = self._capacity_of(
                other, balances.get(other.pool_id), by_pool.get(other.pool_id, []), now
            )
            if terms.limit <= room.available:
                fits.append((-room.available, other.pool_id, other, room))
            else:
                tried.append(f"{other.pool_id} {room.available} left ({room.binding.value})")
        if not fits:
            others = "; ".join(sorted(tried)) or "it has no other pool in this asset"
            raise CapacityExceeded(
                pool.pool_id,
                requested=terms.limit,
                available=cap.available,
                limit=cap.binding.value,
                detail=f"{cap.explain()}; no pool of {pool.chain} can carry it: {others}",
            )
        _, _, chosen, chosen_cap = min(fits, key=lambda f: (f[0], f[1]))
        return chosen, balances.get(chosen.pool_id), chosen_cap

    async def _governed(
        self, pool: m.Pool, terms: m.CoverTerms, deployment: m.Deployment
    ) -> GovernedCoverTerms | None:
        if self._governance is None:
            return None
        return await self._governance.check(
            pool.pool_id, terms.cover_type.value, terms.limit, deployment.addresses
        )

    async def bound_terms(self, cover_id: str) -> TermsStamp:
        """The governed terms a cover was bound under, as stored at bind."""
        if self._governance is None:
            return NO_TERMS
        return await self._governance.bound(cover_id)

    async def bind(
        self,
        caller: m.Identity,
        key: str,
        quote_id: str,
        ask: CoverAsk,
        parties: tuple[str, str] | None = None,
    ) -> tuple[m.BindResult, m.Pool]:
        """Bind what was quoted, exactly, once per quote and once per key.

        The same key with the same inputs returns the first cover. A quote
        already bound under another key is refused (the database enforces one
        cover per quote). The cover and its audit entry commit together.
        """
        terms = ask.terms
        partner = await self.partner(caller)
        pool = await self.pool(ask.chain, ask.pool_id)
        try:
            quote = await self._store.get_quote(partner, quote_id)
        except NotFound:
            raise UnknownEntity("quote", quote_id) from None
        mismatched = [
            name
            for name, ours, theirs in (
                ("pool_id", quote.pool_id, pool.pool_id),
                ("cover_type", quote.cover_type, terms.cover_type.value),
                ("cover_amount", quote.limit_amount, terms.limit),
            )
            if ours != theirs
        ]
        if not mismatched and quote.inputs_hash != m.quote_hash(
            partner,
            pool.chain,
            pool.pool_id,
            terms.cover_type.value,
            terms.limit,
            terms.period_days,
            quote.premium,
            quote.expires_at,
            terms.hashed(),
        ):
            mismatched = ["chain, period_days or terms"]
        if mismatched:
            raise PreconditionFailed(
                f"bind does not match quote {quote_id}: {', '.join(mismatched)} differ; "
                "bind with the quoted inputs or request a new quote"
            )
        # Checked again at bind: a pause, or a TVL that fell since the quote, stops
        # it; a replay of a bind that succeeded still answers (the store decides).
        governed = None
        if await self._store.find_cover(partner, key) is None:
            await check_not_paused(self._store, terms.cover_type, pool.pool_id)
            deployment = await self.deployment(pool, terms)
            governed = await self._governed(pool, terms, deployment)
        starts = quote.expires_at - timedelta(seconds=self._policy.quote_ttl_seconds)
        request = m.CoverRequest(
            partner_id=partner,
            idempotency_key=key,
            pool_id=pool.pool_id,
            cover_type=terms.cover_type.value,
            limit_amount=terms.limit,
            premium=quote.premium,
            starts_at=starts,
            ends_at=starts + timedelta(days=terms.period_days),
            quote_id=quote_id,
            deployment_id=terms.deployment_id,
            deductible=terms.deductible,
            per_event_max=terms.per_event_max,
            trigger_kinds=terms.definition.trigger_kinds(),
            insured_value=terms.insured_value,
            position_ref=terms.position_ref,
        )
        # Not needed for correctness (the store locks the pool's row and checks
        # capacity in the bind transaction, across replicas): this lock makes
        # concurrent binds on one pool queue here instead of each holding a
        # pooled connection while it waits for the row lock.
        async with self._bind_locks.setdefault(pool.pool_id, asyncio.Lock()):
            result = await self._bind_with_audit(request, caller, governed, parties)
        if result.created:
            self._on_change()
        return result, pool

    async def _bind_with_audit(
        self,
        request: m.CoverRequest,
        caller: m.Identity,
        governed: GovernedCoverTerms | None,
        parties: tuple[str, str] | None = None,
    ) -> m.BindResult:
        for _attempt in range(2):
            try:
                async with self._store.unit_of_work():
                    result = await self._store.bind_cover(request, capacity=self.rule)
                    if result.created:
                        await self._store.append_audit(
                            caller.uri,
                            "cover_bound",
                            result.cover.cover_id,
                            {
                                "pool_id": request.pool_id,
                                "cover_type": request.cover_type,
                                "deployment_id": request.deployment_id,
                                "amount": request.limit_amount,
                                "premium": request.premium,
                                "quote_id": request.quote_id,
                                "key": request.idempotency_key,
                                **_audited(governed),
                            },
                        )
                        if governed is not None and self._governance is not None:
                            await self._governance.record(result.cover.cover_id, governed)
                        if parties is not None and self.openings is not None:
                            await self.openings.record(result.cover, *parties)  # (holder, payer)
                return result
            except CapacityExceeded:
                raise
            except Conflict:
                # A concurrent bind with this key (or of this quote) committed
                # first: the retry replays it, or says the quote is taken.
                continue
        return await self._store.bind_cover(request, capacity=self.rule)

    async def page(
        self, caller: m.Identity, *, limit: int, offset: int
    ) -> tuple[list[tuple[m.Cover, m.Pool | None]], bool]:
        """One page of the caller's covers, newest first, with their pools."""
        partner = await self.partner(caller)
        covers = await self._store.list_covers(partner, limit=limit + 1, offset=offset)
        pools = {p.pool_id: p for p in await self._store.list_pools()}
        page = covers[:limit]
        return [(c, pools.get(c.pool_id)) for c in page], len(covers) > limit


def _audited(governed: GovernedCoverTerms | None) -> dict[str, str | int | None]:
    if governed is None:
        return {}
    return {
        "terms": governed.terms,
        "terms_block": governed.block_number,
        "terms_version": governed.version,
    }

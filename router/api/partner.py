"""PartnerService: capacity, quotes bound to their inputs, idempotent binds.

The partner is always the authenticated caller; it must be registered and
active. A quote's ``inputs_hash`` covers the partner, pool, chain, cover
type, amount, period, premium and expiry, so a bind that changes any of them
is refused (FAILED_PRECONDITION naming the fields). Capacity per pool is
``capacity_bps`` of its free capital (confirmed balance minus locked) minus
the cover already in force (:class:`router.domain.CapacityRule`); all
cover types share it; a pool whose last confirmed report is stale has none.
Quoting checks it as advice; the store enforces it when binding, under the
pool's row lock, so replicas sharing the database cannot oversell a pool.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ballast.v1 import partner_pb2 as pb
from ballast.v1 import partner_pb2_grpc
from grpc.aio import ServicerContext

from router import domain as m
from router.api import auth, convert
from router.app.engine import Engine, inputs_hash
from router.app.ports import Repository
from router.config import PolicyConfig
from router.errors import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    UnknownEntity,
)

MAX_PERIOD_DAYS = 1095


class PartnerServicer(partner_pb2_grpc.PartnerServiceServicer):
    def __init__(
        self,
        repo: Repository,
        engine: Engine,
        policy: PolicyConfig,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._repo = repo
        self._on_change = on_change or (lambda: None)
        self._bind_locks: dict[str, asyncio.Lock] = {}
        self._engine = engine
        self._policy = policy

    async def _partner(self) -> str:
        identity = auth.current_identity()
        try:
            partner = await self._repo.get_partner(identity.name)
        except NotFound:
            raise PermissionDenied(f"{identity.uri} is not a registered partner") from None
        if not partner.active:
            raise PermissionDenied(f"partner {partner.partner_id} is suspended")
        return partner.partner_id

    def _rule(self) -> m.CapacityRule:
        return m.CapacityRule(
            capacity_bps=self._policy.capacity_bps,
            max_staleness=timedelta(seconds=self._policy.staleness_limit_seconds),
        )

    async def _capacity(self) -> dict[str, int]:
        """Free capacity per pool id (advisory: ``bind_cover`` enforces it under a
        lock); none on a pool whose last confirmed report is stale."""
        balances = await self._repo.latest_balances()
        cover = await self._repo.active_cover_by_pool()
        now = datetime.now(UTC)
        return {
            p.pool_id: self._free(p, balances.get(p.pool_id), cover.get(p.pool_id, 0), now)
            for p in await self._repo.list_pools()
        }

    def _free(
        self, pool: m.Pool, balance: m.ConfirmedBalance | None, cover: int, now: datetime
    ) -> int:
        """Capacity left on one pool: the rule's limit less the cover in force."""
        limit = self._rule().limit(
            balance.amount if balance else None,
            balance.observed_at if balance else None,
            pool.locked_capital,
            now,
        )
        return max(0, limit - cover)

    async def _pool(self, chain: str, pool_id: str) -> m.Pool:
        convert.parse_name(chain, "chain")
        convert.parse_name(pool_id, "pool_id")
        try:
            pool = await self._repo.get_pool(pool_id)
        except NotFound:
            raise UnknownEntity("pool", pool_id) from None
        if pool.chain != chain:
            raise UnknownEntity("pool", f"{chain}/{pool_id}")
        return pool

    async def GetCapacity(
        self, request: pb.GetCapacityRequest, context: ServicerContext
    ) -> pb.GetCapacityResponse:
        await self._partner()
        chain = convert.parse_name(request.chain, "chain") if request.chain else None
        ctype = convert.parse_cover_type(request.cover_type, allow_unspecified=True)
        chains = {c.name for c in await self._repo.list_chains()}
        if chain is not None and chain not in chains:
            raise UnknownEntity("chain", chain)
        free = await self._capacity()
        pools = await self._repo.list_pools(chain)
        per_chain: dict[tuple[str, str], int] = {}
        assets: dict[str, str] = {}
        for p in pools:
            per_chain[(p.chain, p.asset)] = per_chain.get((p.chain, p.asset), 0) + free[p.pool_id]
            assets[p.chain] = p.asset
        types = [ctype] if ctype else list(convert.COVER_TYPES.values())
        out = [
            pb.Capacity(
                chain=c,
                cover_type=convert.COVER_TYPE_CODES[t],
                available=convert.amount(asset, total),
            )
            for (c, asset), total in sorted(per_chain.items())
            for t in types
        ]
        return pb.GetCapacityResponse(capacities=out)

    def _hash(
        self,
        partner: str,
        pool: m.Pool,
        ctype: str,
        amount: int,
        days: int,
        premium: int,
        expires_at: datetime,
    ) -> str:
        return inputs_hash(
            partner,
            pool.chain,
            pool.pool_id,
            ctype,
            amount,
            days,
            premium,
            expires_at.isoformat(),
        )

    async def _cover_terms(
        self, request: pb.QuoteCoverRequest | pb.BindCoverRequest
    ) -> tuple[str, m.Pool, int]:
        """Cover type, pool and amount, checked alike for a quote and for its bind."""
        ctype = convert.parse_cover_type(request.cover_type)
        assert ctype is not None
        if not 1 <= request.period_days <= MAX_PERIOD_DAYS:
            raise InvalidRequest("period_days", f"must be 1-{MAX_PERIOD_DAYS}")
        pool = await self._pool(request.chain, request.pool_id)
        amount = convert.parse_amount(
            request.cover_amount,
            "cover_amount",
            asset=pool.asset,
            present=request.HasField("cover_amount"),
        )
        return ctype, pool, amount

    async def QuoteCover(
        self, request: pb.QuoteCoverRequest, context: ServicerContext
    ) -> pb.QuoteCoverResponse:
        partner = await self._partner()
        ctype, pool, amount = await self._cover_terms(request)
        # One read of this pool's balance and of the cover in force serves both
        # the capacity check and the price.
        balance = await self._repo.latest_balance(pool.pool_id)
        cover_in_force = (await self._repo.active_cover_by_pool()).get(pool.pool_id, 0)
        available = self._free(pool, balance, cover_in_force, datetime.now(UTC))
        if amount > available:
            raise PreconditionFailed(
                f"cover_amount {amount} exceeds pool {pool.pool_id}'s capacity {available}; "
                "quote a smaller amount or another pool"
            )
        capital = balance.amount if balance else 0
        premium = self._engine.premium(
            pool,
            ctype,
            amount,
            request.period_days,
            capital=capital,
            free=max(0, capital - pool.locked_capital - cover_in_force),
        )
        now = datetime.now(UTC).replace(microsecond=0)
        expires = now + timedelta(seconds=self._policy.quote_ttl_seconds)
        quote = await self._repo.save_quote(
            m.Quote(
                quote_id=f"q-{uuid.uuid4().hex}",
                partner_id=partner,
                pool_id=pool.pool_id,
                cover_type=ctype,
                limit_amount=amount,
                premium=premium,
                inputs_hash=self._hash(
                    partner, pool, ctype, amount, request.period_days, premium, expires
                ),
                expires_at=expires,
                created_at=now,
            )
        )
        return pb.QuoteCoverResponse(
            quote=pb.Quote(
                quote_id=quote.quote_id,
                chain=pool.chain,
                pool_id=pool.pool_id,
                cover_type=request.cover_type,
                cover_amount=convert.amount(pool.asset, amount),
                period_days=request.period_days,
                premium=convert.amount(pool.asset, premium),
                expires_at=convert.timestamp(expires),
            )
        )

    async def BindCover(
        self, request: pb.BindCoverRequest, context: ServicerContext
    ) -> pb.BindCoverResponse:
        partner = await self._partner()
        key = convert.parse_key(request.idempotency_key)
        quote_id = convert.parse_id(request.quote_id, "quote_id")
        ctype, pool, amount = await self._cover_terms(request)
        try:
            quote = await self._repo.get_quote(partner, quote_id)
        except NotFound:
            raise UnknownEntity("quote", quote_id) from None
        mismatched = [
            name
            for name, ours, theirs in (
                ("pool_id", quote.pool_id, pool.pool_id),
                ("cover_type", quote.cover_type, ctype),
                ("cover_amount", quote.limit_amount, amount),
            )
            if ours != theirs
        ]
        if not mismatched and quote.inputs_hash != self._hash(
            partner, pool, ctype, amount, request.period_days, quote.premium, quote.expires_at
        ):
            mismatched = ["chain or period_days"]
        if mismatched:
            raise PreconditionFailed(
                f"bind does not match quote {quote_id}: {', '.join(mismatched)} differ; "
                "bind with the quoted inputs or request a new quote"
            )
        starts = quote.expires_at - timedelta(seconds=self._policy.quote_ttl_seconds)
        cover_req = m.CoverRequest(
            partner_id=partner,
            idempotency_key=key,
            pool_id=pool.pool_id,
            cover_type=ctype,
            limit_amount=amount,
            premium=quote.premium,
            starts_at=starts,
            ends_at=starts + timedelta(days=request.period_days),
            quote_id=quote_id,
        )
        # Not needed for correctness: the store locks the pool's row and checks
        # capacity in the transaction that inserts, across replicas. This lock
        # only makes concurrent binds on one pool queue here, in the process,
        # instead of each holding a pooled database connection while it waits
        # for the row lock (a burst on one pool would starve other calls).
        async with self._bind_locks.setdefault(pool.pool_id, asyncio.Lock()):
            result = await self._repo.bind_cover(cover_req, capacity=self._rule())
        if result.created:
            self._on_change()
            await self._repo.append_audit(
                f"ballast://partner/{partner}",
                "cover_bound",
                result.cover.cover_id,
                {"pool_id": pool.pool_id, "amount": str(amount), "key": key},
            )
        return self._bound(result, pool)

    def _bound(self, result: m.BindResult, pool: m.Pool) -> pb.BindCoverResponse:
        return pb.BindCoverResponse(
            cover=convert.cover_to_proto(result.cover, pool.chain, pool.asset),
            created=result.created,
        )

    async def ListPositions(
        self, request: pb.ListPositionsRequest, context: ServicerContext
    ) -> pb.ListPositionsResponse:
        partner = await self._partner()
        limit, offset = convert.parse_page(request.page_size, request.page_token)
        covers = await self._repo.list_covers(partner)
        pools = {p.pool_id: p for p in await self._repo.list_pools()}
        page = covers[offset : offset + limit]
        out = []
        for c in page:
            p = pools.get(c.pool_id)
            out.append(convert.cover_to_proto(c, p.chain if p else "", p.asset if p else ""))
        more = len(covers) > offset + limit
        return pb.ListPositionsResponse(
            covers=out, next_page_token=str(offset + limit) if more else ""
        )

"""The repository: every read and write the router does, one transaction each.

Static data ingestion needs (pools, reporters, chain quorums) is cached in
memory and dropped on this store's own writes or after ``cache_ttl`` seconds,
so a replica sees another's change within the TTL. Ingestion is a handful of
bulk statements per batch whatever its size (see :mod:`router.store.reports`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from router.domain import (
    BindResult,
    CapacityRule,
    Cession,
    Chain,
    Cover,
    CoverInForce,
    CoverRequest,
    CoverStatus,
    Partner,
    Pool,
    Quote,
    Reporter,
    Vault,
    check_utc,
    pool_capacity,
    utcnow,
)
from router.domain.idempotency import canonical, mismatch
from router.errors import (
    CapacityExceeded,
    Conflict,
    IdempotencyMismatch,
    InvalidRecord,
    NotFound,
    StoreUnavailable,
)
from router.store import convert
from router.store._base import (
    CESSIONS,
    CHAINS,
    COVERS,
    LATEST,
    PARTNERS,
    POOLS,
    QUOTES,
    REPORTERS,
    VAULTS,
)
from router.store.access import AccessPart
from router.store.claims import ClaimsPart
from router.store.engine import make_engine, migrate
from router.store.execution import ExecutionPart
from router.store.leases import LeasesPart
from router.store.limits import LimitsPart
from router.store.openings import OpeningsPart
from router.store.plans import PlansPart
from router.store.protocols import ProtocolsPart
from router.store.reports import ReportsPart
from router.store.retention import RetentionPart
from router.store.telemetry import TelemetryPart
from router.store.treasury import TreasuryPart


async def open_store(
    url: str, *, migrate: bool = True, cache_ttl: float = 5.0, echo: bool = False
) -> Store:
    """Connect (and by default ``alembic upgrade head``) — what the server calls at start-up."""
    engine = make_engine(url, echo=echo)
    store = Store(engine, cache_ttl=cache_ttl)
    if migrate:
        try:
            await _migrate(engine)
        except BaseException:
            await engine.dispose()
            raise
    return store


async def _migrate(engine: AsyncEngine) -> None:
    try:
        await migrate(engine)
    except (DBAPIError, OSError) as exc:
        raise StoreUnavailable(f"migration failed: {type(exc).__name__}") from exc


class Store(
    ReportsPart,
    PlansPart,
    AccessPart,
    ExecutionPart,
    LimitsPart,
    LeasesPart,
    TelemetryPart,
    ProtocolsPart,
    TreasuryPart,
    RetentionPart,
    ClaimsPart,
    OpeningsPart,
):
    """Async repository over one engine. Build it with :func:`open_store`."""

    # -- chains, pools, reporters, partners ----------------------------------

    async def upsert_chain(self, chain: Chain) -> Chain:
        row = {"name": chain.name, "family": chain.family.value, "quorum": chain.quorum}
        async with self._tx() as conn:
            await self._upsert(conn, CHAINS, ["name"], {**row, "updated_at": utcnow()})
        self.invalidate_cache()
        return chain

    async def get_chain(self, name: str) -> Chain:
        async with self._tx() as conn:
            r = await self._one(conn, sa.select(CHAINS).where(CHAINS.c.name == name))
        if r is None:
            raise NotFound("chain", name)
        return convert.chain(r)

    async def list_chains(self) -> list[Chain]:
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(CHAINS).order_by(CHAINS.c.name))).mappings()
            return [convert.chain(r) for r in rows]

    async def upsert_pool(self, pool: Pool) -> Pool:
        await self.upsert_pools([pool])
        return pool

    async def upsert_pools(self, pools: Sequence[Pool]) -> list[Pool]:
        """Create or update many pools in one transaction (all or none).

        A pool keeps its chain for life (``Conflict`` otherwise): balances and
        reporters are tied to it.
        """
        pools = list(pools)
        for p in pools:
            if not isinstance(p, Pool):
                raise InvalidRecord("pools must be Pool values", field="pools")
        if len({p.pool_id for p in pools}) != len(pools):
            raise InvalidRecord("pool ids in one call must be distinct", field="pool_id")
        if not pools:
            return []
        now = utcnow()
        async with self._tx() as conn:
            chains = set((await conn.execute(sa.select(CHAINS.c.name))).scalars())
            for p in pools:
                if p.chain not in chains:
                    raise NotFound("chain", p.chain)
            ids = [p.pool_id for p in pools]
            query = sa.select(POOLS.c.pool_id, POOLS.c.chain)
            if len(ids) <= 2_000:  # else read them all: cheaper than a huge IN list
                query = query.where(POOLS.c.pool_id.in_(ids))
            stored: dict[str, str] = {r[0]: r[1] for r in await conn.execute(query)}
            for p in pools:
                was = stored.get(p.pool_id)
                if was is not None and was != p.chain:
                    raise Conflict(
                        f"pool {p.pool_id!r} is on chain {was!r}; it cannot move to {p.chain!r}"
                    )
            rows = [
                {
                    "pool_id": p.pool_id,
                    "chain": p.chain,
                    "address": p.address,
                    "asset": p.asset,
                    "locked_capital": p.locked_capital,
                    "active_cover": p.active_cover,
                    "target_ratio_bps": p.target_ratio_bps,
                    "min_ratio_bps": p.min_ratio_bps,
                    "updated_at": now,
                }
                for p in pools
            ]
            stmt = self._insert(POOLS)
            stmt = stmt.on_conflict_do_update(
                index_elements=["pool_id"],
                set_={k: stmt.excluded[k] for k in rows[0] if k != "pool_id"},
            )
            await conn.execute(stmt, rows)
        self.invalidate_cache()
        return pools

    async def get_pool(self, pool_id: str) -> Pool:
        async with self._tx() as conn:
            r = await self._one(conn, sa.select(POOLS).where(POOLS.c.pool_id == pool_id))
        if r is None:
            raise NotFound("pool", pool_id)
        return convert.pool(r)

    async def list_pools(self, chain: str | None = None) -> list[Pool]:
        stmt = sa.select(POOLS).order_by(POOLS.c.pool_id)
        if chain is not None:
            stmt = stmt.where(POOLS.c.chain == chain)
        async with self._tx() as conn:
            return [convert.pool(r) for r in (await conn.execute(stmt)).mappings()]

    async def register_reporter(self, reporter: Reporter) -> Reporter:
        async with self._tx() as conn:
            await self._require(conn, CHAINS, "chain", reporter.chain)
            row = {
                "reporter_id": reporter.reporter_id,
                "chain": reporter.chain,
                "allowed": reporter.allowed,
                "updated_at": utcnow(),
            }
            await self._upsert(conn, REPORTERS, ["reporter_id"], row)
        self.invalidate_cache()
        return reporter

    async def get_reporter(self, reporter_id: str) -> Reporter:
        async with self._tx() as conn:
            stmt = sa.select(REPORTERS).where(REPORTERS.c.reporter_id == reporter_id)
            r = await self._one(conn, stmt)
        if r is None:
            raise NotFound("reporter", reporter_id)
        return convert.reporter(r)

    async def list_reporters(self, chain: str | None = None) -> list[Reporter]:
        stmt = sa.select(REPORTERS).order_by(REPORTERS.c.reporter_id)
        if chain is not None:
            stmt = stmt.where(REPORTERS.c.chain == chain)
        async with self._tx() as conn:
            return [convert.reporter(r) for r in (await conn.execute(stmt)).mappings()]

    async def register_partner(self, partner: Partner) -> Partner:
        row = {
            "partner_id": partner.partner_id,
            "name": partner.name,
            "active": partner.active,
            "updated_at": utcnow(),
        }
        async with self._tx() as conn:
            await self._upsert(conn, PARTNERS, ["partner_id"], row)
        return partner

    async def list_partners(self) -> list[Partner]:
        async with self._tx() as conn:
            rows = await conn.execute(sa.select(PARTNERS).order_by(PARTNERS.c.partner_id))
            return [convert.partner(r) for r in rows.mappings()]

    async def get_partner(self, partner_id: str) -> Partner:
        async with self._tx() as conn:
            stmt = sa.select(PARTNERS).where(PARTNERS.c.partner_id == partner_id)
            r = await self._one(conn, stmt)
        if r is None:
            raise NotFound("partner", partner_id)
        return convert.partner(r)

    # -- quotes and covers ---------------------------------------------------

    async def save_quote(self, quote: Quote) -> Quote:
        created = quote.created_at or utcnow()
        row = {
            "quote_id": quote.quote_id,
            "partner_id": quote.partner_id,
            "pool_id": quote.pool_id,
            "cover_type": quote.cover_type,
            "limit_amount": quote.limit_amount,
            "premium": quote.premium,
            "inputs_hash": quote.inputs_hash,
            "expires_at": quote.expires_at,
            "created_at": created,
        }
        async with self._tx() as conn:
            await self._require(conn, PARTNERS, "partner", quote.partner_id)
            await self._require(conn, POOLS, "pool", quote.pool_id)
            if await self._one(
                conn, sa.select(QUOTES.c.quote_id).where(QUOTES.c.quote_id == quote.quote_id)
            ):
                raise Conflict(f"quote {quote.quote_id!r} already exists")
            await conn.execute(sa.insert(QUOTES).values(**row))
        return convert.quote(row)

    async def get_quote(self, partner_id: str, quote_id: str) -> Quote:
        """A partner's own quote; another partner's id is NotFound (no existence leak)."""
        stmt = sa.select(QUOTES).where(
            QUOTES.c.quote_id == quote_id, QUOTES.c.partner_id == partner_id
        )
        async with self._tx() as conn:
            r = await self._one(conn, stmt)
        if r is None:
            raise NotFound("quote", quote_id)
        return convert.quote(r)

    async def bind_cover(
        self,
        request: CoverRequest,
        *,
        now: datetime | None = None,
        capacity: CapacityRule | None = None,
    ) -> BindResult:
        """Bind once per (partner, idempotency key); a replay returns the first cover.

        The pool's row is locked for the transaction that inserts the cover, so
        binds on one pool run one at a time across every replica sharing the
        database. With ``capacity`` the cover in force is recomputed under that
        lock and a bind that does not fit raises :class:`CapacityExceeded`. A
        replay (same key, same payload) answers before any check, even when the
        pool is full or the quote has expired since.
        """
        payload_json, payload_hash = canonical(request.payload())
        now = check_utc(now, "now") if now is not None else utcnow()
        if capacity is not None and not isinstance(capacity, CapacityRule):
            raise InvalidRecord("capacity must be a CapacityRule", field="capacity")
        try:
            return await self._bind_once(request, payload_json, payload_hash, now, capacity)
        except Conflict:
            if self._in_unit_of_work():
                raise  # the transaction is spoiled: the caller retries its unit of work
            # Lost a race on the same key: the winner's cover decides.
            replay = await self._replay_cover(request, payload_json, payload_hash)
            if replay is None:
                raise
            return replay

    async def _replay_cover(
        self, request: CoverRequest, payload_json: str, payload_hash: str
    ) -> BindResult | None:
        async with self._tx() as conn:
            return await self._replay_in(conn, request, payload_json, payload_hash)

    async def _replay_in(
        self, conn: AsyncConnection, request: CoverRequest, payload_json: str, payload_hash: str
    ) -> BindResult | None:
        stmt = sa.select(COVERS).where(
            COVERS.c.partner_id == request.partner_id,
            COVERS.c.idempotency_key == request.idempotency_key,
        )
        r = await self._one(conn, stmt)
        if r is None:
            return None
        if r["request_hash"] != payload_hash:
            raise IdempotencyMismatch(
                "cover",
                request.idempotency_key,
                mismatch=mismatch(json.loads(r["request_json"]), json.loads(payload_json)),
            )
        return BindResult(convert.cover(r), created=False)

    async def _lock_pool(self, conn: AsyncConnection, pool_id: str) -> int:
        """Lock the pool's row until commit and return its ``locked_capital``.

        PostgreSQL: ``SELECT … FOR UPDATE``. SQLite has no row locks; a no-op
        UPDATE as the transaction's first statement takes the database's write
        lock (waiting up to ``busy_timeout``), which serialises every writer,
        including another engine on the same file, before anything is read.
        """
        if not self._pg:
            await conn.execute(
                sa.update(POOLS).where(POOLS.c.pool_id == pool_id).values(pool_id=POOLS.c.pool_id)
            )
        stmt = sa.select(POOLS.c.locked_capital).where(POOLS.c.pool_id == pool_id)
        r = await self._one(conn, stmt.with_for_update() if self._pg else stmt)
        if r is None:
            raise NotFound("pool", pool_id)
        return int(r["locked_capital"])

    async def _check_capacity(
        self,
        conn: AsyncConnection,
        request: CoverRequest,
        rule: CapacityRule,
        locked: int,
        now: datetime,
    ) -> None:
        """Refuse a bind that would push the pool's cover in force past its limit."""
        bal = await self._one(conn, sa.select(LATEST).where(LATEST.c.pool_id == request.pool_id))
        balance = convert.balance(bal) if bal is not None else None
        in_force = sa.select(COVERS.c.limit_amount, COVERS.c.ends_at).where(
            COVERS.c.pool_id == request.pool_id,
            COVERS.c.status == CoverStatus.ACTIVE.value,
            COVERS.c.ends_at > now,
        )
        cap = pool_capacity(
            rule,
            request.pool_id,
            balance=balance.amount if balance else None,
            fresh_at=balance.fresh_at if balance else None,
            reserved=locked,
            covers=[(int(a), e) for a, e in await conn.execute(in_force)],  # exact ints
            now=now,
        )
        if request.limit_amount > cap.available:
            raise CapacityExceeded(
                request.pool_id,
                requested=request.limit_amount,
                available=cap.available,
                limit=cap.binding.value,
                detail=cap.explain(),
            )

    async def _bind_once(
        self,
        request: CoverRequest,
        payload_json: str,
        payload_hash: str,
        now: datetime,
        capacity: CapacityRule | None,
    ) -> BindResult:
        replay = await self._replay_cover(request, payload_json, payload_hash)
        if replay is not None:
            return replay
        async with self._tx() as conn:
            locked = await self._lock_pool(conn, request.pool_id)  # first: see _lock_pool
            p = await self._one(
                conn,
                sa.select(PARTNERS.c.active).where(PARTNERS.c.partner_id == request.partner_id),
            )
            if p is None:
                raise NotFound("partner", request.partner_id)
            # A bind with this key may have committed while we waited for the lock.
            replay = await self._replay_in(conn, request, payload_json, payload_hash)
            if replay is not None:
                return replay
            if not p["active"]:
                raise Conflict(f"partner {request.partner_id!r} is not active")
            if request.quote_id is not None:
                q = await self._one(
                    conn,
                    sa.select(QUOTES).where(
                        QUOTES.c.quote_id == request.quote_id,
                        QUOTES.c.partner_id == request.partner_id,
                    ),
                )
                if q is None:
                    raise NotFound("quote", request.quote_id)
                if q["expires_at"] <= now:
                    raise Conflict(
                        f"quote {request.quote_id!r} expired at "
                        f"{q['expires_at'].isoformat()}; request a new quote"
                    )
                differs = [
                    k
                    for k in ("pool_id", "cover_type", "limit_amount", "premium")
                    if q[k] != getattr(request, k)
                ]
                if differs:
                    raise Conflict(
                        f"cover request differs from quote {request.quote_id!r} "
                        f"in: {', '.join(differs)}"
                    )
                taken = await self._one(
                    conn,
                    sa.select(COVERS.c.cover_id).where(COVERS.c.quote_id == request.quote_id),
                )
                if taken is not None:
                    raise Conflict(
                        f"quote {request.quote_id!r} is already bound as cover "
                        f"{taken['cover_id']!r}; a quote binds once: request a new quote"
                    )
            if capacity is not None:
                await self._check_capacity(conn, request, capacity, locked, now)
            row = {
                "cover_id": "cov_" + uuid.uuid4().hex,
                "partner_id": request.partner_id,
                "idempotency_key": request.idempotency_key,
                "request_hash": payload_hash,
                "request_json": payload_json,
                "pool_id": request.pool_id,
                "cover_type": request.cover_type,
                "limit_amount": request.limit_amount,
                "premium": request.premium,
                "starts_at": request.starts_at,
                "ends_at": request.ends_at,
                "status": CoverStatus.ACTIVE.value,
                "quote_id": request.quote_id,
                "created_at": now,
                "deployment_id": request.deployment_id,
                "deductible": request.deductible,
                "per_event_max": request.event_cap,
                "trigger_kinds": ",".join(request.trigger_kinds),
                "insured_value": request.insured_value,
                "position_ref": request.position_ref,
            }
            await conn.execute(sa.insert(COVERS).values(**row))
        return BindResult(convert.cover(row), created=True)

    async def find_cover(self, partner_id: str, idempotency_key: str) -> Cover | None:
        """The cover a partner bound under this key, if any."""
        stmt = sa.select(COVERS).where(
            COVERS.c.partner_id == partner_id, COVERS.c.idempotency_key == idempotency_key
        )
        async with self._tx() as conn:
            r = await self._one(conn, stmt)
        return None if r is None else convert.cover(r)

    async def get_cover(self, partner_id: str, cover_id: str) -> Cover:
        stmt = sa.select(COVERS).where(
            COVERS.c.cover_id == cover_id, COVERS.c.partner_id == partner_id
        )
        async with self._tx() as conn:
            r = await self._one(conn, stmt)
        if r is None:
            raise NotFound("cover", cover_id)
        return convert.cover(r)

    async def list_covers(
        self, partner_id: str, *, limit: int | None = None, offset: int = 0
    ) -> list[Cover]:
        """A partner's covers, newest first; a page of them with ``limit``/``offset``."""
        stmt = (
            sa.select(COVERS)
            .where(COVERS.c.partner_id == partner_id)
            .order_by(COVERS.c.created_at.desc(), COVERS.c.cover_id.desc())
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._tx() as conn:
            return [convert.cover(r) for r in (await conn.execute(stmt)).mappings()]

    async def covers_in_force(
        self, *, now: datetime | None = None, pool_id: str | None = None
    ) -> list[CoverInForce]:
        """Active, unexpired covers (all pools, or one), in a stable order."""
        at = check_utc(now, "now") if now is not None else utcnow()
        stmt = (
            sa.select(
                COVERS.c.pool_id,
                COVERS.c.cover_type,
                COVERS.c.limit_amount,
                COVERS.c.ends_at,
                COVERS.c.deployment_id,
                COVERS.c.cover_id,
            )
            .where(COVERS.c.status == CoverStatus.ACTIVE.value, COVERS.c.ends_at > at)
            .order_by(COVERS.c.pool_id, COVERS.c.ends_at, COVERS.c.cover_id)
        )
        if pool_id is not None:
            stmt = stmt.where(COVERS.c.pool_id == pool_id)
        async with self._tx() as conn:
            rows = list(await conn.execute(stmt))
        # A claim paid on a cover no longer locks that capital: its limit less payouts.
        paid = await self.paid_by_cover(final_only=True) if rows else {}
        return [
            CoverInForce(p, t, int(a) - paid.get(c, 0), e, d)
            for p, t, a, e, d, c in rows
            if int(a) > paid.get(c, 0)
        ]

    async def active_cover_by_pool(self, *, now: datetime | None = None) -> dict[str, int]:
        """Sum of active, unexpired cover limits per pool (summed in Python: exact)."""
        at = check_utc(now, "now") if now is not None else utcnow()
        stmt = sa.select(COVERS.c.pool_id, COVERS.c.limit_amount, COVERS.c.cover_id).where(
            COVERS.c.status == CoverStatus.ACTIVE.value, COVERS.c.ends_at > at
        )
        out: dict[str, int] = {}
        async with self._tx() as conn:
            rows = list(await conn.execute(stmt))
        paid = await self.paid_by_cover(final_only=True) if rows else {}
        for pool, amount, cover in rows:
            out[pool] = out.get(pool, 0) + max(0, int(amount) - paid.get(cover, 0))
        return out

    # -- vaults and cessions -------------------------------------------------

    async def upsert_vault(self, vault: Vault) -> Vault:
        row = {
            "vault_id": vault.vault_id,
            "chain": vault.chain,
            "address": vault.address,
            "asset": vault.asset,
            "capacity": vault.capacity,
            "premium_bps": vault.premium_bps,
            "updated_at": utcnow(),
        }
        async with self._tx() as conn:
            await self._require(conn, CHAINS, "chain", vault.chain)
            await self._upsert(conn, VAULTS, ["vault_id"], row)
        return vault

    async def record_vault_capacity(self, vault_id: str, free: int, block: int) -> None:
        """What the vault can still take, read on chain at a final block; only a
        later block replaces it (replicas and workers racing cannot regress it)."""
        stmt = (
            sa.update(VAULTS)
            .where(
                VAULTS.c.vault_id == vault_id,
                sa.or_(VAULTS.c.free_at_block.is_(None), VAULTS.c.free_at_block < block),
            )
            .values(free_on_chain=free, free_at_block=block, updated_at=utcnow())
        )
        async with self._tx() as conn:
            await conn.execute(stmt)

    async def list_vaults(self) -> list[Vault]:
        async with self._tx() as conn:
            rows = (await conn.execute(sa.select(VAULTS).order_by(VAULTS.c.vault_id))).mappings()
            return [convert.vault(r) for r in rows]

    async def record_cession(self, cession: Cession) -> Cession:
        """Idempotent by ``cession_id``; the same id with other terms is a mismatch."""
        fields = ("vault_id", "pool_id", "amount", "premium", "plan_id", "share_ppm", "step_seq")
        async with self._tx() as conn:
            r = await self._replayed(conn, CESSIONS, "cession", cession.cession_id, cession, fields)
            if r is not None:
                return convert.cession(r)
            await self._require(conn, VAULTS, "vault", cession.vault_id)
            await self._require(conn, POOLS, "pool", cession.pool_id)
            row = {f: getattr(cession, f) for f in fields}
            row |= {
                "cession_id": cession.cession_id,
                "status": cession.status.value,
                "created_at": cession.created_at or utcnow(),
                "tx_ref": cession.tx_ref,
                "block_number": cession.block_number,
            }
            await conn.execute(sa.insert(CESSIONS).values(**row))
        return convert.cession(row)

    async def list_cessions(self, pool_id: str | None = None) -> list[Cession]:
        stmt = sa.select(CESSIONS).order_by(CESSIONS.c.created_at, CESSIONS.c.cession_id)
        if pool_id is not None:
            stmt = stmt.where(CESSIONS.c.pool_id == pool_id)
        async with self._tx() as conn:
            return [convert.cession(r) for r in (await conn.execute(stmt)).mappings()]

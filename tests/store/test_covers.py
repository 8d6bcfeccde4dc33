"""Quotes and covers: idempotent binds, mismatch errors, per-partner isolation."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest

from router.domain import MAX_AMOUNT, CoverRequest, CoverStatus, Quote, utcnow
from router.store import Conflict, IdempotencyMismatch, InvalidRecord, NotFound, Store

from .conftest import T0


def request(key: str = "k1", partner: str = "acme", **kw: object) -> CoverRequest:
    base = CoverRequest(
        partner_id=partner,
        idempotency_key=key,
        pool_id="p1",
        cover_type="oracle",
        limit_amount=1_000_000,
        premium=2_500,
        starts_at=T0,
        ends_at=T0 + timedelta(days=365),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


async def test_bind_then_replay_same_payload_returns_the_first(world: Store) -> None:
    first = await world.bind_cover(request())
    again = await world.bind_cover(request())
    assert first.created and not again.created
    assert again.cover == first.cover
    assert first.cover.status is CoverStatus.ACTIVE
    assert len(await world.list_covers("acme")) == 1


async def test_same_key_different_payload_names_the_mismatch(world: Store) -> None:
    await world.bind_cover(request())
    with pytest.raises(IdempotencyMismatch) as info:
        await world.bind_cover(request(limit_amount=2_000_000, premium=1))
    assert info.value.mismatch == ("limit_amount", "premium")
    assert "limit_amount, premium" in str(info.value)
    assert len(await world.list_covers("acme")) == 1


async def test_same_key_for_two_partners_is_two_covers(world: Store) -> None:
    a = await world.bind_cover(request(partner="acme"))
    z = await world.bind_cover(request(partner="zeta", limit_amount=5))
    assert a.created and z.created and a.cover.cover_id != z.cover.cover_id


async def test_partner_sees_only_its_own(world: Store) -> None:
    a = await world.bind_cover(request(partner="acme"))
    await world.bind_cover(request(partner="zeta", key="z1"))
    assert [c.partner_id for c in await world.list_covers("acme")] == ["acme"]
    assert await world.get_cover("acme", a.cover.cover_id) == a.cover
    with pytest.raises(NotFound):
        await world.get_cover("zeta", a.cover.cover_id)


async def test_concurrent_binds_with_one_key_create_one_cover(world: Store) -> None:
    results = await asyncio.gather(*(world.bind_cover(request()) for _ in range(5)))
    assert sum(r.created for r in results) == 1
    assert len({r.cover.cover_id for r in results}) == 1


async def test_bind_unknown_partner_or_pool(world: Store) -> None:
    with pytest.raises(NotFound, match="partner 'ghost'"):
        await world.bind_cover(request(partner="ghost"))
    with pytest.raises(NotFound, match="pool 'nope'"):
        await world.bind_cover(request(pool_id="nope"))


def test_cover_request_validation() -> None:
    with pytest.raises(InvalidRecord) as info:
        request(limit_amount=0)
    assert info.value.field == "limit_amount"
    with pytest.raises(InvalidRecord) as info:
        request(ends_at=T0)
    assert info.value.field == "ends_at"
    with pytest.raises(InvalidRecord) as info:
        request(starts_at=T0.replace(tzinfo=None))
    assert info.value.field == "starts_at"


def quote(qid: str = "q1", partner: str = "acme", **kw: object) -> Quote:
    base = Quote(
        quote_id=qid,
        partner_id=partner,
        pool_id="p1",
        cover_type="oracle",
        limit_amount=1_000_000,
        premium=2_500,
        inputs_hash=hashlib.sha256(b"inputs").hexdigest(),
        expires_at=utcnow() + timedelta(minutes=5),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


async def test_quotes_save_get_isolated(world: Store) -> None:
    q = await world.save_quote(quote(premium=MAX_AMOUNT))
    got = await world.get_quote("acme", "q1")
    assert got == q and got.premium == MAX_AMOUNT and got.created_at is not None
    with pytest.raises(NotFound):
        await world.get_quote("zeta", "q1")
    with pytest.raises(Conflict, match="already exists"):
        await world.save_quote(quote())
    with pytest.raises(InvalidRecord):
        quote(inputs_hash="nothex")


async def test_bind_against_a_quote(world: Store) -> None:
    await world.save_quote(quote())
    bound = await world.bind_cover(request(quote_id="q1"))
    assert bound.cover.quote_id == "q1"
    with pytest.raises(Conflict, match="differs from quote 'q1' in: premium"):
        await world.bind_cover(request(key="k2", quote_id="q1", premium=1))
    with pytest.raises(NotFound, match="quote 'q9'"):
        await world.bind_cover(request(key="k3", quote_id="q9"))


async def test_expired_quote_cannot_bind(world: Store) -> None:
    await world.save_quote(quote(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(Conflict, match="expired"):
        await world.bind_cover(request(quote_id="q1"))


async def test_active_cover_by_pool_sums_exactly(world: Store) -> None:
    await world.bind_cover(request(key="a", limit_amount=MAX_AMOUNT // 2))
    await world.bind_cover(request(key="b", limit_amount=MAX_AMOUNT // 2))
    await world.bind_cover(request(key="c", pool_id="p2", limit_amount=3))
    expired = request(key="d", starts_at=T0 - timedelta(days=9), ends_at=T0 - timedelta(days=1))
    await world.bind_cover(expired)
    totals = await world.active_cover_by_pool(now=T0)
    assert totals == {"p1": (MAX_AMOUNT // 2) * 2, "p2": 3}


async def test_a_quote_binds_until_the_instant_it_expires(world: Store) -> None:
    expires = utcnow() + timedelta(minutes=5)
    await world.save_quote(quote(expires_at=expires))
    tick = timedelta(microseconds=1)
    with pytest.raises(Conflict, match="expired"):
        await world.bind_cover(request(key="at", quote_id="q1"), now=expires)
    with pytest.raises(Conflict, match="expired"):
        await world.bind_cover(request(key="after", quote_id="q1"), now=expires + tick)
    bound = await world.bind_cover(request(key="before", quote_id="q1"), now=expires - tick)
    assert bound.created and bound.cover.quote_id == "q1"

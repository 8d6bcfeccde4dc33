"""Chains, pools, reporters, partners, vaults: exact round trips, precise errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from chains.base import ChainFamily
from router.domain import MAX_AMOUNT, Chain, Partner, Pool, Reporter, Vault
from router.store import Conflict, InvalidRecord, NotFound, Store


async def test_chain_upsert_get_list(store: Store) -> None:
    await store.upsert_chain(Chain("evm", ChainFamily.EVM))
    await store.upsert_chain(Chain("sol", ChainFamily.SOLANA, quorum=3))
    await store.upsert_chain(Chain("evm", ChainFamily.EVM, quorum=2))  # update in place
    assert await store.get_chain("evm") == Chain("evm", ChainFamily.EVM, 2)
    assert [c.name for c in await store.list_chains()] == ["evm", "sol"]
    with pytest.raises(NotFound) as info:
        await store.get_chain("btc")
    assert (info.value.kind, info.value.key) == ("chain", "btc")


@pytest.mark.parametrize(
    "amount", [0, 1, 2**64, 2**128 + 7, 10**77, MAX_AMOUNT], ids=lambda a: f"{a.bit_length()}b"
)
async def test_amounts_round_trip_exactly(world: Store, amount: int) -> None:
    pool = Pool(
        "big", "evm", "0xbig", "0xasset", locked_capital=amount, active_cover=MAX_AMOUNT - amount
    )
    await world.upsert_pool(pool)
    got = await world.get_pool("big")
    assert got == pool
    assert type(got.locked_capital) is int and type(got.active_cover) is int


async def test_pool_upsert_list_and_errors(world: Store) -> None:
    p1 = await world.get_pool("p1")
    await world.upsert_pool(replace(p1, locked_capital=42, target_ratio_bps=20_000))
    assert (await world.get_pool("p1")).locked_capital == 42
    assert [p.pool_id for p in await world.list_pools("evm")] == ["p1", "p2"]
    assert [p.pool_id for p in await world.list_pools("sol")] == ["s1"]
    with pytest.raises(NotFound, match="chain 'btc'"):
        await world.upsert_pool(Pool("x", "btc", "a", "b"))
    with pytest.raises(Conflict, match="cannot move"):
        await world.upsert_pool(replace(p1, chain="sol"))
    with pytest.raises(NotFound, match="pool 'zz'"):
        await world.get_pool("zz")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Pool("bad id!", "evm", "a", "b"), "pool_id"),
        (lambda: Pool("p", "evm", "a", "b", locked_capital=-1), "locked_capital"),
        (lambda: Pool("p", "evm", "a", "b", locked_capital=MAX_AMOUNT + 1), "locked_capital"),
        (lambda: Pool("p", "evm", "a", "b", active_cover=1.0), "active_cover"),  # type: ignore[arg-type]
        (
            lambda: Pool("p", "evm", "a", "b", min_ratio_bps=2, target_ratio_bps=1),
            "target_ratio_bps",
        ),
        (lambda: Pool("p", "evm", "", "b"), "address"),
        (lambda: Chain("c", "cosmos"), "family"),  # type: ignore[arg-type]
        (lambda: Chain("c", ChainFamily.EVM, quorum=0), "quorum"),
        (lambda: Reporter("r", "evm", allowed="yes"), "allowed"),  # type: ignore[arg-type]
        (lambda: Vault("v", "evm", "a", "b", capacity=-5, premium_bps=1), "capacity"),
    ],
)
def test_invalid_values_name_the_field(build: object, field: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        build()  # type: ignore[operator]
    assert info.value.field == field
    assert field in str(info.value) or info.value.field == field


async def test_reporters_register_revoke_list(world: Store) -> None:
    assert [r.reporter_id for r in await world.list_reporters("sol")] == [
        "r-sol-a",
        "r-sol-b",
        "r-sol-c",
    ]
    await world.register_reporter(Reporter("r-evm", "evm", allowed=False))
    assert (await world.get_reporter("r-evm")).allowed is False
    with pytest.raises(NotFound):
        await world.get_reporter("nobody")
    with pytest.raises(NotFound, match="chain 'btc'"):
        await world.register_reporter(Reporter("r-btc", "btc"))


async def test_partners(world: Store) -> None:
    await world.register_partner(Partner("acme", "Acme Re 2", active=False))
    assert await world.get_partner("acme") == Partner("acme", "Acme Re 2", False)
    with pytest.raises(NotFound, match="partner 'nope'"):
        await world.get_partner("nope")


async def test_vaults(world: Store) -> None:
    v = Vault("v1", "evm", "0xvault", "0xasset", capacity=MAX_AMOUNT, premium_bps=250)
    await world.upsert_vault(v)
    await world.upsert_vault(replace(v, vault_id="v0", capacity=5))
    assert await world.list_vaults() == [replace(v, vault_id="v0", capacity=5), v]
    with pytest.raises(NotFound):
        await world.upsert_vault(replace(v, chain="btc"))


async def test_timestamps_come_back_utc(world: Store) -> None:
    await world.append_audit("op-1", "test", "subject")
    [entry] = await world.list_audit()
    assert isinstance(entry.at, datetime) and entry.at.utcoffset() is not None
    assert entry.at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


async def test_upsert_pools_in_bulk_is_all_or_nothing(world: Store) -> None:
    many = [Pool(f"bulk-{i}", "evm", f"0x{i:040x}", "0xa", locked_capital=i) for i in range(300)]
    await world.upsert_pools(many)
    assert len(await world.list_pools("evm")) == 302
    moved = replace(await world.get_pool("s1"), chain="evm")
    with pytest.raises(Conflict, match="'s1' is on chain 'sol'"):
        await world.upsert_pools([Pool("fresh", "evm", "0x1", "0xa"), moved])
    with pytest.raises(NotFound, match="chain 'btc'"):
        await world.upsert_pools([Pool("fresh", "evm", "0x1", "0xa"), Pool("b", "btc", "x", "y")])
    with pytest.raises(InvalidRecord, match="distinct"):
        await world.upsert_pools([many[0], many[0]])
    with pytest.raises(NotFound):
        await world.get_pool("fresh")

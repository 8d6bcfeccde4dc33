from router.store import Store


async def test_world_builds(world: Store) -> None:
    assert [p.pool_id for p in await world.list_pools()] == ["p1", "p2", "s1"]

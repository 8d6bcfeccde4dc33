"""The send queue: one send per chain at a time, at most ``depth`` waiting, the
rest told at once when to come back, in slots spaced by how long sends take."""

from __future__ import annotations

import asyncio

import pytest

from router.execution.send_queue import Busy, SendQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_one_send_at_a_time_and_the_crowd_gets_spaced_slots() -> None:
    clock = Clock()
    queue = SendQueue(depth=2, wait_seconds=60.0, clock=clock)
    release = asyncio.Event()
    inside: list[int] = []
    most = 0

    async def send(i: int) -> None:
        nonlocal most
        async with queue.turn("eth"):
            inside.append(i)
            most = max(most, len(inside))
            await release.wait()
            clock.now += 1.0  # each send holds the turn for one second
            inside.remove(i)

    first = [asyncio.create_task(send(i)) for i in range(2)]
    await asyncio.sleep(0)  # both queued: one holds the turn, one waits
    slots = []
    for _ in range(3):  # the crowd: refused at once, each a later slot
        with pytest.raises(Busy) as busy:
            async with queue.turn("eth"):
                pytest.fail("a third send must not queue")
        slots.append(busy.value.retry_after)
        assert busy.value.queued == 2
    assert slots == pytest.approx([0.2, 0.4, 0.6])  # spaced by the first estimate
    async with queue.turn("sol"):  # another chain's turn is its own
        pass
    release.set()
    await asyncio.gather(*first)
    assert most == 1
    # The estimate follows what sends took (one second each, moving average).
    clock.now += 10.0  # the promised slots have passed
    holder = asyncio.Event()

    async def hold() -> None:
        async with queue.turn("eth"):
            await holder.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Busy) as busy:
        async with queue.turn("eth"):
            pass
    mean = 0.8 * (0.8 * 0.2 + 0.2 * 1.0) + 0.2 * 1.0
    assert busy.value.retry_after == pytest.approx(mean)
    holder.set()
    await asyncio.gather(*tasks)


async def test_a_failed_send_releases_the_turn_and_a_long_wait_gives_a_slot() -> None:
    queue = SendQueue(depth=4, wait_seconds=0.05)
    with pytest.raises(RuntimeError):
        async with queue.turn("eth"):
            raise RuntimeError("the chain refused it")
    async with queue.turn("eth"):  # free again

        async def waiter() -> float:
            try:
                async with queue.turn("eth"):
                    return 0.0
            except Busy as busy:
                return busy.retry_after

        got = await asyncio.create_task(waiter())  # the turn is held: it gives up
        assert got > 0
    async with queue.turn("eth"):  # nothing left held or counted
        pass


async def test_urgent_sends_go_before_recoveries() -> None:
    """A recovery waits while a payment queues or holds a promised slot; its slot
    comes after the payments' slots."""
    clock = Clock()
    queue = SendQueue(depth=1, wait_seconds=60.0, clock=clock)
    release = asyncio.Event()

    async def pay() -> None:
        async with queue.turn("eth"):
            await release.wait()

    paying = asyncio.create_task(pay())
    await asyncio.sleep(0)
    with pytest.raises(Busy) as first:  # a second payment: the queue is full
        async with queue.turn("eth"):
            pass
    with pytest.raises(Busy) as rec:  # a recovery: after the payment's slot
        async with queue.turn("eth", urgent=False):
            pass
    assert first.value.retry_after == pytest.approx(0.2)
    assert rec.value.retry_after == pytest.approx(0.4)
    release.set()
    await paying
    # The turn is free, but the second payment's slot is still due: the recovery waits.
    with pytest.raises(Busy):
        async with queue.turn("eth", urgent=False):
            pass
    clock.now += 1.0  # every promised payment slot has passed
    async with queue.turn("eth", urgent=False):
        pass

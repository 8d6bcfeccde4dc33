"""Capital in flight is counted exactly once: by where each transfer landed against
the block of the pool's confirmed balance (virtual balances)."""

from __future__ import annotations

from datetime import UTC, datetime

from router import domain as m
from router.app.engine import ReinsuranceEngine
from router.app.positions import pool_views, read_state, requirements
from router.config import PolicyConfig
from router.store import Store
from tests.app.conftest import UNIT, fund


async def views(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> dict[str, m.PoolView]:
    snap = await read_state(book)
    reqs = await requirements(engine, snap)
    return {v.pool.pool_id: v for v in pool_views(snap, reqs, policy, datetime.now(UTC))}


def tid(n: int) -> str:
    return "0x" + f"{n:064x}"


async def confirmed_block(book: Store, pool: str) -> int:
    bal = await book.latest_balance(pool)
    assert bal is not None
    return bal.block_number


async def test_a_transfer_out_counts_until_the_balance_shows_it(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 1_000 * UNIT, "a2": 100 * UNIT})
    out = m.TransferRecord(
        tid(1),
        "chain-a",
        "a1",
        "chain-a",
        "0xhub",
        300 * UNIT,
        plan_id="p1",
        step_seq=0,
        dst_pool="hub:chain-a",
    )
    await book.record_transfer(out)
    v = await views(book, engine, policy)
    # Signed, not yet anywhere: the balance still shows it, but it may leave at any time.
    assert (v["a1"].capital, v["a1"].in_flight, v["a1"].spendable) == (
        1_000 * UNIT,
        300 * UNIT,
        700 * UNIT,
    )
    landed_at = await confirmed_block(book, "a1") + 5
    await book.update_transfer(
        tid(1), m.TransferState.FINALIZED, tx_ref="0xtx", block_number=landed_at
    )
    assert (await views(book, engine, policy))["a1"].in_flight == 300 * UNIT
    # The next confirmed balance is at a later block: it shows the transfer, counted once.
    await fund(book, {"a1": 700 * UNIT}, block=landed_at + 1)
    v = await views(book, engine, policy)
    assert (v["a1"].capital, v["a1"].in_flight, v["a1"].spendable) == (700 * UNIT, 0, 700 * UNIT)


async def test_a_transfer_in_counts_towards_the_target_then_as_capital(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 1_000 * UNIT, "a2": 100 * UNIT})
    inbound = m.TransferRecord(
        tid(2),
        "chain-a",
        "hub:chain-a",
        "chain-a",
        "0xa2",
        250 * UNIT,
        plan_id="p1",
        step_seq=1,
        dst_pool="a2",
    )
    await book.record_transfer(inbound)
    v = await views(book, engine, policy)
    assert (v["a2"].arriving, v["a2"].arriving_final, v["a2"].spendable) == (
        250 * UNIT,
        0,
        100 * UNIT,
    )
    block = await confirmed_block(book, "a2") + 3
    await book.update_transfer(tid(2), m.TransferState.FINALIZED, tx_ref="0xin", block_number=block)
    v = await views(book, engine, policy)
    # Final on chain after the confirmed block: capital the next report will show.
    assert (v["a2"].arriving, v["a2"].arriving_final, v["a2"].spendable) == (
        0,
        250 * UNIT,
        350 * UNIT,
    )
    await fund(book, {"a2": 350 * UNIT}, block=block)
    v = await views(book, engine, policy)
    assert (v["a2"].capital, v["a2"].arriving_final, v["a2"].spendable) == (
        350 * UNIT,
        0,
        350 * UNIT,
    )


async def test_a_failed_transfer_is_nowhere(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    await fund(book, {"a1": 1_000 * UNIT, "a2": 100 * UNIT})
    await book.record_transfer(
        m.TransferRecord(tid(3), "chain-a", "a1", "chain-a", "0xa2", 10 * UNIT, dst_pool="a2")
    )
    await book.update_transfer(tid(3), m.TransferState.FAILED)
    v = await views(book, engine, policy)
    assert (v["a1"].in_flight, v["a2"].arriving, v["a2"].arriving_final) == (0, 0, 0)


async def test_premiums_leave_and_placed_cessions_relieve(
    book: Store, engine: ReinsuranceEngine, policy: PolicyConfig
) -> None:
    from router.app.covers import CoverAsk, Covers
    from tests.app.conftest import ACME
    from tests.covers_support import cover_terms

    await fund(book, {"a1": 1_000_000 * UNIT})
    covers = Covers(book, engine, policy)
    terms = CoverAsk("chain-a", "a1", cover_terms(m.CoverType.POSITION, "amm-a", 500_000 * UNIT))
    await covers.bind(ACME, "cede-0001", (await covers.quote(ACME, terms)).quote.quote_id, terms)
    await book.upsert_vault(m.Vault("v1", "chain-a", "0xvault", "USDC", 10**15, 300))
    gross = (await views(book, engine, policy))["a1"].requirement.scr
    await book.record_cession(
        m.Cession(
            "0x" + "c1" * 32,
            "v1",
            "a1",
            250_000 * UNIT,
            9 * UNIT,
            plan_id="p1",
            status=m.CessionStatus.PENDING,
            share_ppm=500_000,
            step_seq=2,
        )
    )
    v = await views(book, engine, policy)
    assert v["a1"].in_flight == 9 * UNIT  # the premium is leaving
    assert v["a1"].requirement.scr == gross  # no relief before it is placed
    block = await confirmed_block(book, "a1") + 1
    await book.update_cession(
        "0x" + "c1" * 32, m.CessionStatus.PLACED, tx_ref="0xc", block_number=block
    )
    v = await views(book, engine, policy)
    # Half the retained risk ceded: the requirement halves (a quota share is linear).
    assert abs(v["a1"].requirement.scr - gross // 2) <= 1
    assert v["a1"].in_flight == 9 * UNIT  # paid after the confirmed block: not yet in it


async def test_capital_between_pools_shows_at_its_hub_or_in_the_bridge(book: Store) -> None:
    from router.app.positions import read_state, transit

    T = m.StepKind.TRANSFER
    steps = (
        m.PlanStep(0, T, "a1", 500, "chain-a", "hub:chain-a", transfer_id=tid(10)),
        m.PlanStep(
            1,
            T,
            "hub:chain-a",
            300,
            "chain-b",
            "hub:chain-b",
            fee=7,
            transfer_id=tid(11),
            route_id="a-b",
        ),
        m.PlanStep(
            2,
            T,
            "hub:chain-a",
            200,
            "chain-b",
            "hub:chain-b",
            fee=5,
            transfer_id=tid(12),
            route_id="a-b",
        ),
        m.PlanStep(3, T, "hub:chain-b", 293, "chain-b", "b1", transfer_id=tid(13)),
    )
    await book.create_plan(m.PlanDraft("plan-transit", "carol", steps, 500, 12))
    plan = await book.approve_plan("plan-transit", "bob")
    await book.update_plan_status(
        "plan-transit", m.PlanStatus.EXECUTING, expected_version=plan.version
    )

    async def transfer(n: int, step: m.PlanStep, state: m.TransferState) -> None:
        src = step.src_pool.removeprefix("hub:") if step.src_pool.startswith("hub:") else "chain-a"
        await book.record_transfer(
            m.TransferRecord(
                tid(n),
                src,
                step.src_pool,
                step.dst_chain or src,
                "0xr",
                step.amount,
                plan_id="plan-transit",
                step_seq=step.seq,
                dst_pool=step.dst_pool,
            )
        )
        await book.update_transfer(tid(n), state, tx_ref=f"0x{n}", block_number=n)

    await transfer(10, steps[0], m.TransferState.FINALIZED)  # 500 reached hub a
    await transfer(11, steps[1], m.TransferState.DELIVERED)  # 293 reached hub b
    await transfer(12, steps[2], m.TransferState.FINALIZED)  # 200 in the bridge
    await book.set_step_status("plan-transit", 2, m.StepStatus.STUCK, detail="no delivery")
    places = {(t.chain, t.place): t for t in transit(await read_state(book))}
    assert places[("chain-a", "bridge")].amount == 200
    assert places[("chain-a", "bridge")].status == "stuck"
    assert places[("chain-a", "bridge")].destination_chain == "chain-b"
    assert places[("chain-b", "hub")].amount == 300 - 7
    assert ("chain-a", "hub") not in places  # 500 in, 300 + 200 out: nothing left there
    # Once hub b pays the pool, nothing of it is in transit any more.
    await transfer(13, steps[3], m.TransferState.FINALIZED)
    places = {(t.chain, t.place) for t in transit(await read_state(book))}
    assert places == {("chain-a", "bridge")}

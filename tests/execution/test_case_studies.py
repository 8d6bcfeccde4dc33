"""Case studies (b) and (c) end to end over gRPC on an embedded EVM chain (case (a)
is ``test_case_a.py``): incidents confirmed 2 of 3, claims opened for the covers
they touch, paid to the certificates' holders within their terms, recovered."""

from __future__ import annotations

from pathlib import Path

from ballast.v1 import common_pb2

from router.domain.incidents import IncidentKind
from router.execution.temporal import DevServer
from tests.execution.case_harness import SHARE_PPM, UNIT, case_world


async def test_case_b_failed_upgrade_position_covers_pay_95_percent(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    """A lending protocol's failed upgrade: each position cover insures one position's
    collateral with a limit of 95 % of it, so it pays 95 % of the lost collateral."""
    async with case_world(tmp_path, temporal_server, "case-b") as w:
        positions = {"acme": 120_000 * UNIT, "globex": 40_000 * UNIT}
        holders, covers = {}, {}
        for partner, collateral in positions.items():
            covers[partner], holders[partner] = await w.cover(
                partner,
                f"pos-{partner}",
                "position",
                collateral * 95 // 100,
                "lend-ethereum",
                insured_value=collateral,
            )
        untouched, other = await w.cover(
            "acme", "amm-cover", "protocol", 50_000 * UNIT, "amm-ethereum"
        )
        pool_before = await w.eth.token_balance(w.pool.address)
        lost = 8_000_000 * UNIT  # the protocol's loss: every position's collateral is gone
        first = await w.report("oracle-a", "lend-ethereum", IncidentKind.UPGRADE_FAILURE, lost)
        assert first.state == common_pb2.INCIDENT_STATE_PENDING
        second = await w.report(
            "oracle-b", "lend-ethereum", IncidentKind.UPGRADE_FAILURE, lost - 20_000 * UNIT
        )
        assert second.confirmed_now
        outcomes = await w.settle()
        assert set(outcomes) == {covers["acme"].cover_id, covers["globex"].cover_id}
        for partner, collateral in positions.items():
            assert await w.eth.token_balance(holders[partner]) == collateral * 95 // 100
        assert await w.eth.token_balance(other) == 0
        paid = sum(c * 95 // 100 for c in positions.values())
        recovery = sum(c * 95 // 100 * SHARE_PPM // 1_000_000 for c in positions.values())
        assert await w.recovered() == recovery
        assert await w.eth.token_balance(w.pool.address) == pool_before - paid + recovery
        assert untouched.cover_id not in outcomes


async def test_case_c_oracle_manipulation_oracle_covers_pay_liquidation_losses(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    """An oracle manipulation on a derivatives platform: oracle covers pay the
    liquidation losses less their deductible, within the per-event maximum; a
    disagreeing third reporter raises an alert and changes nothing."""
    async with case_world(tmp_path, temporal_server, "case-c") as w:
        liquidations = 600_000 * UNIT
        acme, acme_holder = await w.cover(
            "acme",
            "oracle-acme",
            "oracle",
            500_000 * UNIT,
            "perp-ethereum",
            deductible=25_000 * UNIT,
        )
        globex, globex_holder = await w.cover(
            "globex",
            "oracle-globex",
            "oracle",
            500_000 * UNIT,
            "perp-ethereum",
            per_event_max=150_000 * UNIT,
        )
        protocol, protocol_holder = await w.cover(
            "globex", "protocol-globex", "protocol", 100_000 * UNIT, "perp-ethereum"
        )  # a protocol cover is not triggered by an oracle manipulation
        kind = IncidentKind.ORACLE_MANIPULATION
        await w.report("oracle-a", "perp-ethereum", kind, liquidations)
        second = await w.report("oracle-b", "perp-ethereum", kind, liquidations + 10 * UNIT)
        assert second.confirmed_now
        third = await w.report("oracle-c", "perp-ethereum", kind, 5 * liquidations)
        assert not third.confirmed_now  # late and far off: counted, alerted, not re-decided
        outcomes = await w.settle()
        assert set(outcomes) == {acme.cover_id, globex.cover_id}
        acme_pay = min(liquidations - 25_000 * UNIT, 500_000 * UNIT)
        assert await w.eth.token_balance(acme_holder) == acme_pay
        assert await w.eth.token_balance(globex_holder) == 150_000 * UNIT
        assert await w.eth.token_balance(protocol_holder) == 0
        assert protocol.cover_id not in outcomes
        recovery = (acme_pay * SHARE_PPM // 1_000_000) + (150_000 * UNIT * SHARE_PPM // 1_000_000)
        assert await w.recovered() == recovery

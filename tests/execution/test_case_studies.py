"""The issue's three case studies end to end over gRPC on an embedded EVM chain:
incidents reported by oracle reporters and confirmed 2 of 3, claims opened for
the covers they touch, paid once to the certificates' holders within their
terms (deductible, per-event maximum, limit), the quota share recovered from
the reinsurance vault, every balance read back from the chain."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, treasury_pb2

from router.domain.incidents import IncidentKind
from router.domain.openings import chain_cover_id
from router.execution.temporal import DevServer
from tests.execution.case_harness import SHARE_PPM, UNIT, case_world


async def test_case_a_flash_loan_drain_paid_and_recovered(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    """An AMM flash-loan drain of 15 % of its liquidity, with protocol covers: the
    lone first report pays nothing; confirmed by 2 of 3, acme's cover pays the loss
    less its deductible, globex's its per-event maximum, a cover on another
    protocol nothing; filing again is refused as already paid."""
    async with case_world(tmp_path, temporal_server, "case-a") as w:
        drain = 2_000_000 * UNIT * 15 // 100  # 15 % of the AMM's liquidity
        limit, deductible, cap = 400_000 * UNIT, 20_000 * UNIT, 50_000 * UNIT
        acme, acme_holder = await w.cover(
            "acme", "acme-amm", "protocol", limit, "amm-ethereum", deductible=deductible
        )
        globex, globex_holder = await w.cover(
            "globex", "globex-amm", "protocol", limit, "amm-ethereum", per_event_max=cap
        )
        other, other_holder = await w.cover("acme", "acme-lend", "protocol", limit, "lend-ethereum")
        pool_before = await w.eth.token_balance(w.pool.address)
        first = await w.report("oracle-a", "amm-ethereum", IncidentKind.FLASH_LOAN, drain)
        assert first.state == common_pb2.INCIDENT_STATE_PENDING
        assert await w.store.list_claims() == []  # a lone report pays nothing
        second = await w.report(
            "oracle-b", "amm-ethereum", IncidentKind.FLASH_LOAN, drain + 1_000 * UNIT, late=20
        )
        assert second.confirmed_now and second.agreeing_reporters == 2
        outcomes = await w.settle()
        assert set(outcomes) == {acme.cover_id, globex.cover_id}
        acme_pay, globex_pay = drain - deductible, cap
        assert await w.eth.token_balance(acme_holder) == acme_pay
        assert await w.eth.token_balance(globex_holder) == globex_pay
        assert await w.eth.token_balance(other_holder) == 0
        recovery = (acme_pay + globex_pay) * SHARE_PPM // 1_000_000
        assert await w.recovered() == recovery
        paid = acme_pay + globex_pay
        assert await w.eth.token_balance(w.pool.address) == pool_before - paid + recovery
        state = await w.eth.adapter.cover_state(w.pool, chain_cover_id(acme.cover_id))
        assert state is not None and state.paid == acme_pay
        # The partner sees its own claim, paid, with the transaction that paid it.
        partner = w.connect("ballast://partner/acme")
        (claim,) = (await partner.partner.ListClaims(partner_pb2.ListClaimsRequest())).claims
        got = await partner.partner.GetClaim(partner_pb2.GetClaimRequest(claim_id=claim.claim_id))
        assert got.claim.state == common_pb2.CLAIM_STATE_PAID
        assert got.claim.paid.value == str(acme_pay)
        assert got.claim.payments[0].tx_ref == outcomes[acme.cover_id].tx_ref
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await partner.partner.FileClaim(
                partner_pb2.FileClaimRequest(
                    cover_id=acme.cover_id,
                    incident_id=second.incident_id,
                    claimed_loss=common_pb2.Amount(asset="USDC", value=str(drain)),
                )
            )
        assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "already paid" in (err.value.details() or "")
        # A late third report confirms nothing twice: still two payouts.
        third = await w.report("oracle-c", "amm-ethereum", IncidentKind.FLASH_LOAN, drain)
        assert not third.confirmed_now
        ops = w.connect("ballast://operator/alice")
        payouts = (await ops.treasury.ListPayouts(treasury_pb2.ListPayoutsRequest())).payouts
        assert len(payouts) == 2
        # Paid covers lock only what they can still pay.
        in_force = sorted(c.limit_amount for c in await w.store.covers_in_force(pool_id="a1"))
        assert in_force == sorted([limit - acme_pay, limit - globex_pay, limit])
        assert other.cover_id not in outcomes


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

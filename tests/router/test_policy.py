"""Policy over the wire: quorum of reporters, dual approval of large plans."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2

from router.agent.client import RouterClient, bind_request
from router.api.server import RunningRouter, running_router
from router.devtools.pki import TestCA
from tests.covers_support import terms_pb
from tests.router.conftest import make_settings, report, send_batches


def client(r: RunningRouter, ca: TestCA, uri: str) -> RouterClient:
    pair = ca.client(uri)
    return RouterClient.mtls(
        r.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
    )


async def test_balance_confirms_only_when_the_quorum_agrees(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(
        server_files,
        tmp_path / "q.db",
        chains=[{"name": "ethereum", "family": "evm", "quorum": 2}],
        pools=[{"chain": "ethereum", "pool_id": "eth-main", "address": "0x" + "11" * 20}],
        reporters=[
            {"reporter_id": "ethereum/node-a", "chain": "ethereum"},
            {"reporter_id": "ethereum/node-b", "chain": "ethereum"},
        ],
        routes=[],
    )
    async with running_router(settings) as r:
        a = client(r, ca, "ballast://reporter/ethereum/node-a")
        b = client(r, ca, "ballast://reporter/ethereum/node-b")
        stranger = client(r, ca, "ballast://reporter/ethereum/node-x")
        try:
            first = (await send_batches(a, [report("eth-main", 500, 10)]))[0]
            assert (first.accepted, first.confirmed) == (1, 0)
            assert await r.store.latest_balance("eth-main") is None
            odd = (await send_batches(stranger, [report("eth-main", 500, 10)]))[0]
            assert odd.rejected == 1
            assert odd.rejections[0].reason == reporting_pb2.REJECT_REASON_REPORTER_NOT_ALLOWED
            second = (await send_batches(b, [report("eth-main", 500, 10)]))[0]
            assert (second.accepted, second.confirmed) == (1, 1)
            bal = await r.store.latest_balance("eth-main")
            assert bal is not None and (bal.amount, bal.block_number) == (500, 10)
        finally:
            for c in (a, b, stranger):
                await c.close()


async def test_large_plans_need_two_other_operators(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(server_files, tmp_path / "d.db", policy={"dual_approval_above": 0})
    async with running_router(settings) as r:
        rep = client(r, ca, "ballast://reporter/ethereum")
        alice, bob, carol = (
            client(r, ca, f"ballast://operator/{n}") for n in ("alice", "bob", "carol")
        )
        acme = client(r, ca, "ballast://partner/acme")
        try:
            await send_batches(
                rep, [report("eth-main", 9 * 10**12, 3), report("eth-alt", 10**12, 3)]
            )
            q = (
                await acme.partner.QuoteCover(
                    partner_pb2.QuoteCoverRequest(
                        terms=terms_pb(),
                        chain="ethereum",
                        pool_id="eth-alt",
                        cover_type=common_pb2.COVER_TYPE_PROTOCOL,
                        cover_amount=common_pb2.Amount(asset="USDC", value=str(5 * 10**11)),
                        period_days=365,
                    )
                )
            ).quote
            await acme.partner.BindCover(bind_request(q, "dual-0001"))
            # the pool paid out: it now needs capital from eth-main
            await send_batches(rep, [report("eth-alt", 1, 4)])
            plan = (await alice.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest())).plan
            assert plan.steps and plan.approvals_required == 2
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await alice.treasury.ApprovePlan(
                    treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id)
                )
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            once = await bob.treasury.ApprovePlan(
                treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id)
            )
            assert once.plan.state == treasury_pb2.PLAN_STATE_PENDING_APPROVAL
            # Approving again is a no-op (the proto's promise): same plan, one approval.
            again = await bob.treasury.ApprovePlan(
                treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id)
            )
            assert again.plan.state == treasury_pb2.PLAN_STATE_PENDING_APPROVAL
            assert list(again.plan.approved_by) == ["bob"]
            assert again.plan.version == once.plan.version
            twice = await carol.treasury.ApprovePlan(
                treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id)
            )
            assert twice.plan.state == treasury_pb2.PLAN_STATE_APPROVED
            assert list(twice.plan.approved_by) == ["bob", "carol"]
        finally:
            for c in (rep, alice, bob, carol, acme):
                await c.close()


async def test_no_capacity_on_a_stale_balance(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(
        server_files, tmp_path / "s.db", policy={"staleness_limit_seconds": 60}
    )
    async with running_router(settings) as r:
        rep, acme = (
            client(r, ca, "ballast://reporter/ethereum"),
            client(r, ca, "ballast://partner/acme"),
        )
        op = client(r, ca, "ballast://operator/alice")
        try:
            old = report("eth-main", 10**12, 5)
            old.observed_at.FromSeconds(old.observed_at.seconds - 3600)
            fresh = report("eth-alt", 10**12, 5)
            await send_batches(rep, [old, fresh])
            cap = await acme.partner.GetCapacity(
                partner_pb2.GetCapacityRequest(cover_type=common_pb2.COVER_TYPE_ORACLE)
            )
            eth = next(c for c in cap.capacities if c.chain == "ethereum")
            assert int(eth.available.value) == 10**12 * 8_000 // 10_000  # eth-alt only
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await acme.partner.QuoteCover(
                    partner_pb2.QuoteCoverRequest(
                        terms=terms_pb(),
                        chain="ethereum",
                        pool_id="eth-main",
                        cover_type=common_pb2.COVER_TYPE_ORACLE,
                        cover_amount=common_pb2.Amount(asset="USDC", value="1000000"),
                        period_days=30,
                    )
                )
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            pos = await op.treasury.GetPosition(
                treasury_pb2.GetPositionRequest(chains=["ethereum"])
            )
            assert {p.pool_id: p.stale for p in pos.pools} == {"eth-alt": False, "eth-main": True}
        finally:
            for c in (rep, acme, op):
                await c.close()


async def test_positions_follow_ingestion_without_a_reload(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(server_files, tmp_path / "p.db")
    async with running_router(settings) as r:
        rep = client(r, ca, "ballast://reporter/ethereum")
        acme, op = (
            client(r, ca, "ballast://partner/acme"),
            client(r, ca, "ballast://operator/alice"),
        )
        try:
            await send_batches(rep, [report("eth-main", 4 * 10**12, 1)])
            q = (
                await acme.partner.QuoteCover(
                    partner_pb2.QuoteCoverRequest(
                        terms=terms_pb(),
                        chain="ethereum",
                        pool_id="eth-main",
                        cover_type=common_pb2.COVER_TYPE_GOVERNANCE,
                        cover_amount=common_pb2.Amount(asset="USDC", value=str(10**12)),
                        period_days=90,
                    )
                )
            ).quote
            await acme.partner.BindCover(bind_request(q, "follow-0001"))

            async def eth_main() -> treasury_pb2.PoolPosition:
                pos = await op.treasury.GetPosition(treasury_pb2.GetPositionRequest())
                return next(p for p in pos.pools if p.pool_id == "eth-main")

            before = await eth_main()
            required = max(int(before.scr.value), int(before.mcr.value))
            assert required > 0
            for block, amount in ((2, 3 * 10**12), (3, 5 * 10**12 + 7)):
                await send_batches(rep, [report("eth-main", amount, block)])
                now = await eth_main()
                assert (int(now.capital.value), now.confirmed_block) == (amount, block)
                assert now.solvency_ratio_bps == amount * 10_000 // required
                assert now.scr == before.scr and now.mcr == before.mcr
        finally:
            for c in (rep, acme, op):
                await c.close()


async def test_concurrent_binds_cannot_oversell_a_pool(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    settings = make_settings(server_files, tmp_path / "c.db")
    async with running_router(settings) as r:
        rep, acme = (
            client(r, ca, "ballast://reporter/ethereum"),
            client(r, ca, "ballast://partner/acme"),
        )
        try:
            await send_batches(rep, [report("eth-main", 10**12, 1)])  # capacity 80 % = 8e11
            quotes = []
            for _ in range(2):  # each alone fits, both together do not
                quotes.append(
                    (
                        await acme.partner.QuoteCover(
                            partner_pb2.QuoteCoverRequest(
                                terms=terms_pb(),
                                chain="ethereum",
                                pool_id="eth-main",
                                cover_type=common_pb2.COVER_TYPE_ORACLE,
                                cover_amount=common_pb2.Amount(asset="USDC", value=str(6 * 10**11)),
                                period_days=30,
                            )
                        )
                    ).quote
                )

            async def bind(i: int) -> grpc.StatusCode:
                q = quotes[i]
                try:
                    await acme.partner.BindCover(bind_request(q, f"race-000{i}"))
                except grpc.aio.AioRpcError as err:
                    return err.code()
                return grpc.StatusCode.OK

            codes = await asyncio.gather(bind(0), bind(1))
            assert sorted(c.name for c in codes) == ["FAILED_PRECONDITION", "OK"]
            covers = await acme.partner.ListPositions(partner_pb2.ListPositionsRequest())
            assert len(covers.covers) == 1
        finally:
            for c in (rep, acme):
                await c.close()


async def test_two_replicas_on_one_database_cannot_oversell_a_pool(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    """Two routers over one database: the store's check decides, not a process lock."""
    settings = make_settings(server_files, tmp_path / "shared.db")
    async with running_router(settings) as r1, running_router(settings) as r2:
        rep = client(r1, ca, "ballast://reporter/ethereum")
        acme1, acme2 = (client(r, ca, "ballast://partner/acme") for r in (r1, r2))
        try:
            await send_batches(rep, [report("eth-main", 10**12, 1)])  # capacity 80 % = 8e11
            quotes = [
                (
                    await acme1.partner.QuoteCover(
                        partner_pb2.QuoteCoverRequest(
                            terms=terms_pb(),
                            chain="ethereum",
                            pool_id="eth-main",
                            cover_type=common_pb2.COVER_TYPE_ORACLE,
                            cover_amount=common_pb2.Amount(asset="USDC", value=str(6 * 10**11)),
                            period_days=30,
                        )
                    )
                ).quote
                for _ in range(2)  # each alone fits, both together do not
            ]

            def replica_bind(i: int) -> partner_pb2.BindCoverRequest:
                q = quotes[i]
                return bind_request(q, f"replica-000{i}")

            async def bind(c: RouterClient, i: int) -> grpc.aio.AioRpcError | None:
                try:
                    await c.partner.BindCover(replica_bind(i))
                except grpc.aio.AioRpcError as err:
                    return err
                return None

            outcomes = await asyncio.gather(bind(acme1, 0), bind(acme2, 1))
            errors = [e for e in outcomes if e is not None]
            assert len(errors) == 1
            err = errors[0]
            assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
            details = err.details() or ""
            assert f"'eth-main' has capacity {2 * 10**11} left, {6 * 10**11} requested" in details
            assert "another pool" in details
            covers = await acme2.partner.ListPositions(partner_pb2.ListPositionsRequest())
            assert len(covers.covers) == 1
            # the winner's replay still answers on either replica, the pool being full
            won = outcomes.index(None)
            for c in (acme1, acme2):
                again = await c.partner.BindCover(replica_bind(won))
                assert not again.created and again.cover.cover_id == covers.covers[0].cover_id
        finally:
            for c in (rep, acme1, acme2):
                await c.close()

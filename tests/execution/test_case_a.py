"""Case study (a), end to end over gRPC on an embedded EVM chain and a real Temporal
server: an AMM flash-loan drain of 15 % of its liquidity, covered by a protocol
cover. Detected by oracle reporters, confirmed by 2 of 3, the claim opened,
validated and paid to the certificate's holder on chain, capped at the cover's
limit, and the quota share's recovery collected from the reinsurance vault."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from pydantic import SecretStr
from temporalio.client import Client

from chains.base import CoverOpening
from router import domain as m
from router.agent.client import RouterClient
from router.api.auth import TokenSigner
from router.api.server import running_router
from router.app.claims import chain_cover_id
from router.config import AuthConfig, IncidentsConfig, OracleConfig, PartnerConfig, QuorumConfig
from router.domain.incidents import IncidentKind, IncidentReport
from router.execution.payouts import PayoutOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from tests.execution.conftest import block_producer
from tests.execution.crash_harness import approved_plan
from tests.execution.saga_harness import setup

UNIT = 10**6
SECRET = "case-a-token-secret-0123456789"
ORACLES = {n: Ed25519PrivateKey.generate() for n in ("oracle-a", "oracle-b", "oracle-c")}
LIQUIDITY = 2_000_000 * UNIT  # the AMM's liquidity
DRAIN = LIQUIDITY * 15 // 100  # 300,000: what the flash loan took
LIMIT = 400_000 * UNIT  # each protocol cover's limit
DEDUCTIBLE = 20_000 * UNIT  # acme's cover: the deductible is what binds
EVENT_CAP = 50_000 * UNIT  # globex's cover: the per-event maximum binds
SHARE_PPM = 250_000  # a quarter of the pool's risk is ceded to the vault


def pub(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def signed_report(name: str, loss: int, at: datetime) -> reporting_pb2.SubmitIncidentReportRequest:
    payload = IncidentReport(
        reporter_id=name,
        nonce=f"{name}-drain-1",
        deployment_id="amm-ethereum",
        kind=IncidentKind.FLASH_LOAN,
        occurred_at=at,
        loss=loss,
        evidence=("0x" + "fa" * 32,),
    ).payload()
    return reporting_pb2.SubmitIncidentReportRequest(
        payload=payload, signature=ORACLES[name].sign(payload)
    )


async def test_case_a_flash_loan_drain_paid_and_recovered(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with setup(tmp_path, temporal_server, "case-a") as s:
        eth, env, store = s.eth, s.env, s.store
        a1 = s.pools[0]
        settings = s.settings.model_copy(
            update={
                "listen": "127.0.0.1:0",
                "auth": AuthConfig(mode="token", token_secret=SecretStr(SECRET)),
                "partners": (PartnerConfig(partner_id="acme"), PartnerConfig(partner_id="globex")),
                "oracles": tuple(
                    OracleConfig(reporter_id=n, public_key=pub(k)) for n, k in ORACLES.items()
                ),
                "incidents": IncidentsConfig(default=QuorumConfig(k=2)),
            }
        )
        tokens = TokenSigner(SecretStr(SECRET))
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)

        def connect(uri: str, address: str) -> RouterClient:
            return RouterClient.token(address, tokens.issue(m.parse_identity(uri)))

        async with (
            block_producer(env),
            executor_worker(client, settings, store, {"ethereum": eth.adapter}, None),
            running_router(settings, store=store, executor=starter) as router,
        ):
            # The pool has ceded a quarter of its risk to the vault (a plan's cession).
            ceding = await approved_plan(
                store,
                "plan-cede-a",
                [
                    m.PlanStep(
                        0,
                        m.StepKind.CESSION,
                        "a1",
                        400_000 * UNIT,
                        vault_id="v1",
                        fee=4_000 * UNIT,
                        share_ppm=SHARE_PPM,
                    )
                ],
            )
            assert await starter.start(ceding.plan_id)
            await asyncio.wait_for(client.get_workflow_handle(ceding.plan_id).result(), 120)
            # Protocol covers, bound with their premium paid on chain and a certificate
            # issued to each holder: acme's and globex's on the AMM, one on another protocol.
            now = datetime.now(UTC).replace(microsecond=0)
            holders: dict[str, str] = {}
            covers: dict[str, m.Cover] = {}
            for partner, deployment, deductible, cap in (
                ("acme", "amm-ethereum", DEDUCTIBLE, 0),
                ("globex", "amm-ethereum", 0, EVENT_CAP),
                ("acme", "lend-ethereum", 0, 0),
            ):
                key = f"{partner}-{deployment}"
                covers[key] = (
                    await store.bind_cover(
                        m.CoverRequest(
                            partner,
                            key,
                            "a1",
                            "protocol",
                            LIMIT,
                            5_000 * UNIT,
                            now - timedelta(days=1),
                            now + timedelta(days=89),
                            deployment_id=deployment,
                            deductible=deductible,
                            per_event_max=cap,
                        )
                    )
                ).cover
                holders[key] = Account.create().address
                payer = await eth.new_payer(a1.address, 5_000 * UNIT)
                opening = CoverOpening(
                    chain_cover_id(covers[key].cover_id),
                    a1,
                    LIMIT,
                    LIMIT // 4,  # capital locked on chain for it
                    5_000 * UNIT,
                    payer,
                    holders[key],
                )
                await eth.adapter.broadcast(await eth.adapter.prepare(opening))
                found = await eth.adapter.certificate_holder(a1, opening.cover_id)
                assert found == holders[key]
            pool_before = await eth.token_balance(a1.address)
            vault_before = (await eth.adapter.vault_state(eth.deployment.vault)).total_assets

            # Detected: the first oracle alone raises an alert and pays nothing.
            at = now - timedelta(minutes=3)
            a = connect("ballast://reporter/oracle-a", router.address)
            first = await a.reporting.SubmitIncidentReport(signed_report("oracle-a", DRAIN, at))
            assert first.state == common_pb2.INCIDENT_STATE_PENDING
            assert await store.list_claims() == []
            # Confirmed by 2 of 3 (figures within the tolerance): the claim opens and pays.
            b = connect("ballast://reporter/oracle-b", router.address)
            second = await b.reporting.SubmitIncidentReport(
                signed_report("oracle-b", DRAIN + 1_000 * UNIT, at + timedelta(seconds=20))
            )
            assert second.confirmed_now and second.agreeing_reporters == 2
            ops = connect("ballast://operator/alice", router.address)
            listed = (await ops.treasury.ListPayouts(treasury_pb2.ListPayoutsRequest())).payouts
            assert len(listed) == 2  # the cover on another deployment is not touched
            outcomes = {}
            for payout in listed:
                handle = client.get_workflow_handle(payout.payment_id, result_type=PayoutOutcome)
                paid = await asyncio.wait_for(handle.result(), 120)
                assert paid.status == "final" and len(paid.recoveries or []) == 1
                (rid,) = paid.recoveries or []
                recovered = await asyncio.wait_for(
                    client.get_workflow_handle(rid, result_type=PayoutOutcome).result(), 120
                )
                assert recovered.status == "final"
                outcomes[payout.cover_id] = paid

            # Paid once each, to the holder of record: acme's loss less its deductible,
            # globex's capped by its per-event maximum; nothing on the other protocol.
            acme_pay, globex_pay = DRAIN - DEDUCTIBLE, EVENT_CAP
            assert await eth.token_balance(holders["acme-amm-ethereum"]) == acme_pay
            assert await eth.token_balance(holders["globex-amm-ethereum"]) == globex_pay
            assert await eth.token_balance(holders["acme-lend-ethereum"]) == 0
            recovery = (acme_pay + globex_pay) * SHARE_PPM // 1_000_000
            paid_out = acme_pay + globex_pay
            assert await eth.token_balance(a1.address) == pool_before - paid_out + recovery
            vault = await eth.adapter.vault_state(eth.deployment.vault)
            assert vault.total_assets == vault_before - recovery
            acme_cover = covers["acme-amm-ethereum"]
            state = await eth.adapter.cover_state(a1, chain_cover_id(acme_cover.cover_id))
            assert state is not None and state.paid == acme_pay
            # The partner sees its claim paid (and only its own); the operator the recoveries.
            acme = connect("ballast://partner/acme", router.address)
            (claim,) = (await acme.partner.ListClaims(partner_pb2.ListClaimsRequest())).claims
            got = await acme.partner.GetClaim(partner_pb2.GetClaimRequest(claim_id=claim.claim_id))
            assert got.claim.state == common_pb2.CLAIM_STATE_PAID
            assert got.claim.paid.value == str(acme_pay)
            assert got.claim.payments[0].tx_ref == outcomes[acme_cover.cover_id].tx_ref
            recs = await ops.treasury.ListRecoverables(treasury_pb2.ListRecoverablesRequest())
            assert sorted((r.status, int(r.amount.value)) for r in recs.recoverables) == sorted(
                [
                    ("collected", acme_pay * SHARE_PPM // 1_000_000),
                    ("collected", globex_pay * SHARE_PPM // 1_000_000),
                ]
            )
            # A late third report confirms nothing twice; filing again is refused: paid.
            c = connect("ballast://reporter/oracle-c", router.address)
            third = await c.reporting.SubmitIncidentReport(signed_report("oracle-c", DRAIN, at))
            assert not third.confirmed_now
            after = (await ops.treasury.ListPayouts(treasury_pb2.ListPayoutsRequest())).payouts
            assert len(after) == 2
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await acme.partner.FileClaim(
                    partner_pb2.FileClaimRequest(
                        cover_id=acme_cover.cover_id,
                        incident_id=second.incident_id,
                        claimed_loss=common_pb2.Amount(asset="USDC", value=str(DRAIN)),
                    )
                )
            assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert "already paid" in (err.value.details() or "")
            # Paid covers lock only what they can still pay.
            in_force = sorted(c.limit_amount for c in await store.covers_in_force(pool_id="a1"))
            assert in_force == sorted([LIMIT - acme_pay, LIMIT - globex_pay, LIMIT])
            for cl in (a, b, c, ops, acme):
                await cl.close()

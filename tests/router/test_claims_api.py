"""The claims RPCs over real gRPC with mTLS: incident reports from oracle reporters,
claims seen only by their partner, the operators' views and decisions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from router import domain as m
from router.api.server import RunningRouter, running_router
from router.devtools.pki import TestCA
from router.domain.incidents import IncidentKind, IncidentReport
from tests.router.cli_support import client_config, invoke
from tests.router.conftest import ClientFactory, make_settings

KEYS = {name: Ed25519PrivateKey.generate() for name in ("oracle-a", "oracle-b", "oracle-c")}
NOW = datetime.now(UTC).replace(microsecond=0)
UNIT = 10**6


def pub(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@pytest.fixture
async def router(server_files: dict[str, Path], tmp_path: Path) -> AsyncIterator[RunningRouter]:
    settings = make_settings(
        server_files,
        tmp_path / "router.db",
        oracles=[{"reporter_id": n, "public_key": pub(k)} for n, k in KEYS.items()]
        + [{"reporter_id": "oracle-gone", "public_key": "00" * 32, "active": False}],
        incidents={"default": {"k": 2}},
    )
    async with running_router(settings) as r:
        yield r


def report(
    reporter: str, nonce: str, loss: int, deployment: str = "amm-eth"
) -> tuple[bytes, bytes]:
    payload = IncidentReport(
        reporter_id=reporter,
        nonce=nonce,
        deployment_id=deployment,
        kind=IncidentKind.FLASH_LOAN,
        occurred_at=NOW - timedelta(minutes=1),
        loss=loss,
        evidence=("0x" + "ab" * 32,),
    ).payload()
    return payload, KEYS[reporter].sign(payload) if reporter in KEYS else b"\0" * 64


def submit(payload: bytes, sig: bytes) -> reporting_pb2.SubmitIncidentReportRequest:
    return reporting_pb2.SubmitIncidentReportRequest(payload=payload, signature=sig)


async def test_incident_reports_over_grpc(router: RunningRouter, connect: ClientFactory) -> None:
    a = connect("ballast://reporter/oracle-a")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await connect("ballast://reporter/ethereum").reporting.SubmitIncidentReport(
            submit(*report("oracle-a", "n1", UNIT))
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "not a registered oracle reporter" in (err.value.details() or "")
    payload, sig = report("oracle-a", "n1", UNIT)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.reporting.SubmitIncidentReport(submit(payload, KEYS["oracle-b"].sign(payload)))
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "signature" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await connect("ballast://reporter/oracle-gone").reporting.SubmitIncidentReport(
            submit(b"{}", b"\0" * 64)
        )
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "deactivated" in (err.value.details() or "")
    first = await a.reporting.SubmitIncidentReport(submit(payload, sig))
    assert first.state == common_pb2.INCIDENT_STATE_PENDING and not first.confirmed_now
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await a.reporting.SubmitIncidentReport(submit(payload, sig))
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "replayed" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:  # a partner may not report
        await connect("ballast://partner/acme").reporting.SubmitIncidentReport(submit(payload, sig))
    assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
    ops = connect("ballast://operator/alice")
    listed = await ops.treasury.ListIncidents(treasury_pb2.ListIncidentsRequest())
    [incident] = listed.incidents
    assert [a.kind for a in incident.alerts] == ["lone_report"]


async def test_claims_over_grpc(router: RunningRouter, connect: ClientFactory) -> None:
    store = router.store
    bound = await store.bind_cover(
        m.CoverRequest(
            "acme",
            "key-0001",
            "eth-main",
            "protocol",
            50_000 * UNIT,
            UNIT,
            NOW - timedelta(days=1),
            NOW + timedelta(days=29),
        )
    )
    cover = bound.cover
    await connect("ballast://reporter/oracle-a").reporting.SubmitIncidentReport(
        submit(*report("oracle-a", "n1", 80_000 * UNIT))
    )
    second = await connect("ballast://reporter/oracle-b").reporting.SubmitIncidentReport(
        submit(*report("oracle-b", "n1", 80_100 * UNIT))
    )
    assert second.confirmed_now and second.state == common_pb2.INCIDENT_STATE_CONFIRMED
    acme = connect("ballast://partner/acme")
    globex = connect("ballast://partner/globex")
    [claim] = (await acme.partner.ListClaims(partner_pb2.ListClaimsRequest())).claims
    assert claim.cover_id == cover.cover_id and claim.state == common_pb2.CLAIM_STATE_PAYING
    assert claim.approved.value == str(50_000 * UNIT)  # capped at the cover's limit
    assert (await globex.partner.ListClaims(partner_pb2.ListClaimsRequest())).claims == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await globex.partner.GetClaim(partner_pb2.GetClaimRequest(claim_id=claim.claim_id))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await globex.partner.FileClaim(
            partner_pb2.FileClaimRequest(
                cover_id=cover.cover_id,
                incident_id=second.incident_id,
                claimed_loss=common_pb2.Amount(asset="USDC", value="1"),
            )
        )
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    assert "only its holder may claim" in (err.value.details() or "")
    again = await acme.partner.FileClaim(
        partner_pb2.FileClaimRequest(
            cover_id=cover.cover_id,
            incident_id=second.incident_id,
            claimed_loss=common_pb2.Amount(asset="USDC", value="1"),
        )
    )
    assert not again.created and again.claim.claim_id == claim.claim_id
    got = await acme.partner.GetClaim(partner_pb2.GetClaimRequest(claim_id=claim.claim_id))
    [payment] = got.claim.payments
    assert payment.status == "pending" and payment.amount.value == str(50_000 * UNIT)
    ops = connect("ballast://operator/alice")
    payouts = await ops.treasury.ListPayouts(treasury_pb2.ListPayoutsRequest())
    assert [p.payment_id for p in payouts.payouts] == [payment.payment_id]
    all_claims = await ops.treasury.ListClaims(treasury_pb2.TreasuryServiceListClaimsRequest())
    assert [c.partner_id for c in all_claims.claims] == ["acme"]
    assert (await ops.treasury.ListRecoverables(treasury_pb2.ListRecoverablesRequest())) == (
        treasury_pb2.ListRecoverablesResponse()
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await ops.treasury.ResolveClaim(
            treasury_pb2.ResolveClaimRequest(
                claim_id=claim.claim_id,
                accepted_loss=common_pb2.Amount(asset="USDC", value="0"),
                reason="nothing disputed",
            )
        )
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as err:  # it has a payment
        await ops.treasury.RejectIncident(
            treasury_pb2.RejectIncidentRequest(incident_id=second.incident_id, reason="spam")
        )
    assert err.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    spam = await connect("ballast://reporter/oracle-c").reporting.SubmitIncidentReport(
        submit(*report("oracle-c", "n9", UNIT, deployment="other-dex"))
    )
    rejected = await ops.treasury.RejectIncident(
        treasury_pb2.RejectIncidentRequest(incident_id=spam.incident_id, reason="spam")
    )
    assert rejected.incident.state == common_pb2.INCIDENT_STATE_REJECTED


async def test_the_cli_views_print_what_the_router_holds(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    await router.store.bind_cover(
        m.CoverRequest(
            "acme",
            "key-0002",
            "eth-main",
            "protocol",
            7 * UNIT,
            UNIT,
            NOW - timedelta(days=1),
            NOW + timedelta(days=29),
        )
    )
    for name in ("oracle-a", "oracle-b"):
        await connect(f"ballast://reporter/{name}").reporting.SubmitIncidentReport(
            submit(*report(name, "n1", 5 * UNIT))
        )
    cfg = str(client_config(tmp_path, ca, router, "ballast://operator/alice", "alice"))
    [claim] = await router.store.list_claims()
    ran = await invoke("claims", "--config", cfg)
    assert ran.code == 0, ran.err
    assert claim.claim_id in ran.out and "paying" in ran.out and "5.000000 USDC" in ran.out
    ran = await invoke("incidents", "--config", cfg, "--state", "confirmed")
    assert ran.code == 0 and claim.incident_id in ran.out and "flash_loan" in ran.out
    ran = await invoke("payouts", "--config", cfg, "--raw")
    assert ran.code == 0 and str(5 * UNIT) in ran.out and "pending" in ran.out
    ran = await invoke("recoverables", "--config", cfg)
    assert ran.code == 0 and "Recoverables (0)" in ran.out
    ran = await invoke("claims", "--config", cfg, "--state", "nonsense")
    assert ran.code != 0 and len(ran.err_lines) == 1 and "--state must be one of" in ran.err

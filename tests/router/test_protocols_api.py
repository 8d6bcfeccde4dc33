"""Covered protocols, cover terms and pauses over the real gRPC API and the CLI:
operators manage the registry (`ballast protocols ...`) and pauses (`ballast
pause|resume|pauses`), the TVL reporter feeds readings, partners quote with
terms and see their premium explained, and every refusal is precise."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from router.agent.client import bind_request
from router.api.server import RunningRouter
from router.devtools.pki import TestCA
from tests.covers_support import terms_pb
from tests.router.cli_support import client_config, invoke
from tests.router.conftest import ClientFactory, report, send_batches

C = grpc.StatusCode
USDC = 10**6
ACME = "ballast://partner/acme"
ALICE = "ballast://operator/alice"


def usdc(n: int) -> common_pb2.Amount:
    return common_pb2.Amount(asset="USDC", value=str(n))


def quote_request(
    ctype: int = common_pb2.COVER_TYPE_PROTOCOL, amount: int = 1_000 * USDC, **terms: object
) -> partner_pb2.QuoteCoverRequest:
    return partner_pb2.QuoteCoverRequest(
        chain="ethereum",
        pool_id="eth-main",
        cover_type=ctype,  # type: ignore[arg-type]
        cover_amount=usdc(amount),
        period_days=90,
        terms=terms_pb(**terms),
    )


async def code_and_details(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), err.value.details() or ""


@pytest.fixture
async def funded(router: RunningRouter, connect: ClientFactory) -> RunningRouter:
    await send_batches(connect("ballast://reporter/ethereum"), [report("eth-main", 10**13, 5)])
    return router


async def test_the_quote_explains_its_premium_and_the_cover_keeps_its_terms(
    funded: RunningRouter, connect: ClientFactory
) -> None:
    acme = connect(ACME)
    q = (
        await acme.partner.QuoteCover(quote_request(amount=100_000 * USDC, deductible=1_000 * USDC))
    ).quote
    b = q.premium_breakdown
    parts = [b.pure_premium, b.cost_of_capital, b.fees, b.utilisation_surcharge]
    assert sum(int(p.value) for p in parts) == int(q.premium.value) > 0
    assert all(p.asset == "USDC" for p in parts)
    assert int(b.pure_premium.value) > 0 and b.incident_probability_ppm > 0
    assert list(q.terms.trigger_kinds) == ["exploit", "flash_loan", "upgrade_failure"]
    assert (q.terms.deployment_id, q.terms.deductible.value) == ("amm-ethereum", str(1_000 * USDC))
    assert q.terms.per_event_max.value == str(100_000 * USDC)  # unset: the limit
    bound = await acme.partner.BindCover(bind_request(q, "terms-bind-01"))
    assert bound.cover.terms.deductible.value == str(1_000 * USDC)
    listed = (await acme.partner.ListPositions(partner_pb2.ListPositionsRequest())).covers
    assert [c.terms.deployment_id for c in listed] == ["amm-ethereum"]
    assert list(listed[0].terms.trigger_kinds) == ["exploit", "flash_loan", "upgrade_failure"]


@pytest.mark.parametrize(
    ("request_", "code", "says"),
    [
        (quote_request(deployment_id="nope"), C.NOT_FOUND, "unknown deployment 'nope'"),
        (quote_request(deployment_id=""), C.INVALID_ARGUMENT, "terms.deployment_id"),
        (
            quote_request(amount=10**9 * USDC),  # 90 % of the 1bn TVL is the most
            C.FAILED_PRECONDITION,
            "capped at 900000000000000 (90 % of tvl)",
        ),
        (
            quote_request(common_pb2.COVER_TYPE_GOVERNANCE, amount=150_000_001 * USDC),
            C.FAILED_PRECONDITION,
            "30 % of governance_assets",
        ),
        (quote_request(deductible=1_000 * USDC), C.INVALID_ARGUMENT, "terms.deductible"),
        (quote_request(per_event_max=2_000 * USDC), C.INVALID_ARGUMENT, "terms.per_event_max"),
        (quote_request(common_pb2.COVER_TYPE_LIQUIDITY), C.INVALID_ARGUMENT, "insured value"),
        (
            quote_request(common_pb2.COVER_TYPE_POSITION, insured_value=10**4 * USDC),
            C.INVALID_ARGUMENT,
            "terms.position_ref",
        ),
        (quote_request(trigger_kinds=["exploit"]), C.INVALID_ARGUMENT, "terms.trigger_kinds"),
        (quote_request(1), C.INVALID_ARGUMENT, "cover_type"),  # the old SMART_CONTRACT code
    ],
)
async def test_refusals_name_what_is_wrong_and_write_nothing(
    funded: RunningRouter,
    connect: ClientFactory,
    request_: partner_pb2.QuoteCoverRequest,
    code: grpc.StatusCode,
    says: str,
) -> None:
    before = len(await funded.store.list_audit())
    got, details = await code_and_details(connect(ACME).partner.QuoteCover(request_))
    assert (got, says in details) == (code, True), details
    assert len(await funded.store.list_audit()) == before


async def test_operators_manage_the_registry_from_the_cli(
    funded: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    alice = str(client_config(tmp_path, ca, funded, ALICE, "alice"))
    ran = await invoke(
        "protocols", "add", "lend-ethereum", "--protocol", "lend", "--chain", "ethereum",
        "--address", "0x" + "44" * 20, "--tvl", str(2_000_000 * USDC), "--tvl-source",
        "defillama", "--incidents", "2", "--severity-bps", "1500", "--auditor", "Trail of Bits",
        "--last-audit", "2025-06-01T00:00:00+00:00", "-c", alice,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert "registered lend-ethereum" in ran.out and "2,000,000.000000 USDC" in ran.out
    assert "2 in 365 days, mean severity 15 % of TVL" in ran.out
    ran = await invoke("protocols", "list", "-c", alice)
    assert ran.code == 0, ran.err
    rows = [line.split()[0] for line in ran.out.splitlines() if line.endswith(("yes", "no"))]
    assert rows == ["amm-ethereum", "amm-solana", "lend-ethereum"]
    ran = await invoke("protocols", "show", "amm-ethereum", "-c", alice)
    assert ran.code == 0 and "same protocol      amm-solana" in ran.out
    ran = await invoke(
        "protocols", "set-tvl", "lend-ethereum", str(1_000_000 * USDC), "--source", "onchain",
        "-c", alice,
    )  # fmt: skip
    assert ran.code == 0 and "lend-ethereum: TVL 1,000,000.000000 USDC from onchain" in ran.out
    # The new TVL caps protocol cover at 900,000 on it.
    got, details = await code_and_details(
        connect(ACME).partner.QuoteCover(
            quote_request(amount=900_001 * USDC, deployment_id="lend-ethereum")
        )
    )
    assert got is C.FAILED_PRECONDITION and "capped at 900000000000" in details
    # A refusal is one line, exit 1; a partner cannot manage the registry.
    ran = await invoke("protocols", "show", "nope", "-c", alice)
    assert (ran.code, ran.err_lines) == (1, ["error: NOT_FOUND: unknown deployment 'nope'"])
    got, _ = await code_and_details(
        connect(ACME).treasury.ListDeployments(treasury_pb2.ListDeploymentsRequest())
    )
    assert got is C.PERMISSION_DENIED
    actions = [e.action for e in await funded.store.list_audit() if e.actor == ALICE]
    assert sorted(actions) == ["deployment_added", "deployment_tvl"]


async def test_a_pause_refuses_new_covers_until_resumed(
    funded: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    alice = str(client_config(tmp_path, ca, funded, ALICE, "alice"))
    acme = connect(ACME)
    oracle = quote_request(common_pb2.COVER_TYPE_ORACLE)
    taken = (await acme.partner.QuoteCover(oracle)).quote
    ran = await invoke("pause", "--cover-type", "oracle", "--reason", "feed incident", "-c", alice)
    assert ran.code == 0, ran.err
    assert ran.out.strip() == (
        "cover type oracle paused: no new quotes or binds (it was not paused); "
        "reason recorded: feed incident"
    )
    got, details = await code_and_details(acme.partner.QuoteCover(oracle))
    assert got is C.FAILED_PRECONDITION and "cover type oracle is paused" in details
    got, details = await code_and_details(acme.partner.BindCover(bind_request(taken, "pause-0001")))
    assert got is C.FAILED_PRECONDITION and "cover type oracle is paused" in details
    await acme.partner.QuoteCover(quote_request())  # protocol cover is not paused
    ran = await invoke("pause", "--pool", "eth-main", "--reason", "maintenance", "-c", alice)
    assert ran.code == 0, ran.err
    got, details = await code_and_details(acme.partner.QuoteCover(quote_request()))
    assert got is C.FAILED_PRECONDITION and "pool eth-main is paused" in details
    ran = await invoke("pauses", "-c", alice)
    assert "cover type oracle" in ran.out and "pool eth-main" in ran.out and ALICE in ran.out
    for args in (["--cover-type", "oracle"], ["--pool", "eth-main"]):
        ran = await invoke("resume", *args, "--reason", "resolved", "-c", alice)
        assert ran.code == 0 and "(it was paused)" in ran.out
    assert (await acme.partner.BindCover(bind_request(taken, "pause-0001"))).created
    ran = await invoke("pause", "--reason", "x", "-c", alice)
    assert ran.code == 2 and "--cover-type TYPE or --pool POOL" in ran.err
    actions = [e.action for e in await funded.store.list_audit() if e.actor == ALICE]
    assert sorted(actions) == ["paused", "paused", "resumed", "resumed"]


async def test_the_tvl_reporter_feeds_its_chain_s_deployments(
    router: RunningRouter, connect: ClientFactory
) -> None:
    eth = connect("ballast://reporter/ethereum")

    def reading(deployment: str, tvl: int, seconds: int) -> reporting_pb2.ReportTvlRequest:
        return reporting_pb2.ReportTvlRequest(
            deployment_id=deployment,
            tvl=usdc(tvl),
            source="onchain",
            as_of=Timestamp(seconds=seconds),
        )

    import time

    now = int(time.time()) + 2  # after the seed's reading (the router's start)
    assert (await eth.reporting.ReportTvl(reading("amm-ethereum", 5 * USDC, now))).applied
    assert not (await eth.reporting.ReportTvl(reading("amm-ethereum", 9 * USDC, now - 60))).applied
    assert (await router.store.get_deployment("amm-ethereum")).tvl == 5 * USDC
    got, details = await code_and_details(eth.reporting.ReportTvl(reading("amm-solana", 1, now)))
    assert got is C.PERMISSION_DENIED and "not for deployment amm-solana" in details
    got, _ = await code_and_details(eth.reporting.ReportTvl(reading("amm-ethereum", 1, now + 3600)))
    assert got is C.INVALID_ARGUMENT
    no_time = reporting_pb2.ReportTvlRequest(deployment_id="amm-ethereum", tvl=usdc(1), source="x")
    got, details = await code_and_details(eth.reporting.ReportTvl(no_time))
    assert got is C.INVALID_ARGUMENT and "as_of" in details
    # Only reporters feed TVL this way: a partner is refused at the door.
    got, _ = await code_and_details(
        connect(ACME).reporting.ReportTvl(reading("amm-ethereum", 1, now))
    )
    assert got is C.PERMISSION_DENIED

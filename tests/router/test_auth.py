"""The authorisation matrix, token mode, and identity parsing."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from pydantic import SecretStr

from router.agent.client import RouterClient
from router.api import auth
from router.api.server import RunningRouter, running_router
from router.devtools.pki import TestCA
from router.errors import Unauthenticated
from tests.covers_support import terms_pb
from tests.router.conftest import ClientFactory, make_settings, report, send_batches

SECRET = SecretStr("a-local-secret-of-32-bytes-000000")


def usdc(n: int) -> common_pb2.Amount:
    return common_pb2.Amount(asset="USDC", value=str(n))


async def code_of(call: object) -> grpc.StatusCode:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


async def test_no_client_certificate_is_refused(connect: ClientFactory) -> None:
    anon = connect(None)
    code = await code_of(anon.treasury.GetPosition(treasury_pb2.GetPositionRequest(), timeout=10))
    assert code == grpc.StatusCode.UNAVAILABLE  # the TLS handshake itself fails


async def test_certificate_from_another_ca_is_refused(router: RunningRouter, ca: TestCA) -> None:
    rogue = TestCA("rogue")
    pair = rogue.client("ballast://operator/alice")
    async with RouterClient.mtls(
        router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
    ) as c:
        code = await code_of(c.treasury.GetPosition(treasury_pb2.GetPositionRequest(), timeout=10))
    assert code == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("uri", "service"),
    [
        ("ballast://partner/acme", "treasury"),
        ("ballast://reporter/ethereum", "treasury"),
        ("ballast://operator/alice", "partner"),
        ("ballast://reporter/ethereum", "partner"),
    ],
)
async def test_role_may_not_call_another_roles_service(
    connect: ClientFactory, uri: str, service: str
) -> None:
    c = connect(uri)
    if service == "treasury":
        call = c.treasury.ListPlans(treasury_pb2.ListPlansRequest())
    else:
        call = c.partner.ListPositions(partner_pb2.ListPositionsRequest())
    assert await code_of(call) == grpc.StatusCode.PERMISSION_DENIED


async def test_partner_may_not_stream_reports(connect: ClientFactory) -> None:
    acme = connect("ballast://partner/acme")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await send_batches(acme, [report("eth-main", 1, 1)])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_unregistered_partner_and_malformed_identity(connect: ClientFactory) -> None:
    ghost = connect("ballast://partner/ghost")
    code = await code_of(ghost.partner.ListPositions(partner_pb2.ListPositionsRequest()))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    odd = connect("spiffe://example/partner/acme")
    code = await code_of(odd.partner.ListPositions(partner_pb2.ListPositionsRequest()))
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_reporter_for_another_chain_changes_nothing(
    router: RunningRouter, connect: ClientFactory
) -> None:
    sol = connect("ballast://reporter/solana")
    acks = await send_batches(sol, [report("eth-main", 123, 7)])
    assert acks[0].accepted == 0 and acks[0].rejected == 1
    assert acks[0].rejections[0].reason == reporting_pb2.REJECT_REASON_REPORTER_NOT_ALLOWED
    assert await router.store.latest_balance("eth-main") is None


async def test_another_partners_quote_is_not_found(connect: ClientFactory) -> None:
    await send_batches(connect("ballast://reporter/ethereum"), [report("eth-main", 10**12, 5)])
    acme, globex = connect("ballast://partner/acme"), connect("ballast://partner/globex")
    q = (
        await acme.partner.QuoteCover(
            partner_pb2.QuoteCoverRequest(
                terms=terms_pb(),
                chain="ethereum",
                pool_id="eth-main",
                cover_type=common_pb2.COVER_TYPE_GOVERNANCE,
                cover_amount=usdc(10**9),
                period_days=10,
            )
        )
    ).quote
    steal = partner_pb2.BindCoverRequest(
        idempotency_key="steal-0001",
        quote_id=q.quote_id,
        chain="ethereum",
        pool_id="eth-main",
        cover_type=q.cover_type,
        cover_amount=q.cover_amount,
        period_days=10,
        terms=terms_pb(),
    )
    assert await code_of(globex.partner.BindCover(steal)) == grpc.StatusCode.NOT_FOUND
    mine = await globex.partner.ListPositions(partner_pb2.ListPositionsRequest())
    assert list(mine.covers) == []


async def test_token_mode(server_files: dict[str, Path], tmp_path: Path) -> None:
    settings = make_settings(
        server_files,
        tmp_path / "t.db",
        tls=None,
        auth={"mode": "token", "token_secret": SECRET},
    )
    signer = auth.TokenSigner(SECRET)
    forger = auth.TokenSigner(SecretStr("another-secret-entirely-0000000"))
    operator = auth.Identity(auth.Role.OPERATOR, "alice")
    async with running_router(settings) as r:
        good = RouterClient.token(r.address, signer.issue(operator))
        forged = RouterClient.token(r.address, forger.issue(operator))
        expired = RouterClient.token(r.address, signer.issue(operator, ttl_seconds=-10))
        partner = RouterClient.token(
            r.address, signer.issue(auth.Identity(auth.Role.PARTNER, "acme"))
        )
        try:
            ok = await good.treasury.ListPlans(treasury_pb2.ListPlansRequest())
            assert list(ok.plans) == []
            for c in (forged, expired):
                code = await code_of(c.treasury.ListPlans(treasury_pb2.ListPlansRequest()))
                assert code == grpc.StatusCode.UNAUTHENTICATED
            code = await code_of(partner.treasury.ListPlans(treasury_pb2.ListPlansRequest()))
            assert code == grpc.StatusCode.PERMISSION_DENIED
        finally:
            for c in (good, forged, expired, partner):
                await c.close()


def test_identity_parsing() -> None:
    rep = auth.parse_identity("ballast://reporter/ethereum/node-a")
    assert (rep.role, rep.name, rep.chain) == (auth.Role.REPORTER, "ethereum/node-a", "ethereum")
    assert auth.parse_identity("ballast://partner/acme").chain is None
    for bad in ("ballast://admin/root", "ballast://partner/a/b", "ballast://partner/", "acme"):
        with pytest.raises(Unauthenticated):
            auth.parse_identity(bad)


def test_token_secret_never_shows(server_files: dict[str, Path], tmp_path: Path) -> None:
    settings = make_settings(
        server_files, tmp_path / "t.db", tls=None, auth={"mode": "token", "token_secret": SECRET}
    )
    secret = SECRET.get_secret_value()
    assert secret not in repr(settings)
    assert secret not in settings.model_dump_json()

"""Offboarding over real gRPC + mTLS: deactivated partners and reporters, revoked
certificates, on every replica at once; refusals are precise and write nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2

from router.agent.client import RouterClient
from router.api.server import RunningRouter, running_router
from router.app.access import fingerprint_of
from router.devtools.pki import TestCA
from router.store import open_store
from tests.covers_support import terms_pb
from tests.router.conftest import make_settings, report

C = grpc.StatusCode
QUOTE = partner_pb2.QuoteCoverRequest(
    terms=terms_pb(),
    chain="ethereum",
    pool_id="eth-main",
    cover_type=common_pb2.COVER_TYPE_ORACLE,
    cover_amount=common_pb2.Amount(asset="USDC", value="1000000"),
    period_days=30,
)


def client(r: RunningRouter, ca: TestCA, uri: str) -> RouterClient:
    pair = ca.client(uri)
    return RouterClient.mtls(
        r.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
    )


async def code_of(call: object) -> C:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as err:
        return err.code()
    return C.OK


@pytest.fixture
async def two_replicas(
    server_files: dict[str, Path], tmp_path: Path
) -> AsyncIterator[tuple[RunningRouter, RunningRouter]]:
    """Two routers on one database file: what one does, the other enforces at once."""
    settings = make_settings(server_files, tmp_path / "shared.db")
    async with running_router(settings) as one:
        # The second replica opens its own engine on the same file.
        store = await open_store(settings.database_url, cache_ttl=60.0)
        try:
            async with running_router(settings, store=store) as two:
                yield one, two
        finally:
            await store.aclose()


async def test_a_deactivated_partner_is_refused_on_every_replica_at_once(
    two_replicas: tuple[RunningRouter, RunningRouter], ca: TestCA
) -> None:
    one, two = two_replicas
    rep = client(one, ca, "ballast://reporter/ethereum")
    op = client(one, ca, "ballast://operator/alice")
    acme_one = client(one, ca, "ballast://partner/acme")
    acme_two = client(two, ca, "ballast://partner/acme")
    try:
        ack = [
            a async for a in rep.reporting.StreamReports(_batches([report("eth-main", 10**12, 7)]))
        ]
        assert ack[0].confirmed == 1
        assert await code_of(acme_two.partner.QuoteCover(QUOTE)) == C.OK
        resp = await op.treasury.SetPartnerActive(
            treasury_pb2.SetPartnerActiveRequest(
                partner_id="acme", active=False, reason="offboarded"
            )
        )
        assert resp.was_active is True
        quotes = await rows(one, "quotes")
        for c in (acme_one, acme_two):
            assert await code_of(c.partner.QuoteCover(QUOTE)) == C.PERMISSION_DENIED
            assert (
                await code_of(c.partner.ListPositions(partner_pb2.ListPositionsRequest()))
                == C.PERMISSION_DENIED
            )
        assert await rows(one, "quotes") == quotes  # refused: nothing written
        entries = await one.store.list_audit("partner:acme")
        assert [e.action for e in entries] == ["partner_deactivated"]
        assert entries[0].actor == "ballast://operator/alice"
        await op.treasury.SetPartnerActive(
            treasury_pb2.SetPartnerActiveRequest(partner_id="acme", active=True, reason="back")
        )
        assert await code_of(acme_two.partner.QuoteCover(QUOTE)) == C.OK
    finally:
        for c in (rep, op, acme_one, acme_two):
            await c.close()


async def rows(router: RunningRouter, table: str) -> int:
    async with router.store.engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def _batches(
    *batches: list[reporting_pb2.BalanceReport],
) -> AsyncIterator[reporting_pb2.StreamReportsRequest]:
    for i, b in enumerate(batches):
        yield reporting_pb2.StreamReportsRequest(batch_id=f"b{i}", reports=b)


async def test_a_deactivated_reporter_is_stopped_at_its_next_batch_on_an_open_stream(
    two_replicas: tuple[RunningRouter, RunningRouter], ca: TestCA
) -> None:
    one, two = two_replicas
    rep = client(two, ca, "ballast://reporter/ethereum")
    op = client(one, ca, "ballast://operator/alice")
    try:
        call = rep.reporting.StreamReports()
        await call.write(
            reporting_pb2.StreamReportsRequest(
                batch_id="first", reports=[report("eth-main", 10**12, 7)]
            )
        )
        first = await call.read()
        assert first.confirmed == 1
        await op.treasury.SetReporterActive(
            treasury_pb2.SetReporterActiveRequest(
                reporter_id="ethereum", active=False, reason="key leak"
            )
        )
        await call.write(
            reporting_pb2.StreamReportsRequest(
                batch_id="second", reports=[report("eth-main", 1, 8)]
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call.read()
        assert err.value.code() == C.PERMISSION_DENIED
        assert "deactivated" in (err.value.details() or "")
        bal = await one.store.latest_balance("eth-main")
        assert bal is not None and (bal.block_number, bal.amount) == (7, 10**12)
    finally:
        await rep.close()
        await op.close()


async def test_a_revoked_certificate_is_refused_everywhere_and_listed(
    two_replicas: tuple[RunningRouter, RunningRouter], ca: TestCA
) -> None:
    one, two = two_replicas
    stolen = ca.client("ballast://partner/acme")
    fresh = ca.client("ballast://partner/acme")
    op = client(one, ca, "ballast://operator/alice")
    thief = [
        RouterClient.mtls(
            r.address, ca_pem=ca.cert_pem, cert_pem=stolen.cert_pem, key_pem=stolen.key_pem
        )
        for r in (one, two)
    ]
    owner = RouterClient.mtls(
        two.address, ca_pem=ca.cert_pem, cert_pem=fresh.cert_pem, key_pem=fresh.key_pem
    )
    try:
        assert (
            await code_of(thief[1].partner.ListPositions(partner_pb2.ListPositionsRequest()))
            == C.OK
        )
        resp = await op.treasury.RevokeCertificate(
            treasury_pb2.RevokeCertificateRequest(
                pem=stolen.cert_pem.decode(), reason="laptop stolen"
            )
        )
        assert resp.revocation.fingerprint == fingerprint_of(stolen.cert_pem)
        assert resp.revocation.identity == "ballast://partner/acme"
        quotes = await rows(one, "quotes")
        for c in thief:
            assert (
                await code_of(c.partner.ListPositions(partner_pb2.ListPositionsRequest()))
                == C.UNAUTHENTICATED
            )
            assert await code_of(c.partner.QuoteCover(QUOTE)) == C.UNAUTHENTICATED
        assert await rows(one, "quotes") == quotes  # refused: nothing written
        # The partner itself, with a new certificate, carries on.
        assert (
            await code_of(owner.partner.ListPositions(partner_pb2.ListPositionsRequest())) == C.OK
        )
        # Revoking again keeps the first record.
        again = await op.treasury.RevokeCertificate(
            treasury_pb2.RevokeCertificateRequest(
                fingerprint=resp.revocation.fingerprint, reason="again"
            )
        )
        assert again.revocation.reason == "laptop stolen"
        listed = await op.treasury.ListRevocations(treasury_pb2.ListRevocationsRequest())
        assert [r.fingerprint for r in listed.revocations] == [resp.revocation.fingerprint]
    finally:
        for c in (*thief, owner, op):
            await c.close()


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (
            treasury_pb2.SetPartnerActiveRequest(partner_id="nobody", active=False, reason="x"),
            C.NOT_FOUND,
        ),
        (
            treasury_pb2.SetPartnerActiveRequest(partner_id="acme", active=False, reason=""),
            C.INVALID_ARGUMENT,
        ),
        (
            treasury_pb2.SetPartnerActiveRequest(partner_id="ACME!", active=False, reason="x"),
            C.INVALID_ARGUMENT,
        ),
        (
            treasury_pb2.SetReporterActiveRequest(reporter_id="nobody", active=False, reason="x"),
            C.NOT_FOUND,
        ),
        (
            treasury_pb2.SetReporterActiveRequest(reporter_id="a/b/c", active=False, reason="x"),
            C.INVALID_ARGUMENT,
        ),
        (
            treasury_pb2.RevokeCertificateRequest(fingerprint="ab" * 31, reason="x"),
            C.INVALID_ARGUMENT,
        ),
        (
            treasury_pb2.RevokeCertificateRequest(pem="not a certificate", reason="x"),
            C.INVALID_ARGUMENT,
        ),
        (treasury_pb2.RevokeCertificateRequest(reason="x"), C.INVALID_ARGUMENT),
    ],
)
async def test_bad_offboarding_requests_are_refused_and_write_nothing(
    two_replicas: tuple[RunningRouter, RunningRouter], ca: TestCA, request_: object, code: C
) -> None:
    one, _ = two_replicas
    op = client(one, ca, "ballast://operator/alice")
    method = {
        treasury_pb2.SetPartnerActiveRequest: op.treasury.SetPartnerActive,
        treasury_pb2.SetReporterActiveRequest: op.treasury.SetReporterActive,
        treasury_pb2.RevokeCertificateRequest: op.treasury.RevokeCertificate,
    }[type(request_)]
    try:
        assert await code_of(method(request_)) == code
        assert await one.store.list_audit() == []
        assert await one.store.list_revocations() == []
        assert all(p.active for p in await one.store.list_partners())
    finally:
        await op.close()


async def test_partners_and_reporters_removed_from_config_are_deactivated(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    db = tmp_path / "cfg.db"
    async with running_router(make_settings(server_files, db)):
        pass
    fewer = make_settings(
        server_files,
        db,
        partners=[{"partner_id": "acme"}],
        reporters=[
            {"reporter_id": "ethereum", "chain": "ethereum"},
            {"reporter_id": "solana", "chain": "solana", "active": False},
        ],
    )
    async with running_router(fewer) as r:
        globex = client(r, ca, "ballast://partner/globex")
        sol = client(r, ca, "ballast://reporter/solana")
        try:
            assert (
                await code_of(globex.partner.ListPositions(partner_pb2.ListPositionsRequest()))
                == C.PERMISSION_DENIED
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                [
                    a
                    async for a in sol.reporting.StreamReports(
                        _batches([report("sol-main", 1, 1, chain="solana")])
                    )
                ]
            assert err.value.code() == C.PERMISSION_DENIED
        finally:
            await globex.close()
            await sol.close()
        flags = {p.partner_id: p.active for p in await r.store.list_partners()}
        assert flags == {"acme": True, "globex": False}

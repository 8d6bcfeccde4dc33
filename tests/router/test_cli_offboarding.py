"""Offboarding from the CLI, end to end: an operator deactivates a partner or a
reporter, or revokes a certificate, and the very next call of that party is
refused by the live router on 127.0.0.1. Refusals go through the installed
entry point; the rest runs the same commands in this process."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2

from router.agent.client import RouterClient
from router.api.server import RunningRouter
from router.app.access import fingerprint_of
from router.devtools.pki import TestCA
from tests.covers_support import terms_pb
from tests.router.cli_support import ballast, client_config, invoke
from tests.router.conftest import ClientFactory, report, send_batches

C = grpc.StatusCode


def quote_request() -> partner_pb2.QuoteCoverRequest:
    return partner_pb2.QuoteCoverRequest(
        terms=terms_pb(),
        chain="ethereum",
        pool_id="eth-main",
        cover_type=common_pb2.COVER_TYPE_GOVERNANCE,
        cover_amount=common_pb2.Amount(asset="USDC", value=str(10**9)),
        period_days=10,
    )


@pytest.fixture
async def funded(router: RunningRouter, connect: ClientFactory) -> RunningRouter:
    await send_batches(connect("ballast://reporter/ethereum"), [report("eth-main", 10**13, 5)])
    return router


async def test_partner_deactivate_refuses_its_next_call_and_activate_restores_it(
    funded: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    alice = client_config(tmp_path, ca, funded, "ballast://operator/alice", "alice")
    acme = connect("ballast://partner/acme")
    await acme.partner.QuoteCover(quote_request())  # works before

    reason = "contract ended [bold]2026[/bold]"  # shown as typed, never as markup
    ran = await invoke("partner", "deactivate", "acme", "--reason", reason, "-c", str(alice))
    assert ran.code == 0, ran.err
    assert (
        ran.out.strip()
        == f"partner acme is now inactive (it was active); reason recorded: {reason}"
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await acme.partner.QuoteCover(quote_request())  # the same open channel
    assert err.value.code() == C.PERMISSION_DENIED

    again = await invoke("partner", "deactivate", "acme", "--reason", "twice", "-c", str(alice))
    assert again.code == 0 and "it was already inactive" in again.out

    ran = await invoke("partner", "activate", "acme", "--reason", "renewed", "-c", str(alice))
    assert ran.code == 0 and "now active (it was inactive)" in ran.out
    await acme.partner.QuoteCover(quote_request())

    audit = [e.action for e in await funded.store.list_audit()]
    assert audit.count("partner_deactivated") == 2 and "partner_activated" in audit


async def test_reporter_deactivate_refuses_its_next_batch(
    router: RunningRouter, connect: ClientFactory, ca: TestCA, tmp_path: Path
) -> None:
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    eth = connect("ballast://reporter/ethereum")
    acks = await send_batches(eth, [report("eth-main", 10**12, 7)])
    assert acks[0].accepted == 1

    ran = await invoke(
        "reporter", "deactivate", "ethereum", "--reason", "node retired", "-c", str(alice)
    )
    assert ran.code == 0, ran.err
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await send_batches(eth, [report("eth-main", 2 * 10**12, 8)])
    assert err.value.code() == C.PERMISSION_DENIED
    assert (await router.store.latest_balance("eth-main")).amount == 10**12  # type: ignore[union-attr]

    ran = await invoke("reporter", "activate", "ethereum", "--reason", "back", "-c", str(alice))
    assert ran.code == 0, ran.err
    acks = await send_batches(eth, [report("eth-main", 3 * 10**12, 9)])
    assert acks[0].accepted == 1


async def test_revoke_cert_refuses_the_next_call_of_that_certificate(
    funded: RunningRouter, ca: TestCA, tmp_path: Path
) -> None:
    alice = client_config(tmp_path, ca, funded, "ballast://operator/alice", "alice")
    files = ca.write(tmp_path / "acme", {"acme": ca.client("ballast://partner/acme")})
    cert, key = files["acme"]
    async with RouterClient.mtls(
        funded.address, ca_pem=ca.cert_pem, cert_pem=cert.read_bytes(), key_pem=key.read_bytes()
    ) as acme:
        await acme.partner.QuoteCover(quote_request())

        refused = await invoke("revoke-cert", str(key), "--reason", "leaked", "-c", str(alice))
        assert refused.code == 2 and "no PEM certificate" in refused.err  # the key never leaves

        ran = await invoke("revoke-cert", str(cert), "--reason", "key leaked", "-c", str(alice))
        assert ran.code == 0, ran.err
        fingerprint = fingerprint_of(cert.read_bytes())
        assert fingerprint in ran.out and "ballast://partner/acme" in ran.out

        with pytest.raises(grpc.aio.AioRpcError) as err:
            await acme.partner.QuoteCover(quote_request())
        assert err.value.code() == C.UNAUTHENTICATED

    # Another certificate for the same partner still works: the certificate is revoked.
    fresh = ca.client("ballast://partner/acme")
    async with RouterClient.mtls(
        funded.address, ca_pem=ca.cert_pem, cert_pem=fresh.cert_pem, key_pem=fresh.key_pem
    ) as acme2:
        await acme2.partner.QuoteCover(quote_request())

    listed = await invoke("revocations", "-c", str(alice))
    assert listed.code == 0, listed.err
    row = next(line for line in listed.out.splitlines() if line.startswith(fingerprint))
    assert "ballast://partner/acme" in row and "operator/alice" in row and "key leaked" in row

    by_fp = await invoke(
        "revoke-cert", "--fingerprint", "ab" * 32, "--reason", "lost laptop", "-c", str(alice)
    )
    assert by_fp.code == 0, by_fp.err
    listed = await invoke("revocations", "-c", str(alice))
    assert "Revoked certificates (2)" in listed.out


async def test_offboarding_refusals_are_one_line_with_exit_1(
    router: RunningRouter, ca: TestCA, tmp_path: Path
) -> None:
    alice = client_config(tmp_path, ca, router, "ballast://operator/alice", "alice")
    ran = await ballast("partner", "deactivate", "nobody", "--reason", "x", "-c", str(alice))
    assert ran.code == 1 and ran.err.count("\n") == 1 and "NOT_FOUND" in ran.err
    ran = await ballast("partner", "deactivate", "acme", "--reason", "", "-c", str(alice))
    assert ran.code == 1 and "INVALID_ARGUMENT" in ran.err and "reason" in ran.err
    ran = await ballast("revoke-cert", "--reason", "x", "-c", str(alice))
    assert ran.code == 2 and "one of the two" in ran.err
    acme = client_config(tmp_path, ca, router, "ballast://partner/acme", "acme")
    ran = await ballast("partner", "deactivate", "globex", "--reason", "x", "-c", str(acme))
    assert ran.code == 1 and "PERMISSION_DENIED" in ran.err
    assert [p.active for p in await router.store.list_partners()] == [True, True]

"""Governed terms over the real gRPC API: with ``[governance]``, a quote and a bind
say which on-chain terms they used (block, version, PoolTerms contract), a pool
without governed terms says 0, and the governance pause refuses a quote with
FAILED_PRECONDITION naming it. The terms live in a real PoolTerms on the
embedded chain (its "timelock" a test account, so a change is one transaction;
the vote path is tests/app/test_governed_covers.py)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2

from chains.embedded.evm import EmbeddedChainSpec, start_chain
from chains.evm_config import Confirmations
from chains.evm_governance import CoverType, EvmTermsReader
from router.agent.client import bind_request
from router.api.server import running_router
from router.devtools.pki import TestCA
from router.store.treasury import COVER_TERMS
from tests.covers_support import terms_pb
from tests.router.conftest import make_settings, report, send_batches
from tests.router.test_protocols_api import ACME, USDC, usdc

COVERED = "0x" + "33" * 20  # the amm deployments' address


def quote(pool: str, chain: str, amount: int) -> partner_pb2.QuoteCoverRequest:
    return partner_pb2.QuoteCoverRequest(
        chain=chain,
        pool_id=pool,
        cover_type=common_pb2.COVER_TYPE_PROTOCOL,
        cover_amount=usdc(amount),
        period_days=90,
        terms=terms_pb(deployment_id="amm-ethereum"),
    )


async def test_quotes_and_binds_name_the_governed_terms_they_used(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    from router.agent.client import RouterClient

    chain = await start_chain(EmbeddedChainSpec("governed-api", 32_000_023))
    admin = chain.admin
    terms = chain.deploy(
        "PoolTerms",
        ["address", "address", "address", "uint64"],
        [admin.address, chain.operator.address, chain.attester.address, 3_600],
    )
    abi = chain.abi("PoolTerms")

    def change(fn: str, *args: object) -> None:
        chain.transact(admin, terms, abi.fn(fn).encode(*args))

    change("setCoverageLimit", int(CoverType.PROTOCOL), 5_000 * USDC)
    change("addCoveredContract", COVERED)
    gov = {
        "chain": "ethereum",
        "token": "0x" + "01" * 20,
        "timelock": admin.address,
        "governor": "0x" + "02" * 20,
        "terms": {"eth-main": terms},
        "max_terms_age_seconds": 0.001,  # every quote reads the terms again
    }
    settings = make_settings(server_files, tmp_path / "router.db", governance=gov)
    source = EvmTermsReader(chain.endpoint, Confirmations(0))
    async with running_router(settings, terms_source=source) as router:
        pair = ca.client(ACME)
        acme = RouterClient.mtls(
            router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
        )
        reporter = ca.client("ballast://reporter/ethereum")
        rep = RouterClient.mtls(
            router.address,
            ca_pem=ca.cert_pem,
            cert_pem=reporter.cert_pem,
            key_pem=reporter.key_pem,
        )
        try:
            await send_batches(rep, [report("eth-main", 10**13, 5), report("eth-alt", 10**13, 5)])
            q = await acme.partner.QuoteCover(quote("eth-main", "ethereum", 1_000 * USDC))
            assert (q.terms_contract, q.terms_version) == (terms, 2) and q.terms_block_number > 0
            b = await acme.partner.BindCover(bind_request(q.quote, "gov-api-bind-1"))
            assert (b.terms_contract, b.terms_version, b.terms_block_number) == (
                terms, 2, q.terms_block_number)  # fmt: skip
            ungoverned = await acme.partner.QuoteCover(quote("eth-alt", "ethereum", USDC))
            assert (ungoverned.terms_contract, ungoverned.terms_block_number) == ("", 0)
            with pytest.raises(grpc.aio.AioRpcError) as over:
                await acme.partner.QuoteCover(quote("eth-main", "ethereum", 6_000 * USDC))
            assert over.value.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert "governed protocol coverage limit" in (over.value.details() or "")

            change("setPaused", True)
            with pytest.raises(grpc.aio.AioRpcError) as paused:
                await acme.partner.QuoteCover(quote("eth-main", "ethereum", USDC))
            assert paused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert "pool eth-main is paused by governance" in (paused.value.details() or "")
            # The bound cover's terms are as stored at bind.
            replay = await acme.partner.BindCover(bind_request(q.quote, "gov-api-bind-1"))
            assert not replay.created and replay.terms_version == 2
        finally:
            await acme.close()
            await rep.close()
        async with router.store.engine.connect() as conn:
            rows = (await conn.execute(COVER_TERMS.select())).all()
        assert len(rows) == 1

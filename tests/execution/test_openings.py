"""A bind with a holder and a payer opens the cover on chain through the opening
saga (embedded EVM chain, real Temporal dev server): the premium arrives in the
pool, the capital is locked, the certificate goes to the holder; a second start
does nothing more; a payer that did not approve the premium leaves the opening
FAILED with the chain's reason, nothing moved, and claims on it refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from ballast.v1 import common_pb2, partner_pb2
from eth_account import Account

from router import domain as m
from router.app.openings import Openings, check_open_on_chain
from router.config import ExecutionConfig
from router.domain.incidents import IncidentKind
from router.domain.openings import OpeningStatus, chain_cover_id
from router.errors import ClaimRefused
from router.execution.openings import OpeningOutcome, opening_workflow_id
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from tests.execution.case_harness import PREMIUM, UNIT, World, case_world

QUEUE = "openings"


async def _bind(w: World, openings: Openings, key: str, payer: str) -> tuple[m.Cover, str]:
    """A bind as BindCover makes it: the cover and its opening in one transaction."""
    holder = Account.create().address
    async with w.store.unit_of_work():
        cover = (
            await w.store.bind_cover(
                m.CoverRequest(
                    "acme",
                    key,
                    w.pool.pool_id,
                    "protocol",
                    100_000 * UNIT,
                    PREMIUM,
                    w.now - timedelta(days=1),
                    w.now + timedelta(days=89),
                    deployment_id="amm-ethereum",
                )
            )
        ).cover
        await openings.record(cover, holder, payer)
    return cover, holder


async def _outcome(w: World, cover_id: str) -> OpeningOutcome:
    handle = w.client.get_workflow_handle(opening_workflow_id(cover_id), result_type=OpeningOutcome)
    return await asyncio.wait_for(handle.result(), 120)


async def test_bind_opens_cover_on_chain_once(temporal_server: DevServer, tmp_path: Path) -> None:
    async with case_world(tmp_path, temporal_server, QUEUE) as w:
        starter = TemporalStarter(w.client, QUEUE, ExecutionConfig())
        openings = Openings(w.store, starter)
        payer = await w.eth.new_payer(w.pool.address, PREMIUM)
        cover, holder = await _bind(w, openings, "open-ok-1", payer)
        pool_before = await w.eth.token_balance(w.pool.address)
        opening = await openings.start(cover.cover_id)
        assert opening is not None and opening.status is OpeningStatus.OPENING
        done = await _outcome(w, cover.cover_id)
        assert done.status == "open" and done.tx_ref
        cid = chain_cover_id(cover.cover_id)
        state = await w.eth.adapter.cover_state(w.pool, cid)
        assert (
            state is not None
            and state.limit == cover.limit_amount
            and state.locked == cover.limit_amount
        )
        assert await w.eth.adapter.certificate_holder(w.pool, cid) == holder
        assert await w.eth.token_balance(payer) == 0  # the whole premium was pulled
        stored = await w.store.get_opening(cover.cover_id)
        assert stored.status is OpeningStatus.OPEN
        assert stored.tx_ref == done.tx_ref and stored.certificate_holder == holder
        await check_open_on_chain(w.store, cover.cover_id)  # claimable now
        # A second start of the saga does nothing more.
        pool_after = await w.eth.token_balance(w.pool.address)
        assert pool_after == pool_before + PREMIUM
        assert await starter.start_opening(cover.cover_id) is False
        assert await openings.reconcile() == 0
        assert await openings.start(cover.cover_id) is not None  # a replayed bind: no start
        assert await w.eth.token_balance(w.pool.address) == pool_after
        assert len(await w.store.attempts(cid)) == 1


async def test_unapproved_premium_fails_and_moves_nothing(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    async with case_world(tmp_path, temporal_server, QUEUE + "-f") as w:
        starter = TemporalStarter(w.client, QUEUE + "-f", ExecutionConfig())
        openings = Openings(w.store, starter)
        payer = await w.eth.new_payer(w.pool.address, PREMIUM, approve=0)
        pool_before = await w.eth.token_balance(w.pool.address)
        cover, _ = await _bind(w, openings, "open-bad-1", payer)
        assert await openings.reconcile() == 1  # a start lost after the commit: started now
        done = await _outcome(w, cover.cover_id)
        assert done.status == "failed" and done.detail
        stored = await w.store.get_opening(cover.cover_id)
        assert stored.status is OpeningStatus.FAILED and stored.detail == done.detail
        assert stored.certificate_holder == ""
        cid = chain_cover_id(cover.cover_id)
        assert await w.eth.adapter.cover_state(w.pool, cid) is None
        assert await w.eth.token_balance(w.pool.address) == pool_before
        assert await w.eth.token_balance(payer) == PREMIUM
        with pytest.raises(ClaimRefused, match=f"cover {cover.cover_id} is not open on chain"):
            await check_open_on_chain(w.store, cover.cover_id)
        # A confirmed incident on its deployment opens no claim on it; filing one is refused.
        loss = 10_000 * UNIT
        await w.report("oracle-a", "amm-ethereum", IncidentKind.FLASH_LOAN, loss)
        second = await w.report("oracle-b", "amm-ethereum", IncidentKind.FLASH_LOAN, loss)
        assert second.confirmed_now
        assert await w.store.list_claims() == []
        partner = w.connect("ballast://partner/acme")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await partner.partner.FileClaim(
                partner_pb2.FileClaimRequest(
                    cover_id=cover.cover_id,
                    incident_id=second.incident_id,
                    claimed_loss=common_pb2.Amount(asset="USDC", value=str(loss)),
                )
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "not open on chain" in (err.value.details() or "")
        assert await w.store.list_claims() == []

"""The world the case studies run in: an embedded EVM chain (a pool that has ceded
a quarter of its risk to a funded vault), a real Temporal server and executor
worker, a router over gRPC (token auth) with three oracle reporters, 2 of 3
confirming. Helpers bind covers on chain, report incidents, and wait for every
payout and recovery saga to end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ballast.v1 import reporting_pb2, treasury_pb2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from pydantic import SecretStr
from temporalio.client import Client

from chains.base import CoverOpening, PoolRef
from chains.embedded.evm import EmbeddedEvmChain
from router import domain as m
from router.agent.client import RouterClient
from router.api.auth import TokenSigner
from router.api.server import RunningRouter, running_router
from router.config import AuthConfig, IncidentsConfig, OracleConfig, PartnerConfig
from router.config_insurance import QuorumConfig
from router.domain.incidents import IncidentKind, IncidentReport
from router.domain.openings import chain_cover_id
from router.execution.payouts import PayoutOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from router.store import Store
from tests.execution.conftest import block_producer
from tests.execution.crash_harness import approved_plan
from tests.execution.saga_harness import setup

UNIT = 10**6
SECRET = "case-study-token-secret-0123456789"
SHARE_PPM = 250_000  # a quarter of the pool's risk is ceded to the vault
PREMIUM = 5_000 * UNIT


def _pub(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@dataclass
class World:
    eth: EmbeddedEvmChain
    store: Store
    router: RunningRouter
    client: Client
    pool: PoolRef
    tokens: TokenSigner
    oracles: dict[str, Ed25519PrivateKey]
    now: datetime
    opened: list[RouterClient] = field(default_factory=list)

    def connect(self, uri: str) -> RouterClient:
        c = RouterClient.token(self.router.address, self.tokens.issue(m.parse_identity(uri)))
        self.opened.append(c)
        return c

    async def cover(
        self, partner: str, key: str, cover_type: str, limit: int, deployment: str, **terms: int
    ) -> tuple[m.Cover, str]:
        """A bound cover whose premium was paid on chain and whose certificate went to
        a new holder address: (cover, holder)."""
        cover = (
            await self.store.bind_cover(
                m.CoverRequest(
                    partner,
                    key,
                    self.pool.pool_id,
                    cover_type,
                    limit,
                    PREMIUM,
                    self.now - timedelta(days=1),
                    self.now + timedelta(days=89),
                    deployment_id=deployment,
                    **terms,  # type: ignore[arg-type]
                )
            )
        ).cover
        holder = Account.create().address
        payer = await self.eth.new_payer(self.pool.address, PREMIUM)
        opening = CoverOpening(
            chain_cover_id(cover.cover_id), self.pool, limit, limit // 4, PREMIUM, payer, holder
        )
        await self.eth.adapter.broadcast(await self.eth.adapter.prepare(opening))
        assert await self.eth.adapter.certificate_holder(self.pool, opening.cover_id) == holder
        return cover, holder

    async def report(
        self, name: str, deployment: str, kind: IncidentKind, loss: int, *, late: int = 0
    ) -> reporting_pb2.SubmitIncidentReportResponse:
        payload = IncidentReport(
            reporter_id=name,
            nonce=f"{name}-{deployment}-{kind.value}",
            deployment_id=deployment,
            kind=kind,
            occurred_at=self.now - timedelta(minutes=5) + timedelta(seconds=late),
            loss=loss,
            evidence=("0x" + "fa" * 32,),
        ).payload()
        request = reporting_pb2.SubmitIncidentReportRequest(
            payload=payload, signature=self.oracles[name].sign(payload)
        )
        reporter = self.connect(f"ballast://reporter/{name}")
        return await reporter.reporting.SubmitIncidentReport(request)

    async def settle(self) -> dict[str, PayoutOutcome]:
        """Wait for every payout saga and the recovery sagas they started: by cover id."""
        ops = self.connect("ballast://operator/alice")
        payouts = (await ops.treasury.ListPayouts(treasury_pb2.ListPayoutsRequest())).payouts
        out = {}
        for p in payouts:
            handle = self.client.get_workflow_handle(p.payment_id, result_type=PayoutOutcome)
            paid = await asyncio.wait_for(handle.result(), 120)
            for rid in paid.recoveries or []:
                rec = self.client.get_workflow_handle(rid, result_type=PayoutOutcome)
                assert (await asyncio.wait_for(rec.result(), 120)).status == "final"
            out[p.cover_id] = paid
        return out

    async def recovered(self) -> int:
        ops = self.connect("ballast://operator/alice")
        recs = await ops.treasury.ListRecoverables(treasury_pb2.ListRecoverablesRequest())
        assert {r.status for r in recs.recoverables} <= {"collected"}
        return sum(int(r.amount.value) for r in recs.recoverables)


@contextlib.asynccontextmanager
async def case_world(
    tmp_path: Path, temporal: DevServer, queue: str, *, ceded: int = 400_000 * UNIT
) -> AsyncIterator[World]:
    oracles = {n: Ed25519PrivateKey.generate() for n in ("oracle-a", "oracle-b", "oracle-c")}
    async with setup(tmp_path, temporal, queue) as s:
        settings = s.settings.model_copy(
            update={
                "listen": "127.0.0.1:0",
                "auth": AuthConfig(mode="token", token_secret=SecretStr(SECRET)),
                "partners": (PartnerConfig(partner_id="acme"), PartnerConfig(partner_id="globex")),
                "oracles": tuple(
                    OracleConfig(reporter_id=n, public_key=_pub(k)) for n, k in oracles.items()
                ),
                "incidents": IncidentsConfig(default=QuorumConfig(k=2)),
            }
        )
        client = await Client.connect(temporal.address)
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        async with (
            block_producer(s.env),
            executor_worker(client, settings, s.store, {"ethereum": s.eth.adapter}, None),
            running_router(settings, store=s.store, executor=starter) as router,
        ):
            ceding = await approved_plan(
                s.store,
                f"plan-cede-{queue}",
                [
                    m.PlanStep(
                        0,
                        m.StepKind.CESSION,
                        "a1",
                        ceded,
                        vault_id="v1",
                        fee=ceded // 100,
                        share_ppm=SHARE_PPM,
                    )
                ],
            )
            assert await starter.start(ceding.plan_id)
            await asyncio.wait_for(client.get_workflow_handle(ceding.plan_id).result(), 120)
            a1 = s.pools[0]
            pool = PoolRef(a1.chain, "a1", a1.address, a1.asset)  # as the router names it
            world = World(
                s.eth,
                s.store,
                router,
                client,
                pool,
                TokenSigner(SecretStr(SECRET)),
                oracles,
                datetime.now(UTC).replace(microsecond=0),
            )
            try:
                yield world
            finally:
                for c in world.opened:
                    await c.close()

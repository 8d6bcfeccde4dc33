"""The world the Solana claim tests run in: an embedded Solana cluster (LiteSVM
behind JSON-RPC, one funded pool of the settlement mint), a real Temporal server
and the in-process executor worker signing with the treasury authority, and a
router over gRPC (token auth) whose pool balance comes from the real reporting
agent, with three oracle reporters, 2 of 3 confirming.

Everything a partner does goes over gRPC: quote, bind with the certificate's
holder and the premium's payer (the executor's opening saga opens the cover on
chain), claims. Set-up a user does by its own hand (funding a wallet, approving
the premium, moving a certificate) is signed by that user on the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr
from solders.pubkey import Pubkey
from temporalio.client import Client

from chains.base import PoolRef
from chains.embedded.clock import time_passes
from chains.embedded.solana_setup import EmbeddedSolana, embedded_solana
from chains.solana_covers import associated_token_address
from router import domain as m
from router.agent.client import RouterClient, bind_request
from router.agent.reporting import ReportingAgent
from router.api.auth import TokenSigner
from router.api.server import RunningRouter, running_router
from router.app.access import sync_registry
from router.config import load_settings
from router.domain.incidents import IncidentKind, IncidentReport
from router.execution.openings import OpeningOutcome, opening_workflow_id
from router.execution.payouts import PayoutOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from router.execution.worker import executor_worker
from router.store import Store, open_store
from tests.chains.solana_harness import SolanaHarness
from tests.covers_support import AMM_SOL, deployment, register
from tests.execution.conftest import db_url

UNIT = 10**6
CHAIN = "solana"
SECRET = "solana-claims-token-secret-0123456789"
POOL_CAPITAL = 5_000_000 * UNIT
#: Slots per tick of :func:`time_passes`: finality (32 slots) within a few ticks,
#: a blockhash (150 slots) valid for many.
SLOTS_PER_TICK = 4


def _pub(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@dataclass(frozen=True)
class Bound:
    """A cover bound over gRPC with an opening: the cover and its parties."""

    cover: partner_pb2.Cover
    limit: int
    premium: int
    holder: str  # base58 wallet (the owner of the certificate's token account)
    payer: str


@dataclass
class SolanaWorld:
    sol: EmbeddedSolana
    wallets: SolanaHarness  # wallets that sign for themselves (certificate transfers)
    store: Store
    router: RunningRouter
    client: Client
    starter: TemporalStarter
    pool: PoolRef  # as the router names it
    tokens: TokenSigner
    oracles: dict[str, Ed25519PrivateKey]
    opened: list[RouterClient] = field(default_factory=list)

    def connect(self, uri: str) -> RouterClient:
        c = RouterClient.token(self.router.address, self.tokens.issue(m.parse_identity(uri)))
        self.opened.append(c)
        return c

    # -- reads straight from the ledger ---------------------------------------------

    def balance(self, wallet: str) -> int:
        """The settlement-mint balance of ``wallet``'s associated token account."""
        ata = associated_token_address(Pubkey.from_string(wallet), self.sol.mint)
        return self.sol.token_balance(str(ata))

    def pool_balance(self) -> int:
        return self.sol.token_balance(self.pool.address)

    # -- the partner, over gRPC ------------------------------------------------------

    async def bind(
        self,
        partner: str,
        key: str,
        limit: int,
        *,
        approve: bool = True,
        **terms: int,
    ) -> Bound:
        """Quote and bind a protocol cover on the pool's AMM deployment with a fresh
        holder and a payer funded with the quoted premium, which approved the
        treasury authority for it (``approve=False``: for nothing)."""
        c = self.connect(f"ballast://partner/{partner}")
        quote = (
            await c.partner.QuoteCover(
                partner_pb2.QuoteCoverRequest(
                    chain=CHAIN,
                    pool_id=self.pool.pool_id,
                    cover_type=common_pb2.COVER_TYPE_PROTOCOL,
                    cover_amount=common_pb2.Amount(asset="USDC", value=str(limit)),
                    period_days=90,
                    terms=partner_pb2.CoverTerms(
                        deployment_id=AMM_SOL,
                        **{
                            k: common_pb2.Amount(asset="USDC", value=str(v))
                            for k, v in terms.items()
                        },
                    ),
                )
            )
        ).quote
        premium = int(quote.premium.value)
        holder = await self.wallets.new_wallet()
        payer = self.sol.new_payer(premium, approve=premium if approve else 0)
        request = bind_request(quote, key)
        request.holder_address, request.payer_address = holder, str(payer.pubkey())
        bound = await c.partner.BindCover(request)
        assert bound.created and bound.cover.opening.status == "opening"
        return Bound(bound.cover, limit, premium, holder, str(payer.pubkey()))

    async def opened_on_chain(self, cover_id: str) -> OpeningOutcome:
        """The outcome of the cover's opening saga (started by the bind)."""
        handle = self.client.get_workflow_handle(
            opening_workflow_id(cover_id), result_type=OpeningOutcome
        )
        return await asyncio.wait_for(handle.result(), 60)

    # -- the oracles, over gRPC ------------------------------------------------------

    async def incident_time(self) -> datetime:
        """A whole second at which every cover bound so far is in force."""
        covers = await self.store.covers_active_at(datetime.now(UTC) + timedelta(days=1))
        newest = max(c.starts_at for c in covers)
        return newest.replace(microsecond=0) + timedelta(seconds=1)

    async def report(
        self, name: str, kind: IncidentKind, loss: int, at: datetime
    ) -> reporting_pb2.SubmitIncidentReportResponse:
        payload = IncidentReport(
            reporter_id=name,
            nonce=f"{name}-{AMM_SOL}-{kind.value}",
            deployment_id=AMM_SOL,
            kind=kind,
            occurred_at=at,
            loss=loss,
            evidence=("0x" + "5e" * 32,),
        ).payload()
        request = reporting_pb2.SubmitIncidentReportRequest(
            payload=payload, signature=self.oracles[name].sign(payload)
        )
        reporter = self.connect(f"ballast://reporter/{name}")
        return await reporter.reporting.SubmitIncidentReport(request)

    async def payouts(self) -> list[treasury_pb2.Payout]:
        ops = self.connect("ballast://operator/alice")
        return list((await ops.treasury.ListPayouts(treasury_pb2.ListPayoutsRequest())).payouts)

    async def settle(self) -> dict[str, PayoutOutcome]:
        """Wait for every payout saga: outcome by cover id."""
        out = {}
        for p in await self.payouts():
            handle = self.client.get_workflow_handle(p.payment_id, result_type=PayoutOutcome)
            out[p.cover_id] = await asyncio.wait_for(handle.result(), 60)
        return out


@contextlib.asynccontextmanager
async def solana_world(
    tmp_path: Path, temporal: DevServer, queue: str
) -> AsyncIterator[SolanaWorld]:
    oracles = {n: Ed25519PrivateKey.generate() for n in ("oracle-a", "oracle-b", "oracle-c")}
    async with embedded_solana(pools=[POOL_CAPITAL], chain=CHAIN) as sol:
        (pool,) = sol.pools
        settings = load_settings(
            database_url=db_url(tmp_path),
            listen="127.0.0.1:0",
            auth={"mode": "token", "token_secret": SECRET},
            chains=[{"name": CHAIN, "family": "solana", "settlement_asset": str(sol.mint)}],
            pools=[{"chain": CHAIN, "pool_id": pool.pool_id, "address": pool.address}],
            reporters=[{"reporter_id": CHAIN, "chain": CHAIN}],
            partners=[{"partner_id": "acme"}, {"partner_id": "globex"}],
            oracles=[{"reporter_id": n, "public_key": _pub(k)} for n, k in oracles.items()],
            incidents={"default": {"k": 2}},
            execution={"poll_seconds": 0.05, "observe_seconds": 2.0},
            temporal={"address": temporal.address, "task_queue": queue},
        )
        store = await open_store(settings.database_url)
        try:
            await sync_registry(store, settings)
            await register(store, deployment(AMM_SOL, chain=CHAIN))
            client = await Client.connect(temporal.address)
            starter = TemporalStarter(client, queue, settings.execution)

            async def tick() -> None:
                sol.ledger.advance(SLOTS_PER_TICK)

            async with (
                time_passes(tick, 0.05),
                executor_worker(client, settings, store, {CHAIN: sol.adapter}, None),
                running_router(settings, store=store, executor=starter) as router,
            ):
                world = SolanaWorld(
                    sol,
                    SolanaHarness(sol),
                    store,
                    router,
                    client,
                    starter,
                    pool,
                    TokenSigner(SecretStr(SECRET)),
                    oracles,
                )
                try:
                    # The pool's capital as the reporting agent reads it (final slot).
                    agent = ReportingAgent(
                        sol.adapter, [pool], world.connect(f"ballast://reporter/{CHAIN}")
                    )
                    await agent.run_round()
                    await agent.close()
                    assert (agent.stats.accepted, agent.stats.rejected) == (1, 0)
                    yield world
                finally:
                    for c in world.opened:
                        await c.close()
        finally:
            await store.aclose()

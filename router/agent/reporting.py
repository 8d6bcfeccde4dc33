"""The reporting agent: read a chain's pools in a loop, stream the balances.

One agent per chain (``ballast agent --chain NAME``) or in-process next to an
embedded router: either way it talks to the router over gRPC with its own
reporter identity, so the router applies the same checks to both. A failed
read skips the round (adapters already retried transient faults through
``chains.retry``); a broken stream is reopened on the next round. The agent
never reports a non-final read: adapters read at final blocks only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import grpc
from ballast.v1 import common_pb2
from ballast.v1 import reporting_pb2 as pb

from chains.base import BalanceReader, BalanceSnapshot, PoolRef
from chains.errors import ChainError
from router.agent.client import RouterClient
from router.domain.ingest import MAX_BATCH
from router.telemetry import tracing

log = logging.getLogger("ballast.router.agent.reporting")
_tracer = tracing.tracer("ballast.router.agent")


@dataclass(slots=True)
class AgentStats:
    rounds: int = 0
    failed_reads: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    reconnects: int = 0


def snapshot_batches(
    snapshot: BalanceSnapshot, asset: str, round_no: int, batch_size: int = MAX_BATCH
) -> list[pb.StreamReportsRequest]:
    """A snapshot as report batches of at most ``batch_size``."""
    reports = []
    for r in snapshot.reports:
        msg = pb.BalanceReport(
            chain=r.chain,
            pool_id=r.pool_id,
            amount=common_pb2.Amount(asset=asset, value=str(r.amount)),
            block_number=r.block_number,
            block_hash=r.block_hash,
            finalized=r.finalized,
        )
        msg.observed_at.FromDatetime(r.observed_at)
        if snapshot.block_time is not None:
            # The block's own time lets the router judge staleness without trusting
            # our clock alone. A chain mined faster than real time (a local dev
            # chain) can run ahead of the clock: never claim more than our read.
            msg.block_time.FromDatetime(min(snapshot.block_time, r.observed_at))
        reports.append(msg)
    return [
        pb.StreamReportsRequest(
            batch_id=f"{snapshot.chain}-{snapshot.block_number}-{round_no}-{i}",
            reports=reports[i : i + batch_size],
        )
        for i in range(0, len(reports), batch_size)
    ]


class ReportingAgent:
    def __init__(
        self,
        reader: BalanceReader,
        pools: Sequence[PoolRef],
        client: RouterClient,
        *,
        asset: str = "USDC",
        interval_seconds: float = 5.0,
    ) -> None:
        self._reader = reader
        self._pools = tuple(pools)
        self._client = client
        self._asset = asset
        self._interval = interval_seconds
        self.stats = AgentStats()
        self._queue: asyncio.Queue[pb.StreamReportsRequest | None] | None = None
        self._call: grpc.aio.StreamStreamCall | None = None

    async def _requests(
        self, queue: asyncio.Queue[pb.StreamReportsRequest | None]
    ) -> AsyncIterator[pb.StreamReportsRequest]:
        while (item := await queue.get()) is not None:
            yield item

    def _open(self) -> grpc.aio.StreamStreamCall:
        if self._call is None or self._call.done():
            if self._call is not None:
                self.stats.reconnects += 1
            self._queue = asyncio.Queue()
            self._call = self._client.reporting.StreamReports(self._requests(self._queue))
        return self._call

    async def run_round(self) -> None:
        """Read once and report; errors are logged and counted, never raised.

        One span per round (``agent.round``): the chain reads are its children,
        and so is the router's side of the stream when this round opens it."""
        with _tracer.start_as_current_span("agent.round", attributes={"chain": self._reader.chain}):
            await self._round()

    async def _round(self) -> None:
        self.stats.rounds += 1
        try:
            snapshot = await self._reader.read_balances(self._pools)
        except ChainError as exc:
            self.stats.failed_reads += 1
            log.warning("read of %s failed, skipping this round: %s", self._reader.chain, exc)
            return
        batches = snapshot_batches(snapshot, self._asset, self.stats.rounds)
        call = self._open()
        assert self._queue is not None
        try:
            for batch in batches:
                await self._queue.put(batch)
                ack = await call.read()
                if ack is grpc.aio.EOF:
                    raise ConnectionError("router closed the report stream")
                self.stats.sent += len(batch.reports)
                self.stats.accepted += ack.accepted
                self.stats.rejected += ack.rejected
                for rej in ack.rejections:
                    log.warning("router rejected %s/%s: %s", rej.chain, rej.pool_id, rej.detail)
        except grpc.aio.AioRpcError as exc:
            # Code and details only: the error's own text spans lines and
            # carries gRPC's debug string.
            log.warning(
                "report stream failed, reopening next round: %s: %s",
                exc.code().name,
                " ".join((exc.details() or "").split()),
            )
            self._call = None
        except ConnectionError as exc:
            log.warning("report stream failed, reopening next round: %s", exc)
            self._call = None

    async def run(
        self, *, rounds: int | None = None, stop: asyncio.Event | None = None
    ) -> AgentStats:
        """Report every ``interval_seconds`` until ``stop`` is set or ``rounds`` ran."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set() and (rounds is None or self.stats.rounds < rounds):
                await self.run_round()
                if rounds is not None and self.stats.rounds >= rounds:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
        finally:
            await self.close()
        return self.stats

    async def close(self) -> None:
        if self._queue is not None:
            await self._queue.put(None)
        if self._call is not None:
            with contextlib.suppress(grpc.aio.AioRpcError):
                while await self._call.read() is not grpc.aio.EOF:
                    pass
            self._call = None


Credentials = Callable[[str], RouterClient]


@contextlib.asynccontextmanager
async def embedded_agents(
    sources: Sequence[tuple[BalanceReader, Sequence[PoolRef]]],
    connect: Credentials,
    *,
    interval_seconds: float = 1.0,
    asset: str = "USDC",
) -> AsyncIterator[list[ReportingAgent]]:
    """Run one agent per chain in this process (embedded mode) until the block exits.

    ``connect(identity_uri)`` returns a client authenticated as that reporter,
    e.g. ``lambda uri: RouterClient.mtls(addr, ca_pem=..., **ca.client(uri))``.
    Each agent has already completed one round when the block is entered.
    """
    stop = asyncio.Event()
    agents = [
        ReportingAgent(
            reader,
            pools,
            connect(f"ballast://reporter/{reader.chain}"),
            asset=asset,
            interval_seconds=interval_seconds,
        )
        for reader, pools in sources
    ]
    for agent in agents:
        await agent.run_round()
    tasks = [asyncio.create_task(agent.run(stop=stop)) for agent in agents]
    try:
        yield agents
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for agent in agents:
            await agent._client.close()

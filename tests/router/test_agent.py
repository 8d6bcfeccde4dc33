"""The reporting agent runs an embedded EVM chain's adapter and streams to a live router."""

from __future__ import annotations

from pathlib import Path

from chains.embedded.evm import ChainSpec, embedded_evm_chains
from chains.errors import RpcUnavailable
from router.agent.client import RouterClient
from router.agent.reporting import ReportingAgent, embedded_agents
from router.api.server import running_router
from router.devtools.pki import TestCA
from tests.router.conftest import make_settings


async def test_agent_reports_final_balances(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    async with embedded_evm_chains([ChainSpec("ethereum", 31337, pools=[7_000_000, 9])]) as env:
        chain = env["ethereum"]
        pools = [
            {"chain": "ethereum", "pool_id": p.pool_id, "address": p.address} for p in chain.pools
        ]
        settings = make_settings(
            server_files,
            tmp_path / "a.db",
            chains=[{"name": "ethereum", "family": "evm"}],
            pools=pools,
            reporters=[{"reporter_id": "ethereum", "chain": "ethereum"}],
            routes=[],
        )
        async with running_router(settings) as router:
            pair = ca.client("ballast://reporter/ethereum")
            client = RouterClient.mtls(
                router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            )
            agent = ReportingAgent(chain.adapter, chain.pools, client, interval_seconds=0.0)
            await agent.run_round()
            await chain.mint(chain.pools[1].address, 1_000)
            await chain.finalize()
            stats = await agent.run(rounds=2)
            await client.close()
            assert (stats.rounds, stats.sent, stats.failed_reads) == (2, 4, 0)
            assert stats.accepted == 4 and stats.rejected == 0
            balances = await router.store.latest_balances("ethereum")
    assert balances[chain.pools[0].pool_id].amount == 7_000_000
    assert balances[chain.pools[1].pool_id].amount == 1_009
    # The block's own time travels with the report: freshness never rests on
    # the reporter's clock alone (and never claims more than its read).
    for bal in balances.values():
        assert bal.block_time is not None and bal.block_time <= bal.observed_at
        assert bal.fresh_at == min(bal.observed_at, bal.block_time, bal.confirmed_at)


class _FailsFirst:
    """Fault injection: the first read fails as an exhausted RPC would."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.calls = 0

    @property
    def chain(self) -> str:
        return "ethereum"

    async def read_balances(self, pools: object) -> object:
        self.calls += 1
        if self.calls == 1:
            raise RpcUnavailable("endpoint down", chain="ethereum")
        return await self._inner.read_balances(pools)  # type: ignore[attr-defined]


async def test_agent_skips_a_failed_read_and_carries_on(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    async with embedded_evm_chains([ChainSpec("ethereum", 31337, pools=[5])]) as env:
        chain = env["ethereum"]
        settings = make_settings(
            server_files,
            tmp_path / "f.db",
            chains=[{"name": "ethereum", "family": "evm"}],
            pools=[
                {"chain": "ethereum", "pool_id": p.pool_id, "address": p.address}
                for p in chain.pools
            ],
            reporters=[{"reporter_id": "ethereum", "chain": "ethereum"}],
            routes=[],
        )
        async with running_router(settings) as router:
            pair = ca.client("ballast://reporter/ethereum")
            async with RouterClient.mtls(
                router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            ) as client:
                reader = _FailsFirst(chain.adapter)
                agent = ReportingAgent(reader, chain.pools, client, interval_seconds=0.0)  # type: ignore[arg-type]
                stats = await agent.run(rounds=2)
            assert (stats.rounds, stats.failed_reads, stats.accepted) == (2, 1, 1)
            assert (await router.store.latest_balance(chain.pools[0].pool_id)) is not None


async def test_embedded_agents_report_in_process(
    server_files: dict[str, Path], tmp_path: Path, ca: TestCA
) -> None:
    async with embedded_evm_chains([ChainSpec("ethereum", 31337, pools=[3, 4])]) as env:
        chain = env["ethereum"]
        pools = [
            {"chain": "ethereum", "pool_id": p.pool_id, "address": p.address} for p in chain.pools
        ]
        settings = make_settings(
            server_files,
            tmp_path / "e.db",
            chains=[{"name": "ethereum", "family": "evm"}],
            pools=pools,
            reporters=[{"reporter_id": "ethereum", "chain": "ethereum"}],
            routes=[],
        )
        async with running_router(settings) as router:

            def connect(uri: str) -> RouterClient:
                pair = ca.client(uri)
                return RouterClient.mtls(
                    router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
                )

            async with embedded_agents([(chain.adapter, chain.pools)], connect) as agents:
                balances = await router.store.latest_balances("ethereum")
                assert agents[0].stats.accepted == 2
            assert {b.amount for b in balances.values()} == {3, 4}

"""A live router on 127.0.0.1 with mTLS, a throwaway CA, and clients per role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ballast.v1 import common_pb2, reporting_pb2

from router.agent.client import RouterClient
from router.api.server import RunningRouter, running_router
from router.config import RouterSettings, load_settings
from router.devtools.pki import TestCA

CHAINS = [
    {"name": "ethereum", "family": "evm"},
    {"name": "solana", "family": "solana"},
]
POOLS = [
    {"chain": "ethereum", "pool_id": "eth-main", "address": "0x" + "11" * 20},
    {"chain": "ethereum", "pool_id": "eth-alt", "address": "0x" + "22" * 20},
    {"chain": "solana", "pool_id": "sol-main", "address": "So1ana" + "1" * 38},
]
EVM_HASH = "0x" + "ab" * 32
#: One protocol on both chains (the registry, seeded from the config).
DEPLOYMENTS = [
    {
        "deployment_id": d,
        "protocol_id": "amm",
        "chain": chain,
        "addresses": ["0x" + "33" * 20],
        "tvl": 10**9 * 10**6,
        "governance_assets": 5 * 10**8 * 10**6,
    }
    for d, chain in (("amm-ethereum", "ethereum"), ("amm-solana", "solana"))
]


@pytest.fixture(scope="session")
def ca() -> TestCA:
    return TestCA()


@pytest.fixture(scope="session")
def server_files(ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    files = ca.write(d, {"server": ca.server()})
    return {"ca": d / "ca.pem", "cert": files["server"][0], "key": files["server"][1]}


def make_settings(server_files: dict[str, Path], db: Path, **over: Any) -> RouterSettings:
    base: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "database_url": f"sqlite+aiosqlite:///{db}",
        "tls": {
            "ca_cert": server_files["ca"],
            "server_cert": server_files["cert"],
            "server_key": server_files["key"],
        },
        "chains": CHAINS,
        "pools": POOLS,
        "partners": [{"partner_id": "acme"}, {"partner_id": "globex"}],
        "reporters": [
            {"reporter_id": "ethereum", "chain": "ethereum"},
            {"reporter_id": "solana", "chain": "solana"},
        ],
        "routes": [
            {"route_id": "eth-sol", "src_chain": "ethereum", "dst_chain": "solana"},
            {"route_id": "sol-eth", "src_chain": "solana", "dst_chain": "ethereum"},
        ],
        "deployments": DEPLOYMENTS,
    }
    base.update(over)
    return load_settings(**base)


@pytest.fixture
def settings(server_files: dict[str, Path], tmp_path: Path) -> RouterSettings:
    return make_settings(server_files, tmp_path / "router.db")


@pytest.fixture
async def router(settings: RouterSettings) -> AsyncIterator[RunningRouter]:
    async with running_router(settings) as r:
        yield r


ClientFactory = Callable[[str | None], RouterClient]


@pytest.fixture
async def connect(router: RunningRouter, ca: TestCA) -> AsyncIterator[ClientFactory]:
    """``connect("ballast://partner/acme")`` -> an mTLS client; ``connect(None)``: no cert."""
    opened: list[RouterClient] = []

    def make(uri: str | None) -> RouterClient:
        pair = ca.client(uri) if uri else None
        c = RouterClient.mtls(
            router.address,
            ca_pem=ca.cert_pem,
            cert_pem=pair.cert_pem if pair else None,
            key_pem=pair.key_pem if pair else None,
        )
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.close()


def report(
    pool: str, amount: int, block: int, *, chain: str = "ethereum", finalized: bool = True
) -> reporting_pb2.BalanceReport:
    r = reporting_pb2.BalanceReport(
        chain=chain,
        pool_id=pool,
        amount=common_pb2.Amount(asset="USDC", value=str(amount)),
        block_number=block,
        block_hash=EVM_HASH if chain == "ethereum" else "4" * 43,
        finalized=finalized,
    )
    r.observed_at.FromDatetime(datetime.now(UTC))
    return r


async def send_batches(
    client: RouterClient, *batches: list[reporting_pb2.BalanceReport]
) -> list[reporting_pb2.StreamReportsResponse]:
    async def gen() -> AsyncIterator[reporting_pb2.StreamReportsRequest]:
        for i, b in enumerate(batches):
            yield reporting_pb2.StreamReportsRequest(batch_id=f"b{i}", reports=b)

    return [ack async for ack in client.reporting.StreamReports(gen())]

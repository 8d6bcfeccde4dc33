"""The shared adapter conformance suite on Solana (LiteSVM behind JSON-RPC)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.chains.conformance import AdapterConformance, SagaPortConformance
from tests.chains.cover_conformance import CoverConformance
from tests.chains.solana_harness import SolanaHarness, skip_unless_selected, solana_harness


@pytest.fixture
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[SolanaHarness]:
    skip_unless_selected(request.config)
    async with solana_harness() as h:
        yield h


class TestSolanaConformance(AdapterConformance, SagaPortConformance, CoverConformance):
    pass

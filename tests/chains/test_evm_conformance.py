"""The shared adapter conformance suite on EVM: embedded py-evm and a real anvil node.

One chain per backend per module (state isolation comes from fresh pools and
fresh transfer ids in every test), so the suite costs seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmChain, embedded_evm_chains
from tests.chains.conformance import (
    AdapterConformance,
    EvmSagaConformance,
    SagaPortConformance,
)
from tests.chains.cover_conformance import CoverConformance
from tests.chains.evm_harness import AnvilChain, EvmHarness, anvil_chain, skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedded(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddedEvmChain]:
    skip_unless_selected(request.config, "embedded")
    async with embedded_evm_chains([EmbeddedChainSpec("evm-embedded", 31_337_001)]) as env:
        yield env["evm-embedded"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil(request: pytest.FixtureRequest) -> AsyncIterator[AnvilChain]:
    skip_unless_selected(request.config, "anvil")
    async with anvil_chain("evm-anvil", 31_337_002) as chain:
        yield chain


class TestEmbeddedEvm(
    AdapterConformance, SagaPortConformance, EvmSagaConformance, CoverConformance
):
    @pytest.fixture
    def harness(self, embedded: EmbeddedEvmChain) -> EvmHarness:
        return EvmHarness(embedded, embedded.adapter)


class TestAnvilEvm(AdapterConformance, SagaPortConformance, EvmSagaConformance, CoverConformance):
    @pytest.fixture
    def harness(self, anvil: AnvilChain) -> EvmHarness:
        return EvmHarness(anvil, anvil.adapter)

"""The router's view of governed terms, read from a real PoolTerms on the embedded
chain: it advances with final blocks only, never goes back to an older read, and a
cover's terms, once taken, do not follow later changes.

The PoolTerms here names a plain test account as its "timelock" so the test can
change terms in one transaction (the vote and timelock path is covered in
tests/chains/test_evm_governance.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from eth_account import Account

from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmChain, start_chain
from chains.errors import InvalidInput, NotFinal
from chains.evm_config import Confirmations
from chains.evm_governance import CoverType, EvmTermsReader, GovernedTerms
from router.app.governance import TermsFollower, terms_for_cover
from router.errors import CapacityExceeded, InvalidRequest, PreconditionFailed

pytestmark = pytest.mark.asyncio(loop_scope="module")

UNIT = 10**6
COVERED = Account.create().address


@dataclass
class Switchable:
    """Two real readers of one chain; ``lagging`` answers from an older final block,
    as a slower endpoint would."""

    fresh: EvmTermsReader
    slow: EvmTermsReader
    lagging: bool = False

    async def read_terms(self, terms: str) -> GovernedTerms:
        return await (self.slow if self.lagging else self.fresh).read_terms(terms)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chain() -> AsyncIterator[EmbeddedEvmChain]:
    yield await start_chain(EmbeddedChainSpec("terms-embedded", 32_000_015))


async def test_the_follower_moves_with_final_blocks_and_covers_keep_their_terms(
    chain: EmbeddedEvmChain,
) -> None:
    admin = chain.admin
    terms = chain.deploy(
        "PoolTerms",
        ["address", "address", "address", "uint64"],
        [admin.address, chain.operator.address, chain.attester.address, 3_600],
    )
    abi = chain.abi("PoolTerms")
    slow = EvmTermsReader(chain.endpoint, Confirmations(5))
    with pytest.raises(NotFinal, match="exists at the head"):
        await slow.read_terms(terms)
    with pytest.raises(InvalidInput, match="no contract"):
        await slow.read_terms(COVERED)
    await chain.mine(6)

    def change(fn: str, *args: object) -> None:
        chain.transact(admin, terms, abi.fn(fn).encode(*args))

    source = Switchable(
        EvmTermsReader(chain.endpoint, Confirmations(0)),
        slow,
    )
    follower = TermsFollower(source, {"p0": terms})
    with pytest.raises(PreconditionFailed, match="not been read from chain yet"):
        follower.terms_in_force("p0")
    with pytest.raises(InvalidRequest, match="no governed terms"):
        follower.terms_in_force("nope")

    change("setCoverageLimit", int(CoverType.POSITION), 100 * UNIT)
    change("addCoveredContract", COVERED)
    first = (await follower.refresh())["p0"]
    assert (first.version, first.limit(CoverType.POSITION), first.covered) == (
        2, 100 * UNIT, (COVERED,))  # fmt: skip
    cover = terms_for_cover("p0", first, CoverType.POSITION, 60 * UNIT, COVERED)
    assert (cover.block_number, cover.version, cover.limit) == (first.block_number, 2, 100 * UNIT)

    # A slower endpoint's answer (an older final block) never replaces a newer read.
    source.lagging = True
    await chain.mine(1)
    assert (await follower.refresh())["p0"] == first

    # A change applies from the final block that contains it, to new covers only.
    source.lagging = False
    change("setCoverageLimit", int(CoverType.POSITION), 50 * UNIT)
    change("setPaused", True)
    later = (await follower.refresh())["p0"]
    assert later.block_number > first.block_number and later.version == 4
    assert follower.terms_in_force("p0") == later
    with pytest.raises(
        PreconditionFailed, match=f"paused by governance \\(block {later.block_number}"
    ):
        terms_for_cover("p0", later, CoverType.POSITION, 1, COVERED)
    change("setPaused", False)
    now = (await follower.refresh())["p0"]
    with pytest.raises(CapacityExceeded, match="governed position coverage limit") as over:
        terms_for_cover("p0", now, CoverType.POSITION, 60 * UNIT, COVERED)
    assert f"block {now.block_number}, terms version 5" in str(over.value)
    assert (cover.version, cover.limit) == (2, 100 * UNIT)  # the bound cover is unchanged
    with pytest.raises(InvalidRequest, match="not on pool p0's covered-contract list"):
        terms_for_cover("p0", now, CoverType.POSITION, 1, Account.create().address)
    with pytest.raises(InvalidRequest, match="positive integer"):
        terms_for_cover("p0", now, CoverType.POSITION, 0)

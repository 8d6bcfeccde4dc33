"""Governance through the chain layer and the router's follower, on the embedded
py-evm chain and on anvil: deploy, delegate, propose, vote, queue, execute; the
router sees the new limit only from a final block at or after the execution;
a bound cover keeps its terms; each refusal arrives as one precise line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import pytest_asyncio
from eth_account import Account
from eth_account.signers.local import LocalAccount
from pydantic import SecretStr

from chains.embedded.evm import EmbeddedChainSpec, EmbeddedEvmChain, start_chain
from chains.errors import GovernanceRefused, InvalidInput
from chains.evm_config import Confirmations
from chains.evm_governance import (
    CoverType,
    EvmTermsReader,
    GovernanceClient,
    GovernanceOptions,
    ProposalState,
    Support,
    deploy_governance,
    read_terms,
    terms_call,
)
from chains.evm_rpc import EvmEndpoint, HttpEndpoint, as_int
from router.app.governance import TermsFollower, terms_for_cover
from router.errors import CapacityExceeded, PreconditionFailed
from tests.chains.evm_harness import anvil_node, skip_unless_selected

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN = 10**18
PERIOD = 4  # blocks
DELAY = 600  # seconds
USDC = 10**6


@dataclass
class Net:
    """A chain endpoint plus the test's back door to move blocks and time."""

    endpoint: EvmEndpoint
    mine: Callable[[int], Awaitable[None]]
    advance: Callable[[int], Awaitable[None]]
    fund: Callable[[str], Awaitable[None]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def embedded(request: pytest.FixtureRequest) -> AsyncIterator[Net]:
    skip_unless_selected(request.config, "embedded")
    chain: EmbeddedEvmChain = await start_chain(EmbeddedChainSpec("gov-embedded", 32_000_013))

    async def mine(n: int) -> None:
        chain.tester.mine_blocks(n)

    async def advance(seconds: int) -> None:
        head = await chain.endpoint.request("eth_getBlockByNumber", ["latest", False])
        now = as_int(head["timestamp"], "timestamp")
        chain.tester.time_travel(now + seconds)
        chain.tester.mine_blocks(1)

    yield Net(chain.endpoint, mine, advance, chain.fund_gas)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil(request: pytest.FixtureRequest) -> AsyncIterator[Net]:
    skip_unless_selected(request.config, "anvil")
    async with anvil_node(32_000_014) as url:
        ep = HttpEndpoint(url, timeout=10.0)

        async def mine(n: int) -> None:
            await ep.request("anvil_mine", [hex(n)])

        async def advance(seconds: int) -> None:
            await ep.request("evm_increaseTime", [hex(seconds)])
            await ep.request("evm_mine", [])

        async def fund(address: str) -> None:
            await ep.request("anvil_setBalance", [address, hex(10**21)])

        try:
            yield Net(ep, mine, advance, fund)
        finally:
            await ep.aclose()


def _key(account: LocalAccount) -> SecretStr:
    return SecretStr("0x" + bytes(account.key).hex())


async def _lifecycle(net: Net) -> None:
    ep = net.endpoint
    holder, small, pool = Account.create(), Account.create(), Account.create().address
    for who in (holder, small):
        await net.fund(who.address)
    gov = await deploy_governance(
        ep,
        _key(holder),
        [pool],
        GovernanceOptions(
            supply=1_000 * TOKEN, quorum=400 * TOKEN, voting_delay=1, voting_period=PERIOD,
            min_delay=DELAY, grace_period=86_400, guardian_pause=3_600,
        ),
    )  # fmt: skip
    client = GovernanceClient(ep, gov.governor, holder)
    await client.delegate(gov.token, holder.address)
    other = GovernanceClient(ep, gov.governor, small)  # holds no votes at all
    terms = gov.terms[0]
    follower = TermsFollower(EvmTermsReader(ep, Confirmations(2)), {"p0": terms})
    await net.mine(2)
    before = (await follower.refresh())["p0"]
    assert (before.version, before.limits, before.paused) == (0, (0,) * 5, False)
    with pytest.raises(CapacityExceeded, match="governed protocol coverage limit"):
        terms_for_cover("p0", before, CoverType.PROTOCOL, 1)

    # A proposal that calls anything but a governed setter never gets to a vote.
    bad = terms_call("setCoverageLimit", 0, 1)[1]
    with pytest.raises(GovernanceRefused) as refused:
        await client.propose([(gov.token, bad)], "call the token")
    assert str(refused.value) == (
        f"proposal refused: action 0 calls {gov.token}, which is not a registered PoolTerms"
    )
    assert refused.value.error == "TargetNotAllowed"

    raise_limit = terms_call("setCoverageLimit", CoverType.PROTOCOL, 1_000 * USDC)[1]
    pid, _ = await client.propose([(terms, raise_limit)], "protocol cover up to 1,000")
    ignored, _ = await client.propose([(terms, raise_limit)], "the same, nobody votes")
    await net.mine(1)
    await client.vote(pid, Support.FOR)
    with pytest.raises(GovernanceRefused, match=r"^vote refused: .* has already voted"):
        await client.vote(pid, Support.AGAINST)
    status = await client.status(pid)
    assert status.state is ProposalState.ACTIVE
    assert (status.for_, status.quorum_votes, status.quorum) == (1_000 * TOKEN,) * 2 + (
        400 * TOKEN,
    )
    with pytest.raises(GovernanceRefused, match=r"^vote refused: .* had no delegated votes"):
        await other.vote(pid, Support.AGAINST)
    await net.mine(PERIOD)
    with pytest.raises(GovernanceRefused) as late:
        await client.vote(ignored, Support.FOR)
    closed_at = (await client.status(ignored)).deadline_block
    assert str(late.value) == f"vote refused: voting closed at block {closed_at}"
    with pytest.raises(GovernanceRefused) as no_quorum:
        await client.queue(ignored)
    assert str(no_quorum.value) == "queue refused: the proposal is defeated, not succeeded"

    await other.queue(pid)  # anyone may queue a succeeded proposal
    with pytest.raises(GovernanceRefused) as early:
        await client.execute(pid)
    assert re.fullmatch(
        r"execution refused: the timelock opens at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, "
        r"it is \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
        str(early.value),
    )
    await net.advance(DELAY)
    await client.execute(pid)
    executed_at = as_int(await ep.request("eth_blockNumber", []), "head")
    assert (await client.status(pid)).state is ProposalState.EXECUTED

    # The router applies the change only from a final block that contains it.
    still = (await follower.refresh())["p0"]
    assert still.block_number < executed_at and still.version == 0
    await net.mine(2)
    now = (await follower.refresh())["p0"]
    assert follower.terms_in_force("p0") == now
    assert now.block_number >= executed_at
    assert (now.version, now.limit(CoverType.PROTOCOL)) == (1, 1_000 * USDC)
    cover = terms_for_cover("p0", now, CoverType.PROTOCOL, 800 * USDC)
    assert (cover.block_number, cover.version, cover.limit) == (now.block_number, 1, 1_000 * USDC)

    # A later change applies to new quotes only; the bound cover keeps its terms.
    lower = terms_call("setCoverageLimit", CoverType.PROTOCOL, 500 * USDC)[1]
    pid2, _ = await client.propose([(terms, lower)], "protocol cover down to 500")
    await net.mine(1)
    await client.vote(pid2, Support.FOR)
    await net.mine(PERIOD)
    await client.queue(pid2)
    await net.advance(DELAY)
    await client.execute(pid2)
    await net.mine(2)
    later = (await follower.refresh())["p0"]
    assert (later.version, later.limit(CoverType.PROTOCOL)) == (2, 500 * USDC)
    assert (cover.version, cover.limit) == (1, 1_000 * USDC)
    with pytest.raises(CapacityExceeded, match=f"block {later.block_number}, terms version 2"):
        terms_for_cover("p0", later, CoverType.PROTOCOL, 800 * USDC)

    # The guardian (the deployer by default) pauses; new covers stop until it lapses.
    guardian_pause = "0x" + terms_call("guardianPause")[1].hex()
    await _send_raw(net, holder, terms, guardian_pause)
    await net.mine(2)
    paused = (await follower.refresh())["p0"]
    assert paused.paused and paused.version == 3
    with pytest.raises(PreconditionFailed, match="paused by governance"):
        terms_for_cover("p0", paused, CoverType.PROTOCOL, 1)
    await net.advance(3_600)
    await net.mine(2)
    assert not (await follower.refresh())["p0"].paused

    with pytest.raises(InvalidInput):
        await read_terms(ep, gov.token, Confirmations(0))


async def _send_raw(net: Net, who: LocalAccount, to: str, data: str) -> None:
    from chains.deploy import DeployOptions, _Deployer

    d = _Deployer(net.endpoint, who, DeployOptions())
    d.chain_id = as_int(await net.endpoint.request("eth_chainId", []), "chain id")
    await d._send(to, data, "raw")


async def test_governance_lifecycle_on_the_embedded_chain(embedded: Net) -> None:
    await _lifecycle(embedded)


@pytest.mark.node
async def test_governance_lifecycle_on_anvil(anvil: Net) -> None:
    await _lifecycle(anvil)

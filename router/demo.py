"""`make demo`: the main job on the embedded default.

Starts two embedded EVM chains (py-evm, our contracts deployed) and a LiteSVM
Solana cluster behind its JSON-RPC node, funds pools unevenly, and reads every
pool's balance through the same adapters production uses, at a final block.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack

from rich.console import Console
from rich.table import Table

from chains.base import BalanceSnapshot, ChainAdapter, PoolRef
from chains.embedded.evm import ChainSpec, embedded_evm_chains
from chains.embedded.solana_setup import embedded_solana

USDC = 10**6

#: Opening balances, deliberately uneven: one chain rich, one thin, Solana mixed.
EVM_CHAINS = (
    ChainSpec(name="ethereum", chain_id=9001, pools=[4_200_000 * USDC, 1_750_000 * USDC]),
    ChainSpec(name="base", chain_id=9002, pools=[120_000 * USDC, 35_000 * USDC, 0]),
)
SOLANA_POOLS = (2_600_000 * USDC, 90_000 * USDC)


def format_amount(base_units: int, decimals: int = 6) -> str:
    """Exact decimal rendering of base units: no float ever touches money."""
    whole, frac = divmod(base_units, 10**decimals)
    return f"{whole:,}.{frac:0{decimals}d}"


async def read_all(
    chains: Sequence[tuple[ChainAdapter, Sequence[PoolRef]]],
) -> list[BalanceSnapshot]:
    return list(await asyncio.gather(*(a.read_balances(p) for a, p in chains)))


def balances_table(snapshots: Sequence[BalanceSnapshot]) -> Table:
    table = Table(title="Pool balances at final blocks", header_style="bold")
    for col, justify in (
        ("chain", "left"),
        ("pool", "left"),
        ("address", "left"),
        ("balance (USDC)", "right"),
        ("block/slot", "right"),
        ("final", "center"),
        ("rpc calls", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for snap in snapshots:
        for r in snap.reports:
            table.add_row(
                r.chain,
                r.pool_id,
                r.address[:10] + "…",
                format_amount(r.amount),
                str(r.block_number),
                "yes" if r.finalized else "no",
                str(snap.rpc_calls),
            )
    return table


async def run(console: Console) -> int:
    async with AsyncExitStack() as stack:
        evm = await stack.enter_async_context(embedded_evm_chains(EVM_CHAINS))
        sol = await stack.enter_async_context(embedded_solana(SOLANA_POOLS, chain="solana"))
        sources: list[tuple[ChainAdapter, Sequence[PoolRef]]] = [(c.adapter, c.pools) for c in evm]
        sources.append((sol.adapter, sol.pools))
        snapshots = await read_all(sources)
        console.print(balances_table(snapshots))
        total = sum(r.amount for s in snapshots for r in s.reports)
        console.print(f"Total capital across {len(snapshots)} chains: {format_amount(total)} USDC")
    return 0


def main() -> None:
    console = Console()
    if not console.is_terminal:  # piped/CI: do not squeeze tables into 80 columns
        console = Console(width=120)
    sys.exit(asyncio.run(run(console)))


if __name__ == "__main__":
    main()

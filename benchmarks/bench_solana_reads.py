"""Reading 1,000 Solana pools: batched adapter read vs one call per pool.

Both run in the same process against the same embedded JSON-RPC node
(LiteSVM on 127.0.0.1), through solana-py's AsyncClient. The batched read is
what the adapter does (getMultipleAccounts, 100 keys per call, JSON-RPC
batches); the baseline asks getAccountInfo once per pool, sequentially.
Targets: >= 20x faster, <= 10 HTTP round trips for 1,000 pools.

Run: .venv/bin/python benchmarks/bench_solana_reads.py [--pools N] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Finalized
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount

from chains.embedded.solana_setup import embedded_solana


async def main(n_pools: int, repeat: int) -> int:
    amounts = [1_000_000 + i for i in range(n_pools)]
    async with embedded_solana(pools=amounts) as env:
        server = env.server
        # Batched: the adapter's read, R times.
        batched: list[float] = []
        calls_before = sum(server.calls.values())
        http_before = server.http.http_requests
        for _ in range(repeat):
            t0 = time.perf_counter()
            snap = await env.adapter.read_balances(env.pools)
            batched.append(time.perf_counter() - t0)
        assert [r.amount for r in snap.reports] == amounts
        jsonrpc_calls = (sum(server.calls.values()) - calls_before) // repeat
        http_trips = (server.http.http_requests - http_before) // repeat

        # Baseline: one getAccountInfo per pool, same client library, same node.
        client = AsyncClient(env.server.url, max_transport_retries=0, http2=False)
        per_pool: list[float] = []
        base_before = server.http.http_requests
        try:
            for _ in range(max(1, repeat // 3)):
                t0 = time.perf_counter()
                got = []
                for pool in env.pools:
                    resp = await client.get_account_info(
                        Pubkey.from_string(pool.address), commitment=Finalized
                    )
                    assert resp.value is not None
                    got.append(TokenAccount.from_bytes(bytes(resp.value.data)).amount)
                per_pool.append(time.perf_counter() - t0)
                assert got == amounts
        finally:
            await client.close()
        base_trips = (server.http.http_requests - base_before) // max(1, repeat // 3)

    b = statistics.median(batched)
    p = statistics.median(per_pool)
    print(f"pools: {n_pools}")
    print(
        f"batched read   : {b * 1000:8.1f} ms median of {repeat}  "
        f"({http_trips} HTTP round trips, {jsonrpc_calls} JSON-RPC calls: "
        f"{snap.rpc_calls} reported by the snapshot)"
    )
    print(
        f"one call/pool  : {p * 1000:8.1f} ms median of {len(per_pool)}  "
        f"({base_trips} HTTP round trips)"
    )
    print(f"speed-up       : {p / b:8.1f}x   (target >= 20x)")
    print(f"RPC round trips: {http_trips}   (target <= 10)")
    ok = p / b >= 20 and http_trips <= 10
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.pools, args.repeat)))

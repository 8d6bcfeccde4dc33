"""Reading 1,000 EVM pool balances: the adapter's batched read vs one call per pool.

Same run, same node, same final block, for two nodes: the embedded py-evm
chain (in-process) and a real anvil node over HTTP on 127.0.0.1 (skipped with
a printed reason if Node/anvil is absent). Rows:

- ``adapter (BatchReader)``: what ``EvmAdapter.read_balances`` does — final
  header + one ``eth_call`` per 500 pools, chunks in one JSON-RPC batch. The
  first read uses ``poolStates`` and verifies every pool's (immutable) asset;
  later reads of verified pools use ``balancesOf`` (steady state, the row's
  median); the ``first read`` row shows the verifying read on its own.
- ``adapter (JSON-RPC batch)``: the fallback with no reader deployed —
  ``asset()`` and ``balanceOf`` per pool, sent as JSON-RPC batches.
- ``one call per pool``: the baseline — one ``balanceOf`` ``eth_call`` per
  pool at the same block, awaited one after another (and no asset check).

Targets: batched >= 20x faster than the baseline, <= 10 round trips.

Each adapter row is the median of R reads after one warm-up read.

Run: .venv/bin/python benchmarks/bench_evm_reads.py [--pools N] [--repeat R] [--skip-embedded]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chains.embedded.evm import ChainSpec, embedded_evm_chains  # noqa: E402
from chains.evm import EvmAdapter  # noqa: E402
from chains.evm_abi import ContractAbi  # noqa: E402
from chains.testing import FaultyEndpoint  # noqa: E402


async def measure(label: str, back: Any, pools: list[Any], repeat: int) -> list[str]:
    """Time the three reads on one node; return printable rows."""
    await back.finalize()
    counted = FaultyEndpoint(back.endpoint, label="counted")
    adapter: EvmAdapter = back.new_adapter([counted])
    fallback: EvmAdapter = back.new_adapter([counted], batch_reader=None)
    expected = None
    rows: list[tuple[str, float, int]] = []
    for name, reader in (
        ("adapter (BatchReader)", adapter),
        ("adapter (JSON-RPC batch)", fallback),
    ):
        before = counted.round_trips
        t0 = time.perf_counter()
        await reader.read_balances(pools)  # warm-up: connection; verifies every pool's asset
        if reader is adapter:
            first = (
                "  first read (poolStates)",
                time.perf_counter() - t0,
                counted.round_trips - before,
            )
        times = []
        for _ in range(repeat):
            before = counted.round_trips
            t0 = time.perf_counter()
            snap = await reader.read_balances(pools)
            times.append(time.perf_counter() - t0)
            trips = counted.round_trips - before
        amounts = [r.amount for r in snap.reports]
        assert expected is None or amounts == expected, "reads disagree"
        expected = amounts
        rows.append((name, statistics.median(times), trips))
        if reader is adapter:
            rows.append(first)

    # Baseline: one eth_call per pool, sequential, at the same final block.
    number, _ = await adapter.final_block()
    token = back.deployment.token
    balance_of = ContractAbi(_abi("SettlementToken")).fn("balanceOf")
    times = []
    for _ in range(max(1, repeat // 2)):
        before = counted.round_trips
        t0 = time.perf_counter()
        got = []
        for pool in pools:
            call = {"to": token, "data": balance_of.encode(pool.address)}
            raw = await counted.request("eth_call", [call, hex(number)])
            got.append(int(raw, 16) if isinstance(raw, str) else int.from_bytes(raw, "big"))
        times.append(time.perf_counter() - t0)
        trips = counted.round_trips - before
    assert got == expected, "baseline disagrees with the adapter"
    rows.append(("one call per pool", statistics.median(times), trips))

    base = rows[-1][1]
    out = [f"-- {label}: {len(pools)} pools, final block #{number}"]
    for name, seconds, trips in rows:
        out.append(
            f"   {name:<26} {seconds * 1000:10.1f} ms  {trips:5d} round trips"
            f"  {base / seconds:7.1f}x"
        )
    return out


def _abi(name: str) -> tuple[dict[str, Any], ...]:
    from contracts import load_artifact

    return load_artifact(name).abi


async def main(n_pools: int, repeat: int, skip_embedded: bool = False) -> int:
    amounts = [1_000_000 + i for i in range(n_pools)]
    lines: list[str] = []

    t0 = time.perf_counter()
    if skip_embedded:
        lines.append("-- embedded py-evm: skipped (--skip-embedded)")
    else:
        async with embedded_evm_chains([ChainSpec("embedded", 31_900_001)]) as env:
            chain = env["embedded"]
            pools = await chain.create_pools(amounts)
            took = time.perf_counter() - t0
            print(f"embedded set-up: {n_pools} pools deployed and funded in {took:.1f} s")
            lines += await measure("embedded py-evm (in-process)", chain, pools, repeat)

    if shutil.which("node") is None or not (ROOT / "node_modules" / ".bin" / "anvil").exists():
        lines.append(
            "-- anvil: SKIPPED (Node.js or node_modules/.bin/anvil missing: run `make test`)"
        )
    else:
        from tests.chains.evm_harness import anvil_chain

        t0 = time.perf_counter()
        async with anvil_chain("anvil", 31_900_002) as anvil:
            pools = await anvil.create_pools(amounts)
            took = time.perf_counter() - t0
            print(f"anvil set-up: {n_pools} pools deployed and funded in {took:.1f} s")
            lines += await measure("anvil 1.7 over HTTP (127.0.0.1)", anvil, pools, repeat)

    print("\n".join(lines))
    print("targets: adapter >= 20x faster than one call per pool, <= 10 round trips")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-embedded", action="store_true", help="only the anvil rows")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.pools, args.repeat, args.skip_embedded)))

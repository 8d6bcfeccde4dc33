"""Claim payments on the embedded chains: 1 and N ``ClaimPayment`` effects, each
prepared, broadcast and confirmed through the adapter's saga ports.

Per chain (py-evm and LiteSVM behind JSON-RPC): a pool, ``--covers`` bound
covers (premium collected, certificate issued), then the payments spread over
the covers, one after another: ``prepare`` (pre-checks: id unused, cover open,
holder, cap, capital; signing), ``broadcast``, ``status`` until landed. Every
payment is checked afterwards by reading the holders' balances from chain.
On py-evm a payment's time is whole executions interpreted in Python: two for
``eth_estimateGas`` (the embedded chain's two-run estimator; py-evm's own binary
search took ~18 and was 75 % of a payment), the pre-check ``eth_call``s and the
transaction itself; LiteSVM executes in microseconds. This is the
chain side of the claims benchmark (incident to claims paid).

Run: ``.venv/bin/python benchmarks/bench_claim_payments.py [--payments 1000] [--covers 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chains.base import ClaimPayment, CoverOpening, PoolRef, TxState
from chains.embedded.evm import EmbeddedChainSpec, embedded_evm_chains
from chains.embedded.solana_setup import embedded_solana
from chains.solana_covers import associated_token_address

PREMIUM = 1_000
AMOUNT = 100


def new_id() -> str:
    return "0x" + os.urandom(32).hex()


async def land(adapter: Any, effect: Any) -> None:
    signed = await adapter.prepare(effect)
    await adapter.broadcast(signed)
    while True:
        outcome = await adapter.status(signed)
        if outcome.landed:
            return
        if outcome.state in (TxState.FAILED, TxState.DROPPED):
            raise RuntimeError(f"{effect} did not land: {outcome.detail}")
        await asyncio.sleep(0.005)


async def bind_covers(
    adapter: Any, pool: PoolRef, payer: str, holders: list[str], limit: int
) -> list[str]:
    covers = []
    for holder in holders:
        opening = CoverOpening(new_id(), pool, limit, 0, PREMIUM, payer, holder)
        await land(adapter, opening)
        covers.append(opening.cover_id)
    return covers


async def pay(adapter: Any, pool: PoolRef, covers: list[str], n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        await land(adapter, ClaimPayment(new_id(), pool, covers[i % len(covers)], AMOUNT))
    return time.perf_counter() - t0


def report(chain: str, n: int, one: float, many: float, setup: float, covers: int) -> None:
    print(f"{chain:7s} covers bound: {covers} in {setup:6.2f} s ({covers / setup:6.1f}/s)")
    print(f"{chain:7s} 1 payment     : {one * 1000:8.1f} ms")
    each = many / n * 1000
    print(f"{chain:7s} {n:,} payments: {many:8.2f} s  ({n / many:6.1f}/s, {each:.1f} ms each)")


async def evm(n: int, n_covers: int) -> None:
    total = (n + 1) * AMOUNT
    spec = EmbeddedChainSpec("ethereum", 31_337_101, pools=(10 * total + 10**9,))
    async with embedded_evm_chains([spec]) as env:
        chain = env["ethereum"]
        pool = chain.pools[0]
        payer = await chain.new_payer(pool.address, PREMIUM * (n_covers + 1))
        holders = [Account.create().address for _ in range(n_covers + 1)]
        t0 = time.perf_counter()
        covers = await bind_covers(chain.adapter, pool, payer, holders, total)
        setup = time.perf_counter() - t0
        one = await pay(chain.adapter, pool, covers[-1:], 1)
        many = await pay(chain.adapter, pool, covers[:-1], n)
        paid = [await chain.token_balance(h) for h in holders]
        expected = [n // n_covers + (1 if i < n % n_covers else 0) for i in range(n_covers)]
        assert paid == [AMOUNT * k for k in expected] + [AMOUNT], "payments do not add up"
        report("evm", n, one, many, setup, n_covers + 1)


async def solana(n: int, n_covers: int) -> None:
    total = (n + 1) * AMOUNT
    async with embedded_solana(pools=[10 * total + 10**9]) as env:
        pool = env.pools[0]
        env.finalize()
        payer = env.new_payer(PREMIUM * (n_covers + 1))
        holders = [str(Keypair().pubkey()) for _ in range(n_covers + 1)]
        t0 = time.perf_counter()
        covers = await bind_covers(env.adapter, pool, str(payer.pubkey()), holders, total)
        setup = time.perf_counter() - t0
        one = await pay(env.adapter, pool, covers[-1:], 1)
        many = await pay(env.adapter, pool, covers[:-1], n)
        paid = [
            env.token_balance(str(associated_token_address(Pubkey.from_string(h), env.mint)))
            for h in holders
        ]
        expected = [n // n_covers + (1 if i < n % n_covers else 0) for i in range(n_covers)]
        assert paid == [AMOUNT * k for k in expected] + [AMOUNT], "payments do not add up"
        report("solana", n, one, many, setup, n_covers + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000)
    parser.add_argument("--covers", type=int, default=10)
    parser.add_argument("--chain", choices=("evm", "solana", "both"), default="both")
    args = parser.parse_args()
    if args.chain in ("solana", "both"):
        asyncio.run(solana(args.payments, args.covers))
    if args.chain in ("evm", "both"):
        asyncio.run(evm(args.payments, args.covers))
    return 0


if __name__ == "__main__":
    sys.exit(main())

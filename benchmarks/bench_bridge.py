"""Bridge deliveries/s: the relayer vs the direct path, on the embedded chains and anvil.

For each lane (EVM -> EVM, EVM -> Solana, Solana -> EVM on the embedded chains:
two py-evm chains and LiteSVM behind JSON-RPC; EVM -> EVM between two anvil
nodes when Node is installed), N sends are made and finalized first (not
timed), then delivered two ways, both timed to "delivered, final":

- relayer: :class:`chains.bridge.Relayer` passes (scan at finality, attest,
  prepare, journal, broadcast, status), chains finalized between passes, until
  every transfer is reported DELIVERED;
- direct (baseline): per transfer ``bridge.attest`` then the adapter's one-call
  ``complete_inbound``, sequentially, then one finalization.

The relayer also pays for what the direct path skips (the scan, the journal,
a status look per delivery, reporting only at finality). Round trips per
delivery are counted at the endpoints (EVM: a JSON-RPC batch is one; Solana:
HTTP requests to the node).

Run: .venv/bin/python benchmarks/bench_bridge.py [--transfers N] [--anvil-transfers M]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chains.base import EffectSender, Transfer  # noqa: E402
from chains.bridge import (  # noqa: E402
    DeliveryState,
    EvmBridgeChain,
    Lane,
    LocalBridge,
    MemoryJournal,
    Relayer,
    SolanaBridgeChain,
)
from chains.bridge.embedded import SOLANA, EmbeddedBridge, embedded_bridge  # noqa: E402
from chains.testing import FaultyEndpoint  # noqa: E402
from tests.chains.conformance import new_transfer_id as tid  # noqa: E402

AMOUNT = 1_000_000


@dataclass
class Row:
    label: str
    n: int
    relayer_s: float
    direct_s: float
    trips_relayer: float
    trips_direct: float

    def line(self) -> str:
        r, d = self.n / self.relayer_s, self.n / self.direct_s
        return (
            f"   {self.label:<22} relayer {r:7.1f}/s ({self.trips_relayer:5.1f} trips each)  "
            f"direct {d:7.1f}/s ({self.trips_direct:5.1f} trips each)  ratio {r / d:5.2f}x"
        )


async def timed(
    relayer: Relayer, finalize: Callable[[], Awaitable[None]], ids: set[str]
) -> tuple[float, int]:
    """Seconds until every id is DELIVERED, and the passes it took."""
    done: set[str] = set()
    passes = 0
    t0 = time.perf_counter()
    while done < ids:
        passes += 1
        if passes > 50:
            raise RuntimeError(f"{len(ids - done)} transfers not delivered in 50 passes")
        for report in await relayer.run_once():
            if report.state is DeliveryState.DELIVERED:
                done.add(report.transfer_id)
            else:
                raise RuntimeError(f"unexpected report {report}")
        await finalize()
    return time.perf_counter() - t0, passes


async def fresh(bridge: LocalBridge, destinations: Mapping[str, EffectSender]) -> Relayer:
    """A relayer whose cursors start after everything final so far on every source."""
    journal = MemoryJournal()
    for src in {lane.src_chain for lane in bridge.lanes}:
        await journal.set_cursor(src, await bridge.source(src).final_height() + 1)
    return Relayer(bridge, destinations, journal)


# ------------------------------------------------------------------ embedded


async def embedded(n: int) -> list[str]:
    out = [f"-- embedded chains (py-evm x2, LiteSVM over JSON-RPC): {n} transfers per lane"]
    async with embedded_bridge(fee_bps=5, fixed_fee=100) as net:
        counted = {c.name: FaultyEndpoint(c.endpoint, label=f"counted:{c.name}") for c in net.evm}
        sides: list[EvmBridgeChain | SolanaBridgeChain] = [
            EvmBridgeChain(c.config(), [counted[c.name]], pools=[p.address for p in c.pools])
            for c in net.evm
        ]
        sides.append(net.bridge.chains[SOLANA])
        lanes = [
            Lane(a, b, 5, 100)
            for a, b in (("evm-a", "evm-b"), ("evm-a", SOLANA), (SOLANA, "evm-b"))
        ]
        bridge = LocalBridge(sides, lanes, net.attester_key)
        destinations: dict[str, EffectSender] = {
            c.name: c.new_adapter([counted[c.name]]) for c in net.evm
        }
        destinations[SOLANA] = net.solana_adapter

        def trips() -> int:
            return (
                sum(e.round_trips for e in counted.values()) + net.solana.server.http.http_requests
            )

        for src, dst in ((a.src_chain, a.dst_chain) for a in lanes):
            out.append(await embedded_lane(net, bridge, destinations, src, dst, n, trips))
    return out


async def embedded_lane(
    net: EmbeddedBridge,
    bridge: LocalBridge,
    destinations: Mapping[str, EffectSender],
    src: str,
    dst: str,
    n: int,
    trips: Callable[[], int],
) -> str:
    async def make(count: int) -> list[tuple[str, int | None]]:
        """Sends made and finalized: (id, block) as the saga would know them."""
        ids = []
        for _ in range(count):
            transfer = Transfer(tid(), net.pools(src)[0], dst, await net.new_recipient(dst), AMOUNT)
            receipt = await net.adapter(src).send_transfer(transfer)
            ids.append((transfer.transfer_id, receipt.block_number))
        await net.finalize()
        return ids

    await net.finalize()
    relayer = await fresh(bridge, destinations)
    ids = await make(n)
    before = trips()
    relayer_s, _ = await timed(relayer, net.finalize, {i for i, _ in ids})
    trips_relayer = (trips() - before) / n

    ids = await make(n)
    before = trips()
    t0 = time.perf_counter()
    for transfer_id, block in ids:
        attested = await bridge.attest(src, transfer_id, near=block)
        adapter = destinations[dst]
        await adapter.complete_inbound(attested.inbound)  # type: ignore[attr-defined]
    await net.finalize()
    direct_s = time.perf_counter() - t0
    trips_direct = (trips() - before) / n
    return Row(f"{src} -> {dst}", n, relayer_s, direct_s, trips_relayer, trips_direct).line()


# --------------------------------------------------------------------- anvil


async def anvil(n: int) -> list[str]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / ".bin" / "anvil").exists():
        return ["-- anvil: SKIPPED (Node.js or node_modules/.bin/anvil missing: run `make test`)"]
    from eth_account import Account
    from pydantic import SecretStr

    from chains.evm import BridgeRoute
    from tests.chains.evm_harness import anvil_chain

    attester = Account.create()
    ids_ = {"anvil-a": 31_900_101, "anvil-b": 31_900_102}
    async with (
        anvil_chain("anvil-a", ids_["anvil-a"]) as a,
        anvil_chain("anvil-b", ids_["anvil-b"]) as b,
    ):
        chains = {"anvil-a": a, "anvil-b": b}
        counted = {k: FaultyEndpoint(c.endpoint, label=f"counted:{k}") for k, c in chains.items()}
        sides, adapters, pools = [], {}, {}
        for name, chain in chains.items():
            assert chain.deployment is not None
            other = "anvil-b" if name == "anvil-a" else "anvil-a"
            routes = {other: BridgeRoute(ids_[other])}
            bridge_addr, token = chain.deployment.bridge, chain.deployment.token
            set_attester = chain.abi("BridgeEndpoint").fn("setAttester").encode(attester.address)
            fund = chain.abi("SettlementToken").fn("mint").encode(bridge_addr, 10**15)
            await chain.bulk([(bridge_addr, set_attester, 200_000), (token, fund, 200_000)])
            (pools[name],) = await chain.create_pools([10**15])
            adapters[name] = chain.new_adapter([counted[name]], routes=routes)
            sides.append(
                EvmBridgeChain(
                    chain.config(routes=routes), [counted[name]], pools=[pools[name].address]
                )
            )
        key = SecretStr("0x" + bytes(attester.key).hex())
        bridge = LocalBridge(sides, [Lane("anvil-a", "anvil-b", 5, 100)], key)

        async def finalize() -> None:
            for chain in chains.values():
                await chain.finalize()

        async def make(count: int) -> list[tuple[str, int | None]]:
            ids = []
            for _ in range(count):
                recipient = Account.create().address
                transfer = Transfer(tid(), pools["anvil-a"], "anvil-b", recipient, AMOUNT)
                receipt = await adapters["anvil-a"].send_transfer(transfer)
                ids.append((transfer.transfer_id, receipt.block_number))
            await finalize()
            return ids

        def trips() -> int:
            return sum(e.round_trips for e in counted.values())

        destinations: dict[str, EffectSender] = dict(adapters)
        await finalize()
        relayer = await fresh(bridge, destinations)
        ids = await make(n)
        before = trips()
        relayer_s, _ = await timed(relayer, finalize, {i for i, _ in ids})
        trips_relayer = (trips() - before) / n
        ids = await make(n)
        before = trips()
        t0 = time.perf_counter()
        for transfer_id, block in ids:
            attested = await bridge.attest("anvil-a", transfer_id, near=block)
            await adapters["anvil-b"].complete_inbound(attested.inbound)
        await finalize()
        direct_s = time.perf_counter() - t0
        trips_direct = (trips() - before) / n
        for adapter in adapters.values():
            await adapter.aclose()
        row = Row("anvil-a -> anvil-b", n, relayer_s, direct_s, trips_relayer, trips_direct)
        return [f"-- two anvil nodes over HTTP (127.0.0.1): {n} transfers", row.line()]


async def main(n: int, n_anvil: int) -> int:
    lines = await embedded(n)
    lines += await anvil(n_anvil)
    print("\n".join(lines))
    print("(ratio: relayer deliveries/s over the direct path's, measured in the same run)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=10)
    parser.add_argument("--anvil-transfers", type=int, default=50)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.transfers, args.anvil_transfers)))

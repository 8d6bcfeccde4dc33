"""The baseline to beat: a threshold/target rebalancer in the style of
cross-chain inventory managers.

Per pool a target (``target_ratio``) and a threshold (``band``): a pool below
``target - band`` wants to get back to its target, a pool above ``target +
band`` gives what it has beyond its target (never ``locked``). Deficits are
netted within a chain first (free), then each deficit chain, largest first,
is served over the cheapest route first (fee for the amount needed) from chains
with spare capital, one transfer per route, within lane capacity and minimum
size. Whatever is still missing is ceded by quota share to the cheapest vault
first, within counterparty cap and capacity. No optimisation, no layers.

It computes costs and outcomes only (no plan objects): the benchmark compares
its total cost with the planner's on the same states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from reinsurance import PlanInput
from reinsurance.money import bps_fee
from reinsurance.planner import donor_max_out

_YEAR_S = 365 * 86_400


@dataclass(frozen=True, slots=True)
class HeuristicResult:
    bridge_fees: int
    premiums: int
    transit_cost: int
    capital_after: dict[str, int]
    required_after: dict[str, int]
    transfers: int
    cessions: int

    @property
    def cash_and_transit(self) -> int:
        return self.bridge_fees + self.premiums + self.transit_cost


def _need(req: int, ratio: float) -> int:
    f = Fraction(ratio)
    return -(-f.numerator * req // f.denominator)


def heuristic_plan(inp: PlanInput) -> HeuristicResult:
    pools = inp.pools
    avail = {p.pool_id: p.capital for p in pools}
    pending = {p.pool_id: 0 for p in pools}
    for t in inp.in_flight:
        if t.final:
            avail[t.dst_pool_id] += t.amount
        else:
            pending[t.dst_pool_id] += t.amount
    deficit: dict[str, int] = {}
    spare: dict[str, int] = {}
    for p in pools:
        req = p.required
        a = avail[p.pool_id] + pending[p.pool_id]
        if req > 0 and a < max(p.target_ratio - p.band, p.min_ratio) * req:
            deficit[p.pool_id] = max(0, _need(req, p.target_ratio) - a)
        elif req == 0 or avail[p.pool_id] > (p.target_ratio + p.band) * req:
            spare[p.pool_id] = donor_max_out(p, avail[p.pool_id])
    chains = sorted({p.chain for p in pools})
    moves = {p.pool_id: 0 for p in pools}
    by_chain = {c: [p for p in pools if p.chain == c] for c in chains}
    # 1. same-chain netting
    for c in chains:
        givers = [p.pool_id for p in by_chain[c] if spare.get(p.pool_id, 0) > 0]
        for p in sorted(by_chain[c], key=lambda p: -deficit.get(p.pool_id, 0)):
            need = deficit.get(p.pool_id, 0)
            for g in givers:
                if need <= 0:
                    break
                take = min(need, spare[g])
                spare[g] -= take
                moves[g] -= take
                moves[p.pool_id] += take
                need -= take
            deficit[p.pool_id] = need
    # 2. cheapest route first, per deficit chain
    chain_spare = {c: sum(spare.get(p.pool_id, 0) for p in by_chain[c]) for c in chains}
    fees = transit = transfers = 0
    used_routes: set[str] = set()
    transit_f = Fraction(0)
    order = sorted(chains, key=lambda c: -sum(deficit.get(p.pool_id, 0) for p in by_chain[c]))
    for c in order:
        need = sum(deficit.get(p.pool_id, 0) for p in by_chain[c])
        if need <= 0:
            continue
        received_total = 0
        while need > 0:
            options = []
            for r in inp.routes:
                if (
                    r.dst_chain != c
                    or r.route_id in used_routes
                    or chain_spare.get(r.src_chain, 0) <= 0
                ):
                    continue
                gross = math.ceil((need + r.fixed_fee) / (1 - r.fee_bps / 10_000)) + 1
                z = min(gross, r.capacity, chain_spare[r.src_chain])
                fee = bps_fee(z, r.fee_bps) + r.fixed_fee
                if z < max(r.min_transfer, 1) or z <= fee:
                    continue
                options.append((fee / z, r.route_id, r, z, fee))
            if not options:
                break
            _, _, r, z, fee = min(options)
            used_routes.add(r.route_id)
            chain_spare[r.src_chain] -= z
            # take z from the source chain's givers
            left = z
            for p in by_chain[r.src_chain]:
                take = min(left, spare.get(p.pool_id, 0))
                if take:
                    spare[p.pool_id] -= take
                    moves[p.pool_id] -= take
                    left -= take
            fees += fee
            transfers += 1
            transit_f += (
                Fraction(z) * Fraction(inp.config.cost_of_capital) * Fraction(r.latency_s) / _YEAR_S
            )
            received_total += z - fee
            need -= z - fee
        # hand the received capital to the chain's deficit pools, largest first
        for p in sorted(by_chain[c], key=lambda p: -deficit.get(p.pool_id, 0)):
            give = min(received_total, deficit.get(p.pool_id, 0))
            moves[p.pool_id] += give
            deficit[p.pool_id] -= give
            received_total -= give
        if received_total > 0:  # over-delivery stays in the chain's first pool
            moves[by_chain[c][0].pool_id] += received_total
    transit = math.ceil(transit_f)
    # 3. quota share to the cheapest vault first for what is still missing
    vault_left = {v.vault_id: v.capacity for v in inp.vaults}
    vaults = sorted(inp.vaults, key=lambda v: v.qs_rate * (1 - v.qs_commission))
    premiums = cessions = 0
    cap_after = {}
    req_after = {}
    for p in pools:
        a = avail[p.pool_id] + moves[p.pool_id]
        scr, mcr = p.scr, p.mcr
        share_total = 0.0
        if deficit.get(p.pool_id, 0) > 0 and scr > 0:
            t = p.target_ratio
            for v in vaults:
                rho = v.qs_rate * (1 - v.qs_commission)
                pend = pending[p.pool_id]
                # (a + pend - rho*S*s) >= t * max(S, M) * (1 - s - share_total)
                need_s = 0.0
                for part in (scr, mcr):
                    denom = t * part - rho * scr
                    if denom > 0:
                        need_s = max(need_s, (t * part * (1 - share_total) - a - pend) / denom)
                if need_s <= 0:
                    break
                s = min(need_s, v.max_share, 1 - share_total, vault_left[v.vault_id] / scr)
                if s <= 0:
                    continue
                ppm = math.ceil(s * 1_000_000)
                ppm = min(ppm, math.floor(v.max_share * 1_000_000))
                used = -(-scr * ppm // 1_000_000)
                if used > vault_left[v.vault_id] or ppm <= 0:
                    continue
                prem = math.ceil(Fraction(scr * ppm, 1_000_000) * Fraction(rho))
                vault_left[v.vault_id] -= used
                premiums += prem
                a -= prem
                share_total += ppm / 1_000_000
                cessions += 1
        keep = 1 - share_total
        cap_after[p.pool_id] = a
        req_after[p.pool_id] = max(math.ceil(scr * keep), math.ceil(mcr * keep))
    return HeuristicResult(
        bridge_fees=fees,
        premiums=premiums,
        transit_cost=transit,
        capital_after=cap_after,
        required_after=req_after,
        transfers=transfers,
        cessions=cessions,
    )

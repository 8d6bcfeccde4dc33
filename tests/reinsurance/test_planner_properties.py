"""Safety properties of every plan, over random states (hypothesis).

The assertions here are written out independently of ``check_plan`` (which is
also asserted), so a bug shared by the planner and its checker still shows."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings

from reinsurance import Plan, PlanInput, check_plan, plan_rebalance
from reinsurance.money import bps_fee

from .strategies import PLANNER, plan_inputs


def _final_in(inp: PlanInput) -> dict[str, int]:
    out = {p.pool_id: 0 for p in inp.pools}
    for t in inp.in_flight:
        if t.final:
            out[t.dst_pool_id] += t.amount
    return out


def _assert_safe(inp: PlanInput, plan: Plan) -> None:
    assert check_plan(inp, plan) == []
    final_in = _final_in(inp)
    routes = {r.route_id: r for r in inp.routes}
    vaults = {v.vault_id: v for v in inp.vaults}
    moves = {p.pool_id: 0 for p in inp.pools}
    for m in plan.moves:
        moves[m.pool_id] += m.amount
    premium = {p.pool_id: 0 for p in inp.pools}
    for c in plan.cessions:
        premium[c.pool_id] += c.premium
    # lanes: capacity, minimum size, fee rule
    for b in plan.bridges:
        r = routes[b.route_id]
        assert max(r.min_transfer, 1) <= b.sent <= r.capacity
        assert b.fee == bps_fee(b.sent, r.fee_bps) + r.fixed_fee
        assert b.received == b.sent - b.fee >= 0
    # vaults: capacity and counterparty cap
    used: dict[str, int] = {}
    for c in plan.cessions:
        used[c.vault_id] = used.get(c.vault_id, 0) + c.capacity_used
        v = vaults[c.vault_id]
        chain = next(p.chain for p in inp.pools if p.pool_id == c.pool_id)
        assert not v.accepts_from or chain in v.accepts_from
        lim = 1.0 if c.kind.value == "quota_share" else float(v.layer_limit or 0)
        assert Fraction(c.share_ppm, 1_000_000) * Fraction(lim) <= Fraction(v.max_share)
    for vid, amount in used.items():
        assert amount <= vaults[vid].capacity
    # hubs balance: what leaves a chain's pools = what the chain sends, etc.
    chains = {p.chain for p in inp.pools}
    for chain in chains:
        pool_net = sum(moves[p.pool_id] for p in inp.pools if p.chain == chain)
        received = sum(b.received for b in plan.bridges if b.dst_chain == chain)
        sent = sum(b.sent for b in plan.bridges if b.src_chain == chain)
        assert pool_net == received - sent
        # no transit: what the chain sends, its pools gave
        gave = sum(
            -moves[p.pool_id] for p in inp.pools if p.chain == chain and moves[p.pool_id] < 0
        )
        assert sent <= gave
    # capital conserved to the unit
    before = sum(p.capital + final_in[p.pool_id] for p in inp.pools)
    after = sum(o.capital_after for o in plan.pools)
    fees = sum(b.fee for b in plan.bridges)
    prem = sum(c.premium for c in plan.cessions)
    assert before == after + fees + prem
    assert plan.costs.bridge_fees == fees and plan.costs.premiums == prem
    for p, o in zip(inp.pools, plan.pools, strict=True):
        start = p.capital + final_in[p.pool_id]
        assert o.capital_after == start + moves[p.pool_id] - premium[p.pool_id]
        # locked capital never moves
        # (moves are net: what leaves is at most what was free plus what came in)
        assert o.capital_after >= p.locked
        outgo = max(-moves[p.pool_id], 0) + premium[p.pool_id]
        assert outgo <= start - p.locked + max(moves[p.pool_id], 0)
        # never below min(ratio before, target)
        if o.required_after > 0:
            after_ratio = Fraction(o.capital_after, o.required_after)
            floor = Fraction(p.target_ratio)
            if p.required > 0:
                floor = min(floor, Fraction(start, p.required))
            assert after_ratio >= floor, (p, o)


@PLANNER
@given(plan_inputs())
def test_every_plan_is_safe(inp: PlanInput) -> None:
    _assert_safe(inp, plan_rebalance(inp))


@PLANNER
@given(plan_inputs(max_pools=6))
def test_same_input_same_plan(inp: PlanInput) -> None:
    a = plan_rebalance(inp)
    b = plan_rebalance(inp)
    assert (a.bridges, a.moves, a.cessions, a.pools, a.costs) == (
        b.bridges,
        b.moves,
        b.cessions,
        b.pools,
        b.costs,
    )


@settings(PLANNER, max_examples=25)
@given(plan_inputs(max_pools=80, max_chains=6, max_vaults=6))
def test_bigger_states_are_safe_too(inp: PlanInput) -> None:
    _assert_safe(inp, plan_rebalance(inp))

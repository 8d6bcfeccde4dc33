"""Routes, vaults, partners and reporters change through N-of-M change control over
a real store (SQLite and PostgreSQL): each proposal shows its diff, needs two
operators other than its proposer (a repeated approval counts once, a forged id
is unknown), is audited, and once applied its effect is what the planner and
the covers use case see."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from router import domain as m
from router.app.access import sync_registry
from router.app.changes import ChangePolicy, Changes
from router.app.covers import CoverAsk, Covers
from router.app.engine import ReinsuranceEngine
from router.app.plans import Plans
from router.app.registry_changes import EffectiveRoutes, reapply_vault_overrides
from router.config import PolicyConfig, RouterSettings
from router.domain.changes import ChangeProposal, ChangeStatus
from router.errors import Conflict, InvalidRequest, NotFound, PermissionDenied, PreconditionFailed
from router.store import Store
from tests.app.conftest import ACME, ALICE, BOB, UNIT
from tests.app.test_planning import stressed_book
from tests.covers_support import cover_terms

CAROL = m.Identity(m.Role.OPERATOR, "carol")
T0 = datetime(2026, 3, 1, tzinfo=UTC)
VAULT = "0x" + "7a" * 20


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def passed(
    changes: Changes, clock: Clock, kind: str, payload: Mapping[str, object], diff: str
) -> ChangeProposal:
    """Propose (alice), approve (bob twice, carol), apply after the delay; check
    the diff, the approval rules and the audit trail on the way."""
    change = await changes.propose(ALICE, kind, payload, f"test {kind}")
    assert change.diff == diff
    with pytest.raises(Conflict, match="cannot approve"):
        await changes.approve(ALICE, change.change_id)
    with pytest.raises(NotFound):
        await changes.approve(BOB, "chg-forged0000000000000")
    once = await changes.approve(BOB, change.change_id)
    again = await changes.approve(BOB, change.change_id)  # counts once
    assert once.approvals == again.approvals == ("bob",)
    with pytest.raises(PreconditionFailed, match="1 of 2"):
        await changes.apply(CAROL, change.change_id)
    assert (await changes.approve(CAROL, change.change_id)).status is ChangeStatus.APPROVED
    clock.now += timedelta(hours=1)
    applied = await changes.apply(CAROL, change.change_id)
    assert applied.status is ChangeStatus.APPLIED
    store = changes._store  # the audit trail, read back
    actions = sorted(e.action for e in await store.list_audit(change.change_id))  # type: ignore[attr-defined]
    assert actions == sorted(
        ["change_proposed", "change_approved", "change_approved", "change_applied"]
    )
    return applied


def changes_of(book: Store, clock: Clock, routes: EffectiveRoutes | None = None) -> Changes:
    policy = ChangePolicy(approvals_required=2, delay=timedelta(hours=1))
    return Changes(book, policy, clock=clock, routes=routes)


async def test_a_route_set_by_change_is_used_by_the_planner_and_removed_again(
    book: Store,
) -> None:
    policy = PolicyConfig(rebalance_band_bps=0)
    engine = ReinsuranceEngine(policy, [], scenarios=4_000)  # no configured routes
    await stressed_book(book, engine, policy)
    routes = EffectiveRoutes(book, [])
    plans = Plans(book, engine, policy, routes_source=routes)
    before = (await plans.propose(ALICE, dry_run=True)).plan
    assert not [s for s in before.steps if s.route_id], before.steps
    clock = Clock()
    changes = changes_of(book, clock, routes)
    route = {"route_id": "a-b", "src_chain": "chain-a", "dst_chain": "chain-b", "fee_bps": 4}
    await passed(
        changes,
        clock,
        "route.set",
        route,
        "route a-b: none -> chain-a->chain-b fee 4 bps + 0, latency 600 s, "
        "capacity 1000000000000000, min 0",
    )
    after = (await plans.propose(ALICE, dry_run=True)).plan
    assert {s.route_id for s in after.steps if s.route_id} == {"a-b"}
    with pytest.raises(PreconditionFailed, match="already"):
        await changes.propose(ALICE, "route.set", route, "again")
    with pytest.raises(InvalidRequest, match="chain 'chain-z' is not registered"):
        await changes.propose(ALICE, "route.set", {**route, "dst_chain": "chain-z"}, "bad")
    with pytest.raises(InvalidRequest, match="fee_bps"):
        await changes.propose(ALICE, "route.set", {**route, "fee_bps": -1}, "bad")
    await passed(
        changes,
        clock,
        "route.remove",
        {"route_id": "a-b"},
        "- route a-b: chain-a->chain-b fee 4 bps + 0, latency 600 s, "
        "capacity 1000000000000000, min 0",
    )
    assert await routes() == ()
    gone = (await plans.propose(ALICE, dry_run=True)).plan
    assert not [s for s in gone.steps if s.route_id]


async def test_vaults_partners_and_reporters_change_by_approved_change(book: Store) -> None:
    clock = Clock()
    changes = changes_of(book, clock)
    vault = {"vault_id": "v-new", "chain": "chain-a", "address": VAULT, "capacity": 5 * UNIT}
    await passed(
        changes,
        clock,
        "vault.set",
        vault,
        f"vault v-new: none -> chain-a {VAULT} USDC, capacity {5 * UNIT}, premium 300 bps",
    )
    (stored,) = [v for v in await book.list_vaults() if v.vault_id == "v-new"]
    assert stored.capacity == 5 * UNIT
    # A start-up's config sync writing the vault back is undone by the override.
    await book.upsert_vault(m.Vault("v-new", "chain-a", VAULT, "USDC", 1, 300))
    assert await reapply_vault_overrides(book) == 1
    (stored,) = [v for v in await book.list_vaults() if v.vault_id == "v-new"]
    assert stored.capacity == 5 * UNIT

    # A partner deactivated by change is refused a quote at once.
    covers = Covers(book, ReinsuranceEngine(PolicyConfig(), scenarios=1_000), PolicyConfig())
    assert await covers.partner(ACME) == "acme"
    await passed(
        changes,
        clock,
        "partner.deactivate",
        {"partner_id": "acme"},
        "- partner acme (Acme Re): active -> deactivated",
    )
    with pytest.raises(PermissionDenied, match="deactivated"):
        await covers.quote(
            ACME, CoverAsk("chain-a", "a1", cover_terms(m.CoverType.POSITION, "amm-a", UNIT))
        )
    await passed(
        changes,
        clock,
        "partner.add",
        {"partner_id": "acme", "name": "Acme Re"},
        "+ partner acme (Acme Re): deactivated -> active",
    )
    assert await covers.partner(ACME) == "acme"

    await passed(
        changes,
        clock,
        "reporter.deactivate",
        {"reporter_id": "chain-a"},
        "- reporter chain-a (chain-a): allowed -> deactivated",
    )
    assert (await book.reporters_allowed(["chain-a"]))["chain-a"] is False
    await passed(
        changes,
        clock,
        "reporter.add",
        {"reporter_id": "chain-b/node-2", "chain": "chain-b"},
        "+ reporter chain-b/node-2 (chain-b): none -> allowed",
    )
    assert (await book.reporters_allowed(["chain-b/node-2"]))["chain-b/node-2"] is True
    # A restart syncs the registry from a config that lists neither: what an
    # approved change added stays; acme (listed nowhere, last re-added by a
    # change) stays active; chain-a, deactivated by a change, stays off.
    await sync_registry(book, RouterSettings(chains=[{"name": "chain-a", "family": "evm"}]))
    assert (await book.reporters_allowed(["chain-b/node-2"]))["chain-b/node-2"] is True
    assert (await book.reporters_allowed(["chain-a"]))["chain-a"] is False
    assert await covers.partner(ACME) == "acme"
    with pytest.raises(InvalidRequest, match="unknown field"):
        await changes.propose(ALICE, "partner.add", {"partner_id": "x", "tier": 1}, "bad")
    with pytest.raises(PreconditionFailed, match="not registered"):
        await changes.propose(ALICE, "partner.deactivate", {"partner_id": "nobody"}, "bad")
    with pytest.raises(InvalidRequest, match="not enabled"):
        await changes.propose(ALICE, "route.set", {"route_id": "x"}, "no routes wired")

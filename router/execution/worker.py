"""The executor's worker: the plan saga and its activities, on the chains' signing adapters.

``ballast worker`` runs one against a Temporal address; ``ballast serve``
can run one in-process (``execution.embedded_worker``). Any number of workers
may serve one task queue: Temporal hands each activity to one of them, and
the chain ids make a repeated activity harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from chains.base import ChainFamily
from chains.bridge import DeliveryAttester, Lane, LocalBridge, bridge_chain
from chains.errors import ChainError
from chains.factory import connect
from router.app.limit_changes import EffectiveLimits
from router.app.registry_changes import EffectiveRoutes
from router.config import RouterSettings, chain_spec
from router.domain.drift import DriftPolicy
from router.execution.activities import PlanActivities
from router.execution.activity_support import Attester, adopt_live
from router.execution.bridge_lanes import RoutesFollowingAttester
from router.execution.effects import ChainPlace, Places
from router.execution.faults import CrashPlan
from router.execution.openings import OpeningActivities, OpeningSaga, adopt_openings
from router.execution.payout_activities import (
    QUEUE_WAIT_SECONDS,
    PayoutActivities,
    adopt_payouts,
)
from router.execution.payouts import PayoutSaga
from router.execution.saga import PlanSaga
from router.execution.send_queue import SendQueue
from router.execution.starter import TemporalStarter
from router.execution.temporal import temporal_client
from router.store import Store

log = logging.getLogger("ballast.execution")


@contextlib.asynccontextmanager
async def configured_bridge(
    settings: RouterSettings, store: Store | None = None
) -> AsyncIterator[Attester | None]:
    """The attester the saga delivers with, from ``[bridge]`` (None: no bridge).

    The local bridge trusts sends of the configured pools and hubs only, on
    lanes priced as the planner prices the routes: with ``store``, the routes
    in force, approved route changes included (:mod:`router.execution.bridge_lanes`).
    """
    if settings.bridge.kind == "none" or settings.bridge.attester_key is None:
        yield None
        return
    ours: dict[str, list[str]] = {}
    for p in settings.pools:
        ours.setdefault(p.chain, []).append(p.address)
    for c in settings.chains:
        if c.hub is not None:
            ours.setdefault(c.name, []).append(c.hub)
    sides = [
        bridge_chain(chain_spec(settings, c.name, with_signer=False), pools=ours.get(c.name, ()))
        for c in settings.chains
        if c.rpc_urls and c.settlement_asset
    ]
    lanes = [Lane(r.src_chain, r.dst_chain, r.fee_bps, r.fixed_fee) for r in settings.routes]
    bridge = LocalBridge(sides, lanes, settings.bridge.attester_key)
    try:
        if store is None:
            yield DeliveryAttester(bridge)
        else:
            yield RoutesFollowingAttester(bridge, EffectiveRoutes(store, settings.routes))
    finally:
        await bridge.aclose()


def chain_places(settings: RouterSettings) -> dict[str, ChainPlace]:
    return {
        c.name: ChainPlace(c.name, ChainFamily(c.family), c.settlement_asset or "", c.hub)
        for c in settings.chains
    }


@contextlib.asynccontextmanager
async def signing_adapters(settings: RouterSettings) -> AsyncIterator[dict[str, Any]]:
    """An adapter per chain that has a signer key (the others cannot execute)."""
    adapters: dict[str, Any] = {}
    try:
        for c in settings.chains:
            if c.signer_key is not None:
                adapters[c.name] = await connect(chain_spec(settings, c.name))
        yield adapters
    finally:
        for a in adapters.values():
            await a.aclose()


async def adopt_recorded(store: Store, adapters: Mapping[str, Any]) -> int:
    """Before acting: the live attempts of executing plans (``adopt_live``)."""
    attempts = []
    for plan in await store.list_plans():
        if plan.status.value == "executing":
            attempts += await store.plan_attempts(plan.plan_id)
    return adopt_live(attempts, adapters)


@contextlib.asynccontextmanager
async def executor_worker(
    client: Client,
    settings: RouterSettings,
    store: Store,
    adapters: Mapping[str, Any],
    attester: Attester | None,
    *,
    crash: CrashPlan | None = None,
    on_change: Callable[[], None] | None = None,
) -> AsyncIterator[Worker]:
    places_cfg = chain_places(settings)

    async def places() -> Places:
        pools = {p.pool_id: p for p in await store.list_pools()}
        vaults = {v.vault_id: v for v in await store.list_vaults()}
        return Places(places_cfg, pools, vaults)

    await adopt_recorded(store, adapters)
    acts = PlanActivities(
        store,
        dict(adapters),
        places,
        attester,
        poll_seconds=settings.execution.poll_seconds,
        observe_seconds=settings.execution.observe_seconds,
        crash=crash,
        on_change=on_change,
        limits=settings.limits.policy(),
        drift=DriftPolicy(settings.policy.drift_tolerance_bps, settings.policy.drift_floor),
        limits_source=EffectiveLimits(store, settings.limits.policy()),
    )
    await adopt_payouts(store, adapters)
    await adopt_openings(store, adapters)
    queue = SendQueue(wait_seconds=QUEUE_WAIT_SECONDS)  # one turn per chain for both
    payouts, openings = (
        kind(
            store,
            dict(adapters),
            places,
            poll_seconds=settings.execution.poll_seconds,
            observe_seconds=settings.execution.observe_seconds,
            on_change=on_change,
            crash=crash,
            queue=queue,
        )
        for kind in (PayoutActivities, OpeningActivities)
    )
    worker = Worker(
        client,
        task_queue=settings.temporal.task_queue,
        workflows=[PlanSaga, PayoutSaga, OpeningSaga],
        activities=[*acts.all(), *payouts.all(), *openings.all()],
        # A worker that dies leaves its cached workflows on a queue of its own:
        # other workers take them over after this, instead of the default 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
    )
    watcher = asyncio.create_task(
        watch_vaults(store, adapters, settings.execution.vault_refresh_seconds)
    )
    try:
        async with worker:
            yield worker
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def refresh_vaults(store: Store, adapters: Mapping[str, Any]) -> int:
    """Read every vault's free capacity on chain (final block) into the store, so
    the planner never offers a cession the vault would refuse. Returns how many."""
    done = 0
    for vault in await store.list_vaults():
        adapter = adapters.get(vault.chain)
        if adapter is None or not hasattr(adapter, "vault_state"):
            continue
        try:
            state = await adapter.vault_state(vault.address)
        except ChainError as exc:  # next round; the planner keeps the last final read
            log.warning("vault %s not read: %s", vault.vault_id, type(exc).__name__)
            continue
        if state.finalized:
            await store.record_vault_capacity(
                vault.vault_id, state.free_capacity, state.block_number
            )
            done += 1
    return done


async def watch_vaults(store: Store, adapters: Mapping[str, Any], every: float) -> None:
    while True:
        await refresh_vaults(store, adapters)
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def execution_runtime(
    settings: RouterSettings,
    store: Store,
    *,
    attester: Attester | None = None,
    run_worker: bool | None = None,
    on_change: Callable[[], None] | None = None,
) -> AsyncIterator[TemporalStarter | None]:
    """What a router process needs to execute plans: a starter for sagas, and
    (single machine) a worker beside it, whose progress ``on_change`` hears.
    ``None`` when execution is disabled."""
    if not settings.execution.enabled:
        yield None
        return
    worker_here = settings.execution.embedded_worker if run_worker is None else run_worker
    async with temporal_client(settings.temporal, settings.database_url) as client:
        starter = TemporalStarter(client, settings.temporal.task_queue, settings.execution)
        if not worker_here:
            yield starter
            return
        async with contextlib.AsyncExitStack() as stack:
            adapters = await stack.enter_async_context(signing_adapters(settings))
            bridge = attester or await stack.enter_async_context(configured_bridge(settings, store))
            await stack.enter_async_context(
                executor_worker(
                    client,
                    settings,
                    store,
                    adapters,
                    bridge,
                    crash=CrashPlan.from_env(),
                    on_change=on_change,
                )
            )
            yield starter


async def run_worker(settings: RouterSettings, stop: asyncio.Event) -> None:
    """``ballast worker``: serve the task queue until ``stop`` is set."""
    from router.store import open_store

    store = await open_store(settings.database_url)
    try:
        async with (
            temporal_client(settings.temporal, settings.database_url) as client,
            signing_adapters(settings) as adapters,
            configured_bridge(settings, store) as bridge,
            executor_worker(client, settings, store, adapters, bridge, crash=CrashPlan.from_env()),
        ):
            log.info("executor worker on task queue %s", settings.temporal.task_queue)
            await stop.wait()
    finally:
        await store.aclose()

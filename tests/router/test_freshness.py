"""No reporter clock makes a balance look fresher than the router and the chain say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ballast.v1 import partner_pb2, reporting_pb2, treasury_pb2

from router.api.server import RunningRouter
from tests.router.conftest import ClientFactory, report, send_batches

ETH = "ballast://reporter/ethereum"


def at(
    r: reporting_pb2.BalanceReport, observed: datetime, block: datetime | None = None
) -> reporting_pb2.BalanceReport:
    r.observed_at.FromDatetime(observed)
    if block is not None:
        r.block_time.FromDatetime(block)
    return r


async def test_a_report_from_the_future_is_refused_and_stores_nothing(
    router: RunningRouter, connect: ClientFactory
) -> None:
    now = datetime.now(UTC)
    eth = connect(ETH)
    acks = await send_batches(
        eth,
        [
            at(report("eth-main", 10**12, 5), now + timedelta(days=365)),
            at(report("eth-alt", 10**12, 5), now, block=now + timedelta(hours=1)),
        ],
    )
    reasons = [r.reason for r in acks[0].rejections]
    assert reasons == [reporting_pb2.REJECT_REASON_FROM_FUTURE] * 2
    assert "clock" in acks[0].rejections[0].detail
    assert await router.store.latest_balances() == {}


async def test_within_the_skew_the_router_clock_decides_freshness(
    router: RunningRouter, connect: ClientFactory
) -> None:
    now = datetime.now(UTC)
    ahead = now + timedelta(seconds=router.settings.policy.max_clock_skew_seconds - 5)
    acks = await send_batches(connect(ETH), [at(report("eth-main", 10**12, 5), ahead)])
    assert acks[0].confirmed == 1
    bal = await router.store.latest_balance("eth-main")
    assert bal is not None
    # Vouched for no later than the router confirmed it, not the reporter's 25 s ahead.
    assert bal.fresh_at == bal.confirmed_at < ahead
    pos = await connect("ballast://operator/alice").treasury.GetPosition(
        treasury_pb2.GetPositionRequest()
    )
    main = next(p for p in pos.pools if p.pool_id == "eth-main")
    assert main.confirmed_at.ToDatetime(UTC) <= datetime.now(UTC)


async def test_an_old_block_is_stale_however_recently_it_was_read(
    router: RunningRouter, connect: ClientFactory
) -> None:
    limit = router.settings.policy.staleness_limit_seconds
    now = datetime.now(UTC)
    old_block = now - timedelta(seconds=limit + 60)
    acks = await send_batches(
        connect(ETH), [at(report("eth-main", 10**12, 5), now, block=old_block)]
    )
    assert acks[0].confirmed == 1
    pos = await connect("ballast://operator/alice").treasury.GetPosition(
        treasury_pb2.GetPositionRequest(chains=["ethereum"])
    )
    main = next(p for p in pos.pools if p.pool_id == "eth-main")
    # (answers are computed to the second)
    assert main.stale and main.staleness.seconds >= limit + 59
    cap = await connect("ballast://partner/acme").partner.GetCapacity(
        partner_pb2.GetCapacityRequest(chain="ethereum")
    )
    entry = next(c for c in cap.capacities if c.pool_id == "eth-main")
    assert entry.available.value == "0"
    assert entry.binding_limit == partner_pb2.CAPACITY_LIMIT_STALE_BALANCE

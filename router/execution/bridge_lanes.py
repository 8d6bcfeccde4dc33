"""The local bridge's lanes follow the routes in force.

The planner prices a bridge step with the routes in force: the config's, as
approved ``route.set`` / ``route.remove`` changes leave them
(:class:`router.app.registry_changes.EffectiveRoutes`). The local bridge
(``[bridge] kind = "local"``) charges its lanes' fees when it attests a
delivery, so it reads the same routes before each attestation: a fee an
approved change set is the fee the bridge charges from then on, and a plan
priced with it delivers what it expects. A removed route keeps its last lane
at the bridge, so a send already made on it is still delivered (the planner
plans no new one). A delivery attested after a fee change is priced with the
new fee whenever its send was made: a plan priced before the change and
delivered after it is left for an operator, as the saga's delivery check
says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from chains.base import InboundTransfer
from chains.bridge import DeliveryAttester, Lane, LocalBridge
from router.config import RouteConfig


class RoutesFollowingAttester:
    """:class:`router.execution.activity_support.Attester` over a local bridge
    whose lanes are read from ``routes`` before each delivery is attested."""

    def __init__(
        self, bridge: LocalBridge, routes: Callable[[], Awaitable[Sequence[RouteConfig]]]
    ) -> None:
        self._bridge = bridge
        self._routes = routes
        self._inner = DeliveryAttester(bridge)

    async def follow(self) -> None:
        """Set the bridge's lanes to the routes in force (removed ones kept)."""
        lanes = {lane.key: lane for lane in self._bridge.lanes}
        for r in await self._routes():
            lanes[(r.src_chain, r.dst_chain)] = Lane(
                r.src_chain, r.dst_chain, r.fee_bps, r.fixed_fee
            )
        if list(lanes.values()) != list(self._bridge.lanes):
            self._bridge.set_lanes(lanes.values())

    async def attest(self, src_chain: str, dst_chain: str, transfer_id: str) -> InboundTransfer:
        await self.follow()
        return await self._inner.attest(src_chain, dst_chain, transfer_id)

"""The two narrow interfaces of a bridge: reading sends on a source chain, and
turning a final send into a delivery its destination accepts.

A production bridge of the burn/attest/mint kind (CCTP and the like) fits
them as they are: :class:`SendSource` reads its burn events at finality,
:meth:`BridgeTransport.attest` asks its attestation service (raising
:class:`~chains.errors.NotYetFinal` while the service has nothing yet), and the
delivery goes through the destination adapter's saga ports
(``prepare -> broadcast -> status``) as an
:class:`~chains.base.InboundTransfer`. :class:`~chains.bridge.local.LocalBridge`
is the implementation for our own ``BridgeEndpoint`` contracts and the Solana
escrow; :class:`~chains.bridge.relayer.Relayer` drives either.

Heights are EVM block numbers or Solana slots, one integer per chain, so a
relayer keeps one cursor per source chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from chains.base import InboundTransfer
from chains.bridge.fees import Lane
from chains.bridge.values import Attested, SentTransfer
from chains.errors import AttestationMismatch


@runtime_checkable
class SendSource(Protocol):
    """The bridge sends of one source chain, read only at final blocks/slots."""

    @property
    def chain(self) -> str: ...

    @property
    def origin(self) -> int:
        """The first height worth scanning (the bridge's deployment block, or 0)."""
        ...

    async def final_height(self) -> int:
        """The newest final block (EVM, by the chain's finality rule) or finalized slot."""
        ...

    async def sends(self, from_height: int, to_height: int) -> Sequence[SentTransfer]:
        """Every send of ours in ``[from_height, to_height]``, oldest first.

        ``to_height`` must be final (:class:`~chains.errors.NotFinal` otherwise).
        Sends by anyone but our pools are left out (and logged): never attested.
        """
        ...

    async def find_send(self, transfer_id: str, *, near: int | None = None) -> SentTransfer:
        """The send with this id at a final block.

        ``near``: the block/slot where the caller saw it (a scan, the saga's send
        outcome). Only where to look first: the facts are read from the chain, and
        a wrong hint costs a full search, never a wrong answer.

        :class:`~chains.errors.NotYetFinal` when the chain shows it only at its
        head, :class:`~chains.errors.UnknownSend` when not at all,
        :class:`~chains.errors.ForeignSend` when someone else made it.
        """
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class BridgeTransport(Protocol):
    """Lanes, their fees, and attestations of final sends."""

    @property
    def lanes(self) -> Sequence[Lane]: ...

    def lane(self, src_chain: str, dst_chain: str) -> Lane:
        """The lane between two chains; :class:`~chains.errors.UnknownLane` if none."""
        ...

    def fee(self, lane: Lane, amount: int) -> int:
        """What the bridge keeps of ``amount`` sent on ``lane`` (the planner's rule)."""
        ...

    def source(self, chain: str) -> SendSource:
        """The reader of one source chain's sends; :class:`~chains.errors.UnknownChain`."""
        ...

    async def attest(
        self, src_chain: str, transfer_id: str, *, near: int | None = None
    ) -> Attested:
        """Read the send by id on its source at finality and attest its delivery
        (``near``: where to look first, as in :meth:`SendSource.find_send`).

        The amount delivered is what the source chain shows sent minus the lane
        fee: never a caller's figure. :class:`~chains.errors.FeeExceedsAmount`
        when nothing would arrive.
        """
        ...


class DeliveryAttester:
    """A transport seen from a caller that knows where a send must arrive (the plan
    saga): ``attest(src_chain, dst_chain, transfer_id)`` is the delivery the final
    send entitles to, read from the source (so it is checked even where no
    contract checks, a Solana release). A send bound elsewhere is
    :class:`~chains.errors.AttestationMismatch`; not final yet,
    :class:`~chains.errors.NotYetFinal` (retryable)."""

    def __init__(self, transport: BridgeTransport) -> None:
        self._transport = transport

    async def attest(
        self, src_chain: str, dst_chain: str, transfer_id: str, *, near: int | None = None
    ) -> InboundTransfer:
        attested = await self._transport.attest(src_chain, transfer_id, near=near)
        if attested.inbound.dst_chain != dst_chain:
            raise AttestationMismatch(
                f"send {transfer_id} from {src_chain} goes to {attested.inbound.dst_chain}, "
                f"not {dst_chain}",
                chain=src_chain,
                transfer_id=transfer_id,
            )
        return attested.inbound

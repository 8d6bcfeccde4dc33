"""The local bridge: our ``BridgeEndpoint`` contracts and the Solana escrow, one
attester key, and the lanes between the chains.

For embedded chains and dev setups, where we run the attester ourselves. A
production bridge implements :class:`~chains.bridge.transport.BridgeTransport`
instead and the relayer does not change.

``attest(src_chain, transfer_id)`` reads the send on its source chain at
finality (never a caller's figures), applies the lane fee, and signs the
delivery for its destination:

- EVM destination: EIP-191 signature over ``BridgeEndpoint.attestationDigest``
  exactly as that endpoint computes it (its address and chain id bound in), so
  the contract itself refuses a forged, altered or replayed attestation.
- Solana destination: no program checks anything there, so the signature is
  over :func:`~chains.bridge.solana_side.solana_delivery_digest` and
  :meth:`LocalBridge.verify` is what checks a delivery (its attestation and the
  final source send) before the treasury is asked to release from the escrow;
  the inbound marker refuses a replay.

The attester key is a secret: it is kept as an eth-account signer only, never
in a repr, an error or a log (``repr`` shows its public address).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pydantic import SecretBytes, SecretStr

from chains.base import ChainFamily, InboundTransfer, check_transfer_id
from chains.bridge.evm_side import EvmBridgeChain
from chains.bridge.fees import Lane
from chains.bridge.solana_side import SolanaBridgeChain
from chains.bridge.transport import SendSource
from chains.bridge.values import Attested, SentTransfer
from chains.errors import (
    AttestationMismatch,
    FeeExceedsAmount,
    InvalidInput,
    UnknownChain,
    UnknownLane,
)
from chains.factory import ChainSpec, evm_config, solana_config

BridgeChain = EvmBridgeChain | SolanaBridgeChain


def bridge_chain(spec: ChainSpec, *, pools: Iterable[str] = ()) -> BridgeChain:
    """The bridge's read-only view of one configured chain (keys in the spec are
    not kept). ``pools``: EVM only, the pools whose sends are ours."""
    if spec.family is ChainFamily.EVM:
        return EvmBridgeChain(evm_config(spec), pools=pools)
    return SolanaBridgeChain(solana_config(spec))


def _signer(key: SecretStr | SecretBytes) -> LocalAccount:
    if not isinstance(key, SecretStr | SecretBytes):
        raise InvalidInput("the attester key must be a SecretStr or SecretBytes")
    try:
        return Account.from_key(key.get_secret_value())
    except (ValueError, TypeError):  # eth-account's text may quote the key: never shown
        raise InvalidInput("the attester key is not a 32-byte secp256k1 private key") from None


class LocalBridge:
    """:class:`~chains.bridge.transport.BridgeTransport` over our own bridge contracts."""

    def __init__(
        self,
        chains: Iterable[BridgeChain],
        lanes: Iterable[Lane],
        attester_key: SecretStr | SecretBytes,
    ) -> None:
        self._chains: dict[str, BridgeChain] = {}
        for side in chains:
            if side.chain in self._chains:
                raise InvalidInput(f"chain {side.chain!r} given twice")
            self._chains[side.chain] = side
        self._lanes: dict[tuple[str, str], Lane] = {}
        self.set_lanes(lanes)
        self._attester = _signer(attester_key)

    def set_lanes(self, lanes: Iterable[Lane]) -> None:
        """Price deliveries attested from now on with ``lanes`` (all checked first:
        a bad one changes nothing)."""
        new: dict[tuple[str, str], Lane] = {}
        for lane in lanes:
            if lane.key in new:
                raise InvalidInput(f"lane {lane.src_chain}->{lane.dst_chain} given twice")
            self._check_lane(lane)
            new[lane.key] = lane
        self._lanes = new

    def _check_lane(self, lane: Lane) -> None:
        """Both ends exist and name each other with the ids the other actually has."""
        for name in lane.key:
            if name not in self._chains:
                raise InvalidInput(f"lane {lane.src_chain}->{lane.dst_chain}: no chain {name!r}")
        src, dst = self._chains[lane.src_chain], self._chains[lane.dst_chain]
        try:
            to_dst, to_src = src.route_id(dst.chain), dst.route_id(src.chain)
        except UnknownLane as exc:
            raise InvalidInput(f"lane {lane.src_chain}->{lane.dst_chain}: {exc.message}") from None
        for near, far, seen in ((src, dst, to_dst), (dst, src, to_src)):
            if isinstance(far, EvmBridgeChain) and seen != far.chain_id:
                raise InvalidInput(
                    f"lane {lane.src_chain}->{lane.dst_chain}: {near.chain} routes {far.chain} "
                    f"as chain id {seen}, but its chain id is {far.chain_id}"
                )
            if near.route_family(far.chain) is not _family(far):
                raise InvalidInput(
                    f"lane {lane.src_chain}->{lane.dst_chain}: {near.chain} takes {far.chain} "
                    f"for a {near.route_family(far.chain)} chain"
                )

    def __repr__(self) -> str:
        lanes = ", ".join(f"{s}->{d}" for s, d in self._lanes)
        return f"LocalBridge(attester={self._attester.address}, lanes=[{lanes}])"

    @property
    def attester(self) -> str:
        """The attester's public address (what every ``BridgeEndpoint`` must name)."""
        return str(self._attester.address)

    # -- lanes and fees -------------------------------------------------------------

    @property
    def lanes(self) -> Sequence[Lane]:
        return tuple(self._lanes.values())

    def lane(self, src_chain: str, dst_chain: str) -> Lane:
        lane = self._lanes.get((src_chain, dst_chain))
        if lane is None:
            raise UnknownLane(f"no lane from {src_chain!r} to {dst_chain!r}", chain=src_chain)
        return lane

    def fee(self, lane: Lane, amount: int) -> int:
        return lane.fee(amount)

    def source(self, chain: str) -> SendSource:
        side = self._chains.get(chain)
        if side is None or not any(lane.src_chain == chain for lane in self._lanes.values()):
            raise UnknownChain(f"no lane leaves chain {chain!r}", chain=chain)
        return side

    @property
    def chains(self) -> Mapping[str, BridgeChain]:
        return dict(self._chains)

    # -- attestations ---------------------------------------------------------------

    async def attest(
        self, src_chain: str, transfer_id: str, *, near: int | None = None
    ) -> Attested:
        """The delivery of a final send, attested for its destination (module docstring).
        ``near``: the block/slot where the send was seen, if known (a search hint only)."""
        check_transfer_id(transfer_id)
        sent = await self.source(src_chain).find_send(transfer_id, near=near)
        return self._attest(sent)

    def _attest(self, sent: SentTransfer) -> Attested:
        if sent.dst_chain is None:
            raise UnknownLane(
                f"send {sent.transfer_id} names destination chain id {sent.dst_chain_id}, which "
                f"no route of {sent.src_chain} knows",
                chain=sent.src_chain,
                transfer_id=sent.transfer_id,
            )
        lane = self.lane(sent.src_chain, sent.dst_chain)
        try:
            delivered = lane.delivered(sent.amount, transfer_id=sent.transfer_id)
        except FeeExceedsAmount as exc:  # the facts an operator needs to resolve it
            exc.fields.update(dst_chain=sent.dst_chain, source_tx=sent.tx_ref)
            raise
        dst = self._chains[lane.dst_chain]
        recipient = dst.recipient(sent.recipient_bytes, transfer_id=sent.transfer_id)
        digest = dst.digest(sent.transfer_id, dst.route_id(sent.src_chain), recipient, delivered)
        signature = self._attester.sign_message(encode_defunct(primitive=digest)).signature
        inbound = InboundTransfer(
            transfer_id=sent.transfer_id,
            src_chain=sent.src_chain,
            dst_chain=lane.dst_chain,
            recipient=recipient,
            amount=delivered,
            attestation=bytes(signature),
        )
        return Attested(sent=sent, lane=lane, fee=sent.amount - delivered, inbound=inbound)

    async def verify(self, inbound: InboundTransfer, *, near: int | None = None) -> Attested:
        """Check a delivery before it is made: signed by our attester for exactly this
        delivery, and equal to what the final source send attests to. Needed where no
        contract checks (a Solana release); :class:`AttestationMismatch` otherwise."""
        dst = self._chains.get(inbound.dst_chain)
        if dst is None:
            raise UnknownChain(f"no bridge chain {inbound.dst_chain!r}", chain=inbound.dst_chain)
        digest = dst.digest(
            inbound.transfer_id,
            dst.route_id(inbound.src_chain),
            inbound.recipient,
            inbound.amount,
        )
        try:
            signer = Account.recover_message(
                encode_defunct(primitive=digest), signature=inbound.attestation
            )
        except Exception:  # eth-keys: malformed signature bytes of any kind
            signer = None
        if signer != self._attester.address:
            raise AttestationMismatch(
                f"delivery {inbound.transfer_id} to {inbound.dst_chain}: the attestation is not "
                "this bridge's attester's signature of this delivery",
                chain=inbound.dst_chain,
                transfer_id=inbound.transfer_id,
            )
        expected = await self.attest(inbound.src_chain, inbound.transfer_id, near=near)
        want = expected.inbound
        if (want.dst_chain, want.recipient, want.amount) != (
            inbound.dst_chain,
            inbound.recipient,
            inbound.amount,
        ):
            raise AttestationMismatch(
                f"delivery {inbound.transfer_id}: asks {inbound.amount} to {inbound.recipient} "
                f"on {inbound.dst_chain}; the source send attests {want.amount} to "
                f"{want.recipient} on {want.dst_chain}",
                chain=inbound.dst_chain,
                transfer_id=inbound.transfer_id,
            )
        return expected

    async def check_attesters(self) -> None:
        """Every destination's endpoint must accept this bridge's attester (EVM reads
        ``attester()``); :class:`~chains.errors.Unauthorized` names the first that does not."""
        destinations = {lane.dst_chain for lane in self._lanes.values()}
        for name in sorted(destinations):
            await self._chains[name].check_attester(self.attester)

    async def aclose(self) -> None:
        for side in self._chains.values():
            await side.aclose()


def _family(side: BridgeChain) -> ChainFamily:
    return ChainFamily.EVM if isinstance(side, EvmBridgeChain) else ChainFamily.SOLANA

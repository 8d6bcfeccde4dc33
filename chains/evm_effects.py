"""What each effect is on an EVM chain: one contract call, and what to check first.

:meth:`EvmEffects._plan` turns an effect (a transfer out of a pool, a send to
the bridge, an inbound delivery, a cession, a recovery, a cover binding, a
claim payment to a certificate's holder) into the call to sign
plus the read-only calls that let ``prepare`` refuse a request the chain would
refuse, with the precise error, before anything is signed: id already used,
capital or capacity short, wrong asset, a pool that is not an approved cedent,
a key that is not the vault's operator. The chain enforces all of it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from chains.base import (
    Cession,
    ClaimPayment,
    CoverOpening,
    Effect,
    EffectKind,
    InboundTransfer,
    PoolRef,
    Recovery,
    Transfer,
    effect_id,
    effect_kind,
)
from chains.errors import (
    AccountMismatch,
    ChainError,
    DuplicateTransfer,
    InsufficientCapital,
    InvalidInput,
    PayoutOverCap,
    PremiumUnpaid,
    TransactionReverted,
    Unauthorized,
    UnknownChain,
    UnknownCover,
    UnknownPool,
)
from chains.evm_config import checked_address, recipient_bytes32
from chains.evm_core import EvmCore
from chains.evm_rpc import Call
from chains.evm_rpc import hex_bytes as _hexbytes

Judge = Callable[[list[Any]], None]


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """The one contract call an effect is, and its pre-checks (answers go to ``judge``)."""

    kind: EffectKind
    effect_id: str
    to: str
    data: str
    amount: int
    prechecks: tuple[Call, ...]
    judge: Judge


def _word(raw: Any, what: str) -> int:
    if isinstance(raw, ChainError):
        raise raw
    data = _hexbytes(raw, what)
    if len(data) < 32:
        raise AccountMismatch(f"{what}: no answer (is there a contract?)")
    return int.from_bytes(data[:32], "big")


class EvmEffects(EvmCore):
    """Effect -> contract call + pre-checks."""

    def _plan(self, effect: Effect) -> PlannedCall:
        if getattr(effect, "chain", None) != self.chain:
            raise UnknownChain(
                f"{effect_kind(effect)} for chain {getattr(effect, 'chain', None)!r} "
                f"given to the adapter of {self.chain!r}",
                chain=self.chain,
                effect_id=effect_id(effect),
            )
        if isinstance(effect, Transfer):
            return self._plan_transfer(effect)
        if isinstance(effect, InboundTransfer):
            return self._plan_inbound(effect)
        if isinstance(effect, Cession):
            return self._plan_cession(effect)
        if isinstance(effect, Recovery):
            return self._plan_recovery(effect)
        if isinstance(effect, CoverOpening):
            return self._plan_cover_opening(effect)
        if isinstance(effect, ClaimPayment):
            return self._plan_claim_payment(effect)
        raise InvalidInput(f"not an effect: {type(effect).__name__}", chain=self.chain)

    # -- pool side -----------------------------------------------------------

    def _pool_prechecks(self, pool: str, tid: bytes) -> list[Call]:
        fn = self._pool_abi.fn
        return [
            ("eth_call", [{"to": pool, "data": fn("asset").encode()}, "latest"]),
            ("eth_call", [{"to": pool, "data": fn("transferUsed").encode(tid)}, "latest"]),
            ("eth_call", [{"to": pool, "data": fn("freeCapital").encode()}, "latest"]),
        ]

    def _judge_pool(
        self, source: PoolRef, pool: str, eid: str, need: int, results: list[Any]
    ) -> None:
        asset_raw, used_raw, free_raw = results
        if isinstance(asset_raw, ChainError) or len(_hexbytes(asset_raw, "asset()")) != 32:
            raise UnknownPool(
                f"pool {source.pool_id}: no risk pool at {pool}",
                chain=self.chain,
                pool_id=source.pool_id,
            )
        seen = to_checksum_address(_hexbytes(asset_raw, "asset()")[12:])
        if seen != checked_address(source.asset):
            raise AccountMismatch(
                f"pool {source.pool_id} holds {seen}, expected {source.asset}",
                chain=self.chain,
                pool_id=source.pool_id,
            )
        if _word(used_raw, "transferUsed"):
            raise DuplicateTransfer(
                f"transfer id {eid} was already used by pool {pool}",
                chain=self.chain,
                transfer_id=eid,
            )
        free = _word(free_raw, "freeCapital")
        if free < need:
            raise InsufficientCapital(
                f"pool {source.pool_id} has {free} free, the effect needs {need}",
                chain=self.chain,
                transfer_id=eid,
                requested=need,
                free=free,
            )

    def _plan_transfer(self, transfer: Transfer) -> PlannedCall:
        pool, _asset = self._check_pool(transfer.source)
        tid = bytes.fromhex(transfer.transfer_id[2:])
        if transfer.cross_chain:
            route = self._config.routes.get(transfer.dst_chain)
            if route is None or self._config.bridge_endpoint is None:
                raise UnknownChain(
                    f"no bridge route from {self.chain} to {transfer.dst_chain!r}",
                    chain=self.chain,
                    transfer_id=transfer.transfer_id,
                )
            rcpt = recipient_bytes32(transfer.recipient, route.family, chain=self.chain)
            data = self._pool_abi.fn("sendToBridge").encode(
                tid, self._config.bridge_endpoint, route.chain_id, rcpt, transfer.amount
            )
        else:
            to = checked_address(transfer.recipient, what="recipient", chain=self.chain)
            data = self._pool_abi.fn("transferOut").encode(tid, to, transfer.amount)
        return PlannedCall(
            kind=EffectKind.BRIDGE_SEND if transfer.cross_chain else EffectKind.TRANSFER,
            effect_id=transfer.transfer_id,
            to=pool,
            data=data,
            amount=transfer.amount,
            prechecks=tuple(self._pool_prechecks(pool, tid)),
            judge=lambda r: self._judge_pool(
                transfer.source, pool, transfer.transfer_id, transfer.amount, r
            ),
        )

    def _plan_cession(self, cession: Cession) -> PlannedCall:
        pool, _asset = self._check_pool(cession.source)
        vault = checked_address(cession.vault, what="vault", chain=self.chain)
        cid = bytes.fromhex(cession.cession_id[2:])
        vfn = self._vault_abi.fn
        data = self._pool_abi.fn("cede").encode(cid, vault, cession.ceded_amount, cession.premium)
        checks = [
            *self._pool_prechecks(pool, cid),
            ("eth_call", [{"to": vault, "data": vfn("asset").encode()}, "latest"]),
            ("eth_call", [{"to": vault, "data": vfn("isCedent").encode(pool)}, "latest"]),
            ("eth_call", [{"to": vault, "data": vfn("freeCapacity").encode()}, "latest"]),
            ("eth_call", [{"to": vault, "data": vfn("cessionOf").encode(cid)}, "latest"]),
        ]

        def judge(results: list[Any]) -> None:
            self._judge_pool(cession.source, pool, cession.cession_id, cession.premium, results[:3])
            asset_raw, cedent_raw, free_raw, record_raw = results[3:]
            self._check_vault_asset(vault, asset_raw)
            if not _word(cedent_raw, "isCedent"):
                raise Unauthorized(
                    f"pool {cession.source.pool_id} is not an approved cedent of vault {vault}",
                    chain=self.chain,
                    transfer_id=cession.cession_id,
                )
            if _word(record_raw, "cessionOf"):  # first word: the cedent, zero if none
                raise DuplicateTransfer(
                    f"vault {vault} already holds cession {cession.cession_id}",
                    chain=self.chain,
                    transfer_id=cession.cession_id,
                )
            free = _word(free_raw, "freeCapacity")
            if free < cession.ceded_amount:
                raise InsufficientCapital(
                    f"vault {vault} has {free} free capacity, the cession needs "
                    f"{cession.ceded_amount}",
                    chain=self.chain,
                    transfer_id=cession.cession_id,
                    requested=cession.ceded_amount,
                    free=free,
                )

        return PlannedCall(
            EffectKind.CESSION,
            cession.cession_id,
            pool,
            data,
            cession.premium,
            tuple(checks),
            judge,
        )

    # -- covers and claims --------------------------------------------------------

    def _cover_of(self, raw: Any) -> tuple[int, int, int, int]:
        """``coverOf`` as (limit, locked, paid, status: 0 none, 1 open, 2 closed)."""
        if isinstance(raw, ChainError):
            raise raw
        limit, locked, paid, status = self._pool_abi.fn("coverOf").decode(_hexbytes(raw, "coverOf"))
        return int(limit), int(locked), int(paid), int(status)

    def _plan_cover_opening(self, opening: CoverOpening) -> PlannedCall:
        pool, asset = self._check_pool(opening.pool)
        payer = checked_address(opening.payer, what="payer", chain=self.chain)
        holder = checked_address(opening.holder, what="holder", chain=self.chain)
        cid = bytes.fromhex(opening.cover_id[2:])
        fn, tfn = self._pool_abi.fn, self._token_abi.fn
        data = fn("bindCover").encode(
            cid, opening.limit, opening.locked, opening.premium, payer, holder
        )
        checks = [
            *self._pool_prechecks(pool, cid),
            ("eth_call", [{"to": pool, "data": fn("coverOf").encode(cid)}, "latest"]),
            ("eth_call", [{"to": asset, "data": tfn("allowance").encode(payer, pool)}, "latest"]),
            ("eth_call", [{"to": asset, "data": tfn("balanceOf").encode(payer)}, "latest"]),
        ]
        eid = opening.cover_id

        def judge(results: list[Any]) -> None:
            self._judge_pool(opening.pool, pool, eid, opening.locked, results[:3])
            cover_raw, allowance_raw, balance_raw = results[3:]
            if self._cover_of(cover_raw)[3] != 0:
                raise DuplicateTransfer(
                    f"cover {eid} already exists in pool {pool}", chain=self.chain, transfer_id=eid
                )
            allowance = _word(allowance_raw, "allowance")
            balance = _word(balance_raw, "balanceOf")
            if allowance < opening.premium or balance < opening.premium:
                raise PremiumUnpaid(
                    f"payer {payer} approved the pool for {allowance} and holds {balance}; "
                    f"the premium is {opening.premium}",
                    chain=self.chain,
                    transfer_id=eid,
                )

        return PlannedCall(
            EffectKind.COVER_OPEN, eid, pool, data, opening.premium, tuple(checks), judge
        )

    def _plan_claim_payment(self, payment: ClaimPayment) -> PlannedCall:
        pool, _asset = self._check_pool(payment.pool)
        pid = bytes.fromhex(payment.payment_id[2:])
        cid = bytes.fromhex(payment.cover_id[2:])
        fn = self._pool_abi.fn
        data = fn("payClaimToHolder").encode(pid, cid, payment.amount)
        checks = [
            *self._pool_prechecks(pool, pid),
            ("eth_call", [{"to": pool, "data": fn("coverOf").encode(cid)}, "latest"]),
            ("eth_call", [{"to": pool, "data": fn("certificateHolder").encode(cid)}, "latest"]),
        ]
        eid = payment.payment_id

        def judge(results: list[Any]) -> None:
            self._judge_pool(payment.pool, pool, eid, 0, results[:3])
            limit, locked, paid, status = self._cover_of(results[3])
            if status != 1 or not _word(results[4], "certificateHolder"):
                raise UnknownCover(
                    f"pool {payment.pool.pool_id} has no open cover {payment.cover_id} "
                    "with a certificate",
                    chain=self.chain,
                    transfer_id=eid,
                )
            if payment.amount > limit - paid:
                raise PayoutOverCap(
                    f"claim payment of {payment.amount} is above cover {payment.cover_id}'s "
                    f"remaining {limit - paid}",
                    chain=self.chain,
                    transfer_id=eid,
                    requested=payment.amount,
                    remaining=limit - paid,
                )
            need = max(0, payment.amount - locked)
            free = _word(results[2], "freeCapital")
            if need > free:
                raise InsufficientCapital(
                    f"pool {payment.pool.pool_id} has {locked} locked for the cover and "
                    f"{free} free; the payment needs {payment.amount}",
                    chain=self.chain,
                    transfer_id=eid,
                    requested=need,
                    free=free,
                )

        return PlannedCall(
            EffectKind.CLAIM_PAYMENT, eid, pool, data, payment.amount, tuple(checks), judge
        )

    # -- vault and bridge side -------------------------------------------------

    def _check_vault_asset(self, vault: str, raw: Any) -> None:
        if isinstance(raw, ChainError) or len(_hexbytes(raw, "asset()")) != 32:
            raise UnknownPool(f"no reinsurance vault at {vault}", chain=self.chain, vault=vault)
        seen = to_checksum_address(_hexbytes(raw, "asset()")[12:])
        expected = self._config.settlement_asset
        if expected is not None and seen != expected:
            raise AccountMismatch(
                f"vault {vault} holds {seen}, the settlement asset here is {expected}",
                chain=self.chain,
                vault=vault,
            )

    def _plan_recovery(self, recovery: Recovery) -> PlannedCall:
        vault = checked_address(recovery.vault, what="vault", chain=self.chain)
        rid = bytes.fromhex(recovery.recovery_id[2:])
        cid = bytes.fromhex(recovery.cession_id[2:])
        vfn = self._vault_abi.fn
        data = vfn("payRecovery").encode(rid, cid, recovery.amount)
        checks = (
            ("eth_call", [{"to": vault, "data": vfn("asset").encode()}, "latest"]),
            ("eth_call", [{"to": vault, "data": vfn("operator").encode()}, "latest"]),
            ("eth_call", [{"to": vault, "data": vfn("recoveryPaid").encode(rid)}, "latest"]),
            ("eth_call", [{"to": vault, "data": vfn("cessionOf").encode(cid)}, "latest"]),
        )
        signer = self.operator

        def judge(results: list[Any]) -> None:
            asset_raw, operator_raw, paid_raw, record_raw = results
            self._check_vault_asset(vault, asset_raw)
            operator = to_checksum_address(_word(operator_raw, "operator").to_bytes(32, "big")[12:])
            if operator != signer:
                raise Unauthorized(
                    f"the signer {signer} is not the operator of vault {vault} ({operator})",
                    chain=self.chain,
                    transfer_id=recovery.recovery_id,
                )
            if _word(paid_raw, "recoveryPaid"):
                raise DuplicateTransfer(
                    f"recovery id {recovery.recovery_id} was already paid by vault {vault}",
                    chain=self.chain,
                    transfer_id=recovery.recovery_id,
                )
            if isinstance(record_raw, ChainError):
                raise record_raw
            _cedent, _ceded, remaining, _premium, is_open = self._vault_abi.fn("cessionOf").decode(
                _hexbytes(record_raw, "cessionOf")
            )
            if not is_open:
                raise TransactionReverted(
                    f"cession {recovery.cession_id} is not open at vault {vault}",
                    chain=self.chain,
                    transfer_id=recovery.recovery_id,
                    revert="CessionNotOpen",
                )
            if remaining < recovery.amount:
                raise InsufficientCapital(
                    f"cession {recovery.cession_id} has {remaining} cover left, the recovery "
                    f"asks {recovery.amount}",
                    chain=self.chain,
                    transfer_id=recovery.recovery_id,
                    requested=recovery.amount,
                    free=remaining,
                )

        return PlannedCall(
            EffectKind.RECOVERY, recovery.recovery_id, vault, data, recovery.amount, checks, judge
        )

    def _plan_inbound(self, inbound: InboundTransfer) -> PlannedCall:
        route = self._config.routes.get(inbound.src_chain)
        if route is None or self._config.bridge_endpoint is None:
            raise UnknownChain(f"no bridge route from {inbound.src_chain!r}", chain=self.chain)
        recipient = checked_address(inbound.recipient, what="recipient", chain=self.chain)
        if not isinstance(inbound.attestation, bytes) or len(inbound.attestation) != 65:
            raise InvalidInput(
                "attestation must be a 65-byte signature",
                chain=self.chain,
                transfer_id=inbound.transfer_id,
            )
        tid = bytes.fromhex(inbound.transfer_id[2:])
        bridge = self._config.bridge_endpoint
        data = self._bridge_abi.fn("deliver").encode(
            tid, route.chain_id, recipient, inbound.amount, inbound.attestation
        )
        delivered = self._bridge_abi.fn("delivered").encode(tid)

        def judge(results: list[Any]) -> None:
            if _word(results[0], "delivered"):
                raise DuplicateTransfer(
                    f"transfer id {inbound.transfer_id} was already delivered on {self.chain}",
                    chain=self.chain,
                    transfer_id=inbound.transfer_id,
                )

        return PlannedCall(
            EffectKind.BRIDGE_DELIVERY,
            inbound.transfer_id,
            bridge,
            data,
            inbound.amount,
            (("eth_call", [{"to": bridge, "data": delivered}, "latest"]),),
            judge,
        )

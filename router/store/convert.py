"""Rows (trusted: they were validated on the way in) back to domain values."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chains.base import ChainFamily
from router.domain import (
    Cession,
    CessionStatus,
    Chain,
    ConfirmedBalance,
    Cover,
    CoverStatus,
    Disagreement,
    Partner,
    Plan,
    PlanStatus,
    PlanStep,
    Pool,
    Quote,
    Reporter,
    StepKind,
    StepStatus,
    TransferRecord,
    TransferState,
    Vault,
)
from router.domain.execution import AttemptState, Leg, TxAttempt
from router.domain.idempotency import IdempotencyRecord
from router.domain.identity import Revocation

Row = Mapping[Any, Any]


def chain(r: Row) -> Chain:
    return Chain(r["name"], ChainFamily(r["family"]), r["quorum"])


def pool(r: Row) -> Pool:
    return Pool(
        r["pool_id"],
        r["chain"],
        r["address"],
        r["asset"],
        r["locked_capital"],
        r["active_cover"],
        r["target_ratio_bps"],
        r["min_ratio_bps"],
    )


def reporter(r: Row) -> Reporter:
    return Reporter(r["reporter_id"], r["chain"], bool(r["allowed"]))


def partner(r: Row) -> Partner:
    return Partner(r["partner_id"], r["name"], bool(r["active"]))


def balance(r: Row) -> ConfirmedBalance:
    return ConfirmedBalance(
        r["pool_id"],
        r["chain"],
        r["amount"],
        r["block_number"],
        r["block_hash"],
        r["observed_at"],
        r["confirmed_at"],
        r["reporters"],
        r.get("block_time"),
    )


def disagreement(r: Row) -> Disagreement:
    return Disagreement(
        r["pool_id"], r["chain"], r["block_number"], tuple(r["votes"].split("\n")), r["detected_at"]
    )


def cover(r: Row) -> Cover:
    return Cover(
        r["cover_id"],
        r["partner_id"],
        r["idempotency_key"],
        r["pool_id"],
        r["cover_type"],
        r["limit_amount"],
        r["premium"],
        r["starts_at"],
        r["ends_at"],
        CoverStatus(r["status"]),
        r["quote_id"],
        r["created_at"],
        deployment_id=r.get("deployment_id"),
        deductible=int(r.get("deductible") or 0),
        per_event_max=int(r.get("per_event_max") or 0) or r["limit_amount"],
        trigger_kinds=tuple(k for k in (r.get("trigger_kinds") or "").split(",") if k),
        insured_value=int(r.get("insured_value") or 0),
        position_ref=r.get("position_ref") or "",
    )


def quote(r: Row) -> Quote:
    return Quote(
        r["quote_id"],
        r["partner_id"],
        r["pool_id"],
        r["cover_type"],
        r["limit_amount"],
        r["premium"],
        r["inputs_hash"],
        r["expires_at"],
        r["created_at"],
    )


def vault(r: Row) -> Vault:
    return Vault(
        r["vault_id"],
        r["chain"],
        r["address"],
        r["asset"],
        r["capacity"],
        r["premium_bps"],
        r.get("free_on_chain"),
        r.get("free_at_block"),
    )


def cession(r: Row) -> Cession:
    return Cession(
        r["cession_id"],
        r["vault_id"],
        r["pool_id"],
        r["amount"],
        r["premium"],
        r["plan_id"],
        CessionStatus(r["status"]),
        r["created_at"],
        r.get("share_ppm"),
        r.get("step_seq"),
        r.get("tx_ref"),
        r.get("block_number"),
    )


def step(r: Row) -> PlanStep:
    return PlanStep(
        seq=r["seq"],
        kind=StepKind(r["kind"]),
        src_pool=r["src_pool"],
        amount=r["amount"],
        dst_chain=r["dst_chain"],
        dst_pool=r["dst_pool"],
        vault_id=r["vault_id"],
        fee=r["fee"],
        transfer_id=r["transfer_id"],
        status=StepStatus(r["status"]),
        version=r["version"],
        route_id=r["route_id"],
        detail=r.get("detail"),
        deadline_at=r.get("deadline_at"),
        share_ppm=r.get("share_ppm"),
    )


def plan(r: Row, steps: Sequence[PlanStep], approvals: Sequence[tuple[str, str | None]]) -> Plan:
    return Plan(
        plan_id=r["plan_id"],
        status=PlanStatus(r["status"]),
        version=r["version"],
        created_by=r["created_by"],
        total_amount=r["total_amount"],
        cost=r["cost"],
        summary=r["summary"],
        approvals_required=r["approvals_required"],
        steps=tuple(steps),
        approvals=tuple(op for op, _ in approvals),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        steps_hash=r["steps_hash"],
        approval_hashes=tuple(h for _, h in approvals),
    )


def transfer(r: Row) -> TransferRecord:
    return TransferRecord(
        transfer_id=r["transfer_id"],
        src_chain=r["src_chain"],
        src_pool=r["src_pool"],
        dst_chain=r["dst_chain"],
        recipient=r["recipient"],
        amount=r["amount"],
        plan_id=r["plan_id"],
        step_seq=r["step_seq"],
        status=TransferState(r["status"]),
        tx_ref=r["tx_ref"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        dst_pool=r.get("dst_pool"),
        block_number=r.get("block_number"),
        delivery_tx=r.get("delivery_tx"),
        delivered_block=r.get("delivered_block"),
    )


def revocation(r: Row) -> Revocation:
    return Revocation(
        r["fingerprint"], r["identity"], r["reason"], r["revoked_by"], r["revoked_at"]
    )


def idempotency_record(r: Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        r["scope"],
        r["key"],
        r["request_json"],
        r["request_hash"],
        r["subject"],
        r["actor"],
        json.loads(r["result"]),
        r["created_at"],
    )


def attempt(r: Row) -> TxAttempt:
    return TxAttempt(
        effect_id=r["effect_id"],
        attempt=r["attempt"],
        plan_id=r["plan_id"],
        seq=r["seq"],
        leg=Leg(r["leg"]),
        chain=r["chain"],
        tx_ref=r["tx_ref"],
        signed=json.loads(r["signed"]),
        state=AttemptState(r["state"]),
        block_number=r["block_number"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )

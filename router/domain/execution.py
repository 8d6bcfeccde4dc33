"""Executing a plan: which on-chain effects each step is, their ids, their attempts.

Every effect carries an id the chain itself refuses twice (a pool's
``transferUsed``, the bridge endpoint's ``delivered``, a cession id, a Solana
marker account). The id is derived from (plan, step, leg) alone, so a retry,
a restarted worker or a second worker computes the same id and the chain
turns a second attempt into a no-op: effects happen once.

Legs of a step:

- ``source``: the step's own transaction (pool -> hub, hub -> bridge,
  hub -> pool, or a cession) on its source chain;
- ``delivery``: for a bridge step, the attested delivery on the destination;
- ``refund``: an operator-approved return of a step's capital (a stuck
  bridge whose delivery will never happen) — recorded, never guessed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from router.domain.checks import check_id, check_int, check_text, check_transfer_id, check_utc


class Leg(StrEnum):
    SOURCE = "source"
    DELIVERY = "delivery"
    REFUND = "refund"


def effect_id(plan_id: str, seq: int, leg: Leg) -> str:
    """The 32-byte id of one effect, as 0x + 64 lowercase hex: the same on every retry."""
    check_id(plan_id, "plan_id")
    check_int(seq, "seq", lo=0, hi=1_000_000)
    digest = hashlib.sha256(f"ballast/effect/v1/{plan_id}/{seq}/{Leg(leg).value}".encode())
    return "0x" + digest.hexdigest()


class AttemptState(StrEnum):
    """One signed transaction of an effect (an effect may need several: a fee
    bump at the same nonce, a re-sign after its blockhash expired)."""

    SIGNED = "signed"  # recorded before broadcast: the router knows it even if the worker dies
    SENT = "sent"  # handed to a node
    INCLUDED = "included"  # in a block, not final
    FINAL = "final"  # in a final block: the effect happened
    FAILED = "failed"  # included and reverted: the effect did not happen
    DROPPED = "dropped"  # can never land (nonce used by another, blockhash expired)
    REPLACED = "replaced"  # superseded by our own same-nonce successor


LIVE_ATTEMPTS = frozenset({AttemptState.SIGNED, AttemptState.SENT, AttemptState.INCLUDED})


@dataclass(frozen=True, slots=True)
class TxAttempt:
    """A signed transaction of one effect, persisted before it is broadcast.

    ``signed`` is the chain adapter's own record of the signed transaction
    (raw bytes, hash or signature, nonce or blockhash...), kept verbatim so a
    restarted worker can broadcast exactly the same bytes or ask the chain
    about exactly that transaction.
    """

    effect_id: str
    attempt: int
    plan_id: str
    seq: int
    leg: Leg
    chain: str
    tx_ref: str
    signed: Mapping[str, Any]
    state: AttemptState = AttemptState.SIGNED
    block_number: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        check_transfer_id(self.effect_id, "effect_id")
        check_int(self.attempt, "attempt", lo=1, hi=10_000)
        check_id(self.plan_id, "plan_id")
        check_int(self.seq, "seq", lo=0, hi=1_000_000)
        object.__setattr__(self, "leg", Leg(self.leg))
        check_id(self.chain, "chain")
        check_text(self.tx_ref, "tx_ref", max_len=128)
        object.__setattr__(self, "state", AttemptState(self.state))
        for name in ("created_at", "updated_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_utc(value, name))

    def signed_json(self) -> str:
        return json.dumps(dict(self.signed), sort_keys=True)


@dataclass(frozen=True, slots=True)
class StepProgress:
    """What the executor last learnt about a step, shown to operators."""

    status: str
    detail: str = ""
    source_tx: str | None = None
    delivery_tx: str | None = None

"""Governance on an EVM chain: read the terms in force, drive proposals, deploy.

* :func:`read_terms` reads one ``PoolTerms`` at a final block in one
  ``eth_call`` (``snapshot()``), returning a frozen :class:`GovernedTerms`
  that names the block and the terms' version. A quote or bind records both.
* :class:`GovernanceClient` proposes, votes, queues and executes. Every write
  is first run as an ``eth_call`` on the pending block: a refusal is decoded
  from the contract's custom error into one precise line
  (:class:`~chains.errors.GovernanceRefused`, e.g. "vote refused: voting closed
  at block 120") and nothing is signed.
* :func:`deploy_governance` deploys token, timelock, one ``PoolTerms`` per
  pool and the governor, wires the timelock to the governor, and gives the
  deployer no power left (the timelock's governor is set once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from functools import cache
from typing import Any

from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import SecretStr

from chains.deploy import DeployOptions, _Deployer
from chains.errors import (
    GovernanceRefused,
    InvalidInput,
    MalformedResponse,
    NotFinal,
    ReadOnlyAdapter,
    TransactionReverted,
    WrongChain,
)
from chains.evm_abi import ContractAbi, decode_revert
from chains.evm_config import FinalityRule, FinalizedTag, checked_address
from chains.evm_rpc import EvmEndpoint, HttpEndpoint, RevertedCall, as_int, hex_bytes


class CoverType(IntEnum):
    """Cover types as ``PoolTerms`` numbers them (``uint8`` ids)."""

    PROTOCOL = 0
    POSITION = 1
    ORACLE = 2
    GOVERNANCE = 3
    LIQUIDITY = 4


class ProposalState(IntEnum):
    PENDING = 0
    ACTIVE = 1
    DEFEATED = 2
    SUCCEEDED = 3
    QUEUED = 4
    EXECUTED = 5
    CANCELED = 6
    EXPIRED = 7


class Support(IntEnum):
    AGAINST = 0
    FOR = 1
    ABSTAIN = 2


@dataclass(frozen=True, slots=True)
class PremiumModel:
    """Yearly premium rate in basis points: ``base`` plus a kinked utilisation slope."""

    base_rate_bps: int
    kink_bps: int
    slope_below_bps: int
    slope_above_bps: int


@dataclass(frozen=True, slots=True)
class GovernedTerms:
    """One pool's governed parameters as they stood at ``block_number`` (final)."""

    terms: str  # the PoolTerms contract
    block_number: int
    block_hash: str
    version: int  # bumped by every change; (terms, version) names a set of terms
    paused: bool  # governance pause, or a guardian pause not yet lapsed at this block
    guardian_paused_until: int  # unix seconds; 0 when none
    limits: tuple[int, ...]  # base units, indexed by CoverType
    premium: PremiumModel
    oracles: tuple[str, ...]
    oracle_threshold: int
    covered: tuple[str, ...]

    def limit(self, cover_type: CoverType) -> int:
        return self.limits[int(cover_type)]


@dataclass(frozen=True, slots=True)
class ProposalStatus:
    proposal_id: str  # 0x-hex
    state: ProposalState
    proposer: str
    snapshot_block: int
    deadline_block: int
    eta: int  # unix seconds the timelock opens; 0 until queued
    against: int  # weighted (isqrt of votes in quadratic mode)
    for_: int
    abstain: int
    quorum_votes: int  # raw votes for + abstain
    quorum: int
    quadratic: bool  # weights are isqrt(votes); quorum counts votes either way
    actions: tuple[tuple[str, str], ...]  # (target, calldata 0x-hex)
    read_at_block: int


@dataclass(frozen=True, slots=True)
class GovernanceAddresses:
    token: str
    timelock: str
    governor: str
    terms: tuple[str, ...]  # one PoolTerms per pool, in the pools' order


@dataclass(frozen=True, slots=True)
class GovernanceOptions:
    """Parameters of a new governance deployment (supply and quorum in token base units)."""

    supply: int = 1_000_000 * 10**18
    holder: str | None = None  # receives the whole supply (default: the deployer)
    guardian: str | None = None  # may only pause (default: the deployer)
    voting_delay: int = 1  # blocks
    voting_period: int = 50  # blocks
    quorum: int = 40_000 * 10**18
    proposal_threshold: int = 10**18
    quadratic: bool = False
    min_delay: int = 3_600  # seconds
    grace_period: int = 14 * 86_400
    guardian_pause: int = 86_400

    def __post_init__(self) -> None:
        for what in ("holder", "guardian"):
            value = getattr(self, what)
            if value is not None:
                object.__setattr__(self, what, checked_address(value, what=what))
        if not 0 < self.quorum <= self.supply or self.voting_period <= 0:
            raise InvalidInput("governance: need 0 < quorum <= supply and a voting period")


@cache
def _abi(name: str) -> ContractAbi:
    from contracts import load_artifact

    return ContractAbi(load_artifact(name).abi)


def _errors() -> dict[bytes, Any]:
    table: dict[bytes, Any] = {}
    for name in ("BallastGovernor", "BallastTimelock", "PoolTerms", "BallastToken"):
        table.update(_abi(name).errors)
    return table


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _state(v: Any) -> str:
    return ProposalState(int(v)).name.lower()


#: One line per refusal an operator can meet; ``{…}`` are the error's arguments.
_EXPLAIN: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "VotingClosed": lambda a: f"voting closed at block {a['deadline']}",
    "VotingNotStarted": lambda a: f"voting opens after block {a['startsAfterBlock']}",
    "AlreadyVoted": lambda a: f"{a['voter']} has already voted on this proposal",
    "VotingCanceled": lambda a: "the proposal was canceled by its proposer",
    "NoVotingPower": lambda a: f"{a['voter']} had no delegated votes at block {a['snapshot']}",
    "InvalidSupport": lambda a: f"support must be 0 (against), 1 (for) or 2, not {a['support']}",
    "ExecuteBeforeTimelock": lambda a: (
        f"the timelock opens at {_when(a['eta'])}, it is {_when(a['now_'])}"
    ),
    "OperationExpired": lambda a: f"the timelock's grace period ended at {_when(a['expiredAt'])}",
    "ProposalNotSucceeded": lambda a: f"the proposal is {_state(a['state'])}, not succeeded",
    "ProposalNotQueued": lambda a: f"the proposal is {_state(a['state'])}, not queued",
    "ProposalNotPending": lambda a: f"the proposal is {_state(a['state'])}, not pending",
    "UnknownProposal": lambda a: f"no proposal 0x{bytes(a['proposalId']).hex()}",
    "ProposalExists": lambda a: f"the same proposal exists: 0x{bytes(a['proposalId']).hex()}",
    "TargetNotAllowed": lambda a: (
        f"action {a['index']} calls {a['target']}, which is not a registered PoolTerms"
    ),
    "SelectorNotAllowed": lambda a: (
        f"action {a['index']} calls function 0x{bytes(a['selector']).hex()} on "
        f"{a['target']}, which is not a governed setter"
    ),
    "BelowProposalThreshold": lambda a: (
        f"{a['proposer']} has {a['votes']} votes, {a['threshold']} are needed to propose"
    ),
    "NotProposer": lambda a: f"only the proposer may cancel, not {a['caller']}",
}


def explain_revert(data: bytes, *, verb: str) -> GovernanceRefused:
    """A contract's revert as one line: ``"<verb> refused: <why>"``."""
    name, args = decode_revert(data, _errors())
    args = {k: to_checksum_address(v) if _is_address(v) else v for k, v in args.items()}
    explain = _EXPLAIN.get(name)
    if explain is not None:
        why = explain(args)
    else:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        why = f"{name}({shown})"
    return GovernanceRefused(f"{verb} refused: {why}", error=name, arguments=args)


def _is_address(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("0x") and len(v) == 42


def _show(v: Any) -> str:
    return "0x" + v.hex() if isinstance(v, bytes) else str(v)


async def _final_header(ep: EvmEndpoint, finality: FinalityRule) -> Mapping[str, Any]:
    if isinstance(finality, FinalizedTag):
        head = await ep.request("eth_getBlockByNumber", ["finalized", False])
    else:
        number = as_int(await ep.request("eth_blockNumber", []), "eth_blockNumber") - finality.n
        if number < 0:
            raise NotFinal(f"endpoint {ep.name}: fewer than {finality.n} blocks")
        head = await ep.request("eth_getBlockByNumber", [hex(number), False])
    if not isinstance(head, Mapping):
        raise NotFinal(f"endpoint {ep.name} has no final block yet")
    return head


async def read_terms(ep: EvmEndpoint, terms: str, finality: FinalityRule) -> GovernedTerms:
    """``terms``' parameters at the final block, in one ``snapshot()`` call."""
    address = checked_address(terms, what="PoolTerms address")
    head = await _final_header(ep, finality)
    number = as_int(head.get("number"), "block number")
    block_hash = "0x" + hex_bytes(head.get("hash"), "block hash").hex()
    fn = _abi("PoolTerms").fn("snapshot")
    try:
        raw = await ep.request("eth_call", [{"to": address, "data": fn.encode()}, hex(number)])
    except RevertedCall:
        raise InvalidInput(f"{address} is not a PoolTerms contract at block {number}") from None
    data = hex_bytes(raw, "snapshot()")
    if not data:  # no code there at the final block: not deployed yet, or not a contract
        code = await ep.request("eth_getCode", [address, "latest"])
        if isinstance(code, str) and len(code) > 2:
            raise NotFinal(
                f"PoolTerms {address} exists at the head, not yet at final block {number}"
            )
        raise InvalidInput(f"no contract at {address}")
    try:
        out = fn.decode(data)
    except (DecodingError, ValueError, TypeError) as exc:
        raise MalformedResponse(
            f"{address} answered snapshot() with no PoolTerms data at block {number}: {exc}"
        ) from None
    version, paused, until, limits, premium, oracles, threshold, covered = out
    return GovernedTerms(
        terms=address,
        block_number=number,
        block_hash=block_hash,
        version=int(version),
        paused=bool(paused),
        guardian_paused_until=int(until),
        limits=tuple(int(x) for x in limits),
        premium=PremiumModel(*(int(x) for x in premium)),
        oracles=tuple(to_checksum_address(o) for o in oracles),
        oracle_threshold=int(threshold),
        covered=tuple(to_checksum_address(c) for c in covered),
    )


def terms_call(name: str, *args: Any) -> tuple[str, bytes]:
    """Calldata for a governed ``PoolTerms`` setter (name checked against the ABI)."""
    abi = _abi("PoolTerms")
    if name not in abi.functions:
        raise InvalidInput(f"PoolTerms has no function {name!r}")
    return name, bytes.fromhex(abi.fn(name).encode(*args)[2:])


@dataclass
class GovernanceClient:
    """Proposals on one governor, as ``account`` (no account: status only)."""

    endpoint: EvmEndpoint
    governor: str
    account: LocalAccount | None = None
    options: DeployOptions = field(default_factory=DeployOptions)

    def __post_init__(self) -> None:
        self.governor = checked_address(self.governor, what="governor address")

    async def propose(
        self, actions: Sequence[tuple[str, bytes]], description: str
    ) -> tuple[str, str]:
        """Propose ``(target, calldata)`` actions; returns (proposal id, tx hash)."""
        if not actions or not description.strip():
            raise InvalidInput("a proposal needs at least one action and a description")
        targets = [checked_address(t, what="target") for t, _ in actions]
        args = (targets, [0] * len(actions), [d for _, d in actions], description)
        data = _abi("BallastGovernor").fn("propose").encode(*args)
        raw = await self._preflight(data, "proposal")
        pid = "0x" + raw[:32].hex()
        return pid, await self._send(data, "proposal")

    async def delegate(self, token: str, delegatee: str) -> str:
        """Give ``delegatee`` the votes of this account's tokens (itself: to vote them)."""
        token = checked_address(token, what="token address")
        to = checked_address(delegatee, what="delegatee")
        data = _abi("BallastToken").fn("delegate").encode(to)
        await self._preflight(data, "delegation", to=token)
        return await self._send(data, "delegation", to=token)

    async def vote(self, proposal_id: str, support: Support) -> str:
        data = _abi("BallastGovernor").fn("castVote").encode(_pid(proposal_id), int(support))
        await self._preflight(data, "vote")
        return await self._send(data, "vote")

    async def queue(self, proposal_id: str) -> str:
        data = _abi("BallastGovernor").fn("queue").encode(_pid(proposal_id))
        await self._preflight(data, "queue")
        return await self._send(data, "queue")

    async def execute(self, proposal_id: str) -> str:
        data = _abi("BallastGovernor").fn("execute").encode(_pid(proposal_id))
        await self._preflight(data, "execution")
        return await self._send(data, "execution")

    async def status(self, proposal_id: str) -> ProposalStatus:
        """The proposal as of the latest block (states move with blocks and time)."""
        gov = _abi("BallastGovernor")
        pid = _pid(proposal_id)
        number = as_int(await self.endpoint.request("eth_blockNumber", []), "eth_blockNumber")
        at = hex(number)
        try:
            info = gov.fn("proposalInfo").decode(
                await self._call(gov.fn("proposalInfo").encode(pid), at)
            )
            quorum = gov.fn("quorum").decode(await self._call(gov.fn("quorum").encode(), at))[0]
            mode = gov.fn("countingMode")
            quadratic = mode.decode(await self._call(mode.encode(), at))[0] == 1
        except RevertedCall as exc:
            raise explain_revert(exc.data, verb="status") from None
        p, state, targets, calldatas = info
        return ProposalStatus(
            proposal_id="0x" + pid.hex(),
            state=ProposalState(int(state)),
            proposer=to_checksum_address(p[0]),
            snapshot_block=int(p[1]),
            deadline_block=int(p[2]),
            eta=int(p[3]),
            against=int(p[6]),
            for_=int(p[7]),
            abstain=int(p[8]),
            quorum_votes=int(p[9]),
            quorum=int(quorum),
            quadratic=quadratic,
            actions=tuple(
                (to_checksum_address(t), "0x" + bytes(d).hex())
                for t, d in zip(targets, calldatas, strict=True)
            ),
            read_at_block=number,
        )

    async def _call(
        self, data: str, block: str, sender: str | None = None, to: str | None = None
    ) -> bytes:
        tx: dict[str, Any] = {"to": to or self.governor, "data": data}
        if sender is not None:
            tx["from"] = sender
        return hex_bytes(await self.endpoint.request("eth_call", [tx, block]), "eth_call")

    async def _preflight(self, data: str, verb: str, to: str | None = None) -> bytes:
        """Run the write as a call on the pending block: a refusal costs nothing."""
        if self.account is None:
            raise ReadOnlyAdapter(f"{verb}: no key given, so nothing can be signed")
        try:
            return await self._call(data, "pending", str(self.account.address), to)
        except RevertedCall as exc:
            raise explain_revert(exc.data, verb=verb) from None

    async def _send(self, data: str, verb: str, to: str | None = None) -> str:
        assert self.account is not None
        sender = _Deployer(self.endpoint, self.account, self.options)
        sender.chain_id = as_int(await self.endpoint.request("eth_chainId", []), "eth_chainId")
        if self.options.chain_id is not None and self.options.chain_id != sender.chain_id:
            raise WrongChain(f"the node serves chain id {sender.chain_id}: nothing sent")
        try:
            receipt = await sender._send(to or self.governor, data, verb)
        except RevertedCall as exc:  # the state moved between the preflight and the estimate
            raise explain_revert(exc.data, verb=verb) from None
        except TransactionReverted as exc:  # mined and reverted: the state moved since
            raise TransactionReverted(
                f"{verb} failed on chain in transaction {exc.tx_hash}: the state changed "
                "after it was checked; look at the proposal's status and try again",
                tx_hash=exc.tx_hash,
            ) from None
        return str(receipt.get("transactionHash") or sender.sent[-1])


def _pid(proposal_id: str) -> bytes:
    try:
        raw = bytes.fromhex(proposal_id.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(f"a proposal id is 32 bytes of 0x-hex, got {proposal_id!r:.80}")
    return raw


def account_from_key(key: SecretStr) -> LocalAccount:
    try:
        return Account.from_key(key.get_secret_value())
    except ValueError:
        raise InvalidInput("the key is not a 32-byte hex private key") from None


async def deploy_governance(
    target: str | EvmEndpoint,
    deployer_key: SecretStr,
    pools: Sequence[str],
    options: GovernanceOptions | None = None,
    deploy_options: DeployOptions | None = None,
) -> GovernanceAddresses:
    """Token, timelock, one PoolTerms per pool, governor; then timelock -> governor."""
    o = options or GovernanceOptions()
    account = account_from_key(deployer_key)
    me = str(account.address)
    pools = [checked_address(p, what="pool") for p in pools]
    owned = isinstance(target, str)
    ep: EvmEndpoint = HttpEndpoint(target) if isinstance(target, str) else target
    d = _Deployer(ep, account, deploy_options or DeployOptions())
    try:
        d.chain_id = as_int(await ep.request("eth_chainId", []), "eth_chainId")
        token = await d._create(
            "BallastToken",
            ["string", "string", "address", "uint256"],
            ["Ballast Governance", "BLST", o.holder or me, o.supply],
        )
        timelock = await d._create(
            "BallastTimelock", ["uint256", "uint256"], [o.min_delay, o.grace_period]
        )
        terms = [
            await d._create(
                "PoolTerms",
                ["address", "address", "address", "uint64"],
                [timelock, pool, o.guardian or me, o.guardian_pause],
            )
            for pool in pools
        ]
        governor = await d._create(
            "BallastGovernor",
            ["address", "address", "uint64", "uint64", "uint256", "uint256", "uint8", "address[]"],
            [token, timelock, o.voting_delay, o.voting_period, o.quorum,
             o.proposal_threshold, 1 if o.quadratic else 0, terms],
        )  # fmt: skip
        set_gov = _abi("BallastTimelock").fn("setGovernor").encode(governor)
        await d._send(timelock, set_gov, "setGovernor")
    finally:
        if owned:
            await ep.aclose()
    return GovernanceAddresses(token, timelock, governor, tuple(terms))


@dataclass(frozen=True, slots=True)
class EvmTermsReader:
    """:func:`read_terms` bound to one endpoint and finality rule (the router's TermsSource)."""

    endpoint: EvmEndpoint
    finality: FinalityRule

    async def read_terms(self, terms: str) -> GovernedTerms:
        return await read_terms(self.endpoint, terms, self.finality)

"""``ballast gov``: propose, vote on, queue and execute changes to pool terms.

Works against the chain named in the config's ``[governance]`` section (its
first RPC URL). The signing key (a token holder's, not the router's operator
key) comes from ``--key-file`` or ``BALLAST_GOV_KEY``, never the command line.
Every write is tried as a call first: a refusal is one line naming the
contract's reason (e.g. "vote refused: voting closed at block 120") and
nothing is sent. What is printed is read back from the chain afterwards.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from eth_abi import decode
from eth_abi.exceptions import EncodingError
from pydantic import SecretStr

from chains.deploy import DeployOptions
from chains.errors import ChainError, GovernanceRefused
from chains.evm_abi import ContractAbi
from chains.evm_config import Confirmations, FinalityRule, FinalizedTag
from chains.evm_governance import (
    CoverType,
    GovernanceClient,
    GovernedTerms,
    ProposalStatus,
    Support,
    account_from_key,
    read_terms,
    terms_call,
)
from chains.evm_rpc import HttpEndpoint
from router.cli_common import ConfigOpt
from router.cli_views import fail, whole
from router.config import ChainConfig, ConfigError, GovernanceConfig, load_settings

KEY_ENV = "BALLAST_GOV_KEY"
T = TypeVar("T")

gov_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="On-chain governance of pool terms: propose, vote, queue, execute, status.",
)

KeyOpt = Annotated[
    Path | None,
    typer.Option("--key-file", help=f"the voter's hex key (or ${KEY_ENV})"),
]
IdArg = Annotated[str, typer.Argument(help="the proposal id (0x + 64 hex digits)")]


@dataclass(frozen=True, slots=True)
class _Target:
    gov: GovernanceConfig
    chain: ChainConfig
    url: str


def _target(config: Path | None) -> _Target:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        fail(str(exc))
    gov = settings.governance
    if gov is None:
        fail("the config has no [governance] section (ballast deploy --governance writes one)")
    chain = next((c for c in settings.chains if c.name == gov.chain), None)
    if chain is None or chain.family != "evm":
        fail(f"governance.chain {gov.chain!r} is not a configured EVM chain")
    if not chain.rpc_urls:
        fail(f"chain {chain.name}: set rpc_urls")
    return _Target(gov, chain, chain.rpc_urls[0])


def _key(key_file: Path | None) -> SecretStr:
    if key_file is not None:
        try:
            return SecretStr(key_file.read_text().strip())
        except OSError as exc:
            fail(f"cannot read the key file {key_file}: {exc.strerror}")
    value = os.environ.get(KEY_ENV, "").strip()
    if not value:
        fail(f"give the voter's key with --key-file FILE or the {KEY_ENV} environment variable")
    return SecretStr(value)


def _run(t: _Target, key: SecretStr | None, work: Callable[[GovernanceClient], Awaitable[T]]) -> T:
    """Run ``work`` with a client on the governance chain; every failure is one line."""

    async def go() -> T:
        ep = HttpEndpoint(t.url, timeout=t.chain.rpc_timeout)
        try:
            account = account_from_key(key) if key is not None else None
            options = DeployOptions(chain_id=t.chain.chain_id)
            return await work(GovernanceClient(ep, t.gov.governor, account, options))
        finally:
            await ep.aclose()

    try:
        return asyncio.run(go())
    except GovernanceRefused as exc:
        fail(str(exc), code=1)
    except ChainError as exc:
        fail(f"governance: {exc}", code=1)


def _amount(text: str, decimals: int, what: str) -> int:
    """Whole units ("1000", "2.5") to base units, exactly; more decimals than the asset has
    is an error, never rounded."""
    units, _, frac = text.replace("_", "").partition(".")
    if not units.isdigit() or (frac and not frac.isdigit()) or len(frac) > decimals:
        fail(f"{what}: {text!r} is not an amount with at most {decimals} decimals")
    return int(units) * 10**decimals + int(frac.ljust(decimals, "0") or 0)


def _limit(spec: str, decimals: int) -> tuple[str, bytes]:
    kind, sep, amount = spec.partition("=")
    names = {c.name.lower(): c for c in CoverType}
    if not sep or kind.lower() not in names:
        fail(f"--limit {spec!r}: use TYPE=AMOUNT with TYPE one of {', '.join(names)}")
    value = _amount(amount, decimals, f"--limit {kind}")
    return terms_call("setCoverageLimit", int(names[kind.lower()]), value)


def _tokens(n: int) -> str:
    """Token base units (18 decimals) as whole tokens, exactly, without trailing zeros."""
    q, r = divmod(n, 10**18)
    return f"{q:,}" + (f".{r:018d}".rstrip("0") if r else "")


def _tally(st: ProposalStatus) -> str:
    show = str if st.quadratic else _tokens  # quadratic weights are not token amounts
    mode = " (quadratic weights)" if st.quadratic else ""
    return (
        f"for {show(st.for_)}, against {show(st.against)}, abstain {show(st.abstain)}{mode}; "
        f"quorum {_tokens(st.quorum_votes)} of {_tokens(st.quorum)} votes"
    )


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


@gov_app.command()
def propose(
    pool: Annotated[str, typer.Option("--pool", help="the pool id whose terms change")],
    description: Annotated[str, typer.Option("--description", "-m", help="what and why")],
    limit: Annotated[
        list[str] | None,
        typer.Option("--limit", help="TYPE=AMOUNT coverage limit (whole units); repeatable"),
    ] = None,
    pause: Annotated[
        bool | None, typer.Option("--pause/--unpause", help="governance pause or unpause")
    ] = None,
    confirm_pause: Annotated[
        bool, typer.Option("--confirm-pause", help="keep the guardian's pause")
    ] = False,
    cover: Annotated[
        list[str] | None, typer.Option("--cover", help="add a covered contract; repeatable")
    ] = None,
    uncover: Annotated[
        list[str] | None, typer.Option("--uncover", help="remove a covered contract")
    ] = None,
    premium: Annotated[
        str | None, typer.Option("--premium", help="BASE,KINK,BELOW,ABOVE in basis points")
    ] = None,
    oracles: Annotated[
        str | None, typer.Option("--oracles", help="the new oracle set, comma-separated")
    ] = None,
    threshold: Annotated[int | None, typer.Option("--threshold", help="k of the oracles")] = None,
    guardian: Annotated[str | None, typer.Option("--guardian", help="a new guardian")] = None,
    config: ConfigOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Propose changes to one pool's governed terms (all pass or fail together)."""
    t = _target(config)
    terms = t.gov.terms.get(pool)
    if terms is None:
        fail(f"pool {pool!r} has no PoolTerms in [governance.terms]")
    try:
        calls = _changes(t, limit, pause, confirm_pause, cover, uncover, premium, oracles,
                         threshold, guardian)  # fmt: skip
    except (ValueError, TypeError, EncodingError) as exc:  # eth_abi: a bad address or number
        fail(f"proposal refused: {' '.join(str(exc).split())[:200]}")
    if not calls:
        fail("nothing to propose: give at least one change (see --help)")
    key = _key(key_file)

    async def work(c: GovernanceClient) -> tuple[str, str, ProposalStatus]:
        pid, tx = await c.propose([(terms, data) for _, data in calls], description)
        return pid, tx, await c.status(pid)

    pid, tx, st = _run(t, key, work)
    typer.echo(
        f"proposed {pid} for pool {pool}: {len(calls)} action(s) "
        f"({', '.join(name for name, _ in calls)}); voting from block {st.snapshot_block + 1} "
        f"to {st.deadline_block} (tx {tx})"
    )


def _changes(
    t: _Target,
    limit: list[str] | None,
    pause: bool | None,
    confirm_pause: bool,
    cover: list[str] | None,
    uncover: list[str] | None,
    premium: str | None,
    oracles: str | None,
    threshold: int | None,
    guardian: str | None,
) -> list[tuple[str, bytes]]:
    """The proposal's actions as (setter name, calldata), in the options' order."""
    calls: list[tuple[str, bytes]] = [_limit(s, t.chain.decimals) for s in limit or ()]
    if pause is not None:
        calls.append(terms_call("setPaused", pause))
    if confirm_pause:
        calls.append(terms_call("confirmPause"))
    calls += [terms_call("addCoveredContract", a) for a in cover or ()]
    calls += [terms_call("removeCoveredContract", a) for a in uncover or ()]
    if premium is not None:
        parts = premium.split(",")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            fail("--premium: give BASE,KINK,BELOW,ABOVE as four whole numbers of basis points")
        calls.append(terms_call("setPremiumModel", *(int(p) for p in parts)))
    if (oracles is None) != (threshold is None):
        fail("--oracles and --threshold go together")
    if oracles is not None and threshold is not None:
        oracle_set = [o.strip() for o in oracles.split(",") if o.strip()]
        calls.append(terms_call("setOracles", oracle_set, threshold))
    if guardian is not None:
        calls.append(terms_call("setGuardian", guardian))
    return calls


@gov_app.command()
def delegate(
    to: Annotated[
        str | None, typer.Option("--to", help="the delegatee (default: yourself)")
    ] = None,
    config: ConfigOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Make your tokens' votes count (delegate to yourself) or lend them to someone."""
    t = _target(config)
    key = _key(key_file)
    try:
        me = str(account_from_key(key).address)
    except ChainError:
        fail("the key is not a 32-byte hex private key")

    async def work(c: GovernanceClient) -> str:
        return await c.delegate(t.gov.token, to or me)

    tx = _run(t, key, work)
    typer.echo(f"votes of {me} delegated to {to or me} (tx {tx})")


@gov_app.command()
def vote(
    proposal: IdArg,
    support: Annotated[str, typer.Argument(help="for, against or abstain")],
    config: ConfigOpt = None,
    key_file: KeyOpt = None,
) -> None:
    """Vote with the votes delegated to you at the proposal's snapshot block."""
    choice = {s.name.lower(): s for s in Support}.get(support.lower())
    if choice is None:
        fail(f"support must be for, against or abstain, not {support!r}")
    t = _target(config)
    key = _key(key_file)

    async def work(c: GovernanceClient) -> tuple[str, ProposalStatus]:
        tx = await c.vote(proposal, choice)
        return tx, await c.status(proposal)

    tx, st = _run(t, key, work)
    typer.echo(f"voted {choice.name.lower()} on {st.proposal_id} (tx {tx}); now {_tally(st)}")


@gov_app.command()
def queue(proposal: IdArg, config: ConfigOpt = None, key_file: KeyOpt = None) -> None:
    """Hand a succeeded proposal to the timelock."""
    t = _target(config)
    key = _key(key_file)

    async def work(c: GovernanceClient) -> tuple[str, ProposalStatus]:
        tx = await c.queue(proposal)
        return tx, await c.status(proposal)

    tx, st = _run(t, key, work)
    typer.echo(f"queued {st.proposal_id}: executable from {_when(st.eta)} (tx {tx})")


@gov_app.command()
def execute(proposal: IdArg, config: ConfigOpt = None, key_file: KeyOpt = None) -> None:
    """Run a queued proposal once its timelock delay has passed."""
    t = _target(config)
    key = _key(key_file)

    async def work(c: GovernanceClient) -> tuple[str, ProposalStatus]:
        tx = await c.execute(proposal)
        return tx, await c.status(proposal)

    tx, st = _run(t, key, work)
    typer.echo(f"executed {st.proposal_id}: {st.state.name.lower()} (tx {tx})")


@gov_app.command()
def status(
    proposal: Annotated[str | None, typer.Argument(help="a proposal id; none: terms")] = None,
    config: ConfigOpt = None,
) -> None:
    """One proposal (read at the head), or every pool's terms in force at the final block."""
    t = _target(config)
    if proposal is not None:
        st = _run(t, None, lambda c: c.status(proposal))
        for line in _proposal_lines(st):
            typer.echo(line)
        return
    finality: FinalityRule = (
        Confirmations(t.chain.confirmations)
        if t.chain.confirmations is not None
        else FinalizedTag()
    )

    async def work(c: GovernanceClient) -> list[tuple[str, GovernedTerms]]:
        return [(p, await read_terms(c.endpoint, a, finality)) for p, a in t.gov.terms.items()]

    for pool, terms in _run(t, None, work):
        for line in _terms_lines(pool, terms, t.chain.decimals):
            typer.echo(line)


def _proposal_lines(st: ProposalStatus) -> list[str]:
    lines = [
        f"proposal {st.proposal_id}: {st.state.name.lower()} (read at block {st.read_at_block})",
        f"  proposer {st.proposer}; votes at block {st.snapshot_block}, "
        f"voting closes at block {st.deadline_block}; executable from {_when(st.eta)}",
        f"  {_tally(st)}",
    ]
    lines += [f"  {i}. {target}: {_describe(data)}" for i, (target, data) in enumerate(st.actions)]
    return lines


def _terms_lines(pool: str, t: GovernedTerms, decimals: int) -> list[str]:
    limits = ", ".join(f"{c.name.lower()} {whole(t.limit(c), decimals)}" for c in CoverType)
    p = t.premium
    return [
        f"pool {pool}: terms {t.terms} version {t.version} at final block {t.block_number}"
        + (" PAUSED" if t.paused else ""),
        f"  limits: {limits}",
        f"  premium (bps): base {p.base_rate_bps}, kink {p.kink_bps}, "
        f"slope {p.slope_below_bps}/{p.slope_above_bps}",
        f"  oracles: {t.oracle_threshold} of {len(t.oracles)} {', '.join(t.oracles)}",
        f"  covered: {', '.join(t.covered) or '-'}",
    ]


def _describe(data_hex: str) -> str:
    """A governed call as ``name(arg, ...)`` (ABI-decoded), else its raw selector."""
    from contracts import load_artifact

    data = bytes.fromhex(data_hex[2:])
    for name in ("PoolTerms", "BallastGovernor"):
        for fn in ContractAbi(load_artifact(name).abi).functions.values():
            if fn.selector == data[:4]:
                try:
                    args: Any = decode(list(fn.inputs), data[4:])
                except Exception:
                    break
                return f"{fn.name}({', '.join(str(a) for a in args)})"
    return f"call 0x{data[:4].hex()}"

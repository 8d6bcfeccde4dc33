"""``ballast deploy``: our contracts on any EVM node, and the config that uses them.

Only standard JSON-RPC methods are used (``chains.deploy``), so it works
against anvil, a testnet or a production node alike. The deployer key is
read from a file or the environment, never from the command line (which
other users of the machine can see), and never printed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from chains.deploy import DeployedContracts, DeployOptions, deploy_contracts
from chains.errors import ChainError
from chains.evm_governance import GovernanceAddresses, GovernanceOptions, deploy_governance
from router.cli_views import fail

KEY_ENV = "BALLAST_DEPLOYER_KEY"


def _key(key_file: Path | None) -> SecretStr:
    if key_file is not None:
        try:
            text = key_file.read_text().strip()
        except OSError as exc:
            fail(f"cannot read the key file {key_file}: {exc.strerror}")
        return SecretStr(text)
    value = os.environ.get(KEY_ENV)
    if not value:
        fail(f"give the deployer key with --key-file FILE or the {KEY_ENV} environment variable")
    return SecretStr(value.strip())


def config_text(
    chain: str,
    rpc_url: str,
    d: DeployedContracts,
    pools: int,
    governance: GovernanceAddresses | None = None,
) -> str:
    """The config sections an operator adds to ballast.toml (the last pool is the hub)."""

    def q(value: Any) -> str:
        return f'"{value}"'

    lines = [
        f"# Deployed to chain id {d.chain_id} at block {d.block_number} by {d.deployer}.",
        "# The router's signer (signer_key, the pools' operator) must be "
        f"{d.operator}; the bridge attester is {d.attester}.",
        "",
        "[[chains]]",
        f"name = {q(chain)}",
        'family = "evm"',
        f"chain_id = {d.chain_id}",
        f"rpc_urls = [{q(rpc_url)}]",
        f"settlement_asset = {q(d.settlement_asset)}",
        f"batch_reader = {q(d.batch_reader)}",
        f"bridge_endpoint = {q(d.bridge_endpoint)}",
        f"hub = {q(d.pools[-1])}",
        f"log_from_block = {d.block_number}",
    ]
    for i, address in enumerate(d.pools[:pools]):
        lines += [
            "",
            "[[pools]]",
            f"chain = {q(chain)}",
            f'pool_id = "{chain}-pool-{i}"',
            f"address = {q(address)}",
        ]
    for i, address in enumerate(d.vaults):
        lines += [
            "",
            "[[vaults]]",
            f'vault_id = "{chain}-vault-{i}"',
            f"chain = {q(chain)}",
            f"address = {q(address)}",
            "capacity = 0  # set what the vault may take",
        ]
    if governance is not None:
        lines += [
            "",
            "# Pool terms change only by a passed proposal through the timelock.",
            "[governance]",
            f"chain = {q(chain)}",
            f"token = {q(governance.token)}",
            f"timelock = {q(governance.timelock)}",
            f"governor = {q(governance.governor)}",
            "",
            "[governance.terms]",
        ]
        lines += [f'"{chain}-pool-{i}" = {q(a)}' for i, a in enumerate(governance.terms)]
    return "\n".join(lines) + "\n"


def deploy(
    rpc_url: Annotated[str, typer.Option("--rpc-url", help="the node's JSON-RPC URL")],
    chain: Annotated[str, typer.Option("--chain", help="the chain's name in the config")],
    out: Annotated[Path, typer.Option("--out", help="where to write the config sections")],
    chain_id: Annotated[
        int | None, typer.Option("--chain-id", help="refuse a node serving another id")
    ] = None,
    pools: Annotated[int, typer.Option(help="risk pools to deploy (a hub comes on top)")] = 2,
    vaults: Annotated[int, typer.Option(help="reinsurance vaults to deploy")] = 1,
    operator: Annotated[
        str | None, typer.Option(help="the router signer's address (default: the deployer)")
    ] = None,
    attester: Annotated[
        str | None, typer.Option(help="the bridge attester's address (default: the deployer)")
    ] = None,
    settlement_asset: Annotated[
        str | None, typer.Option(help="an existing token (e.g. USDC) instead of deploying one")
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option("--key-file", help=f"the deployer's hex key (or ${KEY_ENV})")
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite --out if it exists")] = False,
    governance: Annotated[
        bool,
        typer.Option(help="also deploy governance: token, timelock, governor, PoolTerms per pool"),
    ] = False,
    gov_quorum: Annotated[
        int, typer.Option(help="votes (whole tokens of 1,000,000) a proposal needs")
    ] = 40_000,
    gov_voting_period: Annotated[int, typer.Option(help="blocks a vote stays open")] = 50,
    gov_delay: Annotated[int, typer.Option(help="seconds the timelock holds a change")] = 3_600,
    gov_quadratic: Annotated[bool, typer.Option(help="weigh votes by their square root")] = False,
    guardian: Annotated[
        str | None, typer.Option(help="who may pause in an emergency (default: the deployer)")
    ] = None,
) -> None:
    """Deploy our contracts (token, bridge endpoint, reader, pools + a hub, vaults) to an
    EVM node with standard JSON-RPC, and write the config sections that use them."""
    if out.exists() and not force:
        fail(f"{out} exists: choose another --out or pass --force")
    if not 1 <= pools <= 1_000 or not 0 <= vaults <= 1_000:
        fail("--pools must be 1-1000 and --vaults 0-1000")
    key = _key(key_file)
    try:
        options = DeployOptions(
            chain_id=chain_id,
            pools=pools + 1,
            vaults=vaults,
            operator=operator,
            attester=attester,
            settlement_asset=settlement_asset,
        )
        deployed = asyncio.run(deploy_contracts(rpc_url, key, options))
        governed = None
        if governance:
            gov_options = GovernanceOptions(
                quorum=gov_quorum * 10**18,
                voting_period=gov_voting_period,
                min_delay=gov_delay,
                quadratic=gov_quadratic,
                guardian=guardian,
            )
            governed = asyncio.run(
                deploy_governance(
                    rpc_url,
                    key,
                    deployed.pools[:pools],
                    gov_options,
                    DeployOptions(chain_id=chain_id),
                )
            )
    except ChainError as exc:
        fail(f"deployment failed: {exc}", code=1)
    try:
        out.write_text(config_text(chain, rpc_url, deployed, pools, governed))
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    typer.echo(
        f"deployed to chain id {deployed.chain_id}: token {deployed.settlement_asset}, "
        f"bridge {deployed.bridge_endpoint}, {pools} pools + hub, {vaults} vaults"
        + (f", governor {governed.governor}" if governed else "")
        + "; "
        f"config sections written to {out}"
    )

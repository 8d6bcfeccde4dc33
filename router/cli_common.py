"""What the CLI's command modules share: the common options and the client."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from router.agent.client import RouterClient
from router.config_tls import ClientCredentials

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config file", exists=True, dir_okay=False),
]
RawOpt = Annotated[bool, typer.Option("--raw", help="amounts in base units")]


def router_client(address: str, creds: ClientCredentials) -> RouterClient:
    """A client of the router with the configured credentials (token or mTLS)."""
    if creds.token is not None:
        return RouterClient.token(address, creds.token.get_secret_value(), ca_pem=creds.ca_pem)
    assert creds.ca_pem is not None  # credentials() insists on client.ca_cert with a certificate
    return RouterClient.mtls(
        address, ca_pem=creds.ca_pem, cert_pem=creds.cert_pem, key_pem=creds.key_pem
    )

"""What the CLI's command modules share: the common options, the config, the client,
and one conversation with the router (a refusal is one line and exit 1)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import grpc
import typer

from router.agent.client import RouterClient
from router.cli_views import fail
from router.config import ConfigError, RouterSettings, load_settings
from router.config_tls import ClientCredentials

T = TypeVar("T")

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


def load_config(config: Path | None) -> RouterSettings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}")


def client_credentials(settings: RouterSettings) -> ClientCredentials:
    try:
        return settings.client.credentials()
    except ConfigError as exc:
        fail(f"invalid configuration: {exc}")


def run_call(settings: RouterSettings, call: Callable[[RouterClient], Awaitable[T]]) -> T:
    """One conversation with the router; a refusal is one line and exit 1."""
    creds = client_credentials(settings)
    address = settings.client.address

    async def go() -> T:
        async with router_client(address, creds) as client:
            return await call(client)

    try:
        return asyncio.run(go())
    except grpc.aio.AioRpcError as err:
        hint = ""
        if err.code() is grpc.StatusCode.UNAVAILABLE:
            hint = f" (is a router listening on {address}, and does client.ca_cert match it?)"
        fail(f"{err.code().name}: {err.details() or ''}{hint}", 1)

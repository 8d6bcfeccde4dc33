"""Router configuration: parsed once, from a TOML file and the environment.

Environment variables (prefix ``BALLAST_``, nested with ``__``, e.g.
``BALLAST_AUTH__TOKEN_SECRET``) override the file. Secrets are ``SecretStr`` so
they never show in a repr, a log line or an error message. The parsed settings
are passed to constructors; nothing deeper reads the environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")


def _name(value: str, what: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{what} {value!r} must be 1-63 of [a-z0-9._-], starting alphanumeric")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChainConfig(_Model):
    name: str
    family: Literal["evm", "solana"]
    asset: str = "USDC"
    decimals: int = Field(default=6, ge=0, le=36)
    #: Distinct reporters that must agree before a balance counts as confirmed.
    quorum: int = Field(default=1, ge=1, le=16)
    # What a reporting agent needs to build this chain's adapter:
    rpc_urls: tuple[str, ...] = ()
    chain_id: int | None = None  # EVM only
    #: Settlement token contract (EVM) or mint (Solana) the pools hold.
    settlement_asset: str | None = None
    batch_reader: str | None = None  # EVM Multicall-style reader contract
    #: Operator key (EVM hex) or treasury keypair (Solana, base58 or hex).
    signer_key: SecretStr | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        return _name(v, "chain name")


class PoolConfig(_Model):
    chain: str
    pool_id: str
    address: str
    asset: str = "USDC"

    @field_validator("pool_id")
    @classmethod
    def _check_pool(cls, v: str) -> str:
        return _name(v, "pool id")


class PartnerConfig(_Model):
    partner_id: str
    display_name: str = ""
    #: False deactivates the partner at the next start (removing it does too).
    active: bool = True

    @field_validator("partner_id")
    @classmethod
    def _check_partner(cls, v: str) -> str:
        return _name(v, "partner id")


class ReporterConfig(_Model):
    #: The reporter's identity name, e.g. "ethereum/node-a" for
    #: ``ballast://reporter/ethereum/node-a``.
    reporter_id: str
    chain: str
    #: False deactivates the reporter at the next start (removing it does too).
    active: bool = True


class RouteConfig(_Model):
    """A bridge lane between two chains, as the planner prices it."""

    route_id: str
    src_chain: str
    dst_chain: str
    fee_bps: float = Field(default=5.0, ge=0)
    fixed_fee: int = Field(default=0, ge=0)
    latency_s: float = Field(default=600.0, ge=0)
    capacity: int = Field(default=10**15, ge=0)
    min_transfer: int = Field(default=0, ge=0)


class VaultConfig(_Model):
    """An external reinsurance vault: quota-share terms for the planner."""

    vault_id: str
    chain: str
    address: str
    asset: str = "USDC"
    capacity: int = Field(ge=0)
    premium_bps: int = Field(default=300, ge=0, le=10000)


class TlsConfig(_Model):
    ca_cert: Path
    server_cert: Path
    server_key: Path


class ClientConfig(_Model):
    """How the CLI and agents reach a router (their own identity's credentials)."""

    address: str = "127.0.0.1:50051"
    ca_cert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    token: SecretStr | None = None


class AuthConfig(_Model):
    #: mtls: identity from the client certificate (needs ``tls``).
    #: token: identity from an HMAC-signed bearer token (local use).
    mode: Literal["mtls", "token"] = "mtls"
    token_secret: SecretStr | None = None


class RateConfig(_Model):
    """Token bucket per identity: ``rate`` calls/s refilled, ``burst`` at most."""

    rate: float = Field(gt=0)
    burst: int = Field(ge=1)


class LimitsConfig(_Model):
    max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: Longest a unary call may run, whatever deadline the client asked for.
    deadline_cap_seconds: float = Field(default=30.0, gt=0)
    #: Grace period for in-flight calls on shutdown.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    operator: RateConfig = RateConfig(rate=200.0, burst=400)
    partner: RateConfig = RateConfig(rate=50.0, burst=100)
    reporter: RateConfig = RateConfig(rate=1000.0, burst=2000)


class PolicyConfig(_Model):
    quote_ttl_seconds: int = Field(default=300, ge=1)
    #: A confirmed report older than this is stale and never planned on.
    staleness_limit_seconds: int = Field(default=600, ge=1)
    target_ratio_bps: int = Field(default=15000, ge=10000)
    #: Plans moving more than this (base units) need two operators' approval.
    dual_approval_above: int = Field(default=1_000_000 * 10**6, ge=0)
    #: Longest another replica's change takes to show in GetPosition.
    position_cache_seconds: float = Field(default=5.0, ge=0)
    #: Share of a pool's free capital that may back new covers, in bps.
    capacity_bps: int = Field(default=8000, ge=0, le=10000)
    #: A report read (or mined) later than the router's clock plus this is refused.
    max_clock_skew_seconds: int = Field(default=30, ge=0, le=3600)
    #: No rebalancing while a pool's ratio is within this many bps of its target.
    rebalance_band_bps: int = Field(default=500, ge=0, le=10000)
    #: Share of each cover type's incident probability from a shock common to
    #: every pool holding that type (0 = pools independent).
    cover_type_correlation: float = Field(default=0.3, ge=0.0, le=1.0)
    #: Share from a market-wide shock hitting every cover type at once.
    market_correlation: float = Field(default=0.1, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _weights(self) -> PolicyConfig:
        if self.cover_type_correlation + self.market_correlation > 1.0:
            raise ValueError("cover_type_correlation + market_correlation must not exceed 1")
        return self


class RouterSettings(BaseSettings):
    """Everything the router process needs; see the module docstring."""

    model_config = SettingsConfigDict(
        env_prefix="BALLAST_", env_nested_delimiter="__", extra="forbid", frozen=True
    )
    _toml_file: ClassVar[Path | None] = None

    listen: str = "127.0.0.1:50051"
    database_url: str = "sqlite+aiosqlite:///ballast.db"
    tls: TlsConfig | None = None
    auth: AuthConfig = AuthConfig()
    limits: LimitsConfig = LimitsConfig()
    policy: PolicyConfig = PolicyConfig()
    chains: tuple[ChainConfig, ...] = ()
    pools: tuple[PoolConfig, ...] = ()
    partners: tuple[PartnerConfig, ...] = ()
    reporters: tuple[ReporterConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = ()
    client: ClientConfig = ClientConfig()
    vaults: tuple[VaultConfig, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RouterSettings:
        if self.auth.mode == "token" and self.auth.token_secret is None:
            raise ValueError("auth.mode 'token' needs auth.token_secret")
        chains = {c.name for c in self.chains}
        for pool in self.pools:
            if pool.chain not in chains:
                raise ValueError(f"pool {pool.pool_id!r} names unknown chain {pool.chain!r}")
        for rep in self.reporters:
            if rep.chain not in chains:
                raise ValueError(f"reporter {rep.reporter_id!r} names unknown chain {rep.chain!r}")
        for route in self.routes:
            if route.src_chain not in chains or route.dst_chain not in chains:
                raise ValueError(f"route {route.route_id!r} names an unknown chain")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)


def load_settings(path: Path | None = None, **overrides: Any) -> RouterSettings:
    """Settings from ``path`` (TOML, optional), then the environment, then ``overrides``."""
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")

    class _FromFile(RouterSettings):
        _toml_file: ClassVar[Path | None] = path

    return _FromFile(**overrides)

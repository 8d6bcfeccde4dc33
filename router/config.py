"""Router configuration: parsed once, from a TOML file and the environment.

Environment variables (prefix ``BALLAST_``, nested with ``__``, e.g.
``BALLAST_AUTH__TOKEN_SECRET``) override the file. Secrets are ``SecretStr`` so
they never show in a repr, a log line or an error message. The parsed settings
are passed to constructors; nothing deeper reads the environment.

Every problem is a :class:`ConfigError` that names the setting and what is
wrong with it, never the value given: a misspelt secret key, or a secret of the
wrong type, would otherwise be echoed back (pydantic's own messages quote the
input). The ``ballast`` example config is ``ballast.example.toml`` at the
repository root.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from chains.base import ChainFamily
from chains.evm_config import BridgeRoute, Confirmations, FeePolicy, FinalizedTag
from chains.factory import ChainSpec
from router.config_common import ConfigError, Section, check_name
from router.config_insurance import DeploymentConfig, IncidentsConfig, OracleConfig
from router.config_tls import AuthConfig, ClientConfig, TlsConfig, TlsMaterial
from router.domain.limits import DailyLimit, LaneLimit, LimitsPolicy

#: Our wording for pydantic's error types where its own says less than it should.
_PROBLEMS = {
    "extra_forbidden": "unknown setting (check the spelling)",
    "missing": "is required",
}


_TOML_CHAR = re.compile(r"(character) '.*?'(?= \(at line)")


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    """pydantic's errors as (setting, problem), without ``input_value``."""
    problems = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        what = _PROBLEMS.get(e["type"]) or e["msg"].removeprefix("Value error, ")
        problems.append((_where(tuple(e["loc"])), what))
    return problems


class ChainConfig(Section):
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
    #: Only the executor needs it: a reporting agent reads without it.
    signer_key: SecretStr | None = None
    #: Solana: the treasury's public key (pools' owner), for reading without a key.
    treasury_authority: str | None = None
    #: Where capital gathers on this chain between plan legs: a RiskPool
    #: contract operated by the treasury (EVM) or a token account (Solana).
    hub: str | None = None
    #: The BridgeEndpoint contract (EVM) or the bridge escrow token account (Solana).
    bridge_endpoint: str | None = None
    #: Finality: this many confirmations, or (unset) the node's ``finalized`` tag.
    confirmations: int | None = Field(default=None, ge=0, le=10_000)
    rpc_timeout: float = Field(default=10.0, gt=0, le=600)
    #: EVM: the most a transaction may pay per gas (wei); never exceeded.
    max_fee_per_gas: int | None = Field(default=None, ge=1)
    #: EVM: replace a transaction not included after this many blocks.
    replace_after_blocks: int = Field(default=3, ge=1, le=10_000)
    #: EVM: first block to scan for effects by id (saves scanning from genesis).
    log_from_block: int = Field(default=0, ge=0)

    @field_validator("name")
    @classmethod
    def _checkcheck_name(cls, v: str) -> str:
        return check_name(v, "chain name")


class PoolConfig(Section):
    chain: str
    pool_id: str
    address: str
    asset: str = "USDC"

    @field_validator("pool_id")
    @classmethod
    def _check_pool(cls, v: str) -> str:
        return check_name(v, "pool id")


class PartnerConfig(Section):
    partner_id: str
    display_name: str = ""
    #: False deactivates the partner at the next start (removing it does too).
    active: bool = True

    @field_validator("partner_id")
    @classmethod
    def _check_partner(cls, v: str) -> str:
        return check_name(v, "partner id")


class ReporterConfig(Section):
    #: The reporter's identity name, e.g. "ethereum/node-a" for
    #: ``ballast://reporter/ethereum/node-a``.
    reporter_id: str
    chain: str
    #: False deactivates the reporter at the next start (removing it does too).
    active: bool = True


class RouteConfig(Section):
    """A bridge lane between two chains, as the planner prices it."""

    route_id: str
    src_chain: str
    dst_chain: str
    fee_bps: float = Field(default=5.0, ge=0)
    fixed_fee: int = Field(default=0, ge=0)
    latency_s: float = Field(default=600.0, ge=0)
    capacity: int = Field(default=10**15, ge=0)
    min_transfer: int = Field(default=0, ge=0)


class VaultConfig(Section):
    """An external reinsurance vault: quota-share terms for the planner."""

    vault_id: str
    chain: str
    address: str
    asset: str = "USDC"
    capacity: int = Field(ge=0)
    premium_bps: int = Field(default=300, ge=0, le=10000)


class RateConfig(Section):
    """Token bucket per identity: ``rate`` calls/s refilled, ``burst`` at most."""

    rate: float = Field(gt=0)
    burst: int = Field(ge=1)


class LaneLimitConfig(Section):
    """A bridge lane's token bucket (base units): at most ``capacity`` at once,
    refilled ``refill_per_second`` per second."""

    src_chain: str
    dst_chain: str
    capacity: int = Field(ge=0)
    refill_per_second: int = Field(ge=0)


class DailyLimitConfig(Section):
    """At most ``cap`` base units per rolling 24 h: ``chain:<name>`` (capital
    leaving the chain's pools) or ``destination:<pool or vault id>``."""

    scope: str
    cap: int = Field(ge=0)

    @field_validator("scope")
    @classmethod
    def _scope(cls, v: str) -> str:
        kind, sep, rest = v.partition(":")
        if kind not in ("chain", "destination") or not sep or not rest:
            raise ValueError("must be chain:<name> or destination:<pool or vault id>")
        return v


class LimitsConfig(Section):
    max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: Longest a unary call may run, whatever deadline the client asked for.
    deadline_cap_seconds: float = Field(default=30.0, gt=0)
    #: Grace period for in-flight calls on shutdown.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    operator: RateConfig = RateConfig(rate=200.0, burst=400)
    partner: RateConfig = RateConfig(rate=50.0, burst=100)
    reporter: RateConfig = RateConfig(rate=1000.0, burst=2000)
    #: Capital moved by plans (``[[limits.lanes]]``, ``[[limits.daily]]``); none by default.
    lanes: tuple[LaneLimitConfig, ...] = ()
    daily: tuple[DailyLimitConfig, ...] = ()

    def policy(self) -> LimitsPolicy:
        """The configured limits as the domain's value (checked by the settings)."""
        return LimitsPolicy(
            lanes=tuple(
                LaneLimit(x.src_chain, x.dst_chain, x.capacity, x.refill_per_second)
                for x in self.lanes
            ),
            daily=tuple(DailyLimit(d.scope, d.cap) for d in self.daily),
        )


class PolicyConfig(Section):
    quote_ttl_seconds: int = Field(default=300, ge=1)
    #: A confirmed report older than this is stale and never planned on.
    staleness_limit_seconds: int = Field(default=600, ge=1)
    target_ratio_bps: int = Field(default=15000, ge=10000)
    #: Plans moving more than this (base units) need two operators' approval:
    #: shorthand for ``approval_tiers = [[0, 1], [dual_approval_above + 1, 2]]``.
    dual_approval_above: int = Field(default=1_000_000 * 10**6, ge=0)
    #: ``[[net amount, approvals], ...]``: from that net capital leaving pools
    #: (base units) on, that many distinct operators' approvals; thresholds
    #: rising from 0, approvals 1-16 and not falling. Unset: dual_approval_above.
    approval_tiers: tuple[tuple[int, int], ...] | None = None
    #: Longest another replica's change takes to show in GetPosition.
    position_cache_seconds: float = Field(default=5.0, ge=0)
    #: The scheduled job executes, without a human, plans whose net capital
    #: leaving pools is at most this (base units); 0: never (every plan waits
    #: for operators' approval).
    auto_execute_below: int = Field(default=0, ge=0)
    #: A source pool whose confirmed balance fell more than this below what its
    #: plan was approved on (bps of that basis, or ``drift_floor`` base units if
    #: more) stops the plan before the step, for re-approval.
    drift_tolerance_bps: int = Field(default=100, ge=0, le=10000)
    drift_floor: int = Field(default=1_000_000, ge=0)
    #: Share of a pool's free capital that may back new covers, in bps.
    capacity_bps: int = Field(default=8000, ge=0, le=10000)
    #: A report read (or mined) later than the router's clock plus this is refused.
    max_clock_skew_seconds: int = Field(default=30, ge=0, le=3600)
    #: No rebalancing while a pool's ratio is within this many bps of its target.
    rebalance_band_bps: int = Field(default=500, ge=0, le=10000)
    #: Share of each risk's incident probability from its protocol's shock,
    #: common to every deployment of the protocol on every chain (covers with
    #: no deployment: common to every pool holding that cover type); 0 = independent.
    cover_type_correlation: float = Field(default=0.3, ge=0.0, le=1.0)
    #: Share from a market-wide shock hitting every cover type at once.
    market_correlation: float = Field(default=0.1, ge=0.0, le=1.0)
    #: No cover is quoted or bound on a deployment whose TVL reading is older
    #: than this: its caps and its price depend on it (the TVL reporter or an
    #: operator refreshes it).
    max_tvl_age_seconds: int = Field(default=7 * 86_400, ge=60)

    @model_validator(mode="after")
    def _weights(self) -> PolicyConfig:
        if self.cover_type_correlation + self.market_correlation > 1.0:
            raise ValueError("cover_type_correlation + market_correlation must not exceed 1")
        return self

    @model_validator(mode="after")
    def _tiers(self) -> PolicyConfig:
        tiers = self.approval_tiers
        if tiers is None:
            return self
        if "dual_approval_above" in self.model_fields_set:
            raise ValueError("set approval_tiers or dual_approval_above, not both")
        if not tiers or tiers[0][0] != 0:
            raise ValueError("approval_tiers must start with a tier at 0, e.g. [[0, 1], ...]")
        for (low, before), (high, count) in itertools.pairwise(tiers):
            if high <= low or count < before:
                raise ValueError("approval_tiers: thresholds must rise and approvals must not fall")
        if any(not 1 <= count <= 16 for _, count in tiers):
            raise ValueError("approval_tiers: each tier needs 1-16 approvals")
        return self

    def tiers(self) -> tuple[tuple[int, int], ...]:
        """The approval tiers in force (``dual_approval_above`` as two tiers if unset)."""
        if self.approval_tiers is not None:
            return self.approval_tiers
        return ((0, 1), (self.dual_approval_above + 1, 2))


class BridgeConfig(Section):
    """The bridge cross-chain steps are delivered through.

    ``local``: our ``BridgeEndpoint`` contracts and the Solana escrow, attested
    with one key (embedded chains, development, tests); its lanes and fees are
    the configured routes'. ``none``: no bridge, cross-chain steps cannot run.
    """

    kind: Literal["none", "local"] = "none"
    attester_key: SecretStr | None = None


class TemporalConfig(Section):
    """Where the executor's workflows run.

    ``address = "embedded"`` starts a Temporal dev server from the installed
    ``temporal`` binary (its state in ``dev_server_db``, by default beside the
    router's SQLite database so a restart resumes every saga) for a single
    machine; anything else is a Temporal cluster's frontend ``host:port``.
    """

    address: str = "embedded"
    namespace: str = "default"
    task_queue: str = "ballast-executor"
    #: Unset: beside the router's SQLite file, or in a temporary directory.
    dev_server_db: Path | None = None


class ExecutionConfig(Section):
    """How approved plans are carried out on chain."""

    #: Off: ExecutePlan only records the request (no chain is touched).
    enabled: bool = True
    #: ``ballast serve`` runs an executor worker in its own process (single machine).
    embedded_worker: bool = True
    #: A step unfinished after this long is STUCK: in flight until an operator resolves it.
    step_deadline_seconds: float = Field(default=900.0, gt=0)
    #: How often a pending transaction is looked at.
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: How long one observation activity polls before it reports back.
    observe_seconds: float = Field(default=20.0, gt=0, le=600)
    #: How often the worker reads every vault's free capacity on chain.
    vault_refresh_seconds: float = Field(default=30.0, gt=0)


class JobConfig(Section):
    """The scheduled rebalancing job (``ballast rebalance``)."""

    #: The operator name the job plans and requests execution as (audit log).
    operator: str = Field(default="rebalance-job", pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
    #: How long one run holds the job's lease: longer than a run takes; a run
    #: that crashed blocks the next ones for at most this long.
    lease_seconds: float = Field(default=900.0, ge=10, le=86_400)


class TelemetryConfig(Section):
    """Metrics, logs and traces (see ``router/telemetry/README.md``)."""

    #: Port of the Prometheus exporter (``/metrics``) the router starts; unset:
    #: off (the default); 0: any free port (tests; the log line names it).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    #: Address the exporter binds (loopback by default: put a scraper beside it).
    metrics_host: str = "127.0.0.1"
    #: auto: text on a terminal, JSON otherwise; ``--log-format`` overrides.
    log_format: Literal["auto", "json", "text"] = "auto"
    #: Where spans go: none (off), console (stderr) or otlp (an OTLP/gRPC collector).
    traces: Literal["none", "console", "otlp"] = "none"
    #: The OTLP collector's endpoint when ``traces = "otlp"``.
    otlp_endpoint: str = "http://127.0.0.1:4317"
    #: ``service.name`` of this process's spans.
    service_name: str = "ballast-router"


class GovernanceConfig(Section):
    """On-chain governance of pool terms (written by ``ballast deploy --governance``).

    ``ballast gov`` drives proposals on ``governor`` over ``chain``'s first RPC
    URL; ``terms`` maps each pool id to the PoolTerms contract that governs it.
    """

    chain: str
    token: str
    timelock: str
    governor: str
    terms: dict[str, str] = Field(default_factory=dict)
    #: The router re-reads the terms at final blocks this often (seconds), and
    #: before a quote or bind whose terms are older than ``max_terms_age_seconds``.
    refresh_seconds: float = Field(default=30.0, gt=0)
    max_terms_age_seconds: float = Field(default=120.0, gt=0)


class ChangesConfig(Section):
    """Off-chain change control (``ballast change``): who and when."""

    #: Distinct operators, other than the proposer, who must approve a change.
    approvals_required: int = Field(default=1, ge=1, le=16)
    #: A change is applied no sooner than this after it was proposed.
    delay_seconds: float = Field(default=3600.0, ge=0, le=30 * 86_400)
    #: An undecided change expires this long after it was proposed.
    ttl_seconds: float = Field(default=7 * 86_400.0, ge=60, le=365 * 86_400)


class RetentionConfig(Section):
    """How long the balance-report history is kept (``balance_reports``).

    Rows older than the window go, except the votes at or above each pool's
    confirmed block; the confirmed balances and the audit log are never
    pruned. ``ballast serve`` prunes at most ``prune_batch`` rows every
    ``prune_interval_seconds``; ``ballast prune`` does it on demand.
    """

    #: Days of history kept; 0 keeps it forever (no pruning).
    history_days: float = Field(default=30.0, ge=0)
    prune_interval_seconds: float = Field(default=60.0, gt=0)
    prune_batch: int = Field(default=10_000, ge=1, le=1_000_000)


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
    temporal: TemporalConfig = TemporalConfig()
    execution: ExecutionConfig = ExecutionConfig()
    bridge: BridgeConfig = BridgeConfig()
    job: JobConfig = JobConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    deployments: tuple[DeploymentConfig, ...] = ()
    governance: GovernanceConfig | None = None
    changes: ChangesConfig = ChangesConfig()
    retention: RetentionConfig = RetentionConfig()
    oracles: tuple[OracleConfig, ...] = ()
    incidents: IncidentsConfig = IncidentsConfig()

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isascii() or not port.isdigit() or int(port) > 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:50051 or [::]:50051")
        return v

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
        self._check_limits(chains)
        if self.bridge.kind == "local" and self.bridge.attester_key is None:
            raise ValueError("bridge.kind 'local' needs bridge.attester_key")
        return self

    def _check_limits(self, chains: set[str]) -> None:
        seen: set[object] = set()
        for lane in self.limits.lanes:
            if lane.src_chain not in chains or lane.dst_chain not in chains:
                raise ValueError("limits.lanes: a lane names an unknown chain")
            if (lane.src_chain, lane.dst_chain) in seen:
                raise ValueError("limits.lanes: a lane is limited twice")
            seen.add((lane.src_chain, lane.dst_chain))
        targets = {p.pool_id for p in self.pools} | {v.vault_id for v in self.vaults}
        for d in self.limits.daily:
            kind, _, name = d.scope.partition(":")
            if kind == "chain" and name not in chains:
                raise ValueError("limits.daily: a chain: scope names an unknown chain")
            if kind == "destination" and name not in targets:
                raise ValueError("limits.daily: a destination: scope names no pool or vault")
            if d.scope in seen:
                raise ValueError("limits.daily: a scope is limited twice")
            seen.add(d.scope)

    def secret_values(self) -> list[str]:
        """Every configured secret's value (and the database URL's password), for
        the log redaction filter to mask wherever one shows."""
        from sqlalchemy.engine import make_url

        found: list[str] = []

        def walk(value: object) -> None:
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
            elif isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk(getattr(value, name))
            elif isinstance(value, tuple):
                for item in value:
                    walk(item)

        walk(self)
        try:
            password = make_url(self.database_url).password
        except Exception:  # an unparseable URL fails elsewhere, naming the setting
            password = None
        if password:
            found.append(str(password))
        return found

    def server_tls(self) -> TlsMaterial | None:
        """What ``ballast serve`` needs beyond parsing: TLS files that exist, parse
        and match, and a ``[tls]`` section whenever clients authenticate by
        certificate. ``None``: plaintext (token mode without ``[tls]``)."""
        if self.tls is None:
            if self.auth.mode == "mtls":
                raise ConfigError(
                    [
                        (
                            "tls",
                            "auth.mode 'mtls' needs a [tls] section with ca_cert, "
                            "server_cert and server_key (ballast dev-certs makes local ones)",
                        )
                    ]
                )
            return None
        return self.tls.material()

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
    """Settings from ``path`` (TOML, optional), then the environment, then ``overrides``.

    Raises :class:`ConfigError` for anything unusable, naming settings, never values.
    """
    if path is not None and not path.is_file():
        raise ConfigError([("config", f"file {path} does not exist")])

    class _FromFile(RouterSettings):
        _toml_file: ClassVar[Path | None] = path

    try:
        return _FromFile(**overrides)
    except ValidationError as err:
        raise ConfigError(_problems(err)) from None
    except tomllib.TOMLDecodeError as err:
        # Its message gives line and column; the one character some messages
        # quote could be part of a secret, so it goes.
        msg = _TOML_CHAR.sub(r"\1", str(err))
        raise ConfigError([("config", f"{path} is not valid TOML: {msg}")]) from None
    except SettingsError as err:
        # e.g. a BALLAST_* variable that should hold JSON and does not; the
        # message names the field and the source only.
        raise ConfigError([("environment", str(err))]) from None


def chain_spec(settings: RouterSettings, name: str, *, with_signer: bool = True) -> ChainSpec:
    """The chains package's spec for one configured chain: the one place router
    config becomes adapter config (``chains.factory.connect`` builds from it).
    Without the signer the adapter only reads (a reporting agent)."""
    chain = next((c for c in settings.chains if c.name == name), None)
    if chain is None:
        raise ValueError(f"unknown chain {name!r}; configured: {[c.name for c in settings.chains]}")
    if not chain.rpc_urls:
        raise ValueError(f"chain {name}: set rpc_urls")
    if chain.settlement_asset is None:
        raise ValueError(f"chain {name}: set settlement_asset (token contract or mint)")
    by_name = {c.name: c for c in settings.chains}
    routes = {}
    for r in settings.routes:
        dst = by_name[r.dst_chain]
        if r.src_chain == name and dst.chain_id is not None:
            routes[r.dst_chain] = BridgeRoute(dst.chain_id, ChainFamily(dst.family))
    for r in settings.routes:  # deliveries arrive from the other end of a lane too
        src = by_name[r.src_chain]
        if r.dst_chain == name and r.src_chain not in routes and src.chain_id is not None:
            routes[r.src_chain] = BridgeRoute(src.chain_id, ChainFamily(src.family))
    fees = FeePolicy(replace_after_blocks=chain.replace_after_blocks)
    if chain.max_fee_per_gas is not None:
        fees = FeePolicy(
            max_fee_per_gas=chain.max_fee_per_gas,
            priority_fee=min(FeePolicy().priority_fee, chain.max_fee_per_gas),
            replace_after_blocks=chain.replace_after_blocks,
        )
    return ChainSpec(
        family=ChainFamily(chain.family),
        name=chain.name,
        rpc_urls=chain.rpc_urls,
        settlement_asset=chain.settlement_asset,
        chain_id=chain.chain_id,
        signer_key=chain.signer_key if with_signer else None,
        treasury_authority=chain.treasury_authority,
        batch_reader=chain.batch_reader,
        bridge_endpoint=chain.bridge_endpoint,
        routes=routes,
        finality=(
            Confirmations(chain.confirmations)
            if chain.confirmations is not None
            else FinalizedTag()
        ),
        rpc_timeout=chain.rpc_timeout,
        fees=fees,
        decimals=chain.decimals,
        log_from_block=chain.log_from_block,
    )

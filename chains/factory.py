"""Chain adapters built from configuration, in one place.

The router turns its own config (TOML) into one :class:`ChainSpec` per chain
and calls :func:`connect`; nothing else in the service knows how an adapter is
put together. A spec without ``signer_key`` gives a read-only adapter (a
reporting agent never holds the treasury key): its sends raise
:class:`~chains.errors.ReadOnlyAdapter`.

Secrets: ``signer_key`` is a ``SecretStr``/``SecretBytes`` and is only unwrapped
inside the adapter constructors; it never appears in a repr, an error or a log
line (a malformed key is reported as malformed, never echoed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from pydantic import SecretBytes, SecretStr

from chains.base import ChainAdapter, ChainFamily
from chains.errors import InvalidInput
from chains.evm_config import (
    BridgeRoute,
    EvmChainConfig,
    FeePolicy,
    FinalityRule,
    FinalizedTag,
)
from chains.retry import DEFAULT_RETRY, RetryPolicy
from chains.solana_core import SolanaConfig


@dataclass(frozen=True, slots=True)
class ChainSpec:
    """Everything needed to reach one chain, family-neutral.

    - ``settlement_asset``: the token contract (EVM) or the mint (Solana).
    - ``bridge_endpoint``: the ``BridgeEndpoint`` contract (EVM) or the bridge
      escrow token account (Solana).
    - ``routes``: other chains reachable through the bridge, by name.
    - ``signer_key``: EVM operator key (0x-hex); Solana treasury keypair (64 bytes
      as ``SecretBytes``, or base58/hex text). ``None``: read-only.
    - ``treasury_authority``: Solana only, the treasury's public key, needed
      when there is no key (pools must be owned by it).
    - ``finality``: EVM only; ``Confirmations(n)`` or the ``finalized`` tag
      (default). Nodes differ (Hardhat's ``finalized`` is its head): set it per chain.
    - ``rpc_urls``: EVM: every endpoint, which must agree; Solana: the first
      is used, the others are witnesses that must agree on block hashes.
    """

    family: ChainFamily
    name: str
    rpc_urls: tuple[str, ...]
    settlement_asset: str
    chain_id: int | None = None
    signer_key: SecretStr | SecretBytes | None = field(default=None, repr=False)
    treasury_authority: str | None = None
    batch_reader: str | None = None
    bridge_endpoint: str | None = None
    routes: Mapping[str, BridgeRoute] = field(default_factory=dict)
    finality: FinalityRule = field(default_factory=FinalizedTag)
    rpc_timeout: float = 10.0
    fees: FeePolicy = field(default_factory=FeePolicy)
    decimals: int = 6
    retry: RetryPolicy = DEFAULT_RETRY
    receipt_timeout: float = 60.0
    log_from_block: int = 0
    log_block_range: int | None = None

    def __post_init__(self) -> None:
        try:
            family = ChainFamily(self.family)
        except ValueError:
            raise InvalidInput(f"unknown chain family {self.family!r}") from None
        object.__setattr__(self, "family", family)
        object.__setattr__(self, "rpc_urls", tuple(self.rpc_urls))
        object.__setattr__(self, "routes", MappingProxyType(dict(self.routes)))
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput("a chain needs a name")
        if not self.rpc_urls or not all(isinstance(u, str) and u for u in self.rpc_urls):
            raise InvalidInput("a chain needs at least one RPC URL", chain=self.name)
        key = self.signer_key
        if key is not None and not isinstance(key, SecretStr | SecretBytes):
            raise InvalidInput(
                "signer_key must be a SecretStr or SecretBytes (never a plain string)",
                chain=self.name,
            )
        if not self.rpc_timeout > 0:
            raise InvalidInput("rpc_timeout must be positive", chain=self.name)
        if isinstance(self.decimals, bool) or not 0 <= self.decimals <= 36:
            raise InvalidInput("decimals must be within 0..36", chain=self.name)
        if family is ChainFamily.EVM and self.chain_id is None:
            raise InvalidInput("an EVM chain needs its chain id", chain=self.name)
        if family is ChainFamily.SOLANA and key is None and self.treasury_authority is None:
            raise InvalidInput(
                "a Solana chain needs signer_key, or treasury_authority to read only",
                chain=self.name,
            )

    @property
    def read_only(self) -> bool:
        return self.signer_key is None

    def without_signer(self) -> ChainSpec:
        """The same chain for reads only (what a reporting agent gets)."""
        if self.family is ChainFamily.SOLANA and self.treasury_authority is None:
            return replace(self, signer_key=None, treasury_authority=_solana_authority(self))
        return replace(self, signer_key=None)


async def connect(spec: ChainSpec) -> ChainAdapter:
    """An adapter for the spec's chain, its endpoints checked (chain id / mint)."""
    if spec.family is ChainFamily.EVM:
        from chains.evm import connect_evm

        return await connect_evm(evm_config(spec))
    from chains.solana import connect_solana

    return await connect_solana(solana_config(spec))


def evm_config(spec: ChainSpec) -> EvmChainConfig:
    key = spec.signer_key
    if isinstance(key, SecretBytes):
        key = SecretStr("0x" + key.get_secret_value().hex())
    assert spec.chain_id is not None  # checked in ChainSpec
    return EvmChainConfig(
        chain=spec.name,
        chain_id=spec.chain_id,
        operator_key=key,
        endpoints=spec.rpc_urls,
        settlement_asset=spec.settlement_asset,
        batch_reader=spec.batch_reader,
        bridge_endpoint=spec.bridge_endpoint,
        finality=spec.finality,
        routes=spec.routes,
        rpc_timeout=spec.rpc_timeout,
        receipt_timeout=spec.receipt_timeout,
        retry=spec.retry,
        log_from_block=spec.log_from_block,
        log_block_range=spec.log_block_range,
        fees=spec.fees,
    )


def solana_config(spec: ChainSpec) -> SolanaConfig:
    return SolanaConfig(
        chain=spec.name,
        rpc_url=spec.rpc_urls[0],
        settlement_mint=spec.settlement_asset,
        treasury_key=_solana_key(spec),
        decimals=spec.decimals,
        request_timeout=spec.rpc_timeout,
        retry=spec.retry,
        witness_urls=spec.rpc_urls[1:],
        treasury_authority=spec.treasury_authority,
        bridge_escrow=spec.bridge_endpoint,
        routes={name: route.chain_id for name, route in spec.routes.items()},
    )


def _solana_key(spec: ChainSpec) -> SecretBytes | None:
    """The 64-byte keypair from SecretBytes, or base58/hex text (never echoed)."""
    key = spec.signer_key
    if key is None or isinstance(key, SecretBytes):
        return key
    text = key.get_secret_value().strip()
    raw: bytes | None = None
    try:
        if len(text) in (128, 130):
            raw = bytes.fromhex(text.removeprefix("0x"))
        else:
            from solders.keypair import Keypair

            raw = bytes(Keypair.from_base58_string(text))
    except BaseException as exc:  # solders may panic on garbage: never show the text
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        raw = None
    if raw is None or len(raw) != 64:
        raise InvalidInput(
            "signer_key is not a 64-byte Solana keypair (base58 or hex)", chain=spec.name
        )
    return SecretBytes(raw)


def _solana_authority(spec: ChainSpec) -> str | None:
    key = _solana_key(spec)
    if key is None:
        return None
    from solders.keypair import Keypair

    try:
        return str(Keypair.from_bytes(key.get_secret_value()).pubkey())
    except ValueError:
        raise InvalidInput("signer_key is not a valid Solana keypair", chain=spec.name) from None

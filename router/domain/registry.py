"""Registry values: chains, pools, reporters, partners, vaults."""

from __future__ import annotations

from dataclasses import dataclass

from chains.base import ChainFamily
from router.domain.checks import check_amount, check_id, check_int, check_text
from router.errors import InvalidRecord


@dataclass(frozen=True, slots=True)
class Chain:
    name: str
    family: ChainFamily
    #: How many distinct reporters must agree on (block, hash, amount) to confirm.
    quorum: int = 1

    def __post_init__(self) -> None:
        check_id(self.name, "chain")
        try:
            object.__setattr__(self, "family", ChainFamily(self.family))
        except ValueError:
            raise InvalidRecord(
                f"family must be one of {[f.value for f in ChainFamily]}", field="family"
            ) from None
        check_int(self.quorum, "quorum", lo=1, hi=64)


@dataclass(frozen=True, slots=True)
class Pool:
    pool_id: str
    chain: str
    address: str
    asset: str
    locked_capital: int = 0
    active_cover: int = 0
    target_ratio_bps: int = 15_000  # 150 %: capital / requirement we steer to
    min_ratio_bps: int = 10_000  # 100 %: below this the pool is insolvent

    def __post_init__(self) -> None:
        check_id(self.pool_id, "pool_id")
        check_id(self.chain, "chain")
        check_text(self.address, "address", max_len=128)
        check_text(self.asset, "asset", max_len=128)
        check_amount(self.locked_capital, "locked_capital")
        check_amount(self.active_cover, "active_cover")
        check_int(self.min_ratio_bps, "min_ratio_bps", lo=0, hi=1_000_000)
        check_int(self.target_ratio_bps, "target_ratio_bps", lo=self.min_ratio_bps, hi=1_000_000)


@dataclass(frozen=True, slots=True)
class Reporter:
    reporter_id: str
    chain: str
    allowed: bool = True

    def __post_init__(self) -> None:
        check_id(self.reporter_id, "reporter_id")
        check_id(self.chain, "chain")
        if not isinstance(self.allowed, bool):
            raise InvalidRecord("allowed must be a bool", field="allowed")


@dataclass(frozen=True, slots=True)
class Partner:
    partner_id: str
    name: str
    active: bool = True

    def __post_init__(self) -> None:
        check_id(self.partner_id, "partner_id")
        check_text(self.name, "name", max_len=128)
        if not isinstance(self.active, bool):
            raise InvalidRecord("active must be a bool", field="active")


@dataclass(frozen=True, slots=True)
class Vault:
    """A reinsurance vault. ``capacity`` is the most the config lets it take;
    ``free_on_chain`` what the vault itself says it can still take (read at a
    final block, ``None`` until read). The planner uses the smaller."""

    vault_id: str
    chain: str
    address: str
    asset: str
    capacity: int
    premium_bps: int
    free_on_chain: int | None = None
    free_at_block: int | None = None

    @property
    def usable_capacity(self) -> int:
        if self.free_on_chain is None:
            return self.capacity
        return min(self.capacity, self.free_on_chain)

    def __post_init__(self) -> None:
        check_id(self.vault_id, "vault_id")
        check_id(self.chain, "chain")
        check_text(self.address, "address", max_len=128)
        check_text(self.asset, "asset", max_len=128)
        check_amount(self.capacity, "capacity")
        check_int(self.premium_bps, "premium_bps", lo=0, hi=1_000_000)

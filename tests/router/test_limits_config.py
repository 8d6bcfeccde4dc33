"""``[[limits.lanes]]`` and ``[[limits.daily]]``: none by default, checked against the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import ConfigError, load_settings
from router.domain.limits import DailyLimit, LaneLimit

TOML = """
[[chains]]
name = "eth"
family = "evm"
[[chains]]
name = "sol"
family = "solana"
[[pools]]
chain = "eth"
pool_id = "eth-main"
address = "0x0000000000000000000000000000000000000001"
[[limits.lanes]]
src_chain = "eth"
dst_chain = "sol"
capacity = 1000000000
refill_per_second = 11574
[[limits.daily]]
scope = "chain:eth"
cap = 5000000000
[[limits.daily]]
scope = "destination:eth-main"
cap = 2000000000
"""


def test_no_limits_by_default() -> None:
    assert load_settings().limits.policy().empty


def test_limits_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "ballast.toml"
    path.write_text(TOML)
    policy = load_settings(path).limits.policy()
    assert policy.lanes == (LaneLimit("eth", "sol", 1_000_000_000, 11_574),)
    assert policy.daily == (
        DailyLimit("chain:eth", 5_000_000_000),
        DailyLimit("destination:eth-main", 2_000_000_000),
    )


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('[[limits.daily]]\nscope = "pool:x"\ncap = 1\n', "must be chain:<name>"),
        ('[[limits.daily]]\nscope = "chain:arb"\ncap = 1\n', "unknown chain"),
        ('[[limits.daily]]\nscope = "destination:nope"\ncap = 1\n', "no pool or vault"),
        ('[[limits.daily]]\nscope = "chain:eth"\ncap = 1\n', "limited twice"),
        (
            '[[limits.lanes]]\nsrc_chain = "eth"\ndst_chain = "arb"\n'
            "capacity = 1\nrefill_per_second = 1\n",
            "unknown chain",
        ),
        ('[[limits.daily]]\nscope = "chain:sol"\ncap = -1\n', "greater than or equal to 0"),
    ],
)
def test_bad_limits_are_named(tmp_path: Path, extra: str, problem: str) -> None:
    path = tmp_path / "ballast.toml"
    path.write_text(TOML + extra)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert problem in str(err.value) and "limits" in str(err.value)

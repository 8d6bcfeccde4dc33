"""Options and fixtures every test module shares.

``--backend`` picks which chain backends the conformance suites run on
(default: all that can run here). Node-backed backends (anvil) skip with a
reason when Node or the npm-installed tools are absent; PostgreSQL tests skip
when nothing answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles, picked by HYPOTHESIS_PROFILE: "ci" (the default: the
# per-test example counts, fixed seed so every run sees the same examples),
# "deep" (random seeds, so repeated runs search new examples; 1000 where a
# test sets no count) and "mutation" (fixed seed, no example database: a mutant's run
# must not learn from another's).
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("deep", deadline=None, max_examples=1000, suppress_health_check=_QUIET)
settings.register_profile(
    "mutation", derandomize=True, database=None, deadline=None, suppress_health_check=_QUIET
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def examples(ci: int, deep: int | None = None) -> int:
    """How many examples a property runs: ``ci`` normally (sized for CI time),
    ``deep`` (10x unless given) under the "deep" profile."""
    return (deep if deep is not None else 10 * ci) if PROFILE == "deep" else ci


ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "node_modules" / ".bin"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        action="append",
        default=None,
        help="chain backends to run conformance suites on (embedded, anvil, litesvm); repeatable",
    )
    parser.addoption("--run-slow", action="store_true", help="also run long fault/load tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: opt in with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def selected_backends(config: pytest.Config) -> set[str] | None:
    chosen = config.getoption("--backend")
    return set(chosen) if chosen else None


def node_tool(name: str) -> Path:
    """Path of an npm-installed tool, or skip the test saying why it is missing."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: this test needs a Node-based tool")
    path = NODE_BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed: run `make test` (it runs `npm ci`)")
    return path


def postgres_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False

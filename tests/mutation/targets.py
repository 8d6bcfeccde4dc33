"""What ``make mutate`` mutates, and which tests judge each module's mutants.

Test files are listed fastest first: the worker stops at the first failure.
``scopes`` restricts a module to the functions/classes that hold the rule
("<module>" is module-level code); None mutates the whole module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # short name in the report
    module: str
    tests: tuple[str, ...]
    scopes: tuple[str, ...] | None = None
    timeout: float = 120.0  # seconds one mutant's tests may take before it counts as killed


TARGETS: tuple[Target, ...] = (
    Target(
        "money",
        "reinsurance.money",
        ("tests/reinsurance/test_money.py",),
    ),
    Target(
        "treaties",
        "reinsurance.treaties",
        ("tests/reinsurance/test_treaties.py", "tests/reinsurance/test_treaties_solvency.py"),
    ),
    Target(
        "solvency",
        "reinsurance.solvency",
        ("tests/reinsurance/test_solvency.py", "tests/reinsurance/test_treaties_solvency.py"),
        timeout=40.0,  # VaR's widening search loops for ever under some mutants
    ),
    Target(
        "ingest",
        "router.domain.ingest",
        ("tests/store/test_ingest_rules.py", "tests/store/test_ingest.py"),
    ),
    Target(
        "auth",
        "router.api.auth",
        ("tests/router/test_auth_rules.py", "tests/router/test_auth.py"),
    ),
    Target(
        "capacity",
        "router.domain.covers",
        ("tests/store/test_capacity_rule.py", "tests/store/test_capacity.py"),
        scopes=("CapacityRule", "pool_capacity"),
    ),
    Target(
        "cover terms",
        "router.domain.covers",
        ("tests/domain/test_cover_terms.py",),
        scopes=("CoverTerms.__post_init__", "CoverDefinition.cap", "limit_cap", "allocate_loss"),
    ),
    Target(
        "chain values",
        "chains.base",
        ("tests/chains/test_values.py",),
        scopes=(
            "<module>",
            "check_amount",
            "check_id",
            "check_transfer_id",
            "Transfer.__post_init__",
            "InboundTransfer.__post_init__",
            "Cession.__post_init__",
            "Recovery.__post_init__",
            "effect_id",
            "effect_kind",
        ),
    ),
    Target(
        "plans",
        "router.domain.plans",
        ("tests/store/test_state_machines.py", "tests/store/test_plans.py"),
    ),
    Target(
        "transfers",
        "router.domain.transfers",
        ("tests/store/test_state_machines.py", "tests/store/test_plans.py"),
    ),
)

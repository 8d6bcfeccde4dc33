"""Ballast's Solidity contracts as Python data: compiled artifacts and helpers.

The artifacts in ``contracts/artifacts/`` are built from ``contracts/src/`` by the
pinned solc-js (``make contracts``) and committed; a test fails when one no longer
matches its source. Python code never compiles Solidity: it loads these files.

``attestation_digest`` mirrors ``BridgeEndpoint.attestationDigest`` byte for byte so
an attester in Python signs exactly what the contract checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_canonical_address

__all__ = [
    "CONTRACT_NAMES",
    "Artifact",
    "UnknownArtifact",
    "attestation_digest",
    "load_artifact",
]

#: Every deployable contract with a committed artifact.
CONTRACT_NAMES: tuple[str, ...] = (
    "BatchReader",
    "BridgeEndpoint",
    "PolicyCertificate",
    "ReinsuranceVault",
    "RiskPool",
    "SettlementToken",
)


class UnknownArtifact(LookupError):
    """No committed artifact has this name (names are case-sensitive)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no contract artifact named {name!r}; known: {', '.join(CONTRACT_NAMES)}")


@dataclass(frozen=True, slots=True)
class Artifact:
    """A compiled contract: what web3 needs to deploy it and to call it.

    ``abi`` is a tuple of plain dicts as solc emitted them; treat them as read-only.
    """

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    source_hash: str
    compiler_version: str


@cache
def load_artifact(name: str) -> Artifact:
    """Load ``contracts/artifacts/<name>.json`` (cached; artifacts are immutable at runtime)."""
    if name not in CONTRACT_NAMES:
        raise UnknownArtifact(name)
    text = resources.files(__package__).joinpath("artifacts", f"{name}.json").read_text("utf-8")
    data = json.loads(text)
    return Artifact(
        name=data["contractName"],
        abi=tuple(data["abi"]),
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        source_hash=data["sourceHash"],
        compiler_version=data["compiler"]["version"],
    )


def attestation_digest(
    endpoint: str | bytes,
    chain_id: int,
    transfer_id: bytes,
    src_chain_id: int,
    recipient: str | bytes,
    amount: int,
) -> bytes:
    """The 32-byte hash the attester signs (with the EIP-191 personal-sign prefix).

    ``endpoint`` and ``chain_id`` are the *destination* endpoint and chain: binding
    them stops an attestation being replayed on another chain or endpoint. Sign it
    with ``Account.sign_message(encode_defunct(primitive=digest), key)``.
    """
    if len(transfer_id) != 32:
        raise ValueError(f"transfer_id must be 32 bytes, got {len(transfer_id)}")
    uints = {"chain_id": chain_id, "src_chain_id": src_chain_id, "amount": amount}
    for label, value in uints.items():
        if not 0 <= value < 2**256:
            raise ValueError(f"{label} must be a uint256, got {value}")
    return keccak(
        encode(
            ["address", "uint256", "bytes32", "uint256", "address", "uint256"],
            [
                to_canonical_address(endpoint),
                chain_id,
                transfer_id,
                src_chain_id,
                to_canonical_address(recipient),
                amount,
            ],
        )
    )

"""The committed artifacts: fresh against their sources, well-formed, loadable.

The freshness check runs the pinned compiler (`node contracts/build.mjs --check`);
it is skipped, saying why, only where Node or the npm-installed solc is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak

from contracts import CONTRACT_NAMES, UnknownArtifact, attestation_digest, load_artifact
from tests.contracts.support import Deployment

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
SOLC = CONTRACTS / "node_modules" / "solc"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: cannot compile the contracts to check artifacts")
    if not SOLC.is_dir():
        pytest.skip("solc-js is not installed in contracts/node_modules: run `make test` (npm ci)")
    return node


def _check(node: str, build_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, str(build_dir / "build.mjs"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def build_copy(tmp_path: Path) -> Path:
    """A scratch copy of the contracts build (sources, script, artifacts) to break on purpose."""
    copy = tmp_path / "contracts"
    copy.mkdir()
    for name in ("build.mjs", "package.json"):
        shutil.copy2(CONTRACTS / name, copy / name)
    shutil.copytree(CONTRACTS / "src", copy / "src")
    shutil.copytree(CONTRACTS / "artifacts", copy / "artifacts")
    (copy / "node_modules").symlink_to(CONTRACTS / "node_modules", target_is_directory=True)
    return copy


@pytest.mark.node
def test_committed_artifacts_match_sources() -> None:
    result = _check(_node(), CONTRACTS)
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.node
def test_check_names_every_stale_missing_or_orphaned_artifact(build_copy: Path) -> None:
    node = _node()
    artifacts = build_copy / "artifacts"
    stale = artifacts / "RiskPool.json"
    stale.write_text(stale.read_text().replace('"bytecode": "0x', '"bytecode": "0x00'))
    source = build_copy / "src" / "BridgeEndpoint.sol"
    # Only a comment: the bytecode is unchanged but the source hash is not.
    source.write_text(source.read_text() + "\n// edited\n")
    (artifacts / "BatchReader.json").unlink()
    (artifacts / "Orphan.json").write_text("{}\n")
    result = _check(node, build_copy)
    assert result.returncode == 1
    listed = {line.strip() for line in result.stderr.splitlines() if line.startswith("  ")}
    assert listed == {
        "differs from source: artifacts/RiskPool.json",
        "differs from source: artifacts/BridgeEndpoint.json",
        "missing: artifacts/BatchReader.json",
        "no source: artifacts/Orphan.json",
    }


def test_artifacts_are_well_formed() -> None:
    on_disk = sorted(p.stem for p in (CONTRACTS / "artifacts").glob("*.json"))
    assert on_disk == sorted(CONTRACT_NAMES)
    for name in CONTRACT_NAMES:
        raw = (CONTRACTS / "artifacts" / f"{name}.json").read_text()
        data = json.loads(raw)
        assert list(data) == [
            "contractName",
            "abi",
            "bytecode",
            "deployedBytecode",
            "compiler",
            "sourceHash",
        ]
        assert raw.endswith("}\n")
        assert data["contractName"] == name
        assert data["compiler"]["version"].startswith("0.8.28+")
        assert data["compiler"]["settings"]["evmVersion"] == "cancun"
        assert data["compiler"]["settings"]["optimizer"] == {"enabled": True, "runs": 200}
        assert data["sourceHash"].startswith("sha256:")
        for key in ("bytecode", "deployedBytecode"):
            assert data[key].startswith("0x") and len(data[key]) > 2
            bytes.fromhex(data[key][2:])
        artifact = load_artifact(name)
        assert artifact.name == name
        assert artifact.bytecode == data["bytecode"]
        assert artifact.deployed_bytecode == data["deployedBytecode"]
        assert list(artifact.abi) == data["abi"]


def test_the_interface_the_adapter_relies_on() -> None:
    """Renaming or retyping any of these breaks the EVM adapter: keep them."""

    def signatures(name: str) -> set[str]:
        out = set()
        for item in load_artifact(name).abi:
            if item["type"] in ("function", "event", "error"):
                types = ",".join(_abi_type(p) for p in item["inputs"])
                out.add(f"{item['type']} {item['name']}({types})")
        return out

    required = {
        "SettlementToken": {
            "function setMinter(address,bool)",
            "function mint(address,uint256)",
            "function decimals()",
            "error NotMinter(address)",
        },
        "RiskPool": {
            "function asset()",
            "function deposit(uint256)",
            "function lockedCapital()",
            "function freeCapital()",
            "function openCover(bytes32,uint256,uint256)",
            "function closeCover(bytes32)",
            "function payClaim(bytes32,address,uint256)",
            "function transferOut(bytes32,address,uint256)",
            "function sendToBridge(bytes32,address,uint256,bytes32,uint256)",
            "function cede(bytes32,address,uint256,uint256)",
            "function transferUsed(bytes32)",
            "function setOperator(address)",
            "event CapitalSent(bytes32,address,uint256)",
            "event CapitalBridged(bytes32,address,uint256,bytes32,uint256)",
            "event ExposureCeded(bytes32,address,uint256,uint256)",
            "error Unauthorized(address)",
            "error TransferIdUsed(bytes32)",
            "error InsufficientFreeCapital(uint256,uint256)",
            "error PayoutOverCap(bytes32,uint256,uint256)",
            "error ZeroAmount()",
            "function bindCover(bytes32,uint256,uint256,uint256,address,address)",
            "function payClaimToHolder(bytes32,bytes32,uint256)",
            "function certificate()",
            "function certificateHolder(bytes32)",
            "function coverOf(bytes32)",
            "event CoverBound(bytes32,address,address,uint256,uint256,uint256)",
            "event ClaimPaidToHolder(bytes32,bytes32,address,uint256)",
            "error NoCertificate(bytes32)",
        },
        "PolicyCertificate": {
            "function pool()",
            "function mint(address,uint256)",
            "function ownerOf(uint256)",
            "function holderOf(uint256)",
            "function balanceOf(address)",
            "function approve(address,uint256)",
            "function getApproved(uint256)",
            "function setApprovalForAll(address,bool)",
            "function isApprovedForAll(address,address)",
            "function transferFrom(address,address,uint256)",
            "function safeTransferFrom(address,address,uint256)",
            "function safeTransferFrom(address,address,uint256,bytes)",
            "function supportsInterface(bytes4)",
            "event Transfer(address,address,uint256)",
            "event Approval(address,address,uint256)",
            "event ApprovalForAll(address,address,bool)",
            "error NotPool(address)",
            "error ERC721NonexistentToken(uint256)",
            "error ERC721IncorrectOwner(address,uint256,address)",
            "error ERC721InsufficientApproval(address,uint256)",
            "error ERC721InvalidReceiver(address)",
        },
        "ReinsuranceVault": {
            "function deposit(uint256,address)",
            "function redeem(uint256,address,address)",
            "function acceptCession(bytes32,uint256,uint256)",
            "function payRecovery(bytes32,bytes32,uint256)",
            "function recoveryPaid(bytes32)",
            "function cessionOf(bytes32)",
            "event RecoveryPaid(bytes32,bytes32,address,uint256)",
            "error RecoveryIdUsed(bytes32)",
            "function releaseCession(bytes32)",
            "function freeCapacity()",
            "error CessionOverCapacity(uint256,uint256)",
        },
        "BridgeEndpoint": {
            "function send(bytes32,uint256,bytes32,uint256)",
            "function deliver(bytes32,uint256,address,uint256,bytes)",
            "function delivered(bytes32)",
            "function sent(bytes32)",
            "event BridgeSent(bytes32,address,uint256,bytes32,uint256)",
            "event BridgeDelivered(bytes32,uint256,address,uint256)",
            "error InvalidAttestation()",
            "error TransferIdUsed(bytes32)",
        },
        "BatchReader": {
            "function aggregate3((address,bool,bytes)[])",
            "function getBlockNumber()",
            "function getChainId()",
            "function balancesOf(address,address[])",
            "function poolStates(address[])",
        },
    }
    for name, wanted in required.items():
        missing = wanted - signatures(name)
        assert not missing, f"{name} lost {sorted(missing)}"


def _abi_type(param: dict[str, object]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        components = param["components"]
        assert isinstance(components, list)
        return f"({','.join(_abi_type(c) for c in components)}){kind[5:]}"
    return kind


def test_unknown_artifact_is_a_clear_error() -> None:
    with pytest.raises(UnknownArtifact, match=r"'riskpool'.*RiskPool") as info:
        load_artifact("riskpool")
    assert isinstance(info.value, LookupError)
    assert info.value.name == "riskpool"


def test_deployed_code_is_the_artifact(chain: Deployment) -> None:
    # BatchReader has no immutables, so its runtime code is the artifact byte for byte.
    code = chain.w3.eth.get_code(chain.reader.address)
    assert "0x" + bytes(code).hex() == load_artifact("BatchReader").deployed_bytecode


def test_attestation_digest_rejects_malformed_input() -> None:
    endpoint, recipient = "0x" + "11" * 20, "0x" + "22" * 20
    ok = attestation_digest(endpoint, 1, b"\x01" * 32, 2, recipient, 3)
    assert len(ok) == 32
    assert ok == keccak(
        bytes.fromhex("11" * 20).rjust(32, b"\0")
        + (1).to_bytes(32, "big")
        + b"\x01" * 32
        + (2).to_bytes(32, "big")
        + bytes.fromhex("22" * 20).rjust(32, b"\0")
        + (3).to_bytes(32, "big")
    )
    with pytest.raises(ValueError, match="transfer_id"):
        attestation_digest(endpoint, 1, b"\x01" * 31, 2, recipient, 3)
    with pytest.raises(ValueError, match="amount"):
        attestation_digest(endpoint, 1, b"\x01" * 32, 2, recipient, -1)
    with pytest.raises(ValueError, match="chain_id"):
        attestation_digest(endpoint, 2**256, b"\x01" * 32, 2, recipient, 3)
    with pytest.raises(ValueError):
        attestation_digest("0x1234", 1, b"\x01" * 32, 2, recipient, 3)

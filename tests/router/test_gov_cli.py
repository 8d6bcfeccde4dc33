"""`ballast deploy --governance` then `ballast gov …` against anvil: the whole life of
a proposal from the command line, each refusal one line naming the chain's reason,
and `gov status` showing the terms in force at the final block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chains.evm_rpc import HttpEndpoint
from router.config import load_settings
from tests.chains.evm_harness import anvil_node
from tests.router.test_deploy_cli import ANVIL_KEY, ballast

ENV = {"BALLAST_DEPLOYER_KEY": ANVIL_KEY, "BALLAST_GOV_KEY": ANVIL_KEY}
COVERED = "0x" + "ab" * 20


def _ok(*args: str) -> str:
    done = ballast(*args, env=ENV)
    assert done.returncode == 0, done.stderr
    assert ANVIL_KEY[2:] not in done.stdout + done.stderr
    return done.stdout


def _refused(*args: str, code: int = 1) -> str:
    done = ballast(*args, env=ENV)
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    return done.stderr.removeprefix("error: ").strip()


@pytest.mark.node
async def test_a_proposal_from_the_command_line(tmp_path: Path) -> None:
    async with anvil_node(31_913) as url:
        node = HttpEndpoint(url, timeout=10.0)
        cfg = tmp_path / "gov.toml"
        out = _ok(
            "deploy", "--rpc-url", url, "--chain", "devnet", "--chain-id", "31913",
            "--pools", "1", "--vaults", "0", "--out", str(cfg), "--governance",
            "--gov-voting-period", "3", "--gov-delay", "60",
        )  # fmt: skip
        settings = load_settings(cfg)
        gov = settings.governance
        assert gov is not None and f"governor {gov.governor}" in out
        assert list(gov.terms) == ["devnet-pool-0"]
        c = ("--config", str(cfg))
        _ok("gov", "delegate", *c)
        out = _ok(
            "gov", "propose", *c, "--pool", "devnet-pool-0", "--limit", "protocol=1000.5",
            "--cover", COVERED, "-m", "open protocol cover",
        )  # fmt: skip
        found = re.search(r"proposed (0x[0-9a-f]{64}) .*voting from block (\d+) to (\d+)", out)
        assert found, out
        pid, opens, closes = found.group(1), int(found.group(2)), int(found.group(3))
        assert "setCoverageLimit, addCoveredContract" in out
        assert _refused("gov", "vote", *c, pid, "for") == (
            f"vote refused: voting opens after block {opens - 1}"
        )
        await node.request("anvil_mine", ["0x1"])
        out = _ok("gov", "vote", *c, pid, "for")
        # The whole supply, delegated to the deployer; the default quorum is 40,000.
        assert "now for 1,000,000, against 0, abstain 0; quorum 1,000,000 of 40,000 votes" in out
        assert _refused("gov", "vote", *c, pid, "against").endswith(
            "has already voted on this proposal"
        )
        assert _refused("gov", "execute", *c, pid) == (
            "execution refused: the proposal is active, not queued"
        )
        await node.request("anvil_mine", ["0x3"])
        assert _refused("gov", "vote", *c, pid, "for") == (
            f"vote refused: voting closed at block {closes}"
        )
        assert "executable from" in _ok("gov", "queue", *c, pid)
        early = _refused("gov", "execute", *c, pid)
        assert early.startswith("execution refused: the timelock opens at ")
        await node.request("evm_increaseTime", ["0x3c"])
        await node.request("evm_mine", [])
        assert "executed" in _ok("gov", "execute", *c, pid)
        status = _ok("gov", "status", *c, pid)
        assert f"proposal {pid}: executed" in status
        assert "setCoverageLimit(0, 1000500000)" in status
        await node.request("anvil_mine", ["0x3"])  # anvil: finalized = head - 2
        terms = _ok("gov", "status", *c)
        assert "version 2 at final block" in terms
        assert "protocol 1,000.500000" in terms and COVERED.lower() in terms.lower()
        # Bad input is refused before anything is sent.
        propose = ("gov", "propose", *c, "--pool", "devnet-pool-0", "-m", "d", "--limit")
        bad_kind = _refused(*propose, "x=1", code=2)
        assert bad_kind.startswith("--limit 'x=1': use TYPE=AMOUNT")
        too_fine = _refused(*propose, "protocol=1.0000001", code=2)
        assert too_fine.startswith("--limit protocol")
        assert _refused("gov", "vote", *c, "0x12", "for").startswith("governance: a proposal id")
        await node.aclose()


def test_gov_needs_a_governance_section_on_a_configured_evm_chain(tmp_path: Path) -> None:
    bare = tmp_path / "bare.toml"
    bare.write_text(
        '[[chains]]\nname = "devnet"\nfamily = "evm"\nrpc_urls = ["http://127.0.0.1:9"]\n'
    )
    assert _refused("gov", "status", "--config", str(bare), code=2).startswith(
        "the config has no [governance] section"
    )
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(
        bare.read_text()
        + '[governance]\nchain = "other"\ntoken = "0x1"\ntimelock = "0x2"\ngovernor = "0x3"\n'
    )
    assert _refused("gov", "status", "--config", str(elsewhere), code=2) == (
        "governance.chain 'other' is not a configured EVM chain"
    )
    here = tmp_path / "here.toml"
    here.write_text(elsewhere.read_text().replace('chain = "other"', 'chain = "devnet"'))
    no_key = ballast("gov", "vote", "--config", str(here), "0x" + "00" * 32, "for",
                     env={"BALLAST_GOV_KEY": ""})  # fmt: skip
    assert no_key.returncode == 2 and no_key.stderr.count("\n") == 1
    assert "BALLAST_GOV_KEY" in no_key.stderr

"""Installing and testing leave the checkout as committed.

``make test`` installs the Node tools from the lockfiles before running
this; a lockfile npm rewrote (an install that does not match the lock) shows
here as a difference from the commit.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

LOCKS = ("package-lock.json", "contracts/package-lock.json")


def test_install_leaves_the_lockfiles_as_committed() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        [git, "status", "--porcelain", "--", *LOCKS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == "", f"npm rewrote a lockfile: commit it as npm writes it\n{out}"

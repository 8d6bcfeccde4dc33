"""The API is lint-clean and its committed generated code is current."""

from __future__ import annotations

import subprocess

from router.devtools import protogen
from tests.conftest import ROOT, node_tool


def test_buf_lint_is_clean() -> None:
    buf = node_tool("buf")
    done = subprocess.run(
        [str(buf), "lint", "proto"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_generated_code_is_current() -> None:
    assert protogen.check() == []


def test_every_source_has_generated_modules() -> None:
    names = {p.name for p in protogen.API_DIR.iterdir()}
    for source in protogen.sources():
        stem = source.name.removesuffix(".proto")
        assert {f"{stem}_pb2.py", f"{stem}_pb2.pyi", f"{stem}_pb2_grpc.py"} <= names

"""Run pytest with one module replaced by its mutant, one forked child per mutant.

``python -m tests.mutation.worker``: a small fork server. It imports the
heavy third-party packages once, then reads one JSON request per line
(``module``, ``file``, ``args``, ``timeout``) and forks a child that serves
the module's import from the mutant file (so every importer, tests and code
alike, gets the mutant) and runs pytest. It answers one JSON line per
request: pytest's exit status (0: the mutant survived) and whether the
child ran out of time. Our own packages are never imported by the server,
so each child imports them fresh.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import signal
import sys
import types
from collections.abc import Sequence
from pathlib import Path

#: Third-party packages the tests use, imported once before forking.
PRELOAD = (
    "pytest",
    "hypothesis",
    "numpy",
    "pydantic",
    "pydantic_settings",
    "cryptography.x509",
    "sqlalchemy",
    "sqlalchemy.ext.asyncio",
    "sqlmodel",
    "aiosqlite",
    "alembic",
    "grpc",
    "grpc.aio",
    "highspy",
)
OURS = ("chains", "reinsurance", "router", "ballast", "tests")


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, mutant_file: Path) -> None:
        self.module, self.mutant_file = module, mutant_file

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module:
            return None
        loader = importlib.machinery.SourceFileLoader(fullname, str(self.mutant_file))
        return importlib.util.spec_from_file_location(
            fullname, str(self.mutant_file), loader=loader
        )


def _child(module: str, mutant_file: str, args: list[str], timeout: float) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    signal.alarm(max(1, int(timeout)))  # default action: the child dies, counted a timeout
    sys.meta_path.insert(0, _MutantFinder(module, Path(mutant_file)))
    import pytest

    code = 3
    try:
        code = int(pytest.main(args))
    finally:
        os._exit(code)


def serve() -> None:
    sys.dont_write_bytecode = True  # never cache a mutant's bytecode
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    leaked = [
        m
        for m in sys.modules
        if m.split(".", 1)[0] in OURS and m not in ("tests", "tests.mutation", __name__)
    ]
    if leaked:
        raise SystemExit(f"the server imported our own modules: {leaked[:5]}")
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req["module"], req["file"], req["args"], req["timeout"])
        _, status = os.waitpid(pid, 0)
        timed_out = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM
        code = os.waitstatus_to_exitcode(status)
        sys.stdout.write(json.dumps({"code": code, "timeout": timed_out}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()

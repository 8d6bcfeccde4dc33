"""Running ``ballast`` the way an operator does: the installed entry point, in a
process of its own, its output read through pipes (so never a terminal)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from router.api.server import RunningRouter
from router.devtools.pki import TestCA


def ballast_command() -> list[str]:
    """The ``ballast`` console script next to this interpreter (``router.cli:main``)."""
    script = shutil.which("ballast", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "router.cli"]


def ballast_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without BALLAST_* settings or forced colours, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLAST_")}
    env.pop("FORCE_COLOR", None)
    return env | (extra or {})


@dataclass(frozen=True, slots=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.strip().splitlines()


async def ballast(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """Run ``ballast ARGS`` to completion; stdout and stderr are pipes."""
    proc = await asyncio.create_subprocess_exec(
        *ballast_command(),
        *args,
        cwd=cwd,
        env=ballast_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def invoke(*args: str) -> Ran:
    """``ballast ARGS`` in this process (a thread, so the router on this event loop
    keeps serving): quicker than a process where the entry point is not the point."""
    from typer.testing import CliRunner

    from router.cli import app

    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return Ran(result.exit_code, result.stdout, result.stderr)


def client_config(
    tmp: Path, ca: TestCA, router: RunningRouter, uri: str, name: str, *, extra: str = ""
) -> Path:
    """A config holding ``uri``'s client credentials (mTLS) and the ethereum chain."""
    files = ca.write(tmp / name, {name: ca.client(uri)})
    cert, key = files[name]
    path = tmp / f"{name}.toml"
    path.write_text(
        "[client]\n"
        f'address = "{router.address}"\n'
        f'ca_cert = "{tmp / name / "ca.pem"}"\n'
        f'cert = "{cert}"\nkey = "{key}"\n\n'
        '[[chains]]\nname = "ethereum"\nfamily = "evm"\n' + extra
    )
    return path

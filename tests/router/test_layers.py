"""The reporting agent is a client: loading it pulls in no server, servicer, store,
use case or executor code (it runs on machines that hold none of their secrets)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("router.api", "router.store", "router.app", "router.execution")

PROBE = """
import importlib, json, pkgutil, sys
import router.agent as agent
for mod in pkgutil.iter_modules(agent.__path__):
    importlib.import_module("router.agent." + mod.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_agent_imports_no_server_store_or_use_case_code() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout)
    assert "router.agent.reporting" in loaded and "router.agent.client" in loaded
    leaked = [m for m in loaded if m.startswith(FORBIDDEN)]
    assert leaked == [], leaked

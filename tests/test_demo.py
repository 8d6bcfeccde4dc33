"""`make demo` keeps telling the whole story: it is run here as users run it."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from router.devtools.demo import run


async def test_demo_runs_end_to_end_and_plans_for_the_drained_pools(tmp_path: Path) -> None:
    console = Console(record=True, width=200, file=io.StringIO())
    assert await run(console, tmp_path) == 0
    text = console.export_text()
    assert "refused as it should be: FAILED_PRECONDITION" in text
    # the two pools that paid claims fell below 100 % and the plan refills them
    ratios = dict(re.findall(r"│ (base-pool-0|sol-pool-2)\s+│[^\n]*?│\s+(\d+) % │", text))
    assert set(ratios) == {"base-pool-0", "sol-pool-2"}
    assert all(int(r) < 100 for r in ratios.values())
    assert re.search(r"│ \S*base/base-pool-0\s+│", text), "no step pays into base-pool-0"
    # a cross-chain step names its source chain, destination chain and route
    bridge = re.search(r"│ (\w+)/hub:\1\s+│ (\w+)/hub:\2\s+│ \1-\2\s+│", text)
    assert bridge is not None and bridge.group(1) != bridge.group(2), "no routed bridge step"
    moved = re.search(r"moves ([\d,]+\.\d{6}) USDC", text)
    assert moved is not None and moved.group(1) != "0.000000"
    assert re.search(r"plan plan-\S+: approved", text)

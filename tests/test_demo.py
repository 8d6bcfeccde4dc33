"""`make demo` keeps telling the whole story: it is run here as users run it."""

from __future__ import annotations

import io
import re
from pathlib import Path

from rich.console import Console

from router.devtools.demo import run


async def test_demo_executes_a_plan_on_chain_and_conserves_capital(tmp_path: Path) -> None:
    console = Console(record=True, width=220, file=io.StringIO())
    assert await run(console, tmp_path) == 0
    text = console.export_text()
    assert "refused as it should be: FAILED_PRECONDITION" in text
    # The pools that paid losses fell below 100 % and the executed plan refilled them.
    rows = dict(
        (pool, (float(before), float(after)))
        for pool, before, after in re.findall(
            r"│ \w+/(\S+)\s+│[^│]+│[^│]+│\s+([\d.]+) % │\s+([\d.]+) % │", text
        )
    )
    for pool in ("bas-pool-0", "sol-pool-1"):
        before, after = rows[pool]
        assert before < 100 <= after, (pool, before, after)
    # A cross-chain step travelled the bridge and was delivered (done).
    assert re.search(r"│ (\w+)/hub:\1\s+│ (\w+)/hub:\2\s+│[^│]+│[^│]+│ done", text)
    assert re.search(r"plan plan-\S+: COMPLETED", text)
    assert "conserved to the unit" in text and "NOT CONSERVED" not in text
    assert re.search(r"demo finished in [\d.]+ s", text)

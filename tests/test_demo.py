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
    # bas-pool-0 reaches the 150 % target only with its cession counted: the
    # router's positions heard the worker place it.
    assert rows["bas-pool-0"][1] >= 149.9
    # Capital crossed between the EVM chains, into Solana and out of it, each
    # bridge step delivered (done); and a cession was placed in a vault.
    crossed = set(re.findall(r"│ (\w+)/hub:\1\s+│ (\w+)/hub:\2\s+│[^│]+│[^│]+│ done", text))
    assert ("ethereum", "base") in crossed
    assert any(dst == "solana" for _, dst in crossed)
    assert any(src == "solana" for src, _ in crossed)
    cession = r"│ cession\s+│ base/bas-pool-0\s+│ base/base-vault\s+│[^│]+│[^│]+│ done"
    assert re.search(cession, text)
    premiums = re.search(r"vaults \+([\d,.]+) \(premiums ([\d,.]+)\)", text)
    assert premiums and premiums[1] == premiums[2] and float(premiums[1].replace(",", "")) > 0
    assert re.search(r"plan plan-\S+: COMPLETED", text)
    assert "conserved to the unit" in text and "NOT CONSERVED" not in text
    assert re.search(r"demo finished in [\d.]+ s", text)
    # The operator's report: one HTML file in the working directory, with its charts.
    found = re.search(r"report: (\S+\.html)", text)
    assert found, "the demo names its report"
    report = Path(found[1])
    assert report.parent == tmp_path
    check_report(report, sorted(rows))


def check_report(report: Path, pools: list[str]) -> None:
    assert report.is_file()
    html = report.read_text()
    for pool in pools:
        assert f"<td>{pool}</td>" in html
    assert "ratio" in html and '<img src="data:image/png;base64,' in html

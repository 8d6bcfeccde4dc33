"""``python -m tests.mutation [name ...]``: mutation testing of the critical modules.

Every mutant runs the target's tests in its own worker process (two at a
time, with a timeout); a mutant is killed when a test fails (or the run times
out), survived when all pass. Mutants listed in ``equivalent.txt`` (no test
could tell them apart from the original) are excluded from the score. Exit
status is 1 when a module scores below ``--min`` percent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.mutation.mutator import Mutant, mutants
from tests.mutation.targets import TARGETS, Target

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).with_name("equivalent.txt")


@dataclass(frozen=True, slots=True)
class Result:
    mutant: Mutant
    killed: bool
    timed_out: bool
    seconds: float


def load_equivalent() -> dict[str, str]:
    """Keys of mutants shown equivalent -> the reason (``key || reason`` per line)."""
    out: dict[str, str] = {}
    if EQUIVALENT.exists():
        for raw in EQUIVALENT.read_text().splitlines():
            if raw.strip() and not raw.startswith("#"):
                key, _, reason = raw.partition(" || ")
                out[key.strip()] = reason.strip()
    return out


def _pytest_args(target: Target) -> list[str]:
    tests = [t for t in target.tests if (ROOT / t).exists()]
    return ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]


def run_one(target: Target, mutant: Mutant, workdir: Path, extra: list[str]) -> Result:
    path = workdir / f"{target.module.replace('.', '_')}_{mutant.index}.py"
    path.write_text(mutant.source)
    env = dict(os.environ, HYPOTHESIS_PROFILE="mutation", PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "tests.mutation.worker", target.module, str(path)]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [*cmd, *_pytest_args(target), *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=target.timeout,
            check=False,
        )
        killed, timed_out = proc.returncode != 0, False
    except subprocess.TimeoutExpired:
        killed, timed_out = True, True
    finally:
        path.unlink(missing_ok=True)
    return Result(mutant, killed, timed_out, time.monotonic() - start)


def baseline(target: Target, extra: list[str]) -> None:
    """The unmutated module must pass its tests, or every mutant would look killed."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *_pytest_args(target), *extra],
        cwd=ROOT,
        env=dict(os.environ, HYPOTHESIS_PROFILE="mutation"),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-3000:])
        raise SystemExit(f"{target.name}: the tests fail without any mutant; fix them first")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation")
    parser.add_argument("names", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min", type=float, default=95.0, help="lowest passing score, percent")
    parser.add_argument("--list", action="store_true", help="list mutants, run nothing")
    args = parser.parse_args()
    chosen = [t for t in TARGETS if not args.names or t.name in args.names]
    equivalent = load_equivalent()
    used: set[str] = set()
    scores: list[tuple[str, int, int, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        for target in chosen:
            file = ROOT / (target.module.replace(".", "/") + ".py")
            all_mutants = list(mutants(target.module, file.read_text(), target.scopes))
            todo = [m for m in all_mutants if m.key not in equivalent]
            used.update(m.key for m in all_mutants if m.key in equivalent)
            if args.list:
                for m in all_mutants:
                    mark = "  (equivalent)" if m.key in equivalent else ""
                    print(f"{m.lineno:4d} {m.key}{mark}")
                continue
            baseline(target, [])
            start = time.monotonic()
            with ThreadPoolExecutor(args.workers) as pool:
                runs = [pool.submit(run_one, target, m, Path(tmp), []) for m in todo]
                results = [r.result() for r in runs]
            survived = [r for r in results if not r.killed]
            killed = len(results) - len(survived)
            timeouts = sum(r.timed_out for r in results)
            for r in survived:
                print(f"  SURVIVED line {r.mutant.lineno}: {r.mutant.key}")
            pct = 100.0 * killed / len(results) if results else 100.0
            print(
                f"{target.name:13s} killed {killed:4d}/{len(results):4d} = {pct:5.1f} %"
                f"  (equivalent excluded: {len(all_mutants) - len(todo)}, "
                f"timeouts: {timeouts}, {time.monotonic() - start:.0f} s)",
                flush=True,
            )
            scores.append((target.name, killed, len(results), len(all_mutants) - len(todo), 0))
    if args.list:
        return 0
    stale = [
        k for k in equivalent if k not in used and any(k.startswith(t.module + " ") for t in chosen)
    ]
    for k in stale:
        print(f"  equivalent.txt lists a mutant that no longer exists: {k}")
    print("\nmodule         killed / total   score")
    ok = True
    for name, killed, total, _eq, _ in scores:
        pct = 100.0 * killed / total if total else 100.0
        ok = ok and pct >= args.min
        print(f"{name:13s} {killed:6d} / {total:5d}  {pct:5.1f} %")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

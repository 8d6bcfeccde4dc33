"""``python -m tests.mutation [name ...]``: mutation testing of the critical modules.

Every mutant runs the target's tests in its own worker process (two at a
time, with a timeout); a mutant is killed when a test fails (or the run times
out), survived when all pass. Mutants listed in ``equivalent.txt`` (no test
could tell them apart from the original) are excluded from the score. Exit
status is 1 when a module scores below ``--min`` percent.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
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
    # pytest-timeout would take over SIGALRM, the worker's own timeout
    return ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:timeout", *tests]


class Worker:
    """One fork server (see ``worker.py``): imports once, forks per mutant."""

    def __init__(self) -> None:
        env = dict(os.environ, HYPOTHESIS_PROFILE="mutation", PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.mutation.worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, target: Target, mutant: Mutant, workdir: Path) -> Result:
        path = workdir / f"{target.module.replace('.', '_')}_{mutant.index}.py"
        path.write_text(mutant.source)
        request = {
            "module": target.module,
            "file": str(path),
            "args": _pytest_args(target),
            "timeout": target.timeout,
        }
        start = time.monotonic()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        path.unlink(missing_ok=True)
        killed = answer["code"] != 0
        return Result(mutant, killed, answer["timeout"], time.monotonic() - start)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def run_all(target: Target, todo: list[Mutant], workers: list[Worker], tmp: Path) -> list[Result]:
    """Every mutant of one target, each on whichever worker is free."""
    idle: queue.Queue[Worker] = queue.Queue()
    for w in workers:
        idle.put(w)

    def one(m: Mutant) -> Result:
        w = idle.get()
        try:
            return w.run(target, m, tmp)
        finally:
            idle.put(w)

    with ThreadPoolExecutor(len(workers)) as pool:
        return list(pool.map(one, todo))


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
    workers = [] if args.list else [Worker() for _ in range(args.workers)]
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
            results = run_all(target, todo, workers, Path(tmp))
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

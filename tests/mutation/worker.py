"""Run pytest with one module replaced by its mutant (one mutant per process).

``python -m tests.mutation.worker <module> <mutant file> <pytest args...>``:
the module's import is served from the mutant file, so every importer (tests
and the code under test alike) gets the mutant. Exit status is pytest's: 0
means the mutant survived.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from pathlib import Path


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
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            real = finder.find_spec(fullname, path, target)
            if real is not None:
                break
        else:
            return None
        # Keep the real origin (its package, its __file__) but read the mutant.
        loader = importlib.machinery.SourceFileLoader(fullname, str(self.mutant_file))
        spec = importlib.util.spec_from_file_location(
            fullname, str(self.mutant_file), loader=loader
        )
        assert spec is not None
        spec.submodule_search_locations = real.submodule_search_locations
        return spec


def main(argv: list[str]) -> int:
    module, mutant_file, *pytest_args = argv
    if module in sys.modules:
        raise SystemExit(f"{module} was imported before the mutant was installed")
    sys.dont_write_bytecode = True  # never cache a mutant's bytecode
    sys.meta_path.insert(0, _MutantFinder(module, Path(mutant_file)))
    import pytest

    return int(pytest.main(pytest_args))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

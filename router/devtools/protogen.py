"""Generate the Python code of the ``ballast.v1`` API (``make proto``).

Generated messages, ``.pyi`` stubs and gRPC stubs are committed next to their
``.proto`` sources so that installing the project needs no protoc; ``--check``
regenerates into a temporary directory and fails when the committed files
differ, so a test can prove they are current.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
API_DIR = PROTO_ROOT / "ballast" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def sources() -> list[Path]:
    return sorted(API_DIR.glob("*.proto"))


def generate(out_dir: Path) -> None:
    """Run protoc over every ``ballast/v1`` source into ``out_dir``."""
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p.relative_to(PROTO_ROOT)) for p in sources()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed: see the messages above")


def generated_names() -> list[str]:
    return [p.name.removesuffix(".proto") + s for p in sources() for s in SUFFIXES]


def check() -> list[str]:
    """Names of generated files that are missing or differ from a fresh run."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / "ballast" / "v1"
        stale = []
        for name in generated_names():
            committed = API_DIR / name
            if not committed.exists() or not filecmp.cmp(committed, fresh / name, shallow=False):
                stale.append(name)
        return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    opts = parser.parse_args(argv)
    if opts.check:
        stale = check()
        if stale:
            print("generated code is stale, run `make proto`: " + ", ".join(stale))
            return 1
        print("generated code is current")
        return 0
    generate(PROTO_ROOT)
    print(f"generated {len(generated_names())} files in {API_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

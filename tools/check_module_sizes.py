"""The size ceiling: no module of the shipped packages is longer than `CEILING` lines.

A module past the ceiling is holding more than one concept; the fix is to split it along its
concepts, not to raise the number. `make lint` runs this script; it prints every offender with
its line count and exits 1, or exits 0 when every module fits.

Usage: ``python tools/check_module_sizes.py [ROOT]`` (ROOT defaults to the repository).
"""

from __future__ import annotations

import sys
from pathlib import Path

CEILING = 500
"""Lines a module may have: a module of one concept reads in one sitting well below it."""

PACKAGES = ("mcp_proxy", "chat_api", "manifold_common")
"""The packages the ceiling applies to (tests, examples and the benchmark are outside it)."""

_SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__"})

ROOT = Path(__file__).resolve().parents[1]


def line_count(path: Path) -> int:
    """Lines in `path`, counted as `wc -l` does with a final newline supplied when missing."""
    return len(path.read_text(encoding="utf-8").splitlines())


def oversized(root: Path, packages: tuple[str, ...] = PACKAGES, ceiling: int = CEILING) -> list[tuple[Path, int]]:
    """Every module of `packages` under `root` longer than `ceiling` lines, with its count, by path."""
    found: list[tuple[Path, int]] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if _SKIPPED_DIRECTORIES.intersection(path.relative_to(root).parts):
                continue
            lines = line_count(path)
            if lines > ceiling:
                found.append((path.relative_to(root), lines))
    return found


def main(argv: list[str]) -> int:
    """Print the modules over the ceiling and return 1, or return 0 when there are none."""
    root = Path(argv[0]).resolve() if argv else ROOT
    offenders = oversized(root)
    for path, lines in offenders:
        print(
            f"{path}: {lines} lines, over the {CEILING}-line ceiling; "
            "split it into modules of one concept each (do not raise the ceiling)"
        )
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

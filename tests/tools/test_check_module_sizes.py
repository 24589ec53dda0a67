"""The size-ceiling script finds a module over the ceiling, names it with its count and the fix,
and fails; on a tree where every module fits it passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools import check_module_sizes
from tools.check_module_sizes import CEILING, PACKAGES, oversized

SCRIPT = Path(check_module_sizes.__file__)


def write_module(root: Path, relative: str, lines: int) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"value_{index} = {index}\n" for index in range(lines)))


def small_tree(root: Path) -> None:
    for package in PACKAGES:
        write_module(root, f"{package}/__init__.py", 1)
        write_module(root, f"{package}/inner/module.py", CEILING)


def run_script(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_tree_whose_modules_fit_passes(tmp_path: Path) -> None:
    small_tree(tmp_path)

    result = run_script(tmp_path)

    assert (result.returncode, result.stdout) == (0, "")


def test_a_module_over_the_ceiling_fails_naming_it_with_its_count_and_the_fix(tmp_path: Path) -> None:
    small_tree(tmp_path)
    write_module(tmp_path, "mcp_proxy/upstream/supervisor.py", CEILING + 1)

    result = run_script(tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"mcp_proxy/upstream/supervisor.py: {CEILING + 1} lines, over the {CEILING}-line ceiling; "
        "split it into modules of one concept each (do not raise the ceiling)"
    ]


def test_every_package_is_measured_and_only_the_packages(tmp_path: Path) -> None:
    small_tree(tmp_path)
    for package in PACKAGES:
        write_module(tmp_path, f"{package}/big.py", CEILING + 7)
    write_module(tmp_path, "tests/test_big.py", CEILING * 3)
    write_module(tmp_path, "chat_api/web/node_modules/vendored.py", CEILING * 3)

    assert oversized(tmp_path) == [(Path(package) / "big.py", CEILING + 7) for package in PACKAGES]


def test_the_last_line_counts_without_a_final_newline(tmp_path: Path) -> None:
    small_tree(tmp_path)
    (tmp_path / "chat_api" / "edge.py").write_text("x = 1\n" * CEILING + "y = 2")

    assert oversized(tmp_path) == [(Path("chat_api/edge.py"), CEILING + 1)]

"""`python -m bench.upstream_count` runs end to end and prints its row (timings are not judged)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Two proxies (one and five stdio upstreams) start and make a few calls; the margin is for a busy machine.
RUN_DEADLINE = 240
FIGURE_COLUMNS = 8


def test_one_small_run_prints_a_row_of_figures_for_the_setup_asked_for() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.upstream_count"),
            *("--front", "stdio", "--era", "legacy", "--blocks", "1", "--calls", "3", "--idle", "0.2"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| stdio |")]
    assert len(rows) == 1, done.stdout
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[:3] == ["stdio", "stdio", "legacy"]
    figures = [float(cell.rstrip("×")) for cell in cells[3:]]
    assert len(figures) == FIGURE_COLUMNS
    assert all(figure >= 0 for figure in figures)

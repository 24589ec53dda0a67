"""`python -m bench.upstream_count` runs end to end and prints its row (timings are not judged)."""

from __future__ import annotations

import pytest

from bench import upstream_count

FIGURE_COLUMNS = 8
ARGUMENTS = ["--front", "stdio", "--era", "legacy", "--blocks", "1", "--calls", "3", "--idle", "0.2"]


def test_one_small_run_prints_a_row_of_figures_for_the_setup_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    assert upstream_count.main(ARGUMENTS) == 0
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| stdio |")]
    assert len(rows) == 1, printed
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[:3] == ["stdio", "stdio", "legacy"]
    figures = [float(cell.rstrip("×")) for cell in cells[3:]]
    assert len(figures) == FIGURE_COLUMNS
    assert all(figure >= 0 for figure in figures)

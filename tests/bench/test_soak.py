"""`python -m bench.soak` runs end to end and writes its row (timings and memory are not judged)."""

from __future__ import annotations

from pathlib import Path

from bench import soak

CALLS = 40


def test_a_small_soak_writes_a_row_with_memory_readings_for_the_setup_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "soak.md"
    assert (
        soak.main(
            ["--calls", str(CALLS), "--concurrency", "4", "--front", "stdio", "--era", "legacy", "--out", str(out)]
        )
        == 0
    )
    rows = [line for line in out.read_text(encoding="utf-8").splitlines() if line.startswith("| stdio |")]
    assert len(rows) == 1, out.read_text(encoding="utf-8")
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[:4] == ["stdio", "stdio", "legacy", str(CALLS)]
    rate, warm, end, growth, peak = (float(cell) for cell in cells[4:9])
    assert rate > 0
    assert warm > 0 and end > 0 and peak >= max(warm, end)
    assert abs(growth - (end - warm)) < 0.11  # rounding of the printed figures
    assert cells[9] in ("yes", "**no**")

"""The benchmark's quick mode runs end to end and reports every figure (timings are not judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.plan import QUICK
from bench.report import JSON_NAME, MARKDOWN_NAME
from bench.summary import FIGURES
from bench.targets import TARGETS

REPO_ROOT = Path(__file__).resolve().parents[2]
# The quick run itself takes well under a minute; the margin is for a busy machine.
RUN_DEADLINE = 300

ALWAYS = {
    "seq_p50_ms",
    "seq_p90_ms",
    "seq_p99_ms",
    "seq_cpu_ms_per_call",
    *(f"c{level}_{name}" for level in (16, 64) for name in ("calls_per_s", "p50_ms", "p99_ms", "cpu_ms_per_call")),
    "big_p50_ms",
    "list_p50_ms",
    "list_tools",
    "peak_rss_mb",
    "resource_p50_ms",
}


def _run_quick(out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads((out / JSON_NAME).read_text(encoding="utf-8"))


def _expected_proxy_figures(upstream: str) -> set[str]:
    expected = ALWAYS | {"startup_s", "resource_hit_rate"}
    if upstream == "stdio":
        expected |= {"children_peak_rss_mb", "c16_children_cpu_ms_per_call", "c64_children_cpu_ms_per_call"}
    return expected


def _expected_direct_figures(upstream: str) -> set[str]:
    return ALWAYS | ({"startup_s"} if upstream == "stdio" else set())


def test_quick_mode_writes_every_figure_as_json_and_a_markdown_table(tmp_path: Path) -> None:
    result = _run_quick(tmp_path)

    assert result["mode"] == "quick"
    assert result["machine"]["cpus"] and result["machine"]["packages"]["mcp"]
    assert set(result["summary"]) == {cell.key for cell in QUICK.cells}
    for cell in QUICK.cells:
        sides = result["summary"][cell.key]
        proxy = {key for key, value in sides["proxy"].items() if value is not None}
        direct = {key for key, value in sides["direct"].items() if value is not None}
        assert _expected_proxy_figures(cell.upstream) <= proxy, cell.key
        assert _expected_direct_figures(cell.upstream) <= direct, cell.key
        assert sides["ratio"]["seq_p50_ms"] is not None, cell.key
        assert len(result["cells"][cell.key]["proxy"]) == result["plan"]["repetitions"]

    chat = result["chat"]
    assert chat.get("gap") is None, chat
    assert chat["ratio"] is not None and chat["ratio_one"] is not None, chat
    checked = {row["target"] for row in result["targets"]}
    assert {target.name for target in TARGETS} <= checked
    assert sum(row["cell"] == "chat" for row in result["targets"]) == 2

    markdown = (tmp_path / MARKDOWN_NAME).read_text(encoding="utf-8")
    assert "## Targets" in markdown
    assert "## Chat service" in markdown
    for cell in QUICK.cells:
        assert f"## {cell.front} front, {cell.upstream} upstreams" in markdown
    for figure in FIGURES:
        if figure.key in ALWAYS:
            assert f"| {figure.label} |" in markdown, figure.label

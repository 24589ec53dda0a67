"""The tool-search evaluation runs on the committed fixture and scores every query (figures not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.tool_search_eval import DEPTH, FIXTURE_DIR, evaluate, load_queries, main, render_markdown


def test_the_fixture_holds_at_least_eight_servers_each_with_its_licence() -> None:
    readme = (FIXTURE_DIR / "README.md").read_text()
    fixtures = sorted(FIXTURE_DIR.glob("*.json"))
    assert len(fixtures) >= 8
    for path in fixtures:
        assert f"| `{path.stem}` |" in readme


def test_every_query_is_scored_and_the_report_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = load_queries()
    report = evaluate()
    assert len(queries) >= 40
    assert [s.query for s in report.scored] == queries
    assert all(len(s.found) <= DEPTH for s in report.scored)
    assert report.full_list_chars > 0 and report.search_list_chars > 0
    out = tmp_path / "tool_search.md"
    main(["--out", str(out)])
    written = out.read_text()
    assert written == render_markdown(report)
    assert all(f"| {query.text} |" in written for query in queries)
    assert "recall@1" in capsys.readouterr().out


def test_a_query_expecting_a_tool_the_catalog_lacks_is_refused(tmp_path: Path) -> None:
    queries = tmp_path / "queries.toml"
    queries.write_text('[[query]]\ntext = "anything"\nexpected = "nowhere__nothing"\n')
    with pytest.raises(ValueError, match="nowhere__nothing"):
        evaluate(queries_file=queries)

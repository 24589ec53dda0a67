"""The offline code-host example server, driven in-memory in both protocol eras."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import MCPError
from mcp.server import MCPServer

from examples.servers import github
from examples.servers._code_host import MAX_SEARCH_MATCHES
from examples.servers.database import build_server as build_database_server
from examples.servers.github import build_server
from tests.examples.servers.support import connect, resource_text, text_of

pytestmark = pytest.mark.anyio

ANALYTICS = "acme/shop-analytics"
SAVED_QUERIES = ["queries/low_stock.sql", "queries/revenue_by_month.sql", "queries/top_customers.sql"]


@pytest.fixture
def server() -> MCPServer:
    return build_server(github.DEFAULT_GITHUB_ROOT)


async def test_search_code_finds_lines_across_repositories_with_line_numbers(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("search_code", {"query": "LOW_STOCK.SQL"})
    assert not result.is_error
    found = result.structured_content
    assert found is not None
    assert {match["repo"] for match in found["matches"]} == {ANALYTICS, "acme/ops-runbooks"}
    runbook = next(m for m in found["matches"] if m["path"] == "runbooks/restock.md")
    assert runbook["line"] == 3
    assert runbook["text"].startswith("1. Run the low-stock report")
    assert "acme/ops-runbooks/runbooks/restock.md:3: 1. Run the low-stock report" in text_of(result)


async def test_search_code_can_be_limited_to_one_repository(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("search_code", {"query": "stock", "repo": ANALYTICS})
    assert result.structured_content is not None
    assert {match["repo"] for match in result.structured_content["matches"]} == {ANALYTICS}


async def test_search_code_rejects_an_unknown_repository_and_an_empty_query(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        unknown = await client.call_tool("search_code", {"query": "x", "repo": "acme/nothing"})
        empty = await client.call_tool("search_code", {"query": "   "})
    assert unknown.is_error
    assert "unknown repository 'acme/nothing'; known repositories: acme/ops-runbooks, acme/shop-analytics" in text_of(
        unknown
    )
    assert empty.is_error
    assert "the search text is empty" in text_of(empty)


async def test_search_code_stops_at_the_match_limit_and_says_so(tmp_path: Path, mode: str) -> None:
    repo = tmp_path / "acme" / "noisy"
    repo.mkdir(parents=True)
    (repo / "many.txt").write_text("needle\n" * (MAX_SEARCH_MATCHES + 5))
    async with connect(build_server(tmp_path), mode) as client:
        result = await client.call_tool("search_code", {"query": "needle"})
    assert result.structured_content is not None
    assert len(result.structured_content["matches"]) == MAX_SEARCH_MATCHES
    assert result.structured_content["truncated"] is True
    assert f"stopped after {MAX_SEARCH_MATCHES} matches" in text_of(result)


async def test_get_file_returns_the_content_of_a_file(server: MCPServer, mode: str) -> None:
    expected = (github.DEFAULT_GITHUB_ROOT / ANALYTICS / "queries" / "low_stock.sql").read_text()
    async with connect(server, mode) as client:
        result = await client.call_tool("get_file", {"repo": ANALYTICS, "path": "queries/low_stock.sql"})
    assert not result.is_error
    assert text_of(result) == expected


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("../ops-runbooks/README.md", "points outside the root folder"),
        ("../../issues.json", "points outside the root folder"),
        ("/etc/passwd", "absolute paths are not allowed"),
    ],
)
async def test_get_file_refuses_paths_that_leave_the_repository(
    server: MCPServer, mode: str, path: str, fragment: str
) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("get_file", {"repo": ANALYTICS, "path": path})
    assert result.is_error
    assert fragment in text_of(result)


async def test_get_file_reports_unknown_files_and_lists_folders(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        missing = await client.call_tool("get_file", {"repo": ANALYTICS, "path": "queries/nope.sql"})
        folder = await client.call_tool("get_file", {"repo": ANALYTICS, "path": "queries"})
    assert missing.is_error
    assert "no file 'queries/nope.sql' in acme/shop-analytics" in text_of(missing)
    assert folder.is_error
    assert "is a folder; it contains: low_stock.sql, revenue_by_month.sql, top_customers.sql" in text_of(folder)


async def test_list_issues_filters_by_state(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        open_issues = await client.call_tool("list_issues", {"repo": ANALYTICS})
        closed = await client.call_tool("list_issues", {"repo": ANALYTICS, "state": "closed"})
        every = await client.call_tool("list_issues", {"repo": ANALYTICS, "state": "all"})

    def numbers(result: object) -> list[int]:
        content = getattr(result, "structured_content", None)
        assert content is not None
        return [issue["number"] for issue in content["issues"]]

    assert numbers(open_issues) == [3, 4]
    assert numbers(closed) == [1, 2]
    assert numbers(every) == [1, 2, 3, 4]
    assert "#3 (open) Top customers should include contact emails [enhancement, reports]" in text_of(open_issues)


async def test_list_issues_rejects_an_unknown_repository_and_an_unknown_state(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        unknown = await client.call_tool("list_issues", {"repo": "acme/nothing"})
        bad_state = await client.call_tool("list_issues", {"repo": ANALYTICS, "state": "merged"})
    assert unknown.is_error
    assert "unknown repository 'acme/nothing'" in text_of(unknown)
    assert bad_state.is_error
    assert "'open', 'closed' or 'all'" in text_of(bad_state)


async def test_a_repository_without_issues_lists_none(tmp_path: Path, mode: str) -> None:
    (tmp_path / "solo" / "quiet").mkdir(parents=True)
    (tmp_path / "issues.json").write_text(json.dumps({}))
    async with connect(build_server(tmp_path), mode) as client:
        result = await client.call_tool("list_issues", {"repo": "solo/quiet"})
    assert not result.is_error
    assert text_of(result) == "No open issues in solo/quiet."


async def test_each_repository_readme_is_a_resource(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        resources = (await client.list_resources()).resources
        readme = resource_text(list((await client.read_resource(f"repo://{ANALYTICS}/README.md")).contents))
    assert sorted(resource.uri for resource in resources) == [
        "repo://acme/ops-runbooks/README.md",
        "repo://acme/shop-analytics/README.md",
    ]
    assert readme.startswith("# shop-analytics")


async def test_the_file_template_reads_any_file_and_refuses_escapes(server: MCPServer, mode: str) -> None:
    async with connect(server, mode) as client:
        templates = (await client.list_resource_templates()).resource_templates
        sql = resource_text(list((await client.read_resource(f"repo://{ANALYTICS}/queries/low_stock.sql")).contents))
        with pytest.raises(MCPError):
            await client.read_resource(f"repo://{ANALYTICS}/../ops-runbooks/README.md")
        with pytest.raises(MCPError) as missing:
            await client.read_resource(f"repo://{ANALYTICS}/queries/nope.sql")
    assert [template.uri_template for template in templates] == ["repo://{owner}/{repo}/{+path}"]
    assert "FROM products" in sql
    assert "no file 'queries/nope.sql'" in missing.value.message


async def test_the_saved_queries_run_against_the_sample_shop_database(tmp_path: Path, server: MCPServer) -> None:
    shop = build_database_server(tmp_path / "shop.db")
    async with connect(server, "auto") as code_host, connect(shop, "auto") as database:
        for path in SAVED_QUERIES:
            sql = text_of(await code_host.call_tool("get_file", {"repo": ANALYTICS, "path": path}))
            result = await database.call_tool("execute_query", {"sql": sql})
            assert not result.is_error, (path, text_of(result))
            assert result.structured_content is not None
            assert result.structured_content["rows"], path


def test_the_data_folder_comes_from_github_root_or_defaults_beside_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(github.GITHUB_ROOT_ENV, raising=False)
    assert github.github_root_from_env() == Path(github.__file__).resolve().parents[1] / "data" / "github"
    monkeypatch.setenv(github.GITHUB_ROOT_ENV, str(tmp_path))
    assert github.github_root_from_env() == tmp_path

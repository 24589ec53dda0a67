"""How well tool search finds the right tool, and how much smaller it makes `tools/list`.

    .venv/bin/python -m bench.tool_search_eval [--out bench/results/tool_search.md]

The catalog is the tool lists of the real servers in `tests/fixtures/tool_catalogs/` (captured
by `bench.capture_tool_catalogs`), merged as the proxy merges them (`build_catalog`: each
server's name as its prefix, so tools are exposed as `server__tool`). The queries are
`bench/tool_search_queries.toml`: task descriptions with the tool expected for each. Every
query is run through the proxy's own index (`catalog/search.py`) and scored by the rank of
the expected tool: recall@1 and recall@5 are the shares of queries whose expected tool comes
first, or among the first five.

Sizes are those of the `tools/list` result as the proxy sends it (JSON), with every tool
listed and in search mode (the two meta-tools), in tokens estimated as characters / 4: no
tokenizer whose vocabulary ships offline is installed here, so the figure is an estimate and
is named as one in the report.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types

from mcp_proxy.catalog.merged import Catalog, ServerListing, build_catalog
from mcp_proxy.catalog.search import ToolIndex
from mcp_proxy.front.tool_search import META_TOOLS

BENCH_DIR = Path(__file__).resolve().parent
FIXTURE_DIR = BENCH_DIR.parent / "tests" / "fixtures" / "tool_catalogs"
QUERIES_FILE = BENCH_DIR / "tool_search_queries.toml"
RESULTS_FILE = BENCH_DIR / "results" / "tool_search.md"
DEPTH = 5
TOKENS_METHOD = "characters / 4 (an estimate: no offline tokenizer vocabulary is installed)"


@dataclass(frozen=True)
class Query:
    """One written query and the exposed names of the tools that answer it (any one counts)."""

    text: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class Scored:
    """One query's outcome: the first `DEPTH` names found, and the expected tool's rank (1-based)."""

    query: Query
    found: tuple[str, ...]
    rank: int | None


@dataclass(frozen=True)
class Report:
    """The evaluation's figures."""

    servers: tuple[tuple[str, str, str, int], ...]  # (fixture, package, version, tool count)
    scored: tuple[Scored, ...]
    full_list_chars: int
    search_list_chars: int

    @property
    def tools(self) -> int:
        """How many tools the combined catalog has."""
        return sum(count for *_, count in self.servers)

    def recall_at(self, depth: int) -> float:
        """The share of queries whose expected tool is among the first `depth` results."""
        hits = sum(1 for s in self.scored if s.rank is not None and s.rank <= depth)
        return hits / len(self.scored) if self.scored else 0.0

    @property
    def full_list_tokens(self) -> int:
        """The full `tools/list` in estimated tokens (characters / 4)."""
        return math.ceil(self.full_list_chars / 4)

    @property
    def search_list_tokens(self) -> int:
        """The search-mode `tools/list` in estimated tokens (characters / 4)."""
        return math.ceil(self.search_list_chars / 4)


def load_catalog(folder: Path = FIXTURE_DIR) -> tuple[Catalog, tuple[tuple[str, str, str, int], ...]]:
    """The fixture's servers merged as the proxy merges them, and what each one is."""
    listings: list[ServerListing] = []
    servers: list[tuple[str, str, str, int]] = []
    for path in sorted(folder.glob("*.json")):
        data: dict[str, Any] = json.loads(path.read_text())
        tools = [types.Tool.model_validate(tool) for tool in data["tools"]]
        listings.append(ServerListing(server=data["server"], prefix=data["server"], priority=0, tools=tools))
        servers.append((data["server"], data["package"], data["version"], len(tools)))
    return build_catalog(listings), tuple(servers)


def load_queries(path: Path = QUERIES_FILE) -> list[Query]:
    """The written queries, each with its expected tool (or tools)."""
    entries: list[dict[str, Any]] = tomllib.loads(path.read_text())["query"]
    queries: list[Query] = []
    for entry in entries:
        expected = entry["expected"]
        queries.append(Query(entry["text"], (expected,) if isinstance(expected, str) else tuple(expected)))
    return queries


def list_size(tools: Sequence[types.Tool]) -> int:
    """Characters of a `tools/list` result with these tools, serialized as the proxy sends it."""
    result = types.ListToolsResult(tools=list(tools)).model_dump(mode="json", by_alias=True, exclude_none=True)
    return len(json.dumps(result, separators=(",", ":"), ensure_ascii=False))


def evaluate(fixtures: Path = FIXTURE_DIR, queries_file: Path = QUERIES_FILE) -> Report:
    """Run every query against the combined catalog's index and measure both lists."""
    catalog, servers = load_catalog(fixtures)
    known = {tool.name for tool in catalog.tools}
    queries = load_queries(queries_file)
    unknown = sorted({name for query in queries for name in query.expected} - known)
    if unknown:
        raise ValueError(f"expected tools missing from the catalog: {', '.join(unknown)}")
    index = ToolIndex(catalog.tools)
    try:
        scored: list[Scored] = []
        for query in queries:
            found = tuple(tool.name for tool in index.search(query.text, len(known)))
            rank = next((position for position, name in enumerate(found, 1) if name in query.expected), None)
            scored.append(Scored(query, found[:DEPTH], rank))
    finally:
        index.close()
    return Report(servers, tuple(scored), list_size(catalog.tools), list_size(META_TOOLS))


def render_markdown(report: Report) -> str:
    """The report as Markdown: figures, servers, then every query with its rank."""
    ratio = report.full_list_tokens / report.search_list_tokens
    lines = [
        "# Tool search evaluation",
        "",
        "Written by `python -m bench.tool_search_eval`: the proxy's tool index (SQLite FTS5, bm25)",
        f"over the combined `tools/list` of {len(report.servers)} real servers ({report.tools} tools,",
        "exposed as `server__tool`), and the written queries of `bench/tool_search_queries.toml`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| queries | {len(report.scored)} |",
        f"| recall@1 | {report.recall_at(1):.3f} |",
        f"| recall@{DEPTH} | {report.recall_at(DEPTH):.3f} |",
        f"| full `tools/list` | {report.full_list_chars} characters, ~{report.full_list_tokens} tokens |",
        f"| `tools/list` in search mode | {report.search_list_chars} characters, ~{report.search_list_tokens} tokens |",
        f"| full / search | {ratio:.1f}x |",
        "",
        f"Tokens: {TOKENS_METHOD}.",
        "",
        "## Servers",
        "",
        "| fixture | package | version | tools |",
        "|---|---|---|---|",
        *(f"| `{name}` | `{package}` | {version} | {count} |" for name, package, version, count in report.servers),
        "",
        "## Queries",
        "",
        f"| query | expected | rank | first {DEPTH} found |",
        "|---|---|---|---|",
    ]
    for s in report.scored:
        expected = " or ".join(f"`{name}`" for name in s.query.expected)
        rank = "not found" if s.rank is None else str(s.rank)
        lines.append(f"| {s.query.text} | {expected} | {rank} | {', '.join(s.found)} |")
    return "\n".join(lines) + "\n"


def summary(report: Report) -> str:
    """The headline figures, one per line."""
    return "\n".join(
        [
            f"catalog: {len(report.servers)} servers, {report.tools} tools; {len(report.scored)} queries",
            f"recall@1 {report.recall_at(1):.3f}  recall@{DEPTH} {report.recall_at(DEPTH):.3f}",
            f"tools/list: full ~{report.full_list_tokens} tokens, search mode ~{report.search_list_tokens} tokens "
            f"({report.full_list_tokens / report.search_list_tokens:.1f}x smaller; {TOKENS_METHOD})",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: run the evaluation, print the figures, write the Markdown report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS_FILE, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    report = evaluate()
    print(summary(report))
    misses = [s for s in report.scored if s.rank is None or s.rank > DEPTH]
    for s in misses:
        print(f"  miss: {s.query.text!r} -> {', '.join(s.found)} (expected {' or '.join(s.query.expected)})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_markdown(report))
    print(f"report: {args.out}")


if __name__ == "__main__":
    main()

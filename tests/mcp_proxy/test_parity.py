"""Parity: the example servers answer the same directly and through the proxy.

One set of observations (every tool with good and bad arguments, every resource, the templates,
the prompts) is taken once straight from each example server and once through the proxy with
that server as its only upstream, exposed with `prefix = ""` so names and URIs are unchanged.
Each direct answer must satisfy its expectation, and the proxied answer must equal it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.server import MCPServer

from examples.servers import database, files, github
from manifold_common.proxy_contract import ORIGIN_META_KEY

from .harness import proxy_over

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]

Expectation = Callable[[types.CallToolResult], bool]


def _text(result: types.CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


def succeeds(*fragments: str, structured: bool = False) -> Expectation:
    """A successful result whose text holds every fragment (and structured content, if asked)."""

    def check(result: types.CallToolResult) -> bool:
        if structured and result.structured_content is None:
            return False
        return result.is_error is not True and all(f in _text(result) for f in fragments)

    return check


def fails(*fragments: str) -> Expectation:
    """An error result (`isError: true`) whose text holds every fragment."""
    return lambda result: result.is_error is True and all(f in _text(result) for f in fragments)


@dataclass(frozen=True)
class ToolCase:
    tool: str
    arguments: dict[str, Any]
    expect: Expectation

    @property
    def label(self) -> str:
        return f"{self.tool}({self.arguments})"


@dataclass(frozen=True)
class PromptCase:
    name: str
    arguments: dict[str, str]
    expect: Callable[[Any], bool]
    """Judges the rendered prompt, or the ("error", code, message) it failed with."""

    @property
    def label(self) -> str:
        return f"{self.name}({self.arguments})"


@dataclass(frozen=True)
class Surface:
    """Everything observed of one example server."""

    build: Callable[[Path], MCPServer]
    tools: tuple[ToolCase, ...]
    extra_uris: tuple[str, ...] = ()
    """URIs to read besides the listed resources: through templates, and ones that do not exist."""
    prompts: tuple[PromptCase, ...] = ()
    tool_names: frozenset[str] = field(default_factory=frozenset[str])
    prompt_names: frozenset[str] = field(default_factory=frozenset[str])


SELECT = "SELECT id, name FROM customers ORDER BY id"
SURFACES: dict[str, Surface] = {
    "database": Surface(
        build=lambda tmp: database.build_server(tmp / "shop.db"),
        tool_names=frozenset({"list_tables", "describe_table", "execute_query"}),
        tools=(
            ToolCase("list_tables", {}, succeeds("customers", "orders", structured=True)),
            ToolCase("describe_table", {"table": "customers"}, succeeds("CREATE TABLE customers", structured=True)),
            ToolCase("describe_table", {"table": "no_such_table"}, fails("no_such_table")),
            ToolCase("describe_table", {}, fails("table")),
            ToolCase("execute_query", {"sql": SELECT}, succeeds("Amara Okafor", structured=True)),
            ToolCase("execute_query", {"sql": SELECT, "limit": 1}, succeeds("1 rows shown", structured=True)),
            ToolCase("execute_query", {"sql": "DROP TABLE customers"}, fails("read-only")),
            ToolCase("execute_query", {"sql": "SELEC name FROM customers"}, fails("SELEC")),
            ToolCase("execute_query", {"sql": "SELECT 1", "limit": 0}, fails("limit")),
        ),
        extra_uris=("schema://shop/orders", "schema://shop/no_such_table", "nothing://here"),
        prompt_names=frozenset({"query_helper"}),
        prompts=(
            PromptCase(
                "query_helper", {"question": "Who spent the most?"}, lambda got: "Who spent the most?" in str(got)
            ),
            PromptCase("query_helper", {}, lambda got: isinstance(got, tuple)),  # a required argument is missing
        ),
    ),
    "github": Surface(
        build=lambda _: github.build_server(),
        tool_names=frozenset({"search_code", "get_file", "list_issues"}),
        tools=(
            ToolCase("search_code", {"query": "select"}, succeeds("low_stock.sql", structured=True)),
            ToolCase("search_code", {"query": "refund", "repo": "acme/ops-runbooks"}, succeeds("refunds.md")),
            ToolCase("search_code", {"query": "zzz-nowhere-zzz"}, succeeds(structured=True)),
            ToolCase("search_code", {"query": ""}, fails("empty")),
            ToolCase("search_code", {"query": "x", "repo": "acme/nope"}, fails("acme/nope")),
            ToolCase("get_file", {"repo": "acme/shop-analytics", "path": "queries/low_stock.sql"}, succeeds("SELECT")),
            ToolCase(
                "get_file", {"repo": "acme/shop-analytics", "path": "../../issues.json"}, fails("outside the root")
            ),
            ToolCase("get_file", {"repo": "acme/shop-analytics", "path": "missing.sql"}, fails("missing.sql")),
            ToolCase("list_issues", {"repo": "acme/shop-analytics"}, succeeds(structured=True)),
            ToolCase("list_issues", {"repo": "acme/shop-analytics", "state": "all"}, succeeds("Revenue by month")),
            ToolCase("list_issues", {"repo": "acme/nope"}, fails("acme/nope")),
            ToolCase("list_issues", {"repo": "acme/shop-analytics", "state": "bogus"}, fails("state")),
        ),
        extra_uris=(
            "repo://acme/shop-analytics/queries/low_stock.sql",
            "repo://acme/ops-runbooks/runbooks/refunds.md",
            "repo://acme/shop-analytics/missing.sql",
        ),
    ),
    "files": Surface(
        build=lambda _: files.build_server(),
        tool_names=frozenset({"list_directory", "read_file", "search_files"}),
        tools=(
            ToolCase("list_directory", {}, succeeds("notes", "recipes", structured=True)),
            ToolCase("list_directory", {"path": "notes"}, succeeds("todo.txt", structured=True)),
            ToolCase("list_directory", {"path": "../.."}, fails("outside the root")),
            ToolCase("list_directory", {"path": "nowhere"}, fails("nowhere")),
            ToolCase("read_file", {"path": "notes/todo.txt"}, succeeds()),
            ToolCase("read_file", {"path": "recipes/missing.md"}, fails("missing.md")),
            ToolCase("read_file", {"path": "/etc/passwd"}, fails("absolute paths are not allowed")),
            ToolCase("read_file", {}, fails("path")),
            ToolCase("search_files", {"pattern": "*.md"}, succeeds("pancakes.md", structured=True)),
            ToolCase("search_files", {"pattern": "notes/*"}, succeeds("todo.txt")),
            ToolCase("search_files", {"pattern": "  "}, fails("pattern is empty")),
        ),
        extra_uris=("file:///notes/todo.txt", "file:///notes/missing.txt", "file:///../outside.txt"),
    ),
}


@dataclass
class Observations:
    """What a client saw; errors are kept as (code, message) so they compare like answers."""

    tools: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    calls: dict[str, tuple[Any, ...]] = field(default_factory=dict[str, tuple[Any, ...]])
    call_results: dict[str, types.CallToolResult] = field(default_factory=dict[str, types.CallToolResult])
    resources: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    templates: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    reads: dict[str, Any] = field(default_factory=dict[str, Any])
    prompts: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    prompt_results: dict[str, Any] = field(default_factory=dict[str, Any])


def _described(item: types.Tool | types.Resource | types.ResourceTemplate | types.Prompt) -> dict[str, Any]:
    # The proxy adds its origin stamp to `_meta`; everything else must be untouched.
    meta = {k: v for k, v in (item.meta or {}).items() if k != ORIGIN_META_KEY} or None
    return item.model_copy(update={"meta": meta}).model_dump(by_alias=True, exclude_none=True)


async def _error_or(operation: Any) -> Any:
    try:
        return (await operation).model_dump(by_alias=True, exclude_none=True, exclude={"meta"})
    except MCPError as exc:
        return ("error", exc.code, exc.message)


async def observe(client: Client, surface: Surface) -> Observations:
    """Take every observation of `surface` through `client`."""
    seen = Observations()
    seen.tools = [_described(tool) for tool in (await client.list_tools()).tools]
    for case in surface.tools:
        result = await client.call_tool(case.tool, case.arguments)
        seen.call_results[case.label] = result
        seen.calls[case.label] = (result.content, result.structured_content, result.is_error)
    listed = (await client.list_resources()).resources
    seen.resources = [_described(resource) for resource in listed]
    seen.templates = [_described(t) for t in (await client.list_resource_templates()).resource_templates]
    for uri in [*(resource.uri for resource in listed), *surface.extra_uris]:
        seen.reads[uri] = await _error_or(client.read_resource(uri))
    seen.prompts = [_described(prompt) for prompt in (await client.list_prompts()).prompts]
    for case in surface.prompts:
        seen.prompt_results[case.label] = await _error_or(client.get_prompt(case.name, case.arguments))
    return seen


async def observe_directly(server: MCPServer, mode: str, surface: Surface) -> Observations:
    async with Client(server, mode=mode, cache=None) as client:
        return await observe(client, surface)


async def observe_through_proxy(name: str, server: MCPServer, mode: str, surface: Surface) -> Observations:
    # The upstream speaks the client's era, so even era-specific error shapes must match.
    upstream = {"prefix": "", "protocol": "legacy" if mode == "legacy" else "auto"}
    async with (
        proxy_over({name: server}, servers={name: upstream}) as proxy,
        Client(proxy.server.server, mode=mode, cache=None) as client,
    ):
        return await observe(client, surface)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so each server's observations are taken once and shared by the tests below."""
    return "asyncio"


@pytest.fixture(scope="module", params=list(SURFACES))
def server_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module", params=ERAS)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
async def both(
    server_name: str, mode: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Surface, Observations, Observations]:
    """The direct and the proxied observations of one example server in one era."""
    surface = SURFACES[server_name]
    server = surface.build(tmp_path_factory.mktemp(server_name))
    direct = await observe_directly(server, mode, surface)
    proxied = await observe_through_proxy(server_name, server, mode, surface)
    return surface, direct, proxied


Both = tuple[Surface, Observations, Observations]


async def test_every_tool_of_the_server_is_exercised(both: Both) -> None:
    surface, direct, _ = both
    assert {tool["name"] for tool in direct.tools} == surface.tool_names
    assert {case.tool for case in surface.tools} == surface.tool_names


async def test_the_tool_list_is_identical_apart_from_the_origin_stamp(both: Both) -> None:
    _, direct, proxied = both
    assert proxied.tools == sorted(direct.tools, key=lambda tool: tool["name"])


async def test_every_tool_result_matches_its_expectation_and_is_identical_through_the_proxy(both: Both) -> None:
    surface, direct, proxied = both
    for case in surface.tools:
        assert case.expect(direct.call_results[case.label]), f"direct {case.label}: {direct.calls[case.label]}"
        assert proxied.calls[case.label] == direct.calls[case.label], case.label


async def test_resources_and_templates_are_listed_identically(both: Both) -> None:
    _, direct, proxied = both
    assert direct.resources, "the example server lists resources"
    assert direct.templates, "the example server lists templates"
    assert proxied.resources == sorted(direct.resources, key=lambda r: r["uri"])
    assert proxied.templates == direct.templates


async def test_every_resource_read_gives_the_same_contents_or_the_same_error(both: Both) -> None:
    surface, direct, proxied = both
    assert any(isinstance(r, tuple) for r in direct.reads.values()), "some read is expected to fail"
    assert sum(not isinstance(r, tuple) for r in direct.reads.values()) >= len(direct.resources)
    assert set(proxied.reads) == set(direct.reads)
    for uri, answer in direct.reads.items():
        assert proxied.reads[uri] == answer, uri


async def test_prompts_are_listed_and_rendered_identically(both: Both) -> None:
    surface, direct, proxied = both
    assert {prompt["name"] for prompt in direct.prompts} == surface.prompt_names
    assert proxied.prompts == direct.prompts
    for case in surface.prompts:
        assert case.expect(direct.prompt_results[case.label]), f"direct {case.label}"
        assert proxied.prompt_results[case.label] == direct.prompt_results[case.label], case.label

"""Tests for mcp_proxy.catalog.profiles: a catalog narrowed, renamed and re-described for one profile."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from mcp_proxy.catalog.merged import Catalog, Conflict, Route, ServerListing, build_catalog
from mcp_proxy.catalog.profiles import NameRules, ToolChange, ViewRules, profile_view


def tool(name: str, **fields: Any) -> types.Tool:
    return types.Tool(name=name, input_schema=fields.pop("input_schema", {"type": "object"}), **fields)


def catalog() -> Catalog:
    return build_catalog(
        [
            ServerListing(
                "db",
                "db",
                0,
                tools=[tool("query"), tool("describe"), tool("drop_table")],
                prompts=[types.Prompt(name="explain")],
                resources=[types.Resource(name="schema", uri="db://schema"), types.Resource(name="x", uri="db://x")],
                resource_templates=[types.ResourceTemplate(name="t", uri_template="db://tables/{name}")],
            ),
            ServerListing("git", "git", 0, tools=[tool("search"), tool("query")], prompts=[types.Prompt(name="pr")]),
        ]
    )


def names(items: list[types.Tool] | list[types.Prompt]) -> list[str]:
    return [item.name for item in items]


def test_the_servers_selection_keeps_only_their_items_and_routes() -> None:
    view = profile_view(catalog(), ViewRules(servers=frozenset({"git"})))
    assert names(view.tools) == ["git__query", "git__search"]
    assert names(view.prompts) == ["git__pr"]
    assert view.resources == [] and view.resource_templates == []
    assert view.route_tool("db__query") is None
    assert view.route_tool("git__query") == Route("git", "query")
    assert view.route_resource("db://schema") is None
    assert view.origin_counts() == {"git": {"tools": 2, "resources": 0, "resource_templates": 0, "prompts": 1}}


def test_globs_match_the_exposed_or_the_original_name() -> None:
    rules = ViewRules(tools=NameRules(include=("query", "git__*"), exclude=("*search",)))
    view = profile_view(catalog(), rules)
    assert names(view.tools) == ["db__query", "git__query"]
    assert view.tool_input_schema("git__search") is None


def test_resource_globs_hold_for_listed_templated_and_unlisted_uris() -> None:
    view = profile_view(catalog(), ViewRules(resources=NameRules(exclude=("db://x", "db://tables/secret*"))))
    # Exposed URIs carry the server's prefix; the globs above name the server's own URIs.
    assert [r.uri for r in view.resources] == ["db://db/schema"]
    assert view.route_resource("db://db/x") is None
    assert view.route_resource("db://db/tables/users") == Route("db", "db://tables/users")
    assert view.route_resource("db://db/tables/secrets") is None


def test_a_renamed_tool_is_listed_and_routed_under_its_new_name() -> None:
    changes = {"db__query": ToolChange(name="sql", description="Run SQL.")}
    view = profile_view(catalog(), ViewRules(tool_changes=changes))
    tools = {t.name: t for t in view.tools}
    assert "db__query" not in tools
    assert tools["sql"].description == "Run SQL."
    assert view.route_tool("sql") == Route("db", "query")
    assert view.route_tool("db__query") is None
    assert view.tool_input_schema("sql") == {"type": "object"}
    assert names(view.tools) == sorted(names(view.tools))


def test_a_rename_onto_a_kept_name_is_refused_and_reported() -> None:
    view = profile_view(catalog(), ViewRules(tool_changes={"db__query": ToolChange(name="git__search")}))
    assert view.route_tool("db__query") == Route("db", "query")
    assert view.route_tool("git__search") == Route("git", "search")
    assert Conflict("tool", "git__search", "git", ("db",)) in view.conflicts


def test_two_tools_may_swap_names() -> None:
    changes = {"db__query": ToolChange(name="git__query"), "git__query": ToolChange(name="db__query")}
    view = profile_view(catalog(), ViewRules(tool_changes=changes))
    assert view.route_tool("git__query") == Route("db", "query")
    assert view.route_tool("db__query") == Route("git", "query")
    assert view.conflicts == []


def test_a_view_pages_like_a_catalog() -> None:
    view = profile_view(catalog(), ViewRules(servers=frozenset({"db"})))
    first, cursor = view.page("tools", None, 2)
    assert names(first) == ["db__describe", "db__drop_table"]
    rest, end = view.page("tools", cursor, 2)
    assert names(rest) == ["db__query"] and end is None

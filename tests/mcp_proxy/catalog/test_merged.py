"""Tests for mcp_proxy.catalog.merged: merging, conflicts, routing, origin metadata, pagination, diffs."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import mcp_types as types
import pytest

from mcp_proxy.catalog.merged import (
    ORIGIN_META_KEY,
    Catalog,
    Conflict,
    ListKind,
    Route,
    ServerListing,
    build_catalog,
    catalog_diff,
)
from mcp_proxy.catalog.naming import shorten_name
from mcp_proxy.core.errors import InvalidCursorError

SEPARATORS = ["__", "_", "-", "."]
LIST_KINDS: list[ListKind] = ["tools", "resources", "resource_templates", "prompts"]


def tool(name: str, **fields: Any) -> types.Tool:
    return types.Tool(name=name, input_schema=fields.pop("input_schema", {"type": "object"}), **fields)


def prompt(name: str, **fields: Any) -> types.Prompt:
    return types.Prompt(name=name, **fields)


def resource(uri: str, **fields: Any) -> types.Resource:
    return types.Resource(name=fields.pop("name", uri), uri=uri, **fields)


def template(uri_template: str, **fields: Any) -> types.ResourceTemplate:
    return types.ResourceTemplate(name=fields.pop("name", uri_template), uri_template=uri_template, **fields)


def listing(server: str, prefix: str | None = None, priority: int = 0, **lists: Any) -> ServerListing:
    return ServerListing(server=server, prefix=server if prefix is None else prefix, priority=priority, **lists)


def names(items: list[types.Tool] | list[types.Prompt]) -> list[str]:
    return [item.name for item in items]


def full_catalog() -> Catalog:
    return build_catalog(
        [
            listing(
                "alpha",
                tools=[tool(f"t{i}") for i in range(7)],
                prompts=[prompt(f"p{i}") for i in range(5)],
                resources=[resource(f"test://r/{i}") for i in range(6)],
                resource_templates=[template(f"test://t{i}/{{id}}") for i in range(4)],
            ),
            listing("beta", tools=[tool("t0"), tool("t1")], prompts=[prompt("p0")]),
        ]
    )


@pytest.mark.parametrize("separator", SEPARATORS)
def test_tools_are_exposed_under_their_server_prefix_and_route_back(separator: str) -> None:
    catalog = build_catalog(
        [
            listing("github", tools=[tool("create_issue"), tool(f"odd{separator}name")]),
            listing("db", tools=[tool("q")]),
        ],
        separator=separator,
    )
    assert sorted(names(catalog.tools)) == sorted(
        [f"github{separator}create_issue", f"github{separator}odd{separator}name", f"db{separator}q"]
    )
    assert catalog.route_tool(f"github{separator}create_issue") == Route("github", "create_issue")
    assert catalog.route_tool(f"github{separator}odd{separator}name") == Route("github", f"odd{separator}name")
    assert catalog.route_tool(f"db{separator}q") == Route("db", "q")


@pytest.mark.parametrize("separator", SEPARATORS)
def test_prompts_are_exposed_under_their_server_prefix_and_route_back(separator: str) -> None:
    catalog = build_catalog([listing("github", prompts=[prompt("summarise")])], separator=separator)
    assert names(catalog.prompts) == [f"github{separator}summarise"]
    assert catalog.route_prompt(f"github{separator}summarise") == Route("github", "summarise")


def test_a_bare_prefix_exposes_names_unchanged() -> None:
    catalog = build_catalog([listing("solo", prefix="", tools=[tool("echo")], prompts=[prompt("greet")])])
    assert names(catalog.tools) == ["echo"]
    assert names(catalog.prompts) == ["greet"]
    assert catalog.route_tool("echo") == Route("solo", "echo")


def test_unknown_names_do_not_route() -> None:
    catalog = build_catalog([listing("github", tools=[tool("create_issue")], prompts=[prompt("p")])])
    assert catalog.route_tool("create_issue") is None
    assert catalog.route_tool("github__nope") is None
    assert catalog.route_prompt("github__create_issue") is None
    assert catalog.route_template("github__create_issue") is None
    assert catalog.tool_input_schema("github__nope") is None


def test_routing_never_splits_names_on_the_separator() -> None:
    catalog = build_catalog([listing("github", tools=[tool("a")])])
    assert catalog.route_tool("github__b") is None


def test_every_list_is_sorted_by_exposed_name_or_uri() -> None:
    catalog = build_catalog(
        [
            listing("zeta", tools=[tool("b"), tool("a")], prompts=[prompt("z"), prompt("y")]),
            listing(
                "alpha",
                tools=[tool("z")],
                resources=[resource("test://z"), resource("test://a")],
                resource_templates=[template("t://{b}"), template("s://{a}")],
            ),
        ]
    )
    assert names(catalog.tools) == ["alpha__z", "zeta__a", "zeta__b"]
    assert names(catalog.prompts) == ["zeta__y", "zeta__z"]
    assert [r.uri for r in catalog.resources] == ["test://alpha/a", "test://alpha/z"]
    assert [t.uri_template for t in catalog.resource_templates] == ["s://alpha/{a}", "t://alpha/{b}"]


def test_higher_priority_wins_a_bare_name_regardless_of_order() -> None:
    catalog = build_catalog(
        [
            listing("low", prefix="", priority=1, tools=[tool("search", description="low")]),
            listing("high", prefix="", priority=5, tools=[tool("search", description="high")]),
        ]
    )
    assert catalog.route_tool("search") == Route("high", "search")
    assert [t.description for t in catalog.tools] == ["high"]
    assert catalog.conflicts == [Conflict("tool", "search", "high", ("low",))]


def test_equal_priority_is_won_by_the_server_listed_first() -> None:
    listings = [listing(s, prefix="", tools=[tool("search")]) for s in ("first", "second", "third")]
    catalog = build_catalog(listings)
    assert catalog.route_tool("search") == Route("first", "search")
    assert catalog.conflicts == [Conflict("tool", "search", "first", ("second", "third"))]


def test_losers_are_listed_best_first() -> None:
    catalog = build_catalog(
        [
            listing("a", prefix="", priority=1, tools=[tool("x")]),
            listing("b", prefix="", priority=3, tools=[tool("x")]),
            listing("c", prefix="", priority=2, tools=[tool("x")]),
        ]
    )
    assert catalog.conflicts == [Conflict("tool", "x", "b", ("c", "a"))]


def test_a_bare_name_can_conflict_with_another_servers_namespaced_name() -> None:
    catalog = build_catalog(
        [
            listing("github", tools=[tool("create")]),
            listing("bare", prefix="", priority=9, tools=[tool("github__create")]),
        ]
    )
    assert catalog.route_tool("github__create") == Route("bare", "github__create")
    assert catalog.conflicts == [Conflict("tool", "github__create", "bare", ("github",))]


def test_conflicts_are_resolved_for_prompts_resources_and_templates_too() -> None:
    def offers(server: str, priority: int) -> ServerListing:
        return listing(
            server,
            prefix="",
            priority=priority,
            prompts=[prompt("p")],
            resources=[resource("test://r")],
            resource_templates=[template("test://t/{id}")],
        )

    catalog = build_catalog([offers("low", 0), offers("high", 1)])
    assert catalog.route_prompt("p") == Route("high", "p")
    assert catalog.route_resource("test://r") == Route("high", "test://r")
    assert catalog.route_template("test://t/{id}") == Route("high", "test://t/{id}")
    assert catalog.route_resource("test://t/7") == Route("high", "test://t/7")
    assert catalog.conflicts == [
        Conflict("prompt", "p", "high", ("low",)),
        Conflict("resource", "test://r", "high", ("low",)),
        Conflict("resource_template", "test://t/{id}", "high", ("low",)),
    ]


def test_a_name_listed_twice_by_one_server_keeps_the_first_and_is_reported() -> None:
    catalog = build_catalog(
        [listing("buggy", tools=[tool("x", description="first"), tool("x", description="second"), tool("x")])]
    )
    assert [t.description for t in catalog.tools] == ["first"]
    assert catalog.conflicts == [Conflict("tool", "buggy__x", "buggy", ("buggy", "buggy"))]


def test_no_conflicts_are_reported_when_names_are_distinct() -> None:
    assert full_catalog().conflicts == []


def test_long_tool_names_are_shortened_to_the_budget_and_route_back() -> None:
    long_names = [f"{'very_long_tool_name_' * 4}{i}" for i in range(3)]
    catalog = build_catalog([listing("github", tools=[tool(n) for n in long_names])], name_budget=40)
    exposed = names(catalog.tools)
    assert all(len(name) == 40 for name in exposed)
    assert sorted(exposed) == sorted(shorten_name(f"github__{n}", 40) for n in long_names)
    assert {catalog.route_tool(name) for name in exposed} == {Route("github", n) for n in long_names}


def test_a_tool_name_exactly_at_the_budget_is_left_alone() -> None:
    name = "n" * (64 - len("srv__"))
    catalog = build_catalog([listing("srv", tools=[tool(name)])], name_budget=64)
    assert names(catalog.tools) == [f"srv__{name}"]


def test_prompt_names_are_not_shortened() -> None:
    catalog = build_catalog([listing("github", prompts=[prompt("p" * 100)])], name_budget=20)
    assert names(catalog.prompts) == ["github__" + "p" * 100]


def test_a_shortened_name_never_takes_a_name_another_tool_has_in_full() -> None:
    long_name = "x" * 100
    squatter = shorten_name(f"github__{long_name}", 32)
    catalog = build_catalog(
        [
            listing("github", tools=[tool(long_name)]),
            listing("other", prefix="", priority=-1, tools=[tool(squatter)]),
        ],
        name_budget=32,
    )
    moved = shorten_name(f"github__{long_name}", 32, attempt=1)
    assert catalog.route_tool(squatter) == Route("other", squatter)
    assert catalog.route_tool(moved) == Route("github", long_name)
    assert catalog.conflicts == []
    assert len(moved) == 32


def test_two_servers_with_the_same_long_bare_name_conflict_under_the_shortened_name() -> None:
    long_name = "y" * 100
    catalog = build_catalog(
        [listing("a", prefix="", tools=[tool(long_name)]), listing("b", prefix="", tools=[tool(long_name)])],
        name_budget=32,
    )
    shortened = shorten_name(long_name, 32)
    assert names(catalog.tools) == [shortened]
    assert catalog.conflicts == [Conflict("tool", shortened, "a", ("b",))]


def test_tool_filters_apply_to_upstream_names_before_exposing() -> None:
    catalog = build_catalog(
        [
            listing(
                "db",
                tools=[tool("get_user"), tool("get_admin"), tool("put_user"), tool("db__get_x")],
                include_tools=["get_*"],
                exclude_tools=["*_admin"],
            )
        ]
    )
    assert names(catalog.tools) == ["db__get_user"]


def test_excluded_tools_do_not_route_or_win_conflicts() -> None:
    catalog = build_catalog(
        [
            listing("hidden", prefix="", priority=9, tools=[tool("search")], exclude_tools=["search"]),
            listing("shown", prefix="", tools=[tool("search")]),
        ]
    )
    assert catalog.route_tool("search") == Route("shown", "search")
    assert catalog.conflicts == []


def test_exposed_items_name_their_origin_in_meta() -> None:
    catalog = full_catalog()
    alpha_tool = catalog.tools[0]
    assert alpha_tool.meta == {ORIGIN_META_KEY: {"server": "alpha", "name": "t0"}}
    assert catalog.prompts[0].meta == {ORIGIN_META_KEY: {"server": "alpha", "name": "p0"}}
    assert catalog.resources[0].meta == {ORIGIN_META_KEY: {"server": "alpha", "uri": "test://r/0"}}
    assert catalog.resource_templates[0].meta == {ORIGIN_META_KEY: {"server": "alpha", "uriTemplate": "test://t0/{id}"}}


def test_origin_meta_is_serialised_under_the_meta_wire_key() -> None:
    dumped = full_catalog().tools[0].model_dump(by_alias=True, exclude_none=True)
    assert dumped["_meta"][ORIGIN_META_KEY] == {"server": "alpha", "name": "t0"}


def test_upstream_meta_is_kept_and_not_modified() -> None:
    upstream_meta = {"vendor/flag": True, "nested": {"a": 1}}
    original = tool("t", meta=upstream_meta)
    exposed = build_catalog([listing("s", tools=[original])]).tools[0]
    assert exposed.meta == {"vendor/flag": True, "nested": {"a": 1}, ORIGIN_META_KEY: {"server": "s", "name": "t"}}
    assert original.meta == {"vendor/flag": True, "nested": {"a": 1}}
    assert original.name == "t"


def test_an_upstream_origin_key_is_replaced_by_this_proxys_origin() -> None:
    inner = tool("github__create", meta={ORIGIN_META_KEY: {"server": "github", "name": "create"}})
    exposed = build_catalog([listing("inner", tools=[inner])]).tools[0]
    assert exposed.meta == {ORIGIN_META_KEY: {"server": "inner", "name": "github__create"}}


def test_nothing_but_name_and_meta_changes_on_an_exposed_tool() -> None:
    schema = {
        "type": "object",
        "required": ["b", "a"],
        "properties": {"b": {"type": "string"}, "a": {"type": "integer"}},
    }
    output = {"type": "object", "properties": {"z": {"type": "number"}}}
    original = tool(
        "calc",
        title="Calculator",
        description="Adds things",
        input_schema=schema,
        output_schema=output,
        annotations=types.ToolAnnotations(read_only_hint=True),
        icons=[types.Icon(src="https://example.com/i.png")],
    )
    catalog = build_catalog([listing("math", tools=[original])])
    exposed = catalog.tools[0]
    assert exposed.input_schema == schema
    assert list(exposed.input_schema) == list(schema)
    assert list(exposed.input_schema["properties"]) == ["b", "a"]
    assert catalog.tool_input_schema("math__calc") == schema
    unchanged = exposed.model_dump(exclude={"name", "meta"})
    assert unchanged == original.model_dump(exclude={"name", "meta"})


def test_nothing_but_uri_and_meta_changes_on_exposed_resources_and_templates() -> None:
    original_resource = resource("test://r", name="r", title="R", description="d", mime_type="text/plain", size=3)
    original_template = template("test://t/{id}", name="t", description="d", mime_type="text/plain")
    catalog = build_catalog([listing("s", resources=[original_resource], resource_templates=[original_template])])
    assert catalog.resources[0].model_dump(exclude={"uri", "meta"}) == original_resource.model_dump(
        exclude={"uri", "meta"}
    )
    assert catalog.resource_templates[0].model_dump(exclude={"uri_template", "meta"}) == original_template.model_dump(
        exclude={"uri_template", "meta"}
    )


def test_resources_are_exposed_with_rewritten_uris_that_route_back_exactly() -> None:
    uris = ["file:///etc/hosts", "test://static-text", "urn:isbn:123", "https://h//a?b=//c"]
    catalog = build_catalog([listing("fs", resources=[resource(u) for u in uris])])
    exposed = [r.uri for r in catalog.resources]
    assert "file://fs//etc/hosts" in exposed
    assert {catalog.route_resource(u) for u in exposed} == {Route("fs", u) for u in uris}


def test_templates_are_exposed_with_rewritten_uris_and_route_for_completions() -> None:
    catalog = build_catalog([listing("shop", resource_templates=[template("schema://shop/{table}")])])
    assert [t.uri_template for t in catalog.resource_templates] == ["schema://shop/shop/{table}"]
    assert catalog.route_template("schema://shop/shop/{table}") == Route("shop", "schema://shop/{table}")
    assert catalog.route_template("schema://shop/{table}") is None


@pytest.mark.parametrize(
    ("upstream_template", "exposed_uri", "original"),
    [
        ("schema://shop/{table}", "schema://db/shop/users", "schema://shop/users"),
        ("file:///srv/{+path}", "file://db//srv/a/b.txt", "file:///srv/a/b.txt"),
        ("test://items/{id}", "test://db/items/42", "test://items/42"),
        ("urn:item:{id}", "urn:db/item:7", "urn:item:7"),
        ("logs://{service}{?level}", "logs://db/api?level=error", "logs://api?level=error"),
    ],
)
def test_a_uri_matching_an_exposed_template_routes_to_the_original_uri(
    upstream_template: str, exposed_uri: str, original: str
) -> None:
    catalog = build_catalog([listing("db", resource_templates=[template(upstream_template)])])
    assert catalog.route_resource(exposed_uri) == Route("db", original)


def test_a_simple_template_variable_does_not_match_across_slashes() -> None:
    catalog = build_catalog(
        [
            listing("db", resource_templates=[template("test://items/{id}")]),
            listing("bare", prefix="", resource_templates=[template("test://db/items/{+rest}")]),
        ]
    )
    assert catalog.route_resource("test://db/items/1") == Route("db", "test://items/1")
    assert catalog.route_resource("test://db/items/1/2") == Route("bare", "test://db/items/1/2")


def test_a_listed_uri_routes_before_any_template() -> None:
    catalog = build_catalog(
        [
            listing("bare", prefix="", resource_templates=[template("test://{id}")]),
            listing("named", prefix="", resources=[resource("test://exact")]),
        ]
    )
    assert catalog.route_resource("test://exact") == Route("named", "test://exact")
    assert catalog.route_resource("test://other") == Route("bare", "test://other")


def test_a_prefixed_template_routes_before_a_bare_catch_all() -> None:
    catalog = build_catalog(
        [
            listing("catchall", prefix="", priority=9, resource_templates=[template("{+uri}")]),
            listing("db", resource_templates=[template("test://items/{id}")]),
        ]
    )
    assert catalog.route_resource("test://db/items/3") == Route("db", "test://items/3")
    assert catalog.route_resource("other://thing") == Route("catchall", "other://thing")


def test_an_unlisted_uri_in_a_servers_namespace_routes_to_that_server() -> None:
    catalog = build_catalog([listing("fs", resources=[resource("file:///a")]), listing("web", resources=[])])
    assert catalog.route_resource("file://fs//not/listed") == Route("fs", "file:///not/listed")
    assert catalog.route_resource("file://web//x") is None


def test_an_unlisted_uri_outside_every_namespace_goes_to_the_top_bare_server() -> None:
    catalog = build_catalog(
        [
            listing("tools_only", prefix="", priority=9, tools=[tool("t")]),
            listing("low", prefix="", priority=1, resources=[resource("test://a")]),
            listing("high", prefix="", priority=2, resource_templates=[template("test://t/{id}")]),
            listing("fs", resources=[resource("file:///a")]),
        ]
    )
    assert catalog.route_resource("test://unknown") == Route("high", "test://unknown")
    assert catalog.route_resource("file://fs//b") == Route("fs", "file:///b")


def test_an_unlisted_uri_with_no_owner_does_not_route() -> None:
    catalog = build_catalog([listing("fs", resources=[resource("file:///a")])])
    assert catalog.route_resource("file:///a") is None
    assert catalog.route_resource("test://elsewhere/x") is None


def test_an_unparsable_template_is_still_listed_and_its_namespace_still_routes() -> None:
    catalog = build_catalog([listing("db", resource_templates=[template("test://{a}{b}")])])
    assert [t.uri_template for t in catalog.resource_templates] == ["test://db/{a}{b}"]
    assert catalog.route_resource("test://db/xy") == Route("db", "test://xy")


@pytest.mark.parametrize("kind", LIST_KINDS)
@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 6, 7, 100])
def test_walking_every_page_returns_every_item_once_in_order(kind: ListKind, page_size: int) -> None:
    catalog = full_catalog()
    walked: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        items, cursor = catalog.page(kind, cursor, page_size)
        assert len(items) <= page_size
        walked.extend(items)
        pages += 1
        if cursor is None:
            break
    assert walked == getattr(catalog, kind)
    assert pages == max(1, -(-len(walked) // page_size))


@pytest.mark.parametrize("kind", LIST_KINDS)
def test_an_empty_list_is_one_empty_page(kind: ListKind) -> None:
    assert Catalog.empty().page(kind, None, 10) == ([], None)


def test_cursors_are_url_safe_tokens_rather_than_bare_offsets() -> None:
    _, cursor = full_catalog().page("tools", None, 2)
    assert cursor is not None
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", cursor)
    assert not cursor.isdigit()


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "2",
        "!!!not-base64!!!",
        "é",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _cursor([1, 2]),
        _cursor({"kind": "tools"}),
        _cursor({"kind": "tools", "offset": "2"}),
        _cursor({"kind": "tools", "offset": True}),
        _cursor({"kind": "tools", "offset": 2.0}),
        _cursor({"kind": "tools", "offset": 2, "extra": 1}),
    ],
)
def test_a_cursor_this_catalog_did_not_issue_is_rejected(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        full_catalog().page("tools", cursor, 2)


def test_a_cursor_for_another_list_is_rejected() -> None:
    catalog = full_catalog()
    _, cursor = catalog.page("tools", None, 2)
    assert cursor is not None
    with pytest.raises(InvalidCursorError):
        catalog.page("prompts", cursor, 2)


@pytest.mark.parametrize("offset", [-1, 0, 9, 1000])
def test_a_cursor_outside_the_list_is_rejected(offset: int) -> None:
    catalog = full_catalog()
    _, cursor = catalog.page("tools", None, 2)
    assert cursor is not None
    assert catalog.page("tools", _reissue(cursor, 8), 2)[0] == catalog.tools[8:]
    with pytest.raises(InvalidCursorError):
        catalog.page("tools", _reissue(cursor, offset), 2)


def _reissue(cursor: str, offset: int) -> str:
    payload = json.loads(base64.urlsafe_b64decode(cursor))
    payload["offset"] = offset
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()).decode()


def test_a_cursor_left_over_from_a_longer_list_is_rejected() -> None:
    long_catalog = build_catalog([listing("s", tools=[tool(f"t{i}") for i in range(10)])])
    _, cursor = long_catalog.page("tools", None, 5)
    assert cursor is not None
    short_catalog = build_catalog([listing("s", tools=[tool(f"t{i}") for i in range(3)])])
    with pytest.raises(InvalidCursorError):
        short_catalog.page("tools", cursor, 5)


@pytest.mark.parametrize("page_size", [0, -1])
def test_a_page_size_below_one_is_a_programming_error(page_size: int) -> None:
    with pytest.raises(ValueError, match="page_size"):
        full_catalog().page("tools", None, page_size)


def test_origin_counts_count_what_each_server_exposes() -> None:
    catalog = build_catalog(
        [
            listing("alpha", prefix="", tools=[tool("x"), tool("y")], resources=[resource("r://a")]),
            listing("beta", prefix="", priority=1, tools=[tool("x")], prompts=[prompt("p")]),
            listing("idle"),
            listing("gamma", resource_templates=[template("t://{a}")]),
        ]
    )
    assert catalog.origin_counts() == {
        "alpha": {"tools": 1, "resources": 1, "resource_templates": 0, "prompts": 0},
        "beta": {"tools": 1, "resources": 0, "resource_templates": 0, "prompts": 1},
        "idle": {"tools": 0, "resources": 0, "resource_templates": 0, "prompts": 0},
        "gamma": {"tools": 0, "resources": 0, "resource_templates": 1, "prompts": 0},
    }


@pytest.mark.parametrize("catalog", [Catalog.empty(), build_catalog([])])
def test_an_empty_catalog_has_nothing_and_routes_nothing(catalog: Catalog) -> None:
    assert (catalog.tools, catalog.resources, catalog.resource_templates, catalog.prompts) == ([], [], [], [])
    assert catalog.conflicts == []
    assert catalog.origin_counts() == {}
    assert catalog.route_tool("x") is None
    assert catalog.route_prompt("x") is None
    assert catalog.route_resource("test://x") is None
    assert catalog.route_template("test://{x}") is None


def test_a_catalog_cannot_be_changed_through_what_it_returns() -> None:
    catalog = full_catalog()
    catalog.tools.clear()
    catalog.conflicts.append(Conflict("tool", "x", "a", ()))
    catalog.origin_counts()["alpha"]["tools"] = 99
    assert len(catalog.tools) == 9
    assert catalog.conflicts == []
    assert catalog.origin_counts()["alpha"]["tools"] == 7
    with pytest.raises(AttributeError):
        catalog.tools = []  # type: ignore[misc]
    with pytest.raises(AttributeError):
        catalog.extra = 1  # type: ignore[attr-defined]


def test_catalog_diff_is_empty_for_equal_catalogs() -> None:
    assert catalog_diff(full_catalog(), full_catalog()) == set()
    assert catalog_diff(Catalog.empty(), build_catalog([])) == set()


def test_catalog_diff_notices_a_changed_description_not_only_names() -> None:
    old = build_catalog([listing("s", tools=[tool("t", description="old")])])
    new = build_catalog([listing("s", tools=[tool("t", description="new")])])
    assert catalog_diff(old, new) == {"tools"}


def test_catalog_diff_notices_a_changed_schema() -> None:
    old = build_catalog([listing("s", tools=[tool("t")])])
    new = build_catalog([listing("s", tools=[tool("t", input_schema={"type": "object", "properties": {}})])])
    assert catalog_diff(old, new) == {"tools"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"prompts": [prompt("p"), prompt("q")]}, {"prompts"}),
        ({"resources": []}, {"resources"}),
        ({"resource_templates": [template("t://{b}")]}, {"resources"}),
        ({"tools": [tool("t"), tool("u")], "prompts": []}, {"tools", "prompts"}),
    ],
)
def test_catalog_diff_names_each_list_that_changed(change: dict[str, Any], expected: set[str]) -> None:
    base: dict[str, Any] = {
        "tools": [tool("t")],
        "prompts": [prompt("p")],
        "resources": [resource("r://a")],
        "resource_templates": [template("t://{a}")],
    }
    old = build_catalog([listing("s", **base)])
    new = build_catalog([listing("s", **(base | change))])
    assert catalog_diff(old, new) == expected


def test_catalog_diff_notices_a_server_going_away() -> None:
    old = full_catalog()
    new = build_catalog([listing("beta", tools=[tool("t0"), tool("t1")], prompts=[prompt("p0")])])
    assert catalog_diff(old, new) == {"tools", "prompts", "resources"}

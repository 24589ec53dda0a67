"""Reading origin and mode from what the server says, never from names."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from chat_api.inventory import LinkedResource, build_inventory, detect_mode, link_tool, server_name_of
from manifold_common.proxy_contract import ORIGIN_META_KEY

SCHEMA: dict[str, Any] = {"type": "object"}


def tool(name: str, meta: dict[str, Any] | None = None) -> types.Tool:
    return types.Tool(name=name, description=f"{name} tool", input_schema=SCHEMA, _meta=meta)


def origin(server: str, name: str) -> dict[str, Any]:
    return {ORIGIN_META_KEY: {"server": server, "name": name}}


def test_the_proxy_is_recognised_by_its_name() -> None:
    assert detect_mode(types.Implementation(name="manifold", version="1"), []) == "multi"
    assert detect_mode(types.Implementation(name="database", version="1"), [tool("q")]) == "single"


def test_origin_metadata_also_means_multi_mode() -> None:
    assert detect_mode(None, [tool("db__q", origin("db", "q"))]) == "multi"


def test_a_tool_takes_its_server_from_the_origin_and_never_from_its_name() -> None:
    linked = link_tool(tool("github__db__q", origin("db", "q")), "manifold")
    assert (linked.server, linked.original_name) == ("db", "q")
    plain = link_tool(tool("github__q"), "single-server")
    assert (plain.server, plain.original_name) == ("single-server", "github__q")


def test_a_malformed_origin_is_ignored() -> None:
    assert link_tool(tool("x", {ORIGIN_META_KEY: {"server": 3}}), "srv").server == "srv"
    assert link_tool(tool("x", {ORIGIN_META_KEY: "db"}), "srv").server == "srv"


def test_server_details_count_tools_and_resources_per_origin() -> None:
    info = types.Implementation(name="manifold", version="1")
    resources = [LinkedResource(uri="schema://x", name="x", server="db")]
    inventory = build_inventory(info, [tool("db__a", origin("db", "a")), tool("gh__b", origin("gh", "b"))], resources)
    details = {d.name: (d.tools, d.resources, d.healthy) for d in inventory.server_details(healthy=False)}
    assert details == {"db": (1, 1, False), "gh": (1, 0, False)}


def test_single_mode_has_exactly_the_one_server() -> None:
    inventory = build_inventory(types.Implementation(name="database", version="1"), [tool("q")])
    assert inventory.servers() == ["database"]
    assert server_name_of(None) == "server"

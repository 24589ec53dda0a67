"""The model's context: tools named by origin, a system prompt that reflects mode, health and resources."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from chat_api.context import MAX_RESOURCES_IN_PROMPT, system_prompt, tool_description, tool_specs
from chat_api.inventory import LinkedResource, ServerDetail, build_inventory
from chat_api.tool_names import ToolNameMap
from manifold_common.proxy_contract import ORIGIN_META_KEY


def proxy_tool(server: str, name: str, schema: dict[str, Any] | None = None) -> types.Tool:
    meta = {ORIGIN_META_KEY: {"server": server, "name": name}}
    return types.Tool(name=f"{server}.{name}", description="Does it.", input_schema=schema or {}, _meta=meta)


MANIFOLD = types.Implementation(name="manifold", version="1")


def test_tool_specs_name_the_origin_server_and_use_sanitised_names() -> None:
    inventory = build_inventory(MANIFOLD, [proxy_tool("db", "query", {"type": "object", "properties": {}})])
    names = ToolNameMap.build(t.name for t in inventory.tools)
    [spec] = tool_specs(inventory, names)
    assert spec.name == "db_query"
    assert spec.description == "[server: db] Does it."
    assert tool_description("db", "") == "[server: db]"


def test_a_tool_without_a_schema_gets_an_empty_object_schema() -> None:
    inventory = build_inventory(MANIFOLD, [proxy_tool("db", "ping")])
    [spec] = tool_specs(inventory, ToolNameMap.build(["db.ping"]))
    assert spec.parameters == {"type": "object", "properties": {}}


def test_the_prompt_names_healthy_and_unavailable_servers_in_multi_mode() -> None:
    inventory = build_inventory(MANIFOLD, [proxy_tool("db", "q")])
    prompt = system_prompt(inventory, [ServerDetail("db", True), ServerDetail("github", False)])
    assert "aggregates 2 MCP servers" in prompt
    assert "Healthy servers: db." in prompt
    assert "Unavailable right now: github." in prompt


def test_the_prompt_names_the_one_server_in_single_mode() -> None:
    inventory = build_inventory(types.Implementation(name="database", version="1"), [])
    assert "one MCP server, 'database'" in system_prompt(inventory, [])


def test_resources_are_listed_with_previews_within_a_budget() -> None:
    resources = [
        LinkedResource(uri=f"note://{n}", name=f"n{n}", server="files", description="A note.", preview="line one")
        for n in range(MAX_RESOURCES_IN_PROMPT + 3)
    ]
    inventory = build_inventory(MANIFOLD, [], resources)
    prompt = system_prompt(inventory, [ServerDetail("files", True)])
    assert "- note://0 (n0, from files): A note." in prompt
    assert "    line one" in prompt
    assert "... and 3 more resources not listed here." in prompt

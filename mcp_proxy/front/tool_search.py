"""Tool search: two meta-tools listed in place of a large catalog.

With `[proxy] tool_search = true`, `tools/list` answers `search_tools` and `call_tool`, plus the
tools whose exposed names match a `[proxy] tool_search_always` glob, instead of every tool. A
model finds what it needs with `search_tools(query, limit)` (ranked by the catalog's full-text
index, `catalog/search.py`, each match with its input schema) and runs it with
`call_tool(name, arguments)`, which the front routes exactly like a `tools/call` of that name.
Every tool stays callable by its own name too: search mode only changes what is listed.

The index is built once per catalog: the registry swaps its catalog whole on every change,
so the catalog's identity says when to build it again. The meta-tools take their names over
any upstream tool exposed under the same bare name while search mode is on.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types

from ..catalog.merged import Catalog
from ..catalog.naming import matches_filters
from ..catalog.search import ToolIndex, query_terms
from ..core.errors import InvalidCursorError
from .endpoint import Endpoint

SEARCH_TOOLS = "search_tools"
CALL_TOOL = "call_tool"
DEFAULT_LIMIT = 5
MAX_LIMIT = 20

SEARCH_TOOLS_TOOL = types.Tool(
    name=SEARCH_TOOLS,
    title="Search tools",
    description=(
        "Find the tools that can do a task. Describe the task in a few words (e.g. 'create a GitHub "
        "issue', 'read a file'); the best matches come back, best first, each with its name, "
        f"description and input schema. Run one with {CALL_TOOL}."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What the tool should do, in a few words."},
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
                "description": f"How many matches to return (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
            },
        },
        "required": ["query"],
    },
    annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
)

CALL_TOOL_TOOL = types.Tool(
    name=CALL_TOOL,
    title="Call a tool",
    description=(
        f"Run a tool found with {SEARCH_TOOLS}: give its exact name and its arguments, as its input schema says."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": f"The tool's name, as {SEARCH_TOOLS} gave it."},
            "arguments": {"type": "object", "description": "The tool's arguments.", "additionalProperties": True},
        },
        "required": ["name"],
    },
)

META_TOOLS = (SEARCH_TOOLS_TOOL, CALL_TOOL_TOOL)


def tool_error(text: str) -> types.CallToolResult:
    """A failed tool result a model can read and act on."""
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def search_result(matches: list[types.Tool]) -> types.CallToolResult:
    """`search_tools`' answer: the matches as JSON text and as structured content."""
    found: list[dict[str, Any]] = [
        {
            "name": tool.name,
            **({"title": tool.title} if tool.title else {}),
            "description": tool.description or "",
            "inputSchema": tool.input_schema,
        }
        for tool in matches
    ]
    structured: dict[str, Any] = {"tools": found}
    text = json.dumps(structured, ensure_ascii=False)
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structured_content=structured)


class ToolSearch:
    """Search mode of the front: what `tools/list` shows, and the two meta-tools' handling."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._catalog: Catalog | None = None
        self._index: ToolIndex | None = None

    @property
    def enabled(self) -> bool:
        """Whether tool search is on for this endpoint (`[proxy]`, or the profile's own setting)."""
        return self._endpoint.tool_search

    def takes(self, name: str) -> bool:
        """Whether a `tools/call` of `name` is one of the meta-tools (only in search mode)."""
        return self.enabled and name in (SEARCH_TOOLS, CALL_TOOL)

    def listed_tools(self) -> list[types.Tool]:
        """What `tools/list` shows in search mode: the meta-tools, then the `tool_search_always` tools."""
        always = self._endpoint.tool_search_always
        kept = [tool for tool in self._endpoint.catalog.tools if always and matches_filters(tool.name, always, ())]
        return [*META_TOOLS, *(tool for tool in kept if tool.name not in (SEARCH_TOOLS, CALL_TOOL))]

    def list_result(self, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        """The search-mode `tools/list` answer, in one page (it holds a few tools only)."""
        if params is not None and params.cursor is not None:
            raise InvalidCursorError(params.cursor)  # this list has a single page: no cursor was handed out
        return types.ListToolsResult(tools=self.listed_tools())

    def answer(self, params: types.CallToolRequestParams) -> types.CallToolResult | types.CallToolRequestParams:
        """A meta-tool call: `search_tools` is answered here; `call_tool` becomes the call it wraps.

        Bad arguments come back as a failed tool result, so the model can correct them.
        """
        arguments = params.arguments or {}
        if params.name == SEARCH_TOOLS:
            return self._search(arguments)
        name = arguments.get("name")
        inner = arguments.get("arguments", {})
        if not isinstance(name, str) or not name:
            return tool_error(f"{CALL_TOOL} needs 'name': the name of a tool {SEARCH_TOOLS} found")
        if not isinstance(inner, dict):
            return tool_error(f"{CALL_TOOL}: 'arguments' must be an object of the tool's arguments")
        if name in (SEARCH_TOOLS, CALL_TOOL):
            return tool_error(f"{CALL_TOOL} runs the tools {SEARCH_TOOLS} finds, not {name!r}")
        if self._endpoint.catalog.route_tool(name) is None:
            return tool_error(f"no tool is named {name!r}; {SEARCH_TOOLS} gives the exact names")
        return params.model_copy(update={"name": name, "arguments": inner})  # pyright: ignore[reportUnknownArgumentType]

    def index(self) -> ToolIndex:
        """The index of the current catalog's tools, built again when the catalog was replaced."""
        catalog = self._endpoint.catalog
        if self._index is None or catalog is not self._catalog:
            if self._index is not None:
                self._index.close()
            self._index = ToolIndex(catalog.tools)
            self._catalog = catalog
        return self._index

    def _search(self, arguments: dict[str, Any]) -> types.CallToolResult:
        query = arguments.get("query")
        limit = arguments.get("limit", DEFAULT_LIMIT)
        if not isinstance(query, str):
            return tool_error(f"{SEARCH_TOOLS} needs 'query': a few words saying what the tool should do")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            return tool_error(f"{SEARCH_TOOLS}: 'limit' must be an integer from 1 to {MAX_LIMIT}")
        if not query_terms(query):
            return tool_error(f"{SEARCH_TOOLS}: the query {query!r} has no word to search for")
        return search_result(self.index().search(query, limit))

"""The diagnostic tools `server-stateless` calls, and the lists they change.

* `test_missing_capability` needs the client's sampling capability and refuses a request that
  did not declare it with -32021 (`MissingRequiredClientCapabilityError`, naming `sampling`).
* `test_logging_tool` logs while it runs; on 2026 the SDK sends a request's log messages only
  when that request asked for them (`_meta` log level), which is what the scenario checks.
* `test_trigger_tool_change` / `test_trigger_prompt_change` really change the fixture's lists
  (a dynamic tool or prompt comes or goes) and announce it: on the `subscriptions/listen`
  streams of 2026 clients, and pushed on the caller's own session in the handshake era. A real
  change, so that a proxy in front, which re-lists and compares before it tells its clients,
  has something to pass on.
* `test_header_parameter` has an argument mirrored into a request header (`x-mcp-header`,
  SEP-2243), which the pending `http-custom-header-server-validation` scenario needs to find:
  on 2026 the SDK checks the `Mcp-Param-Region` header against the argument.
"""

from __future__ import annotations

import mcp_types as types
from mcp import MCPError
from mcp.server.subscriptions import InMemorySubscriptionBus, PromptsListChanged, ToolsListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tests.conformance.fixture_tools import (
    EMPTY_OBJECT_SCHEMA,
    Context,
    FixtureTool,
    LogGate,
    ToolFunction,
    ToolOutcome,
    required_text,
    text_result,
)

DYNAMIC_TOOL = "test_dynamic_tool"
DYNAMIC_PROMPT = types.Prompt(name="test_dynamic_prompt", description="Comes and goes with test_trigger_prompt_change")
SAMPLING = types.ClientCapabilities(sampling=types.SamplingCapability())
HEADER_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"region": {"type": "string", "description": "Where to run", "x-mcp-header": "Region"}},
    "required": ["region"],
}


def _tool(
    name: str, description: str, run: ToolFunction, schema: dict[str, object] = EMPTY_OBJECT_SCHEMA
) -> FixtureTool:
    return FixtureTool(types.Tool(name=name, description=description, input_schema=schema), run)


async def missing_capability(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    if not ctx.session.check_client_capability(SAMPLING):
        data = types.MissingRequiredClientCapabilityErrorData(required_capabilities=SAMPLING)
        raise MCPError(
            types.MISSING_REQUIRED_CLIENT_CAPABILITY,
            "test_missing_capability needs the client's sampling capability",
            data.model_dump(by_alias=True, mode="json", exclude_none=True),
        )
    return text_result("Success: the client declared sampling")


async def header_parameter(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    return text_result(f"Region: {required_text(params.arguments or {}, 'region')}")


async def dynamic_tool(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
    return text_result("The dynamic tool is here")


class ListChanges:
    """The fixture's changeable lists: the tools (shared with the fixture) and the dynamic prompts."""

    def __init__(self, tools: dict[str, FixtureTool], events: InMemorySubscriptionBus) -> None:
        self.tools = tools
        self.events = events
        self.prompts: list[types.Prompt] = []

    async def toggle_tool(self, ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
        if self.tools.pop(DYNAMIC_TOOL, None) is None:
            self.tools[DYNAMIC_TOOL] = _tool(DYNAMIC_TOOL, "Comes and goes with test_trigger_tool_change", dynamic_tool)
            done = "added"
        else:
            done = "removed"
        await self.events.publish(ToolsListChanged())
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            await ctx.session.send_tool_list_changed()
        return text_result(f"{DYNAMIC_TOOL} {done}")

    async def toggle_prompt(self, ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
        done = "removed" if self.prompts else "added"
        self.prompts = [] if self.prompts else [DYNAMIC_PROMPT]
        await self.events.publish(PromptsListChanged())
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            await ctx.session.send_prompt_list_changed()
        return text_result(f"{DYNAMIC_PROMPT.name} {done}")


def build_diagnostics(logs: LogGate, changes: ListChanges) -> dict[str, FixtureTool]:
    """The diagnostic tools by name; `logs` is the gate `test_logging_tool` writes through."""

    async def logging_tool(ctx: Context, params: types.CallToolRequestParams) -> ToolOutcome:
        await logs.send(ctx, "info", "Diagnostic trace logging activated")
        return text_result("Logging evaluated")

    tools = [
        _tool("test_missing_capability", "Needs the client's sampling capability", missing_capability),
        _tool("test_logging_tool", "Logs one message while it runs", logging_tool),
        _tool("test_trigger_tool_change", f"Adds or removes {DYNAMIC_TOOL}", changes.toggle_tool),
        _tool("test_trigger_prompt_change", f"Adds or removes {DYNAMIC_PROMPT.name}", changes.toggle_prompt),
        _tool("test_header_parameter", "Echoes a region sent as a header too", header_parameter, HEADER_SCHEMA),
    ]
    return {tool.definition.name: tool for tool in tools}

"""The model's context for one chat: the system prompt and the tools, built from the link's inventory.

Each tool's description starts with the server it comes from, so the model can tell a
database tool from a code-host tool even when their names alone would not. The system prompt
says whether the assistant sees one server or many (and which are healthy), and lists the
resources with their descriptions; small text resources come with their content, truncated.
"""

from __future__ import annotations

from collections.abc import Sequence

from .inventory import Inventory, LinkedResource, ServerDetail
from .llm.base import ToolSpec
from .tool_names import ToolNameMap

MAX_RESOURCES_IN_PROMPT = 50
"""Resources listed by name in the system prompt; the rest are counted, not listed."""
RESOURCE_CONTEXT_MAX_CHARS = 12_000
"""Total characters of resource previews in the system prompt."""
EMPTY_SCHEMA: dict[str, object] = {"type": "object", "properties": {}}

BASE_PROMPT = (
    "You are a helpful assistant with access to tools provided through the Model Context Protocol (MCP). "
    "Use the tools when they help answer the question; call several at once when they do not depend on each "
    "other. When a tool result starts with 'ERROR', read the message and try to fix the call or explain the "
    "problem. Base your answers on tool results rather than guesses, and say which source you used."
)


def tool_description(server: str, description: str) -> str:
    """A tool description that names its origin server first."""
    head = f"[server: {server}]"
    return f"{head} {description}" if description else head


def tool_specs(inventory: Inventory, names: ToolNameMap) -> list[ToolSpec]:
    """Every tool of the inventory under its model-facing name."""
    return [
        ToolSpec(
            name=names.model_name(tool.name),
            description=tool_description(tool.server, tool.description),
            parameters=tool.input_schema or dict(EMPTY_SCHEMA),
        )
        for tool in inventory.tools
    ]


def _servers_sentence(inventory: Inventory, servers: Sequence[ServerDetail]) -> str:
    healthy = [s.name for s in servers if s.healthy]
    unhealthy = [f"{s.name} ({s.state})" if s.state else s.name for s in servers if not s.healthy]
    if inventory.mode == "single":
        return f"You are connected to one MCP server, '{inventory.server_name}'; every tool comes from it."
    sentence = (
        f"You are connected to the Manifold proxy, which aggregates {len(servers)} MCP servers. "
        f"Healthy servers: {', '.join(healthy) if healthy else 'none'}."
    )
    if unhealthy:
        sentence += f" Unavailable right now: {', '.join(unhealthy)}."
    return sentence + " Each tool's description names the server it comes from."


def _resource_lines(resources: Sequence[LinkedResource]) -> list[str]:
    lines: list[str] = []
    budget = RESOURCE_CONTEXT_MAX_CHARS
    for resource in resources[:MAX_RESOURCES_IN_PROMPT]:
        about = f": {resource.description}" if resource.description else ""
        lines.append(f"- {resource.uri} ({resource.name}, from {resource.server}){about}")
        if resource.preview and len(resource.preview) <= budget:
            budget -= len(resource.preview)
            lines.append("  Content:\n" + "\n".join(f"    {line}" for line in resource.preview.splitlines()))
    hidden = len(resources) - MAX_RESOURCES_IN_PROMPT
    if hidden > 0:
        lines.append(f"- ... and {hidden} more resources not listed here.")
    return lines


def system_prompt(inventory: Inventory, servers: Sequence[ServerDetail]) -> str:
    """The system prompt for the current state of the link."""
    parts = [BASE_PROMPT, _servers_sentence(inventory, servers)]
    if inventory.resources:
        parts.append("Resources the servers make available (read-only context):")
        parts.extend(_resource_lines(inventory.resources))
    return "\n\n".join(parts[:2]) + ("\n\n" + "\n".join(parts[2:]) if len(parts) > 2 else "")

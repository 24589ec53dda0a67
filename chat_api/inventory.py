"""What the MCP server offers, as the chat service sees it: tools and resources with their origin.

Pure functions over the SDK's types. The origin of an item is read from the proxy's
`_meta` origin record (`ORIGIN_META_KEY`); an item without it belongs to the one server the link talks to
(single mode). Names are never taken apart to find a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import mcp_types as types

from manifold_common.proxy_contract import ORIGIN_META_KEY, PROXY_SERVER_NAME

Mode = Literal["single", "multi"]


@dataclass(frozen=True)
class LinkedTool:
    """A tool of the MCP server, with the server it really comes from."""

    name: str
    """The name the MCP server exposes (what `tools/call` takes)."""
    server: str
    original_name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class LinkedResource:
    """A resource of the MCP server, with its origin and (for small text) a preview of its content."""

    uri: str
    name: str
    server: str
    description: str = ""
    mime_type: str | None = None
    preview: str | None = None


@dataclass(frozen=True)
class ServerDetail:
    """One server behind the link, as far as the link can tell."""

    name: str
    healthy: bool
    tools: int = 0
    resources: int = 0
    state: str | None = None
    """The proxy's own word for the server's state, when it reports one."""
    last_error: str | None = None
    transport: str | None = None
    """stdio, http or sse, when the proxy reports it."""
    retry_in_s: float | None = None
    """Seconds until the proxy's next reconnect attempt, when it reports one."""
    sign_in: str | None = None
    """How to sign the proxy in to the server (a command), when it waits for a person to."""
    sign_in_url: str | None = None
    """Where a browser signs the proxy in to the server, when the proxy has an HTTP front."""
    changed_tools: tuple[str, ...] = ()
    """Tools whose definition changed since it was pinned: calls are refused until approved."""
    held_tools: tuple[str, ...] = ()
    """New tools held back until approved (`new_tools = "hold"`)."""
    flagged: tuple[str, ...] = ()
    """Descriptions the proxy's scan flagged (`kind name: rule`)."""


@dataclass(frozen=True)
class Inventory:
    """Everything the link knows about the server at one moment (swapped whole on refresh)."""

    server_name: str
    mode: Mode
    tools: tuple[LinkedTool, ...] = ()
    resources: tuple[LinkedResource, ...] = ()
    tools_by_name: Mapping[str, LinkedTool] = field(default_factory=dict[str, LinkedTool])
    reported: tuple[ServerDetail, ...] | None = None
    """Per-server state as the proxy reports it (`manifold://status`), when it does."""

    def servers(self) -> list[str]:
        """The servers behind the link: the one server in single mode, every origin seen in multi mode."""
        if self.mode == "single":
            return [self.server_name]
        if self.reported is not None:
            return [d.name for d in self.reported]
        return sorted({t.server for t in self.tools} | {r.server for r in self.resources})

    def server_details(self, *, healthy: bool) -> list[ServerDetail]:
        """Per-server state and counts: the proxy's report when there is one, else derived from origins.

        `healthy` is the link's own health; no server is healthy while the link is down.
        """
        if self.mode == "multi" and self.reported is not None:
            return [replace(d, healthy=d.healthy and healthy) for d in self.reported]
        return [
            ServerDetail(
                name=name,
                healthy=healthy,
                tools=sum(1 for t in self.tools if t.server == name),
                resources=sum(1 for r in self.resources if r.server == name),
            )
            for name in self.servers()
        ]


def origin_of(meta: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The proxy's origin record in an item's `_meta`, if it carries a well-formed one."""
    origin = (meta or {}).get(ORIGIN_META_KEY)
    if isinstance(origin, Mapping) and isinstance(origin.get("server"), str):  # pyright: ignore[reportUnknownMemberType]
        return origin  # pyright: ignore[reportUnknownVariableType]
    return None


def is_proxy(server_info: types.Implementation | None) -> bool:
    """Whether the server calls itself by the proxy's name."""
    return server_info is not None and server_info.name == PROXY_SERVER_NAME


def detect_mode(server_info: types.Implementation | None, tools: Iterable[types.Tool]) -> Mode:
    """`multi` when the server says it is the proxy (its name, or origin metadata on its tools)."""
    if is_proxy(server_info):
        return "multi"
    return "multi" if any(origin_of(t.meta) is not None for t in tools) else "single"


def link_tool(tool: types.Tool, default_server: str) -> LinkedTool:
    """A `LinkedTool` for an MCP tool; `default_server` owns tools without origin metadata."""
    origin = origin_of(tool.meta)
    server = str(origin["server"]) if origin else default_server
    original = origin.get("name") if origin else None
    return LinkedTool(
        name=tool.name,
        server=server,
        original_name=original if isinstance(original, str) else tool.name,
        description=(tool.description or tool.title or "").strip(),
        input_schema=dict(tool.input_schema),
    )


def link_resource(resource: types.Resource, default_server: str, preview: str | None = None) -> LinkedResource:
    """A `LinkedResource` for an MCP resource."""
    origin = origin_of(resource.meta)
    return LinkedResource(
        uri=resource.uri,
        name=resource.title or resource.name,
        server=str(origin["server"]) if origin else default_server,
        description=(resource.description or "").strip(),
        mime_type=resource.mime_type,
        preview=preview,
    )


def server_name_of(server_info: types.Implementation | None) -> str:
    """The name the server gives itself, or a neutral one when it gives none."""
    return server_info.name if server_info is not None and server_info.name else "server"


def build_inventory(
    server_info: types.Implementation | None,
    tools: Sequence[types.Tool],
    resources: Sequence[LinkedResource] = (),
    reported: tuple[ServerDetail, ...] | None = None,
) -> Inventory:
    """Assemble an `Inventory` from what the server listed (resources already linked)."""
    server_name = server_name_of(server_info)
    linked_tools = tuple(link_tool(t, server_name) for t in tools)
    return Inventory(
        server_name=server_name,
        mode=detect_mode(server_info, tools),
        tools=linked_tools,
        resources=tuple(resources),
        tools_by_name={t.name: t for t in linked_tools},
        reported=reported,
    )

"""The proxy's downstream MCP server: list handlers served from the catalog, calls routed upstream.

One low-level `Server` serves every front transport and both protocol eras. List requests are
answered from the registry's current catalog; calls are routed by exact lookup and forwarded
to the owning upstream with the caller's progress token honoured. Changes to the catalog are
announced to every connected client: pushed to handshake-era sessions, published on the
subscription bus for modern-era `subscriptions/listen` streams.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import mcp_types as types
from mcp import MCPError
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ServerEvent,
    ToolsListChanged,
)

from . import __version__
from .catalog import ChangedList, ListKind
from .errors import ManifoldError, UnknownNameError, UpstreamError, to_mcp_error
from .logging import get_logger
from .naming import expose_uri
from .registry import Registry

log = get_logger("mcp_proxy.server")

SERVER_NAME = "manifold"
SERVER_TITLE = "Manifold MCP proxy"

# `_meta` keys that belong to the downstream connection and must not be forwarded upstream:
# the upstream session mints its own protocol stamps and progress token.
_HOP_META_PREFIX = "io.modelcontextprotocol/"
_HOP_META_KEYS = frozenset({"progress_token", "progressToken"})

Ctx = ServerRequestContext[Any, Any]
R = TypeVar("R")

_EVENTS: dict[ChangedList, ServerEvent] = {
    "tools": ToolsListChanged(),
    "resources": ResourcesListChanged(),
    "prompts": PromptsListChanged(),
}


class _AggregatingServer(Server[Any]):
    """A low-level server that always advertises `listChanged` to handshake-era clients.

    The streamable HTTP session manager builds initialization options without notification
    options, which would tell those clients that the lists never change.
    """

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options
            or NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True),
            experimental_capabilities,
            extensions,
        )


def forwardable_meta(meta: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The caller's `_meta` minus the keys that belong to the downstream hop."""
    if not meta:
        return None
    kept = {k: v for k, v in meta.items() if not k.startswith(_HOP_META_PREFIX) and k not in _HOP_META_KEYS}
    return kept or None


def _without_server_info(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    if not meta or types.SERVER_INFO_META_KEY not in meta:
        return meta
    return {k: v for k, v in meta.items() if k != types.SERVER_INFO_META_KEY} or None


class ProxyServer:
    """The MCP server clients talk to, backed by a `Registry` of upstreams."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.bus = InMemorySubscriptionBus()
        self._legacy_sessions: dict[int, ServerSession] = {}
        self.server = _AggregatingServer(
            SERVER_NAME,
            version=__version__,
            title=SERVER_TITLE,
            get_tool_input_schema=lambda name: registry.catalog.tool_input_schema(name),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_subscriptions_listen=ListenHandler(self.bus),
        )
        self.server.add_notification_handler(
            "notifications/initialized", types.NotificationParams, self._on_initialized
        )
        registry.add_listener(self.announce_changes)

    # ---- change announcements --------------------------------------------------------

    async def _on_initialized(self, ctx: Ctx, params: types.NotificationParams) -> None:
        # The session object is per message, but a captured one stays usable for the life of the
        # connection; the connection's exit stack tells us when to forget it.
        connection = ctx.session._connection  # pyright: ignore[reportPrivateUsage]
        key = id(connection)
        self._legacy_sessions[key] = ctx.session
        connection.exit_stack.callback(self._legacy_sessions.pop, key, None)

    async def announce_changes(self, kinds: set[ChangedList]) -> None:
        """Tell every connected client which lists changed."""
        for kind in sorted(kinds):
            await self.bus.publish(_EVENTS[kind])
        for session in list(self._legacy_sessions.values()):
            if "tools" in kinds:
                await session.send_tool_list_changed()
            if "resources" in kinds:
                await session.send_resource_list_changed()
            if "prompts" in kinds:
                await session.send_prompt_list_changed()
        log.info("list_changed_sent", kinds=sorted(kinds), legacy_sessions=len(self._legacy_sessions))

    # ---- lists -----------------------------------------------------------------------

    def _page(self, kind: ListKind, params: types.PaginatedRequestParams | None) -> tuple[list[Any], str | None]:
        cursor = params.cursor if params is not None else None
        return self.registry.catalog.page(kind, cursor, self.registry.config.proxy.page_size)

    async def _list_tools(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        async def page() -> types.ListToolsResult:
            items, cursor = self._page("tools", params)
            return types.ListToolsResult(tools=items, next_cursor=cursor)

        return await _guard(page)

    async def _list_resources(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        async def page() -> types.ListResourcesResult:
            items, cursor = self._page("resources", params)
            return types.ListResourcesResult(resources=items, next_cursor=cursor)

        return await _guard(page)

    async def _list_resource_templates(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        async def page() -> types.ListResourceTemplatesResult:
            items, cursor = self._page("resource_templates", params)
            return types.ListResourceTemplatesResult(resource_templates=items, next_cursor=cursor)

        return await _guard(page)

    async def _list_prompts(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        async def page() -> types.ListPromptsResult:
            items, cursor = self._page("prompts", params)
            return types.ListPromptsResult(prompts=items, next_cursor=cursor)

        return await _guard(page)

    # ---- calls -----------------------------------------------------------------------

    async def _call_tool(self, ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        async def call() -> types.CallToolResult:
            route = self.registry.catalog.route_tool(params.name)
            if route is None:
                raise UnknownNameError("tool", params.name)
            upstream = self.registry.upstreams[route.server]
            try:
                result = await upstream.call_tool(
                    route.original,
                    params.arguments,
                    meta=forwardable_meta(ctx.meta),
                    progress=ctx.session.report_progress,
                )
            except UpstreamError as exc:
                # The model should see why the tool failed and act on it, so this is a tool
                # result, not a protocol error.
                log.warning("tool_call_unavailable", server=route.server, tool=route.original, error=str(exc))
                return types.CallToolResult(content=[types.TextContent(type="text", text=str(exc))], is_error=True)
            if result.meta:
                result.meta = _without_server_info(result.meta)
            return result

        return await _guard(call)

    async def _read_resource(self, ctx: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        async def read() -> types.ReadResourceResult:
            route = self.registry.catalog.route_resource(params.uri)
            if route is None:
                raise UnknownNameError("resource", params.uri)
            upstream = self.registry.upstreams[route.server]
            result = await upstream.read_resource(route.original, meta=forwardable_meta(ctx.meta))
            prefix = upstream.config.exposed_prefix
            if prefix:
                # Clients match contents to what they asked for: show the URI in the exposed form.
                result.contents = [
                    c.model_copy(update={"uri": params.uri if c.uri == route.original else expose_uri(prefix, c.uri)})
                    for c in result.contents
                ]
            if result.meta:
                result.meta = _without_server_info(result.meta)
            return result

        return await _guard(read)

    async def _get_prompt(self, ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        async def get() -> types.GetPromptResult:
            route = self.registry.catalog.route_prompt(params.name)
            if route is None:
                raise UnknownNameError("prompt", params.name)
            upstream = self.registry.upstreams[route.server]
            result = await upstream.get_prompt(route.original, params.arguments, meta=forwardable_meta(ctx.meta))
            if result.meta:
                result.meta = _without_server_info(result.meta)
            return result

        return await _guard(get)


async def _guard(operation: Callable[[], Awaitable[R]]) -> R:
    """Run a handler body so that only deliberate MCP errors reach the client.

    Unexpected exceptions are logged with their traceback here and become a plain internal
    error: handshake-era clients would otherwise receive `str(exc)`.
    """
    try:
        return await operation()
    except MCPError:
        raise
    except ManifoldError as exc:
        raise to_mcp_error(exc) from exc
    except Exception as exc:
        log.exception("handler_failed", error=repr(exc))
        raise to_mcp_error(exc) from exc

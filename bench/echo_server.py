"""A minimal upstream for the benchmark: an echo, a large result, 20 tools and cacheable resources.

    python -m bench.echo_server [--transport stdio|http] [--port 0]

It is built on the SDK's low-level `Server`, so the upstream's own cost stays small and equal
for the direct and the proxied runs. Resource reads carry freshness hints (`ttlMs`, public
`cacheScope`), so a proxy may reuse them. The readiness line on stderr follows the example
servers' format (`MANIFOLD_EXAMPLE_READY transport=... url=... pid=...`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import anyio
import mcp_types as types
from mcp.server import CacheHint, Server, ServerRequestContext
from mcp.server.stdio import stdio_server

from examples.servers._serve import (
    STREAMABLE_HTTP_PATH,
    ServeOptions,
    announce_ready,
    configure_logging,
    parse_args,
    serve_asgi,
)

TOOL_COUNT = 20
ECHO_TOOL = "echo"
BIG_TOOL = "big"
RESOURCE_COUNT = 4
RESOURCE_URI_PREFIX = "bench://resource/"
RESOURCE_TEXT_BYTES = 2048
# Long enough to span a whole benchmark run; the proxy's own TTL is the shorter bound.
RESOURCE_TTL_MS = 600_000
MAX_BIG_BYTES = 8 * 1024 * 1024

Ctx = ServerRequestContext[Any, Any]


def _tool(name: str, description: str, properties: dict[str, Any]) -> types.Tool:
    return types.Tool(
        name=name,
        description=description,
        input_schema={"type": "object", "properties": properties},
    )


def _tools() -> list[types.Tool]:
    tools = [
        _tool(ECHO_TOOL, "Return the text it is given.", {"text": {"type": "string"}}),
        _tool(BIG_TOOL, "Return `size` bytes of text.", {"size": {"type": "integer", "minimum": 0}}),
    ]
    fillers = TOOL_COUNT - len(tools)
    tools += [
        _tool(f"noop_{index:02d}", f"Do nothing (listing filler {index}).", {"value": {"type": "string"}})
        for index in range(fillers)
    ]
    return tools


def resource_uris() -> list[str]:
    """The URIs of the resources the server offers."""
    return [f"{RESOURCE_URI_PREFIX}{index}" for index in range(RESOURCE_COUNT)]


def _text_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


def build_server(name: str = "bench-echo") -> Server[Any]:
    """The benchmark upstream as a low-level SDK server."""
    tools = _tools()

    async def list_tools(_: Ctx, __: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(_: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = params.arguments or {}
        if params.name == ECHO_TOOL:
            return _text_result(str(arguments.get("text", "")))
        if params.name == BIG_TOOL:
            size = max(0, min(int(arguments.get("size", 0)), MAX_BIG_BYTES))
            return _text_result("x" * size)
        return _text_result("")

    async def list_resources(_: Ctx, __: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=uri, name=uri.rsplit("/", 1)[1], mime_type="text/plain") for uri in resource_uris()
            ]
        )

    async def read_resource(_: Ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        # The freshness hints come from `cache_hints` below (the SDK fills them in).
        body = (params.uri + " ") * (RESOURCE_TEXT_BYTES // (len(params.uri) + 1))
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=params.uri, mime_type="text/plain", text=body)]
        )

    return Server(
        name,
        version="1",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
        cache_hints={"resources/read": CacheHint(ttl_ms=RESOURCE_TTL_MS, scope="public")},
    )


async def _serve_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        announce_ready(transport="stdio")
        await server.run(read, write, server.create_initialization_options())


def serve(options: ServeOptions) -> None:
    """Serve the benchmark upstream until interrupted (stdio: until stdin closes)."""
    server = build_server()
    if options.transport == "stdio":
        anyio.run(_serve_stdio, server)
    elif options.transport == "http":
        app = server.streamable_http_app(streamable_http_path=STREAMABLE_HTTP_PATH, host=options.host)
        serve_asgi(app, options, STREAMABLE_HTTP_PATH)
    else:
        sys.exit(f"bench.echo_server: transport {options.transport!r} is not offered (use stdio or http)")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: `python -m bench.echo_server`."""
    options = parse_args(argv, prog="python -m bench.echo_server", description="Benchmark echo upstream.")
    configure_logging(options.log_level)
    serve(options)


if __name__ == "__main__":
    main()

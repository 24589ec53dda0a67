"""Serve a low-level MCP `Server` over stdio, legacy SSE or streamable HTTP, like the example servers.

The command line, logging and readiness line are those of `examples.servers._serve` (see its
docstring), so the conformance runner waits for the fixture exactly as tests wait for the
examples. The difference: the fixture is a low-level `Server` (for exact wire control), and its
streamable HTTP endpoint keeps an event store so streams can be resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from mcp.server import Server
from mcp.server.sse import SseServerTransport
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from examples.servers._serve import (
    SSE_MESSAGES_PATH,
    SSE_PATH,
    STREAMABLE_HTTP_PATH,
    ServeOptions,
    announce_ready,
    configure_logging,
    parse_args,
    serve_asgi,
)
from tests.conformance.event_store import InMemoryEventStore

# Sent in the priming event of every resumable stream: how soon a client should reconnect after
# the server closes a stream mid-call. Short, because the suite waits on it.
SSE_RETRY_MILLISECONDS = 200
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve_main(server: Server[Any], argv: Sequence[str] | None, *, prog: str, description: str) -> None:
    """Parse the common command line and serve `server` until interrupted."""
    options = parse_args(argv, prog=prog, description=description)
    configure_logging(options.log_level)
    serve(server, options)


def serve(server: Server[Any], options: ServeOptions) -> None:
    """Serve `server` on the transport `options` names; blocks until the server stops."""
    if options.transport == "stdio":
        announce_ready(transport="stdio")
        anyio.run(_run_stdio, server)
    elif options.transport == "sse":
        serve_asgi(sse_app(server, options.host), options, SSE_PATH)
    else:
        app = server.streamable_http_app(
            streamable_http_path=STREAMABLE_HTTP_PATH,
            host=options.host,
            event_store=InMemoryEventStore(),
            retry_interval=SSE_RETRY_MILLISECONDS,
        )
        serve_asgi(app, options, STREAMABLE_HTTP_PATH)


async def _run_stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def local_security(host: str) -> TransportSecuritySettings | None:
    """Host/Origin checks for a loopback bind (the SDK's own default); none for other binds."""
    if host not in _LOCAL_HOSTS:
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
    )


class _SseConnection:
    """The ASGI app behind `GET /sse`: one MCP connection per SSE stream."""

    def __init__(self, server: Server[Any], transport: SseServerTransport) -> None:
        self._server = server
        self._transport = transport

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._transport.connect_sse(scope, receive, send) as (read_stream, write_stream):
            await self._server.run(read_stream, write_stream, self._server.create_initialization_options())


def sse_app(server: Server[Any], host: str) -> Starlette:
    """The legacy HTTP+SSE transport: `GET /sse` opens a connection, `POST /messages/` feeds it."""
    transport = SseServerTransport(SSE_MESSAGES_PATH, security_settings=local_security(host))
    return Starlette(
        routes=[
            Route(SSE_PATH, endpoint=_SseConnection(server, transport), methods=["GET"]),
            Mount(SSE_MESSAGES_PATH, app=transport.handle_post_message),
        ]
    )

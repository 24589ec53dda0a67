"""Serving the HTTP front in-process on a real loopback socket, over in-memory upstreams."""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn
from mcp.server import MCPServer
from starlette.types import ASGIApp

from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig
from mcp_proxy.http_app import FrontOptions, build_http_app
from mcp_proxy.listeners import EmbeddedServer, listening_socket, socket_url
from tests.mcp_proxy.harness import MemoryUpstreams, UpstreamFactory
from tests.upstreams import build_upstream

START_DEADLINE = 20.0
POLL_INTERVAL = 0.01
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}


def front_config(
    servers: Mapping[str, Mapping[str, Any]], security: Mapping[str, Any] | None = None, **proxy: Any
) -> ProxyConfig:
    """A config in the TOML shape with a `[security]` table; servers use a placeholder stdio command."""
    data: dict[str, Any] = {
        "proxy": {"startup_timeout": 5, **proxy},
        "security": dict(security or {}),
        "servers": {name: {"transport": "stdio", "command": "unused", **cfg} for name, cfg in servers.items()},
    }
    return parse_config_data(data, "test.toml", environ={})


@asynccontextmanager
async def serving(
    app: ASGIApp, graceful_shutdown: int | None = None, *, sock: socket.socket | None = None
) -> AsyncGenerator[str]:
    """Run `app` (lifespan included) on a free loopback port (or on `sock`); yields its base URL.

    `graceful_shutdown` bounds how long open connections (event streams) may delay the stop.
    """
    sock = sock or listening_socket("127.0.0.1", 0)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=graceful_shutdown
    )
    server = EmbeddedServer(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        with anyio.fail_after(START_DEADLINE):
            while not server.started:
                await anyio.sleep(POLL_INTERVAL)
        try:
            yield socket_url(sock)
        finally:
            server.should_exit = True


@asynccontextmanager
async def http_front(
    upstreams: Mapping[str, MCPServer | UpstreamFactory] | None = None,
    *,
    servers: Mapping[str, Mapping[str, Any]] | None = None,
    security: Mapping[str, Any] | None = None,
    options: FrontOptions | None = None,
) -> AsyncGenerator[str]:
    """The HTTP front over in-memory upstreams (by default one named "alpha"); yields its base URL."""
    upstreams = upstreams if upstreams is not None else {"alpha": build_upstream("alpha")}
    config = front_config(servers if servers is not None else {name: {} for name in upstreams}, security)
    app = build_http_app(config, options, transport_factory=MemoryUpstreams(upstreams))
    async with serving(app) as url:
        yield url

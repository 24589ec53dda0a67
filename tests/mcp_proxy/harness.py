"""Running the proxy in-process over in-memory upstreams, for fast integration tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from mcp.client._memory import InMemoryTransport  # pyright: ignore[reportPrivateUsage]
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.server import MCPServer, Server

from mcp_proxy.app import Proxy, running_proxy
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ProxyConfig, ServerConfig

UpstreamFactory = Callable[[], AbstractAsyncContextManager[TransportStreams]]


def make_config(servers: Mapping[str, Mapping[str, Any]], **proxy: Any) -> ProxyConfig:
    """A config in the TOML shape; servers default to a placeholder stdio command."""
    data: dict[str, Any] = {
        "proxy": {"startup_timeout": 5, **proxy},
        "servers": {name: {"transport": "stdio", "command": "unused", **cfg} for name, cfg in servers.items()},
    }
    return parse_config_data(data, "test.toml", environ={})


class MemoryUpstreams:
    """Maps server names to in-memory servers (or custom transports) for the proxy to connect to."""

    def __init__(self, servers: Mapping[str, MCPServer | Server[Any] | UpstreamFactory]) -> None:
        self.servers = dict(servers)
        self.connects: dict[str, int] = {}

    def __call__(self, config: ServerConfig) -> AbstractAsyncContextManager[TransportStreams]:
        self.connects[config.name] = self.connects.get(config.name, 0) + 1
        target = self.servers[config.name]
        if isinstance(target, MCPServer | Server):
            return InMemoryTransport(target)
        return target()


@asynccontextmanager
async def proxy_over(
    upstreams: Mapping[str, MCPServer | Server[Any] | UpstreamFactory],
    servers: Mapping[str, Mapping[str, Any]] | None = None,
    **proxy: Any,
) -> AsyncGenerator[Proxy]:
    """A running proxy whose upstreams are the given in-memory servers."""
    config = make_config(servers if servers is not None else {name: {} for name in upstreams}, **proxy)
    async with running_proxy(config, transport_factory=MemoryUpstreams(upstreams)) as running:
        yield running


@asynccontextmanager
async def failing_transport(message: str = "refused") -> AsyncGenerator[TransportStreams]:
    """A transport whose connection attempt always fails, like a refused port."""
    raise ConnectionRefusedError(message)
    yield  # pragma: no cover


def blocked_transport(gate: anyio.Event, server: MCPServer) -> UpstreamFactory:
    """A transport that connects to `server` only once `gate` is set (a late server)."""

    @asynccontextmanager
    async def connect() -> AsyncGenerator[TransportStreams]:
        await gate.wait()
        async with InMemoryTransport(server) as streams:
            yield streams

    return connect

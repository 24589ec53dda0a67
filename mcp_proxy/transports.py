"""Client transports to upstream servers: one async context manager per configured server.

A transport is only a way to get a `(read, write)` stream pair; the session on top of it
does not know which one it holds. The stdio transport owns a child process, which the SDK
starts in its own process group and kills (with its whole tree) when the context exits.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TextIO

import httpx2
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from .config import ServerConfig

TransportFactory = Callable[[ServerConfig], AbstractAsyncContextManager[TransportStreams]]
"""Opens the connection to one configured server; tests substitute in-memory servers."""

# Connect/write budget for HTTP upstreams; reads may legitimately idle for a long time on an
# SSE stream, so they get their own, much longer, budget.
HTTP_CONNECT_TIMEOUT = 10.0
HTTP_STREAM_READ_TIMEOUT = 300.0


def open_transport(config: ServerConfig) -> AbstractAsyncContextManager[TransportStreams]:
    """Return the context manager that connects to `config`'s server over its transport."""
    if config.transport == "stdio":
        return _stdio(config, sys.stderr)
    if config.transport == "sse":
        return _sse(config)
    return _streamable_http(config)


def _secret_values(values: dict[str, object]) -> dict[str, str]:
    # Secrets stay wrapped everywhere else; they are revealed only at the moment of use.
    out: dict[str, str] = {}
    for key, value in values.items():
        reveal = getattr(value, "get_secret_value", None)
        out[key] = str(reveal() if callable(reveal) else value)
    return out


@asynccontextmanager
async def _stdio(config: ServerConfig, errlog: TextIO) -> AsyncGenerator[TransportStreams]:
    if config.command is None:  # the config model guarantees it; this keeps the type checker honest
        raise ValueError(f"server '{config.name}' has no command")
    params = StdioServerParameters(
        command=config.command,
        args=list(config.args),
        env=_secret_values(dict(config.env)) or None,
        cwd=config.cwd,
    )
    async with stdio_client(params, errlog=errlog) as streams:
        yield streams


@asynccontextmanager
async def _sse(config: ServerConfig) -> AsyncGenerator[TransportStreams]:
    assert config.url is not None
    async with sse_client(
        config.url,
        headers=_secret_values(dict(config.headers)) or None,
        timeout=HTTP_CONNECT_TIMEOUT,
        sse_read_timeout=HTTP_STREAM_READ_TIMEOUT,
    ) as streams:
        yield streams


@asynccontextmanager
async def _streamable_http(config: ServerConfig) -> AsyncGenerator[TransportStreams]:
    assert config.url is not None
    timeout = httpx2.Timeout(HTTP_CONNECT_TIMEOUT, read=HTTP_STREAM_READ_TIMEOUT)
    headers = _secret_values(dict(config.headers))
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http_client,
        streamable_http_client(config.url, http_client=http_client) as streams,
    ):
        yield streams

"""Client transports to upstream servers: one async context manager per configured server.

A transport is only a way to get a `(read, write)` stream pair; the session on top of it
does not know which one it holds. The stdio transport owns a child process, started in its own
process group and killed (with its whole tree) when the context exits (see `stdio_upstream.py`).

A stdio child's command comes from the configuration only, never from a client. Its
environment is the SDK's minimal default set (HOME, LOGNAME, PATH, SHELL, TERM, USER), plus the
proxy's own variables the server lists in `inherit_env`, plus its configured `env`. What it
writes on stderr is logged line by line as `upstream_stderr` events (see `stderr_relay.py`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx2
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from .child_guard import guarded_command
from .config import ServerConfig
from .stderr_relay import stderr_relay
from .stdio_upstream import stdio_upstream

TransportFactory = Callable[[ServerConfig], AbstractAsyncContextManager[TransportStreams]]
"""Opens the connection to one configured server; tests substitute in-memory servers."""

# Connect/write budget for HTTP upstreams; reads may legitimately idle for a long time on an
# SSE stream, so they get their own, much longer, budget.
HTTP_CONNECT_TIMEOUT = 10.0
HTTP_STREAM_READ_TIMEOUT = 300.0


def open_transport(config: ServerConfig) -> AbstractAsyncContextManager[TransportStreams]:
    """Return the context manager that connects to `config`'s server over its transport."""
    if config.transport == "stdio":
        return _stdio(config)
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


def child_environment(config: ServerConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a stdio server gets on top of the SDK's minimal default set: `inherit_env`, then `env`."""
    environ = os.environ if environ is None else environ
    inherited = {name: environ[name] for name in config.inherit_env if name in environ}
    return inherited | _secret_values(dict(config.env))


@asynccontextmanager
async def _stdio(config: ServerConfig) -> AsyncGenerator[TransportStreams]:
    if config.command is None:  # the config model guarantees it; this keeps the type checker honest
        raise ValueError(f"server '{config.name}' has no command")
    env = child_environment(config)
    cwd = str(config.cwd) if config.cwd is not None else None
    command, args = guarded_command(config.command, list(config.args), path=env.get("PATH"), cwd=cwd)
    params = StdioServerParameters(
        command=command,
        args=args,
        env=env or None,
        cwd=config.cwd,
    )
    async with stderr_relay(config.name) as errlog, stdio_upstream(params, errlog) as streams:
        errlog.close()  # the child holds its own copy; ours would keep the pipe open after it exits
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

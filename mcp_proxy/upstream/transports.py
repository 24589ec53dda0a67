"""Client transports to upstream servers: one async context manager per configured server.

A transport is only a way to get a `(read, write)` stream pair; the session on top of it
does not know which one it holds. The stdio transport owns a child process, started in its own
process group and killed (with its whole tree) when the context exits (see `stdio_upstream.py`).

A stdio child's command comes from the configuration only, never from a client. Its
environment is the minimal default set (HOME, LOGNAME, PATH, SHELL, TERM, USER), plus the
proxy's own variables the server lists in `inherit_env`, plus its configured `env`. What it
writes on stderr is logged line by line as `upstream_stderr` events (see `stderr_relay.py`).

A streamable-HTTP server gets a raw lane beside its streams (`http_lane.py`) unless it signs in
with `auth` or an environment proxy applies to it; a stdio server's lane is `stdio.py`'s.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import httpx2
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from manifold_common.http_transport import HTTP_CONNECT_TIMEOUT, HTTP_STREAM_READ_TIMEOUT
from manifold_common.logging import get_logger

from ..config.models import ServerConfig
from .child_spec import child_spec, reveal_secrets
from .prelaunch import Prelaunched
from .stderr_relay import relaying_stderr, stderr_relay
from .stdio import stdio_upstream

log = get_logger(__name__)


class AuthSource(Protocol):
    """Where an HTTP transport gets the `httpx2.Auth` it sends a server's requests with."""

    def auth_for(self, config: ServerConfig) -> httpx2.Auth | None:
        """The authentication for `config`'s server, or None."""
        ...


TransportFactory = Callable[[ServerConfig], AbstractAsyncContextManager[TransportStreams]]
"""Opens the connection to one configured server; tests substitute in-memory servers."""


def open_transport(
    config: ServerConfig,
    prelaunched: Prelaunched | None = None,
    credentials: AuthSource | None = None,
    *,
    lanes: bool = True,
) -> AbstractAsyncContextManager[TransportStreams]:
    """Return the context manager that connects to `config`'s server over its transport.

    A stdio server adopts its child from `prelaunched` when one was started ahead of time. An
    HTTP server with `auth` sends its requests with the provider `credentials` holds for it.
    Without `lanes` no transport opens a raw lane: every request goes through the SDK's session.
    """
    if config.transport == "stdio":
        return _stdio(config, prelaunched, lanes)
    auth = credentials.auth_for(config) if credentials is not None else None
    if config.transport == "sse":
        return _sse(config, auth)
    return _streamable_http(config, auth, lanes)


@asynccontextmanager
async def _stdio(
    config: ServerConfig, prelaunched: Prelaunched | None, lanes: bool
) -> AsyncGenerator[TransportStreams]:
    spec = child_spec(config)
    params = StdioServerParameters(command=spec.command, args=list(spec.args), env=spec.environ, cwd=spec.cwd)
    launched = prelaunched.take(config.name, spec) if prelaunched is not None else None
    if launched is not None:  # started ahead of time, exactly as it would be here
        log.debug("upstream_adopted", server=config.name, pid=launched.process.pid)
        async with (
            relaying_stderr(config.name, launched.stderr_fd),
            stdio_upstream(params, None, adopt=launched.process, name=config.name, lane=lanes) as streams,
        ):
            yield streams
        return
    async with (
        stderr_relay(config.name) as errlog,
        stdio_upstream(params, errlog, name=config.name, lane=lanes) as streams,
    ):
        errlog.close()  # the child holds its own copy; ours would keep the pipe open after it exits
        yield streams


@asynccontextmanager
async def _sse(config: ServerConfig, auth: httpx2.Auth | None) -> AsyncGenerator[TransportStreams]:
    assert config.url is not None
    async with sse_client(
        config.url,
        headers=reveal_secrets(dict(config.headers)) or None,
        timeout=HTTP_CONNECT_TIMEOUT,
        sse_read_timeout=HTTP_STREAM_READ_TIMEOUT,
        auth=auth,
    ) as streams:
        yield streams


@asynccontextmanager
async def _streamable_http(
    config: ServerConfig, auth: httpx2.Auth | None, lanes: bool
) -> AsyncGenerator[TransportStreams]:
    assert config.url is not None
    # The lane's HTTP client (aiohttp) costs about 9 MB and half a second of import: a proxy loads
    # it when its first streamable-HTTP server connects, so one with only stdio servers never does.
    from .http_lane import lane_fits, laned_streamable_http

    timeout = httpx2.Timeout(HTTP_CONNECT_TIMEOUT, read=HTTP_STREAM_READ_TIMEOUT)
    headers = reveal_secrets(dict(config.headers))
    async with httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth) as http_client:
        if not lanes or not lane_fits(config.url, auth):
            async with streamable_http_client(config.url, http_client=http_client) as streams:
                yield streams
            return
        async with laned_streamable_http(config.url, http_client, headers) as streams:
            yield streams

"""Where the one MCP link goes, and how to open it.

Resolution order (first match wins):

1. A proxy configuration file: `MCP_CONFIG_PATH`, else `config/mcp-servers.json`, else
   `/etc/mcp/servers.json`. The service launches the proxy itself over stdio with it
   (`python -m mcp_proxy serve --transport stdio --config PATH`), one process tree. The file is
   validated first; when it cannot be used, or the launched proxy never comes up, the link falls
   back to the next choice and logs why. Adding a config file and restarting is the whole
   migration from one server to many.
2. `MCP_SERVER_COMMAND`: any command that serves MCP over stdio.
3. `MCP_SERVER_URL` (default: the proxy at `http://127.0.0.1:8000/mcp`); a URL whose path ends
   in `/sse` is a legacy SSE server, anything else streamable HTTP.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx2
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from manifold_common.logging import get_logger
from mcp_proxy.config.loading import CONFIG_PATH_ENV, load_config
from mcp_proxy.core.errors import ConfigError

log = get_logger(__name__)

CONFIG_SEARCH_PATHS: tuple[Path, ...] = (Path("config/mcp-servers.json"), Path("/etc/mcp/servers.json"))
"""Files that make the service launch the proxy when `MCP_CONFIG_PATH` is not set."""

# Connecting and sending are quick; reads on an SSE stream may idle for a long time.
HTTP_CONNECT_TIMEOUT = 10.0
HTTP_STREAM_READ_TIMEOUT = 300.0

TargetKind = Literal["http", "sse", "stdio"]


@dataclass(frozen=True)
class LinkTarget:
    """One way to reach an MCP server."""

    kind: TargetKind
    url: str | None = None
    command: tuple[str, ...] = ()
    launches_proxy: bool = False
    """A stdio target that is our own proxy, started with a configuration file."""

    def describe(self) -> str:
        """A short, secret-free description for logs and status."""
        if self.kind == "stdio":
            program = Path(self.command[0]).name if self.command else "?"
            shown = " ".join([program, *self.command[1:]])
            return f"stdio: {shown}"
        return f"{self.kind}: {_without_credentials(self.url or '')}"


@dataclass(frozen=True)
class TargetPlan:
    """The target to try first and the one to fall back to if it never comes up."""

    primary: LinkTarget
    fallback: LinkTarget | None = None
    config_path: Path | None = None


def url_target(url: str) -> LinkTarget:
    """A target for an MCP URL: legacy SSE when the path ends in `/sse`, streamable HTTP otherwise."""
    path = urlsplit(url).path.rstrip("/")
    return LinkTarget(kind="sse" if path.endswith("/sse") else "http", url=url)


def command_target(command: str) -> LinkTarget:
    """A stdio target for a shell-style command line."""
    parts = tuple(shlex.split(command))
    if not parts:
        raise ValueError("MCP_SERVER_COMMAND is empty")
    return LinkTarget(kind="stdio", command=parts)


def proxy_target(config_path: Path) -> LinkTarget:
    """The proxy launched over stdio by this interpreter with `config_path`."""
    command = (sys.executable, "-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config_path))
    return LinkTarget(kind="stdio", command=command, launches_proxy=True)


def find_config(
    explicit: str | None, search_paths: Sequence[Path] = CONFIG_SEARCH_PATHS, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The proxy configuration to launch with: `explicit` (MCP_CONFIG_PATH), else the first existing default."""
    environ = os.environ if environ is None else environ
    given = explicit or environ.get(CONFIG_PATH_ENV)
    if given:
        return Path(given).expanduser()
    return next((path for path in search_paths if path.is_file()), None)


def plan_targets(
    *,
    server_url: str,
    server_command: str | None,
    config_path: Path | None,
) -> TargetPlan:
    """Decide the primary target and the fallback from the three settings (see the module docstring)."""
    direct = command_target(server_command) if server_command else url_target(server_url)
    if config_path is None:
        return TargetPlan(primary=direct)
    problem = config_problem(config_path)
    if problem is not None:
        log.warning("proxy_config_unusable", config=str(config_path), error=problem, fallback=direct.describe())
        return TargetPlan(primary=direct, config_path=config_path)
    return TargetPlan(primary=proxy_target(config_path), fallback=direct, config_path=config_path)


def config_problem(path: Path) -> str | None:
    """Why the proxy could not start with `path`, or None when the file loads and validates."""
    try:
        load_config(path)
    except ConfigError as exc:
        return str(exc)
    return None


def open_target(
    target: LinkTarget, *, request_timeout: float, token: str | None = None
) -> AbstractAsyncContextManager[TransportStreams]:
    """The transport context manager that connects to `target` (with a bearer token over HTTP)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if target.kind == "stdio":
        return _stdio(target)
    if target.kind == "sse":
        return _sse(target, request_timeout, headers)
    return _streamable_http(target, headers)


@asynccontextmanager
async def _stdio(target: LinkTarget) -> AsyncGenerator[TransportStreams]:
    # The child inherits the whole environment: a launched proxy expands ${VAR} from it and its
    # own stdio servers need PATH. Its stderr (logs) is ours.
    params = StdioServerParameters(
        command=target.command[0], args=list(target.command[1:]), env=dict(os.environ), cwd=os.getcwd()
    )
    async with stdio_client(params, errlog=sys.stderr) as streams:
        yield streams


@asynccontextmanager
async def _sse(target: LinkTarget, request_timeout: float, headers: dict[str, str]) -> AsyncGenerator[TransportStreams]:
    assert target.url is not None
    async with sse_client(
        target.url,
        headers=headers or None,
        timeout=min(request_timeout, HTTP_CONNECT_TIMEOUT),
        sse_read_timeout=HTTP_STREAM_READ_TIMEOUT,
    ) as streams:
        yield streams


@asynccontextmanager
async def _streamable_http(target: LinkTarget, headers: dict[str, str]) -> AsyncGenerator[TransportStreams]:
    assert target.url is not None
    timeout = httpx2.Timeout(HTTP_CONNECT_TIMEOUT, read=HTTP_STREAM_READ_TIMEOUT)
    async with (
        httpx2.AsyncClient(timeout=timeout, headers=headers) as http_client,
        streamable_http_client(target.url, http_client=http_client) as streams,
    ):
        yield streams


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=host).geturl()

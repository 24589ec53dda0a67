"""Where the one MCP link goes, and how to open it.

Resolution order (first match wins):

1. A proxy configuration file: `MCP_CONFIG_PATH`, else `config/mcp-servers.json`, else
   `/etc/mcp/servers.json`. The service launches the proxy itself over stdio with it
   (`python -m mcp_proxy serve --transport stdio --config PATH`), one process tree. The proxy
   judges the file first (`python -m mcp_proxy check --config PATH`, see `check_proxy_config`):
   the service never parses the proxy's configuration itself. When the proxy refuses the file,
   or the launched proxy never comes up, the link falls back to the next choice and logs why in
   the proxy's own words. Adding a config file and restarting is the whole migration from one
   server to many.
2. `MCP_SERVER_COMMAND`: any command that serves MCP over stdio.
3. `MCP_SERVER_URL` (default: the proxy at `http://127.0.0.1:8000/mcp`); a URL whose path ends
   in `/sse` is a legacy SSE server, anything else streamable HTTP.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from manifold_common.http_transport import HTTP_CONNECT_TIMEOUT, HTTP_STREAM_READ_TIMEOUT, transport_for_url
from manifold_common.logging import get_logger

log = get_logger(__name__)

CONFIG_SEARCH_PATHS: tuple[Path, ...] = (Path("config/mcp-servers.json"), Path("/etc/mcp/servers.json"))
"""Files that make the service launch the proxy when `MCP_CONFIG_PATH` is not set."""
PROXY_CHECK_TIMEOUT = 30.0
"""Seconds the proxy may take to judge its configuration (it only reads the file; it connects to nothing)."""

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


@dataclass(frozen=True)
class ProxyRefusal:
    """The proxy would not start with a configuration file: its exit status and what it printed."""

    exit_status: int
    message: str


def url_target(url: str) -> LinkTarget:
    """A target for an MCP URL: legacy SSE when the path ends in `/sse`, streamable HTTP otherwise."""
    return LinkTarget(kind=transport_for_url(url), url=url)


def command_target(command: str) -> LinkTarget:
    """A stdio target for a shell-style command line."""
    parts = tuple(shlex.split(command))
    if not parts:
        raise ValueError("MCP_SERVER_COMMAND is empty")
    return LinkTarget(kind="stdio", command=parts)


def proxy_command(*arguments: str) -> tuple[str, ...]:
    """The `mcp-proxy` command line run by this interpreter (installed with the service)."""
    return (sys.executable, "-m", "mcp_proxy", *arguments)


def proxy_target(config_path: Path) -> LinkTarget:
    """The proxy launched over stdio by this interpreter with `config_path`."""
    command = proxy_command("serve", "--transport", "stdio", "--config", str(config_path))
    return LinkTarget(kind="stdio", command=command, launches_proxy=True)


def find_config(explicit: str | None, search_paths: Sequence[Path] = CONFIG_SEARCH_PATHS) -> Path | None:
    """The proxy configuration to launch with: `explicit` (MCP_CONFIG_PATH), else the first existing default."""
    if explicit:
        return Path(explicit).expanduser()
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
    return TargetPlan(primary=proxy_target(config_path), fallback=direct, config_path=config_path)


async def check_proxy_config(path: Path, timeout: float = PROXY_CHECK_TIMEOUT) -> ProxyRefusal | None:
    """Ask the proxy whether it would start with `path` (`mcp-proxy check`); its refusal, or None.

    The check runs with the environment and working directory the launched proxy gets, so
    `${VAR}` references and relative paths resolve as they will then. When the check cannot
    give an answer (it could not run, or took too long), None: the launch itself decides.
    """
    command = proxy_command("check", "--config", str(path))
    try:
        with anyio.fail_after(timeout):
            done = await anyio.run_process(
                command, stdin=subprocess.DEVNULL, check=False, env=dict(os.environ), cwd=os.getcwd()
            )
    except (OSError, TimeoutError) as exc:
        log.info("proxy_config_check_unanswered", config=str(path), error=str(exc) or type(exc).__name__)
        return None
    if done.returncode == 0:
        return None
    said = done.stderr.decode(errors="replace").strip()
    return ProxyRefusal(done.returncode, said or f"mcp-proxy check exited with status {done.returncode}")


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

"""The two sides of every comparison: a client connected straight to an echo upstream, and the
same client connected through the proxy (stdio or HTTP front) to five echo upstreams."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from manifold_common.proxy_contract import ORIGIN_META_KEY

from . import echo_server, procfs
from .launch import REPO_ROOT, Launched, enter_together, example_ready, json_event, launch, wait_for_line

Transport = Literal["stdio", "http"]

HTTP_TIMEOUT = httpx2.Timeout(60.0, read=300.0)
CLIENT_READ_TIMEOUT = 120.0
UPSTREAM_PREFIX = "up"
# Each upstream name is its prefix: `up0__echo` is upstream 0's `echo`.
SEPARATOR = "__"
PROXY_STARTUP_TIMEOUT = 30
STARTUP_POLL_SECONDS = 0.01
UPSTREAM_LOG_LEVEL = "WARNING"


@dataclass
class Target:
    """A connected client and what the scenarios need to know about the other end."""

    client: Client
    measured_pid: int
    """The process whose CPU and memory are read: the proxy, or the upstream for a direct run."""
    echo_tool: str
    big_tool: str
    resource_uris: list[str]
    tool_count: int
    startup_seconds: float | None = None
    health_url: str | None = None
    """The proxy's /health/detailed (None for a direct run)."""
    child_pids: list[int] = field(default_factory=list[int])
    """The proxy's upstream children (stdio upstreams), measured separately."""


def echo_command(transport: Transport) -> list[str]:
    """The command line of the echo upstream."""
    args = [sys.executable, "-m", "bench.echo_server", "--transport", transport, "--log-level", UPSTREAM_LOG_LEVEL]
    return args + (["--port", "0"] if transport == "http" else [])


def _stdio_parameters(command: Sequence[str]) -> StdioServerParameters:
    return StdioServerParameters(command=command[0], args=list(command[1:]), cwd=REPO_ROOT)


def http_transport(url: str, stack: AsyncExitStack) -> object:
    """A streamable HTTP client transport to `url` whose HTTP client closes with `stack`."""
    http = httpx2.AsyncClient(timeout=HTTP_TIMEOUT)
    stack.push_async_callback(http.aclose)
    return streamable_http_client(url, http_client=http)


def new_child(before: set[int]) -> int:
    """The one child process of ours that appeared since `before` was taken."""
    new = set(procfs.children(os.getpid())) - before
    if len(new) != 1:
        raise RuntimeError(f"expected one new child process, found {sorted(new)}")
    return new.pop()


async def list_all_tools(client: Client) -> list[str]:
    """Every tool name the server lists, walking its pages."""
    names: list[str] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        names += [tool.name for tool in page.tools]
        cursor = page.next_cursor
        if cursor is None:
            return names


# --- the echo upstreams --------------------------------------------------------------------------


@dataclass
class HttpUpstreams:
    """Echo upstreams already serving streamable HTTP (shared by direct and proxied runs)."""

    servers: list[Launched]

    @property
    def urls(self) -> list[str]:
        """Their /mcp URLs."""
        return [str(server.ready["url"]) for server in self.servers]


@asynccontextmanager
async def http_upstreams(count: int, logs: Path) -> AsyncGenerator[HttpUpstreams]:
    """Start `count` HTTP echo upstreams in parallel and stop them on exit."""
    logs.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        launches = [
            launch(echo_command("http"), log=logs / f"echo-http-{index}.log", ready=example_ready)
            for index in range(count)
        ]
        servers = await enter_together(stack, launches)
        yield HttpUpstreams(servers)


async def connect_client(stack: AsyncExitStack, transport: object, mode: str = "auto") -> Client:
    """A connected `Client` of era `mode` (response cache off), closed with `stack`."""
    client = Client(transport, cache=None, read_timeout_seconds=CLIENT_READ_TIMEOUT, mode=mode)  # pyright: ignore[reportArgumentType]
    return await stack.enter_async_context(client)


# --- direct --------------------------------------------------------------------------------------


def _direct_target(client: Client, pid: int, startup: float | None = None) -> Target:
    return Target(
        client=client,
        measured_pid=pid,
        echo_tool=echo_server.ECHO_TOOL,
        big_tool=echo_server.BIG_TOOL,
        resource_uris=echo_server.resource_uris(),
        tool_count=echo_server.TOOL_COUNT,
        startup_seconds=startup,
    )


@asynccontextmanager
async def direct_stdio(count: int, logs: Path, *, mode: str = "auto") -> AsyncGenerator[Target]:
    """Launch `count` stdio echo upstreams in parallel and list each one's tools (the start-up
    figure); the first one is the target of the other scenarios. `mode` is the client's era."""
    logs.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        first_log = logs / "direct-stdio-0.log"
        clients: dict[int, Client] = {}
        ready = anyio.Event()
        release = anyio.Event()

        async def connect_one(index: int) -> None:
            with (logs / f"direct-stdio-{index}.log").open("w", encoding="utf-8") as errlog:
                transport = stdio_client(_stdio_parameters(echo_command("stdio")), errlog=errlog)
                async with Client(transport, cache=None, read_timeout_seconds=CLIENT_READ_TIMEOUT, mode=mode) as client:  # pyright: ignore[reportArgumentType]
                    await list_all_tools(client)
                    clients[index] = client
                    if len(clients) == count:
                        ready.set()
                    await release.wait()

        started = time.perf_counter()
        tg = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(release.set)
        for index in range(count):
            tg.start_soon(connect_one, index)
        await ready.wait()
        startup = time.perf_counter() - started
        announced = await wait_for_line(first_log, example_ready)
        yield _direct_target(clients[0], int(announced["pid"]), startup)


@asynccontextmanager
async def direct_http(upstreams: HttpUpstreams, *, mode: str = "auto") -> AsyncGenerator[Target]:
    """Connect to the first HTTP echo upstream with a client of era `mode`."""
    async with AsyncExitStack() as stack:
        client = await connect_client(stack, http_transport(upstreams.urls[0], stack), mode)
        await list_all_tools(client)
        yield _direct_target(client, upstreams.servers[0].pid)


# --- through the proxy ---------------------------------------------------------------------------


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def proxy_config(upstream: Transport, count: int, http_urls: Sequence[str] = ()) -> str:
    """A servers.toml with `count` echo upstreams named up0, up1, ..."""
    lines = ["[proxy]", f"startup_timeout = {PROXY_STARTUP_TIMEOUT}", ""]
    for index in range(count):
        lines.append(f"[servers.{UPSTREAM_PREFIX}{index}]")
        if upstream == "stdio":
            command = echo_command("stdio")
            lines.append(f"command = {_toml_string(command[0])}")
            lines.append("args = [" + ", ".join(_toml_string(arg) for arg in command[1:]) + "]")
            lines.append(f"cwd = {_toml_string(str(REPO_ROOT))}")
        else:
            lines.append('transport = "http"')
            lines.append(f"url = {_toml_string(http_urls[index])}")
        lines.append("")
    return "\n".join(lines)


def proxy_command(front: Transport, config: Path) -> list[str]:
    """The proxy's command line for a front transport (JSON logs, so events can be parsed)."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--config", str(config), "--log-format", "json"]
    if front == "stdio":
        # The side listener serves /health/detailed, where the resource cache counts its hits.
        return [*args, "--transport", "stdio", "--http-port", "0"]
    return [*args, "--transport", "http", "--host", "127.0.0.1", "--port", "0"]


def _proxied_name(tool: str) -> str:
    return f"{UPSTREAM_PREFIX}0{SEPARATOR}{tool}"


async def _proxied_resource_uris(client: Client) -> list[str]:
    """The exposed URIs of upstream 0's resources, found by their origin `_meta`."""
    listed = await client.list_resources()
    wanted = f"{UPSTREAM_PREFIX}0"
    return [
        resource.uri
        for resource in listed.resources
        if ((resource.meta or {}).get(ORIGIN_META_KEY) or {}).get("server") == wanted
    ]


async def wait_for_full_listing(client: Client, expected: int) -> None:
    """Poll the listing until it has `expected` tools (upstreams connect in the background)."""
    while len(await list_all_tools(client)) < expected:
        await anyio.sleep(STARTUP_POLL_SECONDS)


@asynccontextmanager
async def proxied(
    front: Transport,
    upstream: Transport,
    count: int,
    logs: Path,
    http_urls: Sequence[str] = (),
    *,
    mode: str = "auto",
) -> AsyncGenerator[Target]:
    """Launch the proxy in front of `count` echo upstreams, connect, and wait until it lists every
    tool (the start-up figure: from launch to that first complete listing). `mode` is the client's
    era: the SDK `Client`'s `mode` ("auto", "legacy" or a modern protocol version)."""
    config = logs / f"servers-{front}-{upstream}.toml"
    config.write_text(proxy_config(upstream, count, http_urls))
    log = logs / f"proxy-{front}-{upstream}.log"
    expected = count * echo_server.TOOL_COUNT
    async with AsyncExitStack() as stack:
        started = time.perf_counter()
        if front == "stdio":
            errlog = stack.enter_context(log.open("w", encoding="utf-8"))
            transport = stdio_client(_stdio_parameters(proxy_command(front, config)), errlog=errlog)
            before = set(procfs.children(os.getpid()))
            client = await connect_client(stack, transport, mode)
            await wait_for_full_listing(client, expected)
            startup = time.perf_counter() - started
            pid = new_child(before)
            side = await wait_for_line(log, json_event("health_listening"))
            health = f"{side['url']}/health/detailed"
        else:
            command = proxy_command(front, config)
            launched = await stack.enter_async_context(launch(command, log=log, ready=json_event("http_listening")))
            client = await connect_client(stack, http_transport(str(launched.ready["url"]), stack), mode)
            await wait_for_full_listing(client, expected)
            startup = time.perf_counter() - started
            health = f"{launched.ready['health']}/detailed"
            pid = launched.pid
        yield Target(
            client=client,
            measured_pid=pid,
            echo_tool=_proxied_name(echo_server.ECHO_TOOL),
            big_tool=_proxied_name(echo_server.BIG_TOOL),
            resource_uris=await _proxied_resource_uris(client),
            tool_count=expected,
            startup_seconds=startup,
            health_url=health,
            child_pids=procfs.children(pid),
        )

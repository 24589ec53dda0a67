"""A client connected through a peer proxy, as a `Target` the scenarios run on like the others.

* `mcp-proxy` (HTTP front, stdio upstreams): one named server per upstream, each on its own
  endpoint (`/servers/up0/mcp`); the client talks to upstream 0's endpoint, whose tools keep
  their names. It does not aggregate, so "five upstreams" means five configured, one reached.
* `fastmcp` (either front, either upstream transport): `bench/fastmcp_peer.py` in the FastMCP
  environment mounts a proxy of each upstream under its name (`up0_echo`).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from . import echo_server, procfs
from .launch import REPO_ROOT, launch
from .peers import FASTMCP, MCP_PROXY, Peer
from .setups import (
    STARTUP_POLL_SECONDS,
    UPSTREAM_PREFIX,
    Target,
    Transport,
    connect_client,
    echo_command,
    http_transport,
    new_child,
    wait_for_full_listing,
)

FASTMCP_SCRIPT = Path(__file__).resolve().parent / "fastmcp_peer.py"
SERVING_DEADLINE = 60.0
FIRST = f"{UPSTREAM_PREFIX}0"


def _upstream_names(count: int) -> list[str]:
    return [f"{UPSTREAM_PREFIX}{index}" for index in range(count)]


def _free_port() -> int:
    """A loopback port free now (mcp-proxy takes a port number, not a socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_serving(url: str) -> None:
    """Poll `url` until the server answers anything (it has no readiness line to wait for)."""
    deadline = time.monotonic() + SERVING_DEADLINE
    async with httpx2.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                await http.get(url)
                return
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise
            await anyio.sleep(STARTUP_POLL_SECONDS)


def _mcp_proxy_command(peer: Peer, port: int, count: int) -> list[str]:
    args = [str(peer.folder / "bin" / "mcp-proxy"), "--port", str(port), "--log-level", "WARNING"]
    for name in _upstream_names(count):
        args += ["--named-server", name, " ".join(echo_command("stdio"))]
    return args


def _fastmcp_servers(upstream: Transport, count: int, http_urls: Sequence[str]) -> str:
    servers: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(_upstream_names(count)):
        if upstream == "stdio":
            command = echo_command("stdio")
            servers[name] = {"command": command[0], "args": command[1:], "cwd": str(REPO_ROOT)}
        else:
            servers[name] = {"url": http_urls[index], "transport": "http"}
    return json.dumps(servers)


def _fastmcp_command(peer: Peer, front: Transport, upstream: Transport, count: int, urls: Sequence[str]) -> list[str]:
    servers = _fastmcp_servers(upstream, count, urls)
    return [str(peer.python), str(FASTMCP_SCRIPT), "--transport", front, "--servers", servers]


def _ready(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and event.get("event") == "peer_listening" else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]


async def _first_upstream_uris(client: Client, peer: Peer) -> list[str]:
    uris = [resource.uri for resource in (await client.list_resources()).resources]
    if peer is MCP_PROXY:
        return uris
    return [uri for uri in uris if f"://{FIRST}/" in uri]


@asynccontextmanager
async def peer_target(
    peer: Peer,
    front: Transport,
    upstream: Transport,
    count: int,
    logs: Path,
    http_urls: Sequence[str] = (),
    *,
    mode: str = "auto",
) -> AsyncGenerator[Target]:
    """Launch `peer` in front of `count` echo upstreams, connect with a client of era `mode`, and
    wait until it lists every tool it exposes (the start-up figure)."""
    log = logs / f"peer-{peer.name}-{front}-{upstream}.log"
    prefix = "" if peer is MCP_PROXY else f"{FIRST}_"
    expected = echo_server.TOOL_COUNT * (1 if peer is MCP_PROXY else count)
    async with AsyncExitStack() as stack:
        started = time.perf_counter()
        if peer is MCP_PROXY:
            port = _free_port()
            launched = await stack.enter_async_context(
                launch(_mcp_proxy_command(peer, port, count), log=log, ready=None)
            )
            await _wait_serving(f"http://127.0.0.1:{port}/status")
            url, pid = f"http://127.0.0.1:{port}/servers/{FIRST}/mcp", launched.pid
            client = await connect_client(stack, http_transport(url, stack), mode)
        elif peer is FASTMCP and front == "http":
            command = _fastmcp_command(peer, front, upstream, count, http_urls)
            launched = await stack.enter_async_context(launch(command, log=log, ready=_ready))
            pid = launched.pid
            client = await connect_client(stack, http_transport(str(launched.ready["url"]), stack), mode)
        elif peer is FASTMCP:
            command = _fastmcp_command(peer, front, upstream, count, http_urls)
            errlog = stack.enter_context(log.open("w", encoding="utf-8"))
            parameters = StdioServerParameters(command=command[0], args=command[1:], cwd=REPO_ROOT)
            before = set(procfs.children(os.getpid()))
            client = await connect_client(stack, stdio_client(parameters, errlog=errlog), mode)
            pid = new_child(before)
        else:
            raise ValueError(f"no launcher for peer {peer.name}")
        await wait_for_full_listing(client, expected)
        startup = time.perf_counter() - started
        print(f"bench: {peer.name} ({front} front) pid {pid}", file=sys.stderr, flush=True)
        yield Target(
            client=client,
            measured_pid=pid,
            echo_tool=prefix + echo_server.ECHO_TOOL,
            big_tool=prefix + echo_server.BIG_TOOL,
            resource_uris=await _first_upstream_uris(client, peer),
            tool_count=expected,
            startup_seconds=startup,
            child_pids=procfs.children(pid),
        )

"""The official filesystem server learns its directories from the client's roots, through the proxy.

The filesystem server, started without directories, asks its client for `roots/list` right
after the handshake and again on `notifications/roots/list_changed`, never during a call: its
allowed directories are the client's roots. Launched as desktop clients launch the proxy (its
stdio front, one client), the question has exactly one client to go to, and the proxy sends it
there; a change of the client's roots reaches the server too.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client import ClientRequestContext
from mcp.client.stdio import stdio_client

from tests.processes import REPO_ROOT, child_env

from .harness import proxy_command, write_config
from .install import FILESYSTEM_PACKAGE, InstalledTree

pytestmark = pytest.mark.anyio

# How long the server may take to ask for the roots and apply them after the client connected.
ROOTS_DEADLINE = 20.0
POLL_INTERVAL = 0.1


class ClientRoots:
    """The roots a client offers; it can change them and tell the server it did."""

    def __init__(self, *folders: Path) -> None:
        self.folders: Sequence[Path] = folders

    async def answer(self, context: ClientRequestContext) -> types.ListRootsResult:
        return types.ListRootsResult(
            roots=[types.Root.model_validate({"uri": folder.as_uri()}) for folder in self.folders]
        )


@asynccontextmanager
async def filesystem_through_stdio_front(
    npm_servers: InstalledTree, folder: Path, roots: ClientRoots
) -> AsyncGenerator[Client]:
    """A handshake-era client with roots launching the proxy (stdio front); the filesystem server is its upstream."""
    entry = npm_servers.package_dir(FILESYSTEM_PACKAGE) / "dist" / "index.js"
    config = write_config(
        folder / "servers.toml", {"filesystem": {"command": str(npm_servers.node), "args": [str(entry)]}}
    )
    command = proxy_command("stdio", config)
    params = StdioServerParameters(command=command[0], args=command[1:], env=child_env(), cwd=REPO_ROOT)
    async with Client(stdio_client(params), mode="legacy", list_roots_callback=roots.answer) as client:
        yield client


async def allowed_directories(client: Client) -> str:
    result = await client.call_tool("filesystem__list_allowed_directories", {})
    return "\n".join(block.text for block in result.content if isinstance(block, types.TextContent))


async def wait_for_allowed(client: Client, folder: Path) -> str:
    """Poll the server's allowed directories until `folder` is one of them (or the deadline passes)."""
    listed = ""
    with anyio.move_on_after(ROOTS_DEADLINE):
        while str(folder) not in (listed := await allowed_directories(client)):
            await anyio.sleep(POLL_INTERVAL)
    return listed


async def test_the_filesystem_server_serves_the_roots_of_the_client_that_launched_the_proxy(
    npm_servers: InstalledTree, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("read through the proxy\n")
    async with filesystem_through_stdio_front(npm_servers, tmp_path, ClientRoots(project)) as client:
        listed = await wait_for_allowed(client, project)
        read = await client.call_tool("filesystem__read_text_file", {"path": str(project / "notes.txt")})
    assert str(project) in listed, f"the filesystem server allows: {listed!r}"
    assert read.is_error is not True
    assert [block.text for block in read.content if isinstance(block, types.TextContent)] == [
        "read through the proxy\n"
    ]


async def test_a_roots_change_of_the_client_reaches_the_filesystem_server(
    npm_servers: InstalledTree, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    roots = ClientRoots(first)
    async with filesystem_through_stdio_front(npm_servers, tmp_path, roots) as client:
        before = await wait_for_allowed(client, first)
        roots.folders = [second]
        await client.send_roots_list_changed()
        after = await wait_for_allowed(client, second)
    assert str(first) in before, f"the filesystem server allows: {before!r}"
    assert str(second) in after and str(first) not in after, f"the filesystem server allows: {after!r}"

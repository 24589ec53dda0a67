"""A push-style upstream behind the proxy as a real process, on every front, in both client eras.

The upstream (`era_upstreams.py push`, a stdio child) serves both eras and asks its client mid-call.
A handshake-era client reaches it over a handshake-era session and can answer; a modern client gets
what it gets from that server directly: an error saying the server cannot ask it anything.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client

from tests.processes import REPO_ROOT, Spawned, proxy_listening, spawn, stdio_proxy

from .test_interaction import answer_elicitation, answer_roots, answer_sampling, text_of

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
CALLS = {"push__ask_llm": "push:sampled[llm says hi]", "push__ask_user": "push:hello ada"}
NO_BACK_CHANNEL = "this transport context has no back-channel for server-initiated requests"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    path = tmp_path / "servers.toml"
    path.write_text(
        '[proxy]\nstartup_timeout = 30\n\n[servers.push]\ntransport = "stdio"\n'
        f'command = {python}\nargs = ["-m", "tests.mcp_proxy.era_upstreams", "push", "push"]\ncwd = {root}\n'
    )
    return path


@pytest.fixture
async def http_proxy(config_path: Path) -> AsyncGenerator[Spawned]:
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    async with spawn([*args, "--config", str(config_path), "--log-format", "json"], ready=proxy_listening) as proxy:
        yield proxy


def answering(target: Any, mode: str) -> Client:
    return Client(
        target,
        mode=mode,
        cache=None,
        sampling_callback=answer_sampling,
        elicitation_callback=answer_elicitation,
        list_roots_callback=answer_roots,
    )


async def assert_mirrored(client: Client, mode: str) -> None:
    """Sampling and elicitation work for a handshake-era client, and fail as directly for a modern one."""
    for tool, expected in CALLS.items():
        if mode == "legacy":
            result = await client.call_tool(tool, {})
            assert text_of(result) == expected
        else:
            with pytest.raises(MCPError) as refused:
                await client.call_tool(tool, {})
            assert NO_BACK_CHANNEL in refused.value.message


@pytest.mark.parametrize("mode", ERAS)
async def test_streamable_http_front(http_proxy: Spawned, mode: str) -> None:
    async with answering(http_proxy.ready["url"], mode) as client:
        await assert_mirrored(client, mode)


@pytest.mark.parametrize("mode", ERAS)
async def test_sse_front(http_proxy: Spawned, mode: str) -> None:
    async with answering(sse_client(http_proxy.ready["sse"]), mode) as client:
        await assert_mirrored(client, mode)


@pytest.mark.parametrize("mode", ERAS)
async def test_stdio_front(config_path: Path, mode: str) -> None:
    params = stdio_proxy(config_path)
    async with answering(stdio_client(params), mode) as client:
        await assert_mirrored(client, mode)


async def test_the_stdio_front_gives_its_client_roots_to_a_server_that_asks_at_start(config_path: Path) -> None:
    params = stdio_proxy(config_path)
    async with answering(stdio_client(params), "legacy") as client:
        # The server's handshake-era session is opened by this first call; it asks for roots as it starts.
        answer = ""
        with anyio.fail_after(20):
            while "file://" not in answer:
                answer = text_of(await client.call_tool("push__start_roots", {}))
                await anyio.sleep(0.05)
    assert answer == "push:start roots file:///srv/work"

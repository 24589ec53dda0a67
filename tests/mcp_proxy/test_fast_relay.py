"""The lean relay, through real processes: the same answers with it on and off, and straight from the server.

Each example server runs as a stdio child of a stdio proxy process, exposed with `prefix = ""`,
and the parity observations (`test_parity.py`: every tool with good and bad arguments, every
resource and template, the prompts) are taken three times: from the server launched directly
over stdio, through the proxy with the relay on, and through the proxy with
`MCP_PROXY_FAST_PATH=0`. All three must be equal, and the proxy's metrics must show that the
relay answered the calls when on, and nothing when off.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.processes import REPO_ROOT, child_env, proxy_listening, spawn

from .test_parity import SURFACES, Observations, observe

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
LISTENER_DEADLINE = 30.0


def _server_env(name: str, tmp: Path) -> dict[str, str]:
    return {"DB_PATH": str(tmp / "shop.db")} if name == "database" else {}


def _config(name: str, tmp: Path, mode: str) -> Path:
    env = ", ".join(f"{key} = {json.dumps(value)}" for key, value in _server_env(name, tmp).items())
    protocol = "legacy" if mode == "legacy" else "auto"
    path = tmp / "servers.toml"
    path.write_text(
        "[proxy]\nstartup_timeout = 20\n\n"
        f'[servers.{name}]\ntransport = "stdio"\ncommand = {json.dumps(sys.executable)}\n'
        f'args = ["-m", "examples.servers.{name}"]\ncwd = {json.dumps(str(REPO_ROOT))}\n'
        f'prefix = ""\nprotocol = "{protocol}"\nenv = {{ {env} }}\n'
    )
    return path


async def _metrics_url(errlog: Path) -> str:
    with anyio.fail_after(LISTENER_DEADLINE):
        while True:
            found = re.search(
                r'"health_listening".*?"url": "([^"]+)"|"url": "([^"]+)".*?"health_listening"', errlog.read_text()
            )
            if found:
                return found.group(1) or found.group(2)
            await anyio.sleep(0.05)


@asynccontextmanager
async def _proxied(name: str, tmp: Path, mode: str, fast_path: bool) -> AsyncGenerator[tuple[Client, Path]]:
    config = _config(name, tmp, mode)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_proxy", "serve", "--transport", "stdio", "--http-port", "0", "--config", str(config)],
        env=child_env({"MCP_PROXY_FAST_PATH": "1" if fast_path else "0", "MCP_PROXY_LOG_FORMAT": "json"}),
        cwd=REPO_ROOT,
    )
    errlog = tmp / "proxy.log"
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err), mode=mode, cache=None) as client:
            yield client, errlog


async def _relayed_calls(errlog: Path) -> float:
    """How many requests the stdio proxy's relay answered, from its side listener's metrics."""
    return await _relayed_at(await _metrics_url(errlog))


async def _relayed_at(url: str) -> float:
    """How many requests the relay of the proxy serving `url` answered, from its metrics."""
    async with httpx2.AsyncClient(base_url=url) as http:
        text = (await http.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("manifold_relayed_requests_total{")
    )


async def _direct(name: str, tmp: Path, mode: str) -> Observations:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "examples.servers." + name],
        env=child_env(_server_env(name, tmp)),
        cwd=REPO_ROOT,
    )
    async with Client(stdio_client(params), mode=mode, cache=None) as client:
        return await observe(client, SURFACES[name])


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("name", list(SURFACES))
async def test_the_relay_answers_as_the_sdk_path_and_the_server_itself_do(name: str, mode: str, tmp_path: Path) -> None:
    surface = SURFACES[name]
    observed: dict[str, Observations] = {}
    relayed: dict[str, float] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        async with _proxied(name, run, mode, fast) as (client, errlog):
            observed[label] = await observe(client, surface)
            relayed[label] = await _relayed_calls(errlog)
    direct_dir = tmp_path / "direct"
    direct_dir.mkdir()
    direct = await _direct(name, direct_dir, mode)
    assert observed["relay"] == observed["sdk"]
    # The proxy lists in name (and URI) order, and results carry its own identity stamp on
    # 2026-07-28 (`call_results`); everything else is as the server said it.
    assert observed["relay"] == replace(
        direct,
        tools=sorted(direct.tools, key=lambda tool: tool["name"]),
        resources=sorted(direct.resources, key=lambda resource: resource["uri"]),
        call_results=observed["relay"].call_results,
    )
    assert relayed["sdk"] == 0
    # Every tool call and prompt of the surface, and the lists, went over the relay.
    assert relayed["relay"] >= len(surface.tools) + len(surface.prompts)


async def _over_http(name: str, tmp: Path, fast_path: bool) -> tuple[Observations, float]:
    config = _config(name, tmp, "auto")
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json"]
    env = {"MCP_PROXY_FAST_PATH": "1" if fast_path else "0"}
    async with spawn(args, ready=proxy_listening, env=env) as proxy:
        url = proxy.ready["url"]
        async with Client(url, mode="auto", cache=None) as client:
            observed = await observe(client, SURFACES[name])
        return observed, await _relayed_at(url.removesuffix("/mcp"))


@pytest.mark.parametrize("name", list(SURFACES))
async def test_a_2026_client_over_http_gets_the_same_answers_from_the_relay(name: str, tmp_path: Path) -> None:
    observed: dict[str, Observations] = {}
    relayed: dict[str, float] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        observed[label], relayed[label] = await _over_http(name, run, fast)
    assert observed["relay"] == observed["sdk"]
    assert relayed["sdk"] == 0
    surface = SURFACES[name]
    assert relayed["relay"] >= len(surface.tools) + len(surface.prompts)

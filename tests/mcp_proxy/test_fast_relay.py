"""The lean relay, through real processes: the same answers with it on and off, and straight from the server.

Each example server runs as a stdio child of a stdio proxy process, exposed with `prefix = ""`,
and the parity observations (`test_parity.py`: every tool with good and bad arguments, every
resource and template, the prompts) are taken three times: from the server launched directly
over stdio, through the proxy with the relay on, and through the proxy with
`MCP_PROXY_FAST_PATH=0`. All three must be equal, and the proxy's metrics must show that the
relay answered the calls when on, and nothing when off. Every resource is then read a second
time, which the proxy answers from its resource cache where the server allows it: the same
answers, and the same cache hits on both paths.

Resource reads get a setup of their own (`test_reads_*`): two servers behind prefixes (the
example `files` server on a folder with a binary file, and a test upstream with a template and a
resource that changes), so URIs are mapped both ways, and reads through a template, of a
resource the server does not have, of a URI that routes nowhere, and after the server said a
resource changed are all compared.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.processes import REPO_ROOT, child_env, proxy_listening, spawn

from .test_parity import SURFACES, Observations, Surface, observe

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


@dataclass
class Counts:
    """What the proxy's metrics say it did: requests its relay answered (by method), resource cache use."""

    relayed: dict[str, float]
    cache_hits: float
    cache_misses: float

    @property
    def relayed_total(self) -> float:
        return sum(self.relayed.values())


async def _counts_at(url: str) -> Counts:
    """The counts of the proxy serving `url`, from its metrics."""
    async with httpx2.AsyncClient(base_url=url) as http:
        text = (await http.get("/metrics")).text
    relayed: dict[str, float] = {}
    cache = {"hits": 0.0, "misses": 0.0}
    for line in text.splitlines():
        if found := re.match(r'manifold_relayed_requests_total\{method="([^"]+)"\} (\S+)$', line):
            relayed[found.group(1)] = relayed.get(found.group(1), 0.0) + float(found.group(2))
        elif found := re.match(r"manifold_resource_cache_(hits|misses)(?:_total)? (\S+)$", line):
            cache[found.group(1)] = float(found.group(2))
    return Counts(relayed, cache["hits"], cache["misses"])


async def _counts(errlog: Path) -> Counts:
    """The counts of the stdio proxy writing `errlog`, from its side listener's metrics."""
    return await _counts_at(await _metrics_url(errlog))


async def _answer(client: Client, uri: str, *, meta: bool = False) -> Any:
    """A read's result (without `_meta` unless asked), or its error as (code, message, data)."""
    try:
        result = await client.read_resource(uri)
    except MCPError as exc:
        return ("error", exc.code, exc.message, exc.error.data)
    return result.model_dump(by_alias=True, exclude_none=True, exclude=None if meta else {"meta"})


async def _read_again(client: Client, seen: Observations) -> dict[str, Any]:
    """Every URI of `seen` read once more (answered from the proxy's cache where it may be)."""
    again: dict[str, Any] = {}
    for uri in seen.reads:
        answer = await _answer(client, uri)
        again[uri] = ("error", *answer[1:3]) if isinstance(answer, tuple) else answer
    return again


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
    again: dict[str, dict[str, Any]] = {}
    counts: dict[str, Counts] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        async with _proxied(name, run, mode, fast) as (client, errlog):
            observed[label] = await observe(client, surface)
            again[label] = await _read_again(client, observed[label])
            counts[label] = await _counts(errlog)
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
    _check_reads_and_counts(observed, again, counts, surface)
    if mode == "legacy":  # a handshake-era server's answers are kept for the configured TTL
        assert counts["relay"].cache_hits > 0


def _check_reads_and_counts(
    observed: dict[str, Observations], again: dict[str, dict[str, Any]], counts: dict[str, Counts], surface: Surface
) -> None:
    # Read again, from the cache or not, every answer is the first one.
    assert again["relay"] == again["sdk"] == observed["relay"].reads
    # One cache, kept and used alike on both paths.
    assert (counts["relay"].cache_hits, counts["relay"].cache_misses) == (
        counts["sdk"].cache_hits,
        counts["sdk"].cache_misses,
    )
    assert counts["sdk"].relayed_total == 0
    relayed = counts["relay"].relayed
    # Every tool call, prompt and read of the surface, and the lists, went over the relay.
    assert relayed.get("tools/call") == len(surface.tools)
    assert relayed.get("prompts/get", 0) == len(surface.prompts)
    first_reads = len(observed["relay"].resources) + len(surface.extra_uris)  # a URI may be both
    assert relayed.get("resources/read") == first_reads + len(observed["relay"].reads)


async def _over_http(name: str, tmp: Path, fast_path: bool) -> tuple[Observations, dict[str, Any], Counts]:
    config = _config(name, tmp, "auto")
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json"]
    env = {"MCP_PROXY_FAST_PATH": "1" if fast_path else "0"}
    async with spawn(args, ready=proxy_listening, env=env) as proxy:
        url = proxy.ready["url"]
        async with Client(url, mode="auto", cache=None) as client:
            observed = await observe(client, SURFACES[name])
            again = await _read_again(client, observed)
        return observed, again, await _counts_at(url.removesuffix("/mcp"))


@pytest.mark.parametrize("name", list(SURFACES))
async def test_a_2026_client_over_http_gets_the_same_answers_from_the_relay(name: str, tmp_path: Path) -> None:
    observed: dict[str, Observations] = {}
    again: dict[str, dict[str, Any]] = {}
    counts: dict[str, Counts] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        observed[label], again[label], counts[label] = await _over_http(name, run, fast)
    assert observed["relay"] == observed["sdk"]
    _check_reads_and_counts(observed, again, counts, SURFACES[name])

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

import base64
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
import mcp_types as types
import pytest
from mcp import Client, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp_proxy.catalog.naming import expose_uri
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
async def _proxied(
    config: Path, tmp: Path, mode: str, fast_path: bool, on_message: Any = None
) -> AsyncGenerator[tuple[Client, Path]]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_proxy", "serve", "--transport", "stdio", "--http-port", "0", "--config", str(config)],
        env=child_env({"MCP_PROXY_FAST_PATH": "1" if fast_path else "0", "MCP_PROXY_LOG_FORMAT": "json"}),
        cwd=REPO_ROOT,
    )
    errlog = tmp / "proxy.log"
    with errlog.open("w") as err:
        connection = stdio_client(params, errlog=err)
        async with Client(connection, mode=mode, cache=None, message_handler=on_message) as client:
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
        async with _proxied(_config(name, run, mode), run, mode, fast) as (client, errlog):
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


@asynccontextmanager
async def http_proxy(config: Path, fast_path: bool) -> AsyncGenerator[str]:
    """The URL of `/mcp` on an HTTP proxy process serving `config`, the relay on or off."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json"]
    env = {"MCP_PROXY_FAST_PATH": "1" if fast_path else "0"}
    async with spawn(args, ready=proxy_listening, env=env) as proxy:
        yield proxy.ready["url"]


async def relayed_at(url: str) -> float:
    """How many requests the relay of the proxy serving `url` answered, from its metrics."""
    return (await _counts_at(url)).relayed_total


async def _over_http(name: str, tmp: Path, fast_path: bool, mode: str) -> tuple[Observations, dict[str, Any], Counts]:
    async with http_proxy(_config(name, tmp, mode), fast_path) as url:
        async with Client(url, mode=mode, cache=None) as client:
            observed = await observe(client, SURFACES[name])
            again = await _read_again(client, observed)
        return observed, again, await _counts_at(url.removesuffix("/mcp"))


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("name", list(SURFACES))
async def test_a_client_over_http_gets_the_same_answers_from_the_relay(name: str, mode: str, tmp_path: Path) -> None:
    # "legacy": a handshake-era client, whose requests ride its session; "auto": 2026-07-28.
    observed: dict[str, Observations] = {}
    again: dict[str, dict[str, Any]] = {}
    counts: dict[str, Counts] = {}
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        observed[label], again[label], counts[label] = await _over_http(name, run, fast, mode)
    assert observed["relay"] == observed["sdk"]
    _check_reads_and_counts(observed, again, counts, SURFACES[name])


# ---- resource reads behind prefixes ---------------------------------------------------------

PIXEL = b"\x89PNG\r\n\x1a\n\x00\xff\xfe"
"""Not UTF-8: the files server sends it as a base64 blob."""
ALPHA_README = "note://alpha/alpha/readme"
LATE = "late.txt"
"""Written once the proxy runs, so the server does not list it: it is read through the template."""
EXTRA_READS = ("file://fs//late.txt", "item://alpha/alpha/7", "file://fs//missing.txt")
NOWHERE = "nothing://here"
"""Routes to no server: the SDK's path names it unknown."""


def _folder(tmp: Path) -> Path:
    root = tmp / "root"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "todo.txt").write_text("buy flour\n")
    (root / "pixel.png").write_bytes(PIXEL)
    return root


def _prefixed_config(tmp: Path, mode: str) -> Path:
    protocol = "legacy" if mode == "legacy" else "auto"
    python = json.dumps(sys.executable)
    path = tmp / "servers.toml"
    path.write_text(
        "[proxy]\nstartup_timeout = 20\n\n"
        f'[servers.fs]\ntransport = "stdio"\ncommand = {python}\nargs = ["-m", "examples.servers.files"]\n'
        f'cwd = {json.dumps(str(REPO_ROOT))}\nprotocol = "{protocol}"\n'
        f"env = {{ FILES_ROOT = {json.dumps(str(_folder(tmp)))} }}\n\n"
        f'[servers.alpha]\ntransport = "stdio"\ncommand = {python}\nargs = ["-m", "tests.upstreams", "alpha"]\n'
        f'cwd = {json.dumps(str(REPO_ROOT))}\nprotocol = "{protocol}"\n'
    )
    return path


async def _read_all(client: Client, tmp: Path) -> tuple[list[str], dict[str, Any]]:
    """The URIs read (listed, then the extra ones) and every answer, each URI read twice."""
    (tmp / "root" / LATE).write_text("written late\n")
    listed = [resource.uri for resource in (await client.list_resources()).resources]
    uris = [*listed, *EXTRA_READS, NOWHERE]
    answers: dict[str, Any] = {}
    for round_ in ("first", "again"):
        for uri in uris:
            answers[f"{round_} {uri}"] = await _answer(client, uri, meta=True)
    return uris, answers


async def _invalidated(client: Client, errlog: Path, updated: anyio.Event) -> tuple[float, float]:
    """Read the readme twice, have its server say it changed, read it once more: (hits, misses) meanwhile."""
    before = await _counts(errlog)
    await client.session.subscribe_resource(ALPHA_README)  # pyright: ignore[reportDeprecated]
    for _ in range(2):
        await client.read_resource(ALPHA_README)
    await client.call_tool("alpha__touch", {})
    with anyio.fail_after(10):
        await updated.wait()  # the proxy forgets the cached answer before it tells its clients
    await client.read_resource(ALPHA_README)
    after = await _counts(errlog)
    return after.cache_hits - before.cache_hits, after.cache_misses - before.cache_misses


async def _files_directly(tmp: Path, mode: str) -> dict[str, Any]:
    """The files server's own answers to the reads of its resources, by the URI the proxy exposes."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "examples.servers.files"],
        env=child_env({"FILES_ROOT": str(tmp / "root")}),
        cwd=REPO_ROOT,
    )
    answers: dict[str, Any] = {}
    async with Client(stdio_client(params), mode=mode, cache=None) as client:
        for original in ("file:///notes/todo.txt", "file:///pixel.png", f"file:///{LATE}", "file:///missing.txt"):
            answer = await _answer(client, original)
            if not isinstance(answer, tuple):
                answer["contents"] = [{**item, "uri": expose_uri("fs", item["uri"])} for item in answer["contents"]]
            answers[expose_uri("fs", original)] = answer
    return answers


@pytest.mark.parametrize("mode", ERAS)
async def test_reads_behind_prefixes_are_answered_alike_on_the_relay_and_the_sdk_path(
    mode: str, tmp_path: Path
) -> None:
    answers: dict[str, dict[str, Any]] = {}
    counts: dict[str, Counts] = {}
    cache_use: dict[str, tuple[float, float]] = {}
    uris: list[str] = []
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        updated = anyio.Event()

        async def on_message(message: Any, updated: anyio.Event = updated) -> None:
            if isinstance(message, types.ResourceUpdatedNotification) and message.params.uri == ALPHA_README:
                updated.set()

        async with _proxied(_prefixed_config(run, mode), run, mode, fast, on_message) as (client, errlog):
            uris, answers[label] = await _read_all(client, run)
            counts[label] = await _counts(errlog)
            if mode == "legacy":  # a handshake-era client subscribes; it is told of the change
                cache_use[label] = await _invalidated(client, errlog, updated)
    assert answers["relay"] == answers["sdk"]
    _check_prefixed_reads(uris, answers["relay"], await _files_directly(tmp_path / "relay", mode))
    assert counts["sdk"].relayed_total == 0
    assert counts["relay"].relayed.get("resources/read") == 2 * (len(uris) - 1)  # all but the one going nowhere
    assert (counts["relay"].cache_hits, counts["relay"].cache_misses) == (
        counts["sdk"].cache_hits,
        counts["sdk"].cache_misses,
    )
    if mode == "legacy":
        # Second reads of what the servers have come from the cache; a changed resource is read anew.
        assert counts["relay"].cache_hits == len(uris) - 2
        # The readme was read before: both reads come from the cache, the one after the change does not.
        assert cache_use["relay"] == cache_use["sdk"] == (2.0, 1.0)


def _check_prefixed_reads(uris: list[str], answers: dict[str, Any], direct: dict[str, Any]) -> None:
    assert {"file://fs//notes/todo.txt", "file://fs//pixel.png", ALPHA_README} <= set(uris)
    for uri in uris:
        assert answers[f"again {uri}"] == answers[f"first {uri}"], uri
    # What the files server answers itself, with its URIs in the form the proxy exposes.
    for uri, answer in direct.items():
        got = answers[f"first {uri}"]
        got = got if isinstance(got, tuple) else {k: v for k, v in got.items() if k != "_meta"}
        assert got == answer, uri
    pixel = answers["first file://fs//pixel.png"]["contents"][0]
    assert base64.b64decode(pixel["blob"]) == PIXEL
    late = answers["first file://fs//late.txt"]["contents"][0]
    assert (late["uri"], late["text"]) == ("file://fs//late.txt", "written late\n")
    assert answers["first item://alpha/alpha/7"]["contents"][0]["uri"] == "item://alpha/alpha/7"
    assert isinstance(answers["first file://fs//missing.txt"], tuple)
    assert answers[f"first {NOWHERE}"][1:3] == (-32602, f"Unknown resource: {NOWHERE}")


async def _prefixed_over_http(tmp: Path, fast_path: bool) -> tuple[list[str], dict[str, Any], Counts]:
    async with http_proxy(_prefixed_config(tmp, "auto"), fast_path) as url:
        async with Client(url, mode="auto", cache=None) as client:
            uris, answers = await _read_all(client, tmp)
        return uris, answers, await _counts_at(url.removesuffix("/mcp"))


async def test_reads_behind_prefixes_over_http_are_answered_alike_on_the_relay(tmp_path: Path) -> None:
    answers: dict[str, dict[str, Any]] = {}
    counts: dict[str, Counts] = {}
    uris: list[str] = []
    for label, fast in (("relay", True), ("sdk", False)):
        run = tmp_path / label
        run.mkdir()
        uris, answers[label], counts[label] = await _prefixed_over_http(run, fast)
    assert answers["relay"] == answers["sdk"]
    _check_prefixed_reads(uris, answers["relay"], await _files_directly(tmp_path / "relay", "auto"))
    assert counts["sdk"].relayed_total == 0
    assert counts["relay"].relayed.get("resources/read") == 2 * (len(uris) - 1)
    assert (counts["relay"].cache_hits, counts["relay"].cache_misses) == (
        counts["sdk"].cache_hits,
        counts["sdk"].cache_misses,
    )

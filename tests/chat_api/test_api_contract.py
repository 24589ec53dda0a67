"""The compatibility promise: the single-server backend's HTTP API, key for key, in every setup.

Each test is one of the specification's own assertions, made over real HTTP against the running
service, the way an existing client would make it:

* single mode, straight to the example database server over legacy SSE, streamable HTTP, and
  stdio (``MCP_SERVER_COMMAND``);
* multi mode, through the proxy and its three example servers, reached by ``MCP_SERVER_URL``, by
  ``MCP_CONFIG_PATH``, and by ``config/mcp-servers.json`` in the working directory of
  ``python -m chat_api``;
* the degradation scenario: three upstream processes, one killed while the service runs;
  ``/health/detailed`` reports two healthy servers and ``POST /chat`` still answers.

The LLM is the scripted server on loopback; every MCP server is a real process.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from chat_api.settings import ChatSettings
from tests.chat_api.llm_script import Call, Calls, Reply, ScriptedLLM
from tests.chat_api.support import (
    EXAMPLE_SERVERS,
    HTTP_TIMEOUT,
    POLL_INTERVAL,
    WAIT_DEADLINE,
    chat_api_listening,
    chat_settings,
    example_env,
    example_over,
    free_port,
    proxy_over_http,
    running_chat_api,
    write_proxy_config,
    write_seed_config,
)
from tests.processes import spawn

pytestmark = pytest.mark.anyio

SETUPS = ["single-sse", "single-http", "single-stdio", "multi-url", "multi-config-path", "multi-working-directory"]
CUSTOMERS = {"sql": "SELECT name FROM customers ORDER BY id LIMIT 2"}
MCP_SERIES = (
    "mcp_servers_total",
    "mcp_servers_healthy",
    "mcp_tools_total",
    "mcp_resources_total",
    "mcp_cache_entries",
    "mcp_cache_size_bytes",
)
_SAMPLE = re.compile(r"^(mcp_[a-z_]+) (\S+)$", re.MULTILINE)


@dataclass
class Setup:
    """One running setup, seen only through HTTP."""

    name: str
    http: httpx2.AsyncClient
    mode: str
    servers: int
    proxy_url: str | None = None
    """The proxy's own HTTP base URL, when the test runs the proxy itself."""


async def get(http: httpx2.AsyncClient, path: str) -> dict[str, Any]:
    """GET `path`, checked to answer 200, as JSON."""
    response = await http.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_until(
    http: httpx2.AsyncClient, path: str, check: Callable[[dict[str, Any]], bool], deadline: float = WAIT_DEADLINE
) -> None:
    """Poll `path` until `check(body)` holds, failing after `deadline` seconds."""
    with anyio.fail_after(deadline):
        while not check((await http.get(path)).json()):
            await anyio.sleep(POLL_INTERVAL)


def mcp_samples(metrics: str) -> dict[str, float]:
    """The `mcp_*` samples of a Prometheus text page."""
    return {name: float(value) for name, value in _SAMPLE.findall(metrics)}


async def _in_process(settings: ChatSettings, stack: AsyncExitStack) -> httpx2.AsyncClient:
    return (await stack.enter_async_context(running_chat_api(settings))).http


async def _as_a_program(llm: ScriptedLLM, folder: Path, stack: AsyncExitStack) -> httpx2.AsyncClient:
    # `python -m chat_api` in a folder holding config/mcp-servers.json, the way an operator runs it.
    write_seed_config(folder / "config" / "mcp-servers.json", folder)
    env = {
        "CHAT_API_PORT": "0",
        "CHAT_API_LOG_FORMAT": "json",
        "MCP_SERVER_URL": f"http://127.0.0.1:{free_port()}/mcp",  # the fallback; it must not be what answers
        "LLM_BASE_URL": llm.openai_base_url,
        "LLM_API_KEY": "test-key",
        "LLM_MODEL": llm.model,
        "LLM_MAX_RETRIES": "0",
    }
    chat_api = await stack.enter_async_context(
        spawn([sys.executable, "-m", "chat_api"], ready=chat_api_listening, env=env, cwd=folder)
    )
    http = await stack.enter_async_context(httpx2.AsyncClient(base_url=chat_api.ready["url"], timeout=HTTP_TIMEOUT))
    await wait_until(http, "/health", lambda body: body["initialized"])
    return http


async def start(name: str, llm: ScriptedLLM, folder: Path, stack: AsyncExitStack) -> Setup:
    """Start the processes of one setup; `stack` stops them."""
    if name in ("single-sse", "single-http"):
        server = await stack.enter_async_context(example_over("database", folder, name.removeprefix("single-")))
        return Setup(
            name, await _in_process(chat_settings(llm, mcp_server_url=server.ready["url"]), stack), "single", 1
        )
    if name == "single-stdio":
        command = ["env", *(f"{k}={v}" for k, v in example_env("database", folder).items())]
        command += [sys.executable, "-m", "examples.servers.database"]
        settings = chat_settings(llm, mcp_server_command=shlex.join(command))
        return Setup(name, await _in_process(settings, stack), "single", 1)
    if name == "multi-url":
        # The database is spoken to in the handshake era, so the proxy caches its resource reads.
        proxy = await stack.enter_async_context(proxy_over_http(write_proxy_config(folder, legacy=["database"])))
        url: str = proxy.ready["url"]
        settings = chat_settings(llm, mcp_server_url=url)
        return Setup(name, await _in_process(settings, stack), "multi", 3, proxy_url=url.removesuffix("/mcp"))
    if name == "multi-config-path":
        settings = chat_settings(llm, mcp_config_path=str(write_proxy_config(folder)))
        return Setup(name, await _in_process(settings, stack), "multi", 3)
    assert name == "multi-working-directory"
    return Setup(name, await _as_a_program(llm, folder, stack), "multi", 3)


@pytest.fixture(scope="module", params=SETUPS)
async def setup(
    request: pytest.FixtureRequest, llm: ScriptedLLM, tmp_path_factory: pytest.TempPathFactory
) -> AsyncGenerator[Setup]:
    async with AsyncExitStack() as stack:
        yield await start(request.param, llm, tmp_path_factory.mktemp(request.param), stack)


# ---- the specification's assertions ----------------------------------------------------------


async def test_health_says_healthy_with_the_mode_and_the_number_of_healthy_servers(setup: Setup) -> None:
    response = await setup.http.get("/health")
    assert response.status_code == 200
    data = response.json()
    assert {"status", "mode", "servers"} <= set(data)
    assert data["status"] == "healthy"
    assert data["mode"] == setup.mode
    assert data["servers"] == setup.servers


async def test_health_detailed_gives_the_integration_status_at_the_top_level(setup: Setup) -> None:
    health = await get(setup.http, "/health/detailed")
    tools = await get(setup.http, "/mcp/tools")
    resources = await get(setup.http, "/mcp/resources")
    assert health["initialized"] is True
    assert health["mode"] == setup.mode
    assert health["servers"] == {"total": setup.servers, "healthy": setup.servers}
    assert health["tools"] == {"total": tools["count"]}
    assert set(health["resources"]) == {"total", "cache"}
    assert health["resources"]["total"] == resources["count"]
    assert set(health["resources"]["cache"]) == {"entries", "size_bytes"}
    if setup.mode == "single":
        assert health["resources"]["cache"] == {"entries": 0, "size_bytes": 0}


async def test_tools_and_resources_are_listed_with_their_count(setup: Setup) -> None:
    tools = await get(setup.http, "/mcp/tools")
    resources = await get(setup.http, "/mcp/resources")
    assert {"tools", "count"} <= set(tools)
    assert tools["count"] == len(tools["tools"]) >= 3
    assert {"resources", "count"} <= set(resources)
    assert resources["count"] == len(resources["resources"]) >= 1
    servers = {tool["server"] for tool in tools["tools"]}
    assert servers == ({"database"} if setup.mode == "single" else set(EXAMPLE_SERVERS))


async def test_metrics_expose_the_mcp_series_with_the_detailed_figures(setup: Setup) -> None:
    metrics = await setup.http.get("/metrics")
    assert metrics.status_code == 200
    samples = mcp_samples(metrics.text)
    assert set(MCP_SERIES) <= set(samples)
    health = await get(setup.http, "/health/detailed")
    assert samples["mcp_servers_total"] == health["servers"]["total"] == setup.servers
    assert samples["mcp_servers_healthy"] == health["servers"]["healthy"]
    assert samples["mcp_tools_total"] == health["tools"]["total"]
    assert samples["mcp_resources_total"] == health["resources"]["total"]
    assert samples["mcp_cache_entries"] == health["resources"]["cache"]["entries"]
    assert samples["mcp_cache_size_bytes"] == health["resources"]["cache"]["size_bytes"]


async def test_chat_answers_with_the_response_the_tools_used_and_the_metadata(
    setup: Setup, script: ScriptedLLM
) -> None:
    script.script(Calls(Call("execute_query", CUSTOMERS)), Reply("Amara Okafor is the first customer."))
    response = await setup.http.post("/chat", json={"message": "Who is our first customer?"})
    assert response.status_code == 200
    data = response.json()
    assert {"response", "tools_used", "metadata"} <= set(data)
    assert data["response"] == "Amara Okafor is the first customer."
    assert [name.endswith("execute_query") for name in data["tools_used"]] == [True]
    metadata = data["metadata"]
    assert metadata["mode"] == setup.mode
    assert metadata["tools_called"] == 1
    assert metadata["servers_used"] == ["database"]
    assert "Amara Okafor" in script.requests[1].tool_results[0]


@pytest.mark.parametrize("setup", ["multi-url"], indirect=True)
async def test_the_resource_cache_figures_are_the_proxys_own(setup: Setup) -> None:
    assert setup.proxy_url is not None
    chat = await get(setup.http, "/health/detailed")
    proxy = await get(setup.http, f"{setup.proxy_url}/health/detailed")
    cache = proxy["resource_cache"]
    assert chat["resources"]["cache"] == {"entries": cache["entries"], "size_bytes": cache["bytes"]}
    assert cache["entries"] > 0  # the service's own previews of the database's schema resources


async def test_a_link_that_is_down_is_unhealthy_with_503_in_the_same_shape(llm: ScriptedLLM) -> None:
    settings = chat_settings(llm, mcp_server_url=f"http://127.0.0.1:{free_port()}/mcp")
    async with running_chat_api(settings, wait_ready=False) as service:
        health = await service.http.get("/health")
        detailed = await service.http.get("/health/detailed")
    assert health.status_code == detailed.status_code == 503
    assert health.json()["status"] == "unhealthy"
    assert health.json()["servers"] == 0
    body = detailed.json()
    assert body["status"] == "unhealthy" and body["initialized"] is False
    assert {"mode", "servers", "tools", "resources"} <= set(body)
    assert body["servers"]["healthy"] == 0


# ---- degradation: one of three servers stops --------------------------------------------------

PROXY_HEALTH_INTERVAL = 1
PROXY_HEALTH_TIMEOUT = 1
CHAT_PROBE_INTERVAL = 1.0
DEGRADED_WITHIN = 10.0
"""Seconds for the stop to show: the proxy's health check (interval + timeout) then the chat
service's probe, a few seconds in all; the rest is headroom for a loaded test machine."""


def write_remote_config(folder: Path, urls: dict[str, str]) -> Path:
    """A servers.toml for servers that run on their own, with a quick health check."""
    tables = [
        "[proxy]\nstartup_timeout = 20\n",
        f"[server_defaults]\nhealth_interval = {PROXY_HEALTH_INTERVAL}\n"
        f"health_timeout = {PROXY_HEALTH_TIMEOUT}\nhealth_failures = 1\n",
        *(f'[servers.{name}]\ntransport = "http"\nurl = "{url}"\n' for name, url in urls.items()),
    ]
    path = folder / "servers.toml"
    path.write_text("\n".join(tables))
    return path


async def test_one_of_three_servers_stopping_leaves_two_healthy_and_chat_working(
    llm: ScriptedLLM, script: ScriptedLLM, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        upstreams = {
            name: await stack.enter_async_context(example_over(name, tmp_path, "http")) for name in EXAMPLE_SERVERS
        }
        config = write_remote_config(tmp_path, {name: s.ready["url"] for name, s in upstreams.items()})
        proxy = await stack.enter_async_context(proxy_over_http(config))
        settings = chat_settings(llm, mcp_server_url=proxy.ready["url"], mcp_health_interval=CHAT_PROBE_INTERVAL)
        http = await _in_process(settings, stack)
        assert (await get(http, "/health/detailed"))["servers"] == {"total": 3, "healthy": 3}

        github = upstreams["github"].process
        github.kill()
        await github.wait()
        await wait_until(http, "/health/detailed", lambda h: h["servers"]["healthy"] == 2, DEGRADED_WITHIN)

        health = await get(http, "/health/detailed")
        summary = await http.get("/health")
        samples = mcp_samples((await http.get("/metrics")).text)
        script.script(Calls(Call("execute_query", CUSTOMERS)), Reply("Amara Okafor."))
        chat = await http.post("/chat", json={"message": "Who is our first customer?"})
    assert health["servers"] == {"total": 3, "healthy": 2}
    assert health["status"] == "degraded"
    down = next(s for s in health["server_detail"] if s["name"] == "github")
    assert down["healthy"] is False
    assert summary.status_code == 200
    assert summary.json()["status"] == "degraded" and summary.json()["servers"] == 2
    assert samples["mcp_servers_total"] == 3 and samples["mcp_servers_healthy"] == 2
    assert chat.status_code == 200
    assert chat.json()["response"] == "Amara Okafor."
    assert chat.json()["metadata"]["servers_used"] == ["database"]
    seen = script.requests[0]
    assert any(name.endswith("execute_query") for name in seen.tool_names)
    assert "Unavailable right now: github" in seen.system

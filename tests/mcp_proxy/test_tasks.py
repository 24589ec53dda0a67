"""Tasks (the 2026-07-28 extension) through the proxy, real processes on every front and upstream transport.

The upstreams are the conformance fixture (`tests/conformance/fixture_tasks.py`). The reference
is the same client straight to the fixture: through the proxy a task behaves the same, except
that its id is the proxy's own (naming its owner, sealed), so it routes back to the server that
made it and no other id does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import MCPError
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.conformance.launch import fixture_command
from tests.processes import REPO_ROOT, example_ready, proxy_listening, spawn, stdio_proxy
from tests.tasks_client import TasksClient, tasks_client

pytestmark = pytest.mark.anyio

TASKS = "io.modelcontextprotocol/tasks"
FIXTURE_MODULE = "tests.conformance.fixture"
RELAYED_METRIC = "manifold_relayed_requests_total{"


def server_table(name: str, transport: str, url: str | None) -> str:
    table = f'[servers.{name}]\ntransport = "{transport}"\n'
    if url is not None:
        return table + f'url = "{url}"\n'
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    return table + f'command = {python}\nargs = ["-m", "{FIXTURE_MODULE}", "--transport", "stdio"]\ncwd = {root}\n'


@asynccontextmanager
async def upstreams(tmp: Path, transport: str, names: tuple[str, ...]) -> AsyncGenerator[Path]:
    """A configuration with one fixture per name on `transport` (started here unless stdio)."""
    async with AsyncExitStack() as stack:
        tables: list[str] = []
        for name in names:
            url = None
            if transport != "stdio":
                fixture = await stack.enter_async_context(spawn(fixture_command(transport), ready=example_ready))
                url = fixture.ready["url"]
            tables.append(server_table(name, transport, url))
        path = tmp / "servers.toml"
        path.write_text("[proxy]\nstartup_timeout = 30\n\n" + "\n".join(tables))
        yield path


@asynccontextmanager
async def proxied(config: Path, front: str, *, fast_path: bool = True) -> AsyncGenerator[TasksClient]:
    """A 2026-07-28 tasks client of the proxy serving `config` on `front` (stdio, http or sse)."""
    env = {"MCP_PROXY_FAST_PATH": "1" if fast_path else "0"}
    if front == "stdio":
        params = stdio_proxy(config)
        params.env = {**(params.env or {}), **env}
        async with tasks_client(stdio_client(params)) as client:
            yield client
        return
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0", "--log-format", "json"]
    async with spawn([*args, "--config", str(config)], ready=proxy_listening, env=env) as proxy:
        transport = streamable_http_client(proxy.ready["url"]) if front == "http" else sse_client(proxy.ready["sse"])
        async with tasks_client(transport) as client:
            yield client


async def lifecycle(client: TasksClient, prefix: str) -> list[Any]:
    """What a client sees of a task's life: made, waiting on input, answered, done; a cancel; a tool error."""
    seen: list[Any] = []
    created = await client.call(f"{prefix}confirm_delete", {"filename": "a.txt"})
    seen.append((created["resultType"], created["status"], sorted(created)))
    task_id = created["taskId"]
    waiting = await client.until(task_id, "input_required")
    seen.append((waiting["status"], waiting["taskId"] == task_id, waiting["inputRequests"]))
    ack = await client.update(task_id, {"confirm": {"action": "accept", "content": {"confirm": True}}})
    seen.append(sorted(ack))
    done = await client.until(task_id)
    seen.append((done["status"], done["result"]["content"], done["result"].get("isError")))
    running = (await client.call(f"{prefix}slow_compute", {"seconds": 60}))["taskId"]
    seen.append(sorted(await client.cancel(running)))
    seen.append((await client.get(running))["status"])
    failing = await client.until((await client.call(f"{prefix}failing_job"))["taskId"])
    seen.append((failing["status"], failing["result"]["isError"]))
    return seen


@asynccontextmanager
async def direct() -> AsyncGenerator[TasksClient]:
    """A client straight to the fixture over streamable HTTP: the reference."""
    async with (
        spawn(fixture_command("http"), ready=example_ready) as fixture,
        tasks_client(streamable_http_client(fixture.ready["url"])) as client,
    ):
        yield client


@pytest.fixture
async def direct_reference() -> AsyncIterator[list[Any]]:
    async with direct() as client:
        yield await lifecycle(client, "")


@pytest.mark.parametrize(("front", "transport"), [("stdio", "stdio"), ("http", "stdio"), ("sse", "stdio")])
async def test_every_front_shows_a_task_as_the_server_does(
    direct_reference: list[Any], front: str, transport: str, tmp_path: Path
) -> None:
    async with upstreams(tmp_path, transport, ("alpha",)) as config, proxied(config, front) as client:
        assert await lifecycle(client, "alpha__") == direct_reference
        discovered = client.session.discover_result
        assert discovered is not None and TASKS in (discovered.capabilities.extensions or {})


@pytest.mark.parametrize("transport", ["sse", "http"])
async def test_every_upstream_transport_carries_tasks(
    direct_reference: list[Any], transport: str, tmp_path: Path
) -> None:
    async with upstreams(tmp_path, transport, ("alpha",)) as config, proxied(config, "http") as client:
        assert await lifecycle(client, "alpha__") == direct_reference


async def relayed_count(base_url: str) -> float:
    """How many requests the proxy's lean relay answered so far (its metrics)."""
    async with httpx2.AsyncClient(base_url=base_url) as http:
        text = (await http.get("/metrics")).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(RELAYED_METRIC))


async def test_the_relay_declines_a_call_that_may_become_a_task(direct_reference: list[Any], tmp_path: Path) -> None:
    async with upstreams(tmp_path, "stdio", ("alpha",)) as config:
        args = [
            sys.executable,
            "-m",
            "mcp_proxy",
            "serve",
            "--transport",
            "http",
            "--port",
            "0",
            "--log-format",
            "json",
        ]
        async with (
            spawn([*args, "--config", str(config)], ready=proxy_listening) as proxy,
            tasks_client(streamable_http_client(proxy.ready["url"])) as client,
        ):
            base = proxy.ready["url"].removesuffix("/mcp")
            before = await relayed_count(base)
            created = await client.call("alpha__slow_compute", {"seconds": 0})
            assert created["resultType"] == "task" and created["taskId"].startswith("alpha.")
            assert await relayed_count(base) == before  # declined: the SDK path sealed the id
            assert (await client.call("alpha__slow_compute", {"seconds": 0}, tasks=False))["resultType"] == "complete"
            assert await relayed_count(base) == before + 1  # a call without the opt-in: relayed
            await client.until(created["taskId"])
            audited = [json.loads(line) for line in proxy.stderr_lines if '"audit"' in line]
            gets = [event for event in audited if event.get("method") == "tasks/get"]
            assert gets and gets[-1]["server"] == "alpha" and gets[-1]["name"] == created["taskId"]
        # With the relay off, the same life as directly.
        async with proxied(config, "http", fast_path=False) as client:
            assert await lifecycle(client, "alpha__") == direct_reference


async def test_ids_route_to_their_owner_and_no_other_id_opens(tmp_path: Path) -> None:
    async with upstreams(tmp_path, "stdio", ("alpha", "beta")) as config, proxied(config, "http") as client:
        alpha = (await client.call("alpha__slow_compute", {"seconds": 60, "label": "a"}))["taskId"]
        beta = (await client.call("beta__slow_compute", {"seconds": 0, "label": "b"}))["taskId"]
        assert alpha.startswith("alpha.") and beta.startswith("beta.")
        assert (await client.until(beta))["result"]["content"][0]["text"] == "Computed b after 0s"
        assert (await client.get(alpha))["status"] == "working"
        server, encoded, tag = beta.split(".")
        forged = [
            f"alpha.{encoded}.{tag}",  # beta's task, addressed to alpha
            f"{server}.{encoded}.{tag[:-1]}{'A' if tag[-1] != 'A' else 'B'}",  # tag altered
            f"{server}.{alpha.split('.')[1]}.{tag}",  # alpha's upstream id under beta's tag
            "task-1234",  # an upstream's own id, as a client might guess it
        ]
        for task_id in forged:
            for method in ("tasks/get", "tasks/cancel"):
                with pytest.raises(MCPError) as refused:
                    await client.request(method, {"taskId": task_id})
                assert (refused.value.code, refused.value.message) == (-32602, "Unknown task")
        assert (await client.get(alpha))["status"] == "working"  # no forged cancel reached it
        await client.cancel(alpha)


async def test_tasks_requests_are_checked_as_the_server_checks_them(tmp_path: Path) -> None:
    async with upstreams(tmp_path, "stdio", ("alpha",)) as config, proxied(config, "http") as client:
        task_id = (await client.call("alpha__slow_compute", {"seconds": 60}))["taskId"]
        with pytest.raises(MCPError) as undeclared:
            await client.request("tasks/get", {"taskId": task_id}, tasks=False)
        assert undeclared.value.code == -32021
        with pytest.raises(MCPError) as mismatched:
            await client.request("tasks/get", {"taskId": task_id}, name="alpha.another.task")
        assert mismatched.value.code == -32020
        with pytest.raises(MCPError) as required:
            await client.call("alpha__failing_job", tasks=False)
        assert required.value.code == -32021
        assert (await client.call("alpha__slow_compute", {"seconds": 0}, tasks=False))["resultType"] == "complete"
        await client.cancel(task_id)

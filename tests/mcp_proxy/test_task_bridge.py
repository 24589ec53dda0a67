"""2025-11-25 tasks through the proxy, real processes: passed through to handshake-era clients, bridged to 2026 ones.

The upstream is the 2025-11-25 tasks fixture (`tests/conformance/fixture_tasks_2025.py`), served
over stdio, streamable HTTP or SSE; the proxy serves its clients over stdio, streamable HTTP or
SSE, with the lean relay on and off. The reference for a handshake-era client is the same client
straight to the fixture: through the proxy it sees the same tasks, with ids of the proxy's own.
A 2026-07-28 client that opted in to the tasks extension sees the same tasks in that flavour.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conformance.launch import fixture_command
from tests.mcp_proxy.faults import wait_until
from tests.processes import REPO_ROOT, child_env, example_ready, proxy_listening, spawn, stdio_proxy
from tests.task_wire import TERMINAL, error_of, poll_until, result_of, send, without_times

pytestmark = pytest.mark.anyio

FIXTURE = "tests.conformance.fixture_tasks_2025"
PREFIX = "jobs__"
TRANSPORTS = ["stdio", "http", "sse"]


@asynccontextmanager
async def upstream_config(tmp: Path, transport: str, isolation: str = "shared") -> AsyncGenerator[Path]:
    """A configuration naming the fixture `jobs` on `transport` (started here unless stdio)."""
    async with AsyncExitStack() as stack:
        table = f'[servers.jobs]\ntransport = "{transport}"\nisolation = "{isolation}"\n'
        if transport == "stdio":
            python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
            table += f'command = {python}\nargs = ["-m", "{FIXTURE}"]\ncwd = {root}\n'
        else:
            fixture = await stack.enter_async_context(spawn(fixture_command(transport, FIXTURE), ready=example_ready))
            table += f'url = "{fixture.ready["url"]}"\n'
        path = tmp / "servers.toml"
        path.write_text("[proxy]\nstartup_timeout = 30\n\n" + table)
        yield path


@asynccontextmanager
async def proxy_client(config: Path, front: str, mode: str, *, fast_path: bool = True) -> AsyncGenerator[Client]:
    """An SDK client of the proxy serving `config` on `front`, in `mode` ("legacy" or "auto")."""
    env = {"MCP_PROXY_FAST_PATH": "1" if fast_path else "0"}
    if front == "stdio":
        params = stdio_proxy(config)
        params.env = {**(params.env or {}), **env}
        async with Client(stdio_client(params), mode=mode, cache=None) as client:
            yield client
        return
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0", "--log-format", "json"]
    async with spawn([*args, "--config", str(config)], ready=proxy_listening, env=env) as proxy:
        target: Any = proxy.ready["url"] if front == "http" else sse_client(proxy.ready["sse"])
        async with Client(target, mode=mode, cache=None) as client:
            yield client


@asynccontextmanager
async def direct_client(transport: str) -> AsyncGenerator[Client]:
    """A handshake-era SDK client straight to the fixture on `transport`."""
    if transport == "stdio":
        params = StdioServerParameters(command=sys.executable, args=["-m", FIXTURE], env=child_env(), cwd=REPO_ROOT)
        async with Client(stdio_client(params), mode="legacy", cache=None) as client:
            yield client
        return
    async with spawn(fixture_command(transport, FIXTURE), ready=example_ready) as fixture:
        target: Any = fixture.ready["url"] if transport == "http" else sse_client(fixture.ready["url"])
        async with Client(target, mode="legacy", cache=None) as client:
            yield client


async def _task(
    client: Client, name: str, arguments: dict[str, Any], *, opt_in: bool = False, **extra: Any
) -> dict[str, Any]:
    answer = await send(client, "tools/call", {"name": name, "arguments": arguments, **extra}, opt_in=opt_in)
    return result_of(answer)


async def handshake_era_life(client: Client, prefix: str) -> list[Any]:
    """What a 2025-11-25 client sees of tasks: the lists, a task's life, a cancel, failures, refusals."""
    seen: list[Any] = []
    tools = result_of(await send(client, "tools/list"))["tools"]
    seen.append(sorted((tool["name"].removeprefix(prefix), tool.get("execution")) for tool in tools))
    seen.append(client.server_capabilities.model_dump(by_alias=True, exclude_none=True).get("tasks"))
    quick = (await _task(client, prefix + "long_job", {"delay_ms": 100}, task={"ttl": 5000}))["task"]
    seen.append(without_times(quick))
    payload = result_of(await send(client, "tasks/result", {"taskId": quick["taskId"]}))
    assert payload.pop("_meta") == {"io.modelcontextprotocol/related-task": {"taskId": quick["taskId"]}}
    seen.append(payload)
    seen.append(without_times(result_of(await send(client, "tasks/get", {"taskId": quick["taskId"]}))))
    slow = (await _task(client, prefix + "long_job", {}, task={}))["task"]
    seen.append(result_of(await send(client, "tasks/get", {"taskId": slow["taskId"]}))["status"])
    listed = result_of(await send(client, "tasks/list"))["tasks"]
    seen.append(sorted((task["taskId"] == slow["taskId"], task["status"]) for task in listed))
    seen.append(without_times(result_of(await send(client, "tasks/cancel", {"taskId": slow["taskId"]}))))
    seen.append(error_of(await send(client, "tasks/cancel", {"taskId": slow["taskId"]}))["code"])
    seen.append(error_of(await send(client, "tasks/result", {"taskId": slow["taskId"]}))["code"])
    for outcome in ("error", "tool_error"):
        failing = (await _task(client, prefix + "long_job", {"delay_ms": 0, "outcome": outcome}, task={}))["task"]
        seen.append(await send(client, "tasks/result", {"taskId": failing["taskId"]}))
    seen.append(error_of(await send(client, "tools/call", {"name": prefix + "long_job", "arguments": {}}))["code"])
    seen.append(await _task(client, prefix + "echo_later", {"text": "plain"}))
    seen.append(error_of(await send(client, "tasks/get", {"taskId": "jobs.dGFzay0x.forged"}))["code"])
    return seen


def _without_meta(answer: dict[str, Any]) -> dict[str, Any]:
    if "result" in answer:
        return {"result": {k: v for k, v in answer["result"].items() if k != "_meta"}}
    return answer


def comparable(seen: list[Any]) -> list[Any]:
    """A life seen by one client, minus the ids the failing results name (each proxy mints its own)."""
    return [*seen[:10], *(_without_meta(answer) for answer in seen[10:12]), *seen[12:]]


@pytest.mark.parametrize(("front", "upstream"), [(f, u) for f in TRANSPORTS for u in TRANSPORTS])
async def test_a_handshake_era_client_sees_the_tasks_it_sees_straight_from_the_server(
    front: str, upstream: str, tmp_path: Path
) -> None:
    async with direct_client(upstream) as client:
        direct = await handshake_era_life(client, "")
    async with upstream_config(tmp_path, upstream) as config, proxy_client(config, front, "legacy") as client:
        proxied = await handshake_era_life(client, PREFIX)
    assert comparable(proxied) == comparable(direct)
    assert direct[1] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}


async def bridged_life(client: Client) -> None:
    """What a 2026-07-28 client that opted in sees of the same tasks, checked as it goes."""
    assert client.server_capabilities.extensions == {"io.modelcontextprotocol/tasks": {}}
    created = await _task(client, PREFIX + "long_job", {"delay_ms": 100}, opt_in=True)
    assert created["resultType"] == "task" and created["status"] == "working"
    assert isinstance(created["ttlMs"], int) and created["pollIntervalMs"] == 100
    assert "task" not in created and "ttl" not in created
    task_id = created["taskId"]

    async def get() -> dict[str, Any]:
        return result_of(await send(client, "tasks/get", {"taskId": task_id}, opt_in=True))

    done = await poll_until(get, lambda task: task["status"] in TERMINAL)
    assert done["resultType"] == "complete" and done["status"] == "completed" and done["taskId"] == task_id
    result = dict(done["result"])
    assert result.pop("_meta") == {"io.modelcontextprotocol/related-task": {"taskId": task_id}}
    assert result == {
        "content": [{"type": "text", "text": "long_job done after 100 ms"}],
        "isError": False,
        "resultType": "complete",
    }

    slow = await _task(client, PREFIX + "long_job", {}, opt_in=True)
    ack = result_of(await send(client, "tasks/cancel", {"taskId": slow["taskId"]}, opt_in=True))
    assert {key: value for key, value in ack.items() if key != "_meta"} == {"resultType": "complete"}
    cancelled = result_of(await send(client, "tasks/get", {"taskId": slow["taskId"]}, opt_in=True))
    assert cancelled["status"] == "cancelled" and "result" not in cancelled

    broken = await _task(client, PREFIX + "long_job", {"delay_ms": 0, "outcome": "error"}, opt_in=True)
    failed = await poll_until(
        lambda: send(client, "tasks/get", {"taskId": broken["taskId"]}, opt_in=True),
        lambda answer: result_of(answer)["status"] in TERMINAL,
    )
    assert result_of(failed)["status"] == "failed"
    assert result_of(failed)["error"] == {"code": -32603, "message": "long_job failed on purpose"}

    refused = error_of(await send(client, "tools/call", {"name": PREFIX + "long_job", "arguments": {}}))
    assert refused["code"] == -32021 and "io.modelcontextprotocol/tasks" in refused["message"]
    plain = await _task(client, PREFIX + "echo_later", {"text": "plain"})
    assert plain["content"] == [{"type": "text", "text": "plain"}]
    for method in ("tasks/result", "tasks/list"):
        assert error_of(await send(client, method, {"taskId": task_id}, opt_in=True))["code"] == -32601
    update = await send(client, "tasks/update", {"taskId": task_id, "inputResponses": {}}, opt_in=True)
    assert error_of(update)["code"] == -32602
    assert error_of(await send(client, "tasks/get", {"taskId": task_id + "x"}, opt_in=True))["code"] == -32602
    assert error_of(await send(client, "tasks/get", {"taskId": task_id}))["code"] == -32021  # did not opt in


@pytest.mark.parametrize(("front", "upstream"), [(f, u) for f in TRANSPORTS for u in TRANSPORTS])
async def test_a_2026_client_that_opted_in_gets_the_2025_servers_tasks_bridged(
    front: str, upstream: str, tmp_path: Path
) -> None:
    async with upstream_config(tmp_path, upstream) as config, proxy_client(config, front, "auto") as client:
        assert client.protocol_version == "2026-07-28"
        await bridged_life(client)


@pytest.mark.parametrize("front", ["stdio", "http"])
async def test_with_the_relay_off_both_flavours_behave_the_same(front: str, tmp_path: Path) -> None:
    async with upstream_config(tmp_path, "stdio") as config:
        async with proxy_client(config, front, "legacy", fast_path=True) as client:
            relayed = await handshake_era_life(client, PREFIX)
        async with proxy_client(config, front, "legacy", fast_path=False) as client:
            unrelayed = await handshake_era_life(client, PREFIX)
        assert comparable(relayed) == comparable(unrelayed)
        async with proxy_client(config, front, "auto", fast_path=False) as client:
            await bridged_life(client)


async def test_each_client_reaches_its_own_task_on_its_own_session_and_no_other(tmp_path: Path) -> None:
    # per-client isolation: each client's tasks live in its own upstream session, where the
    # server numbers them alike ("task-1"); each id leads back to its own session only.
    async with upstream_config(tmp_path, "http", isolation="per-client") as config:
        args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
        async with spawn([*args, "--config", str(config), "--log-format", "json"], ready=proxy_listening) as proxy:
            url = proxy.ready["url"]
            async with (
                Client(url, mode="legacy", cache=None) as first,
                Client(url, mode="legacy", cache=None) as second,
            ):
                mine = (await _task(first, PREFIX + "long_job", {}, task={}))["task"]
                theirs = (await _task(second, PREFIX + "long_job", {}, task={}))["task"]
                assert mine["taskId"] != theirs["taskId"]
                for client, own, other in ((first, mine, theirs), (second, theirs, mine)):
                    got = result_of(await send(client, "tasks/get", {"taskId": own["taskId"]}))
                    assert (got["taskId"], got["status"]) == (own["taskId"], "working")
                    assert error_of(await send(client, "tasks/get", {"taskId": other["taskId"]}))["code"] == -32602
                    listed = result_of(await send(client, "tasks/list"))["tasks"]
                    assert [task["taskId"] for task in listed] == [own["taskId"]]
                    cancelled = result_of(await send(client, "tasks/cancel", {"taskId": own["taskId"]}))
                    assert cancelled["status"] == "cancelled"
            # The calls that made the tasks are audited and reported like any tool call.
            await wait_until(lambda: len(_events(proxy.stderr_lines, "audit", "tools/call")) == 2)
            await wait_until(lambda: len(_events(proxy.stderr_lines, "tool_call")) == 2)
            audited = _events(proxy.stderr_lines, "audit", "tools/call")
            assert {(event["name"], event["server"], event["outcome"]) for event in audited} == {
                (PREFIX + "long_job", "jobs", "ok")
            }


def _events(lines: list[str], name: str, method: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == name and method in (None, event.get("method")):
            found.append(event)
    return found

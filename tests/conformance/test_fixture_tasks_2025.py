"""The 2025-11-25 tasks fixture: tool calls as tasks, polled, listed, cancelled, each in its own session."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conformance.fixture_tasks_2025 import DEFAULT_TTL_MS, POLL_INTERVAL_MS, RELATED_TASK_META_KEY, build_server
from tests.processes import REPO_ROOT, child_env
from tests.task_wire import TERMINAL, error_of, poll_until, result_of, send

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with Client(build_server(), mode="legacy", cache=None) as connected:
        yield connected


async def _task(client: Client, name: str, arguments: dict[str, object], ttl: int | None = 5000) -> dict[str, object]:
    task = {} if ttl is None else {"ttl": ttl}
    created = result_of(await send(client, "tools/call", {"name": name, "arguments": arguments, "task": task}))
    return created["task"]


async def test_the_handshake_declares_tasks_for_tool_calls_with_list_and_cancel(client: Client) -> None:
    tasks = result_of(await send(client, "tools/list"))
    assert {tool["name"]: tool.get("execution") for tool in tasks["tools"]} == {
        "echo_later": {"taskSupport": "optional"},
        "long_job": {"taskSupport": "required"},
        "echo_now": None,
    }
    caps = client.server_capabilities.model_dump(by_alias=True, exclude_none=True)
    assert caps["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}


async def test_a_task_augmented_call_answers_a_working_task_then_its_result(client: Client) -> None:
    task = await _task(client, "echo_later", {"text": "hi", "delay_ms": 50}, ttl=2000)
    assert task["status"] == "working"
    assert (task["ttl"], task["pollInterval"]) == (2000, POLL_INTERVAL_MS)
    assert task["createdAt"] == task["lastUpdatedAt"]
    payload = result_of(await send(client, "tasks/result", {"taskId": task["taskId"]}))  # waits for the end
    assert payload["content"] == [{"type": "text", "text": "hi"}]
    assert payload["_meta"] == {RELATED_TASK_META_KEY: {"taskId": task["taskId"]}}
    done = result_of(await send(client, "tasks/get", {"taskId": task["taskId"]}))
    assert done["status"] == "completed"
    listed = result_of(await send(client, "tasks/list"))
    assert [entry["taskId"] for entry in listed["tasks"]] == [task["taskId"]]


async def test_a_task_without_a_ttl_gets_the_default_retention(client: Client) -> None:
    task = await _task(client, "echo_later", {"text": "x"}, ttl=None)
    assert task["ttl"] == DEFAULT_TTL_MS


async def test_a_required_tool_called_plainly_is_method_not_found_and_a_forbidden_one_as_a_task_is_invalid(
    client: Client,
) -> None:
    assert error_of(await send(client, "tools/call", {"name": "long_job", "arguments": {}}))["code"] == -32601
    plain = result_of(await send(client, "tools/call", {"name": "echo_later", "arguments": {"text": "now"}}))
    assert plain["content"] == [{"type": "text", "text": "now"}]
    refused = await send(client, "tools/call", {"name": "echo_now", "arguments": {"text": "x"}, "task": {}})
    assert error_of(refused)["code"] == -32602


async def test_a_failing_job_ends_failed_with_its_error_or_its_tool_error(client: Client) -> None:
    broken = await _task(client, "long_job", {"delay_ms": 0, "outcome": "error"})
    assert error_of(await send(client, "tasks/result", {"taskId": broken["taskId"]}))["code"] == -32603
    erring = await _task(client, "long_job", {"delay_ms": 0, "outcome": "tool_error"})
    payload = result_of(await send(client, "tasks/result", {"taskId": erring["taskId"]}))
    assert payload["isError"] is True
    for task in (broken, erring):
        assert result_of(await send(client, "tasks/get", {"taskId": task["taskId"]}))["status"] == "failed"


async def test_cancelling_a_working_task_ends_it_cancelled_and_a_second_cancel_is_refused(client: Client) -> None:
    task = await _task(client, "long_job", {})
    cancelled = result_of(await send(client, "tasks/cancel", {"taskId": task["taskId"]}))
    assert cancelled["status"] == "cancelled"
    assert error_of(await send(client, "tasks/cancel", {"taskId": task["taskId"]}))["code"] == -32602
    assert error_of(await send(client, "tasks/result", {"taskId": task["taskId"]}))["code"] == -32602


async def test_a_task_belongs_to_its_session_and_unknown_ids_are_invalid_params() -> None:
    server = build_server()
    async with Client(server, mode="legacy", cache=None) as first, Client(server, mode="legacy", cache=None) as second:
        task = await _task(first, "echo_later", {"text": "mine", "delay_ms": 10})
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            assert error_of(await send(second, method, {"taskId": task["taskId"]}))["code"] == -32602
        assert result_of(await send(second, "tasks/list"))["tasks"] == []
        assert error_of(await send(first, "tasks/get", {"taskId": "task-999"}))["code"] == -32602


async def test_over_stdio_the_fixture_refuses_the_2026_probe_and_runs_tasks() -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tests.conformance.fixture_tasks_2025"], env=child_env(), cwd=REPO_ROOT
    )
    async with Client(stdio_client(params), mode="auto", cache=None) as client:
        assert client.protocol_version == "2025-11-25"  # the probe fell back to the handshake
        task = await _task(client, "long_job", {"delay_ms": 20})
        ended = await poll_until(
            lambda: send(client, "tasks/get", {"taskId": task["taskId"]}),
            lambda answer: result_of(answer)["status"] in TERMINAL,
        )
        assert result_of(ended)["status"] == "completed"

"""The fixture's tasks (`fixture_tasks.py`) as a real process, seen as the `tasks-*` scenarios see them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import MCPError
from mcp.client.streamable_http import streamable_http_client

from tests.conformance.launch import fixture_command
from tests.processes import example_ready, spawn
from tests.tasks_client import TasksClient, tasks_client

pytestmark = pytest.mark.anyio

TASKS = "io.modelcontextprotocol/tasks"


@pytest.fixture
async def client() -> AsyncIterator[TasksClient]:
    async with (
        spawn(fixture_command("http"), ready=example_ready) as fixture,
        tasks_client(streamable_http_client(fixture.ready["url"])) as connected,
    ):
        yield connected


def text(result: dict[str, object]) -> str:
    content = result["content"]
    assert isinstance(content, list) and content
    return str(content[0]["text"])  # pyright: ignore[reportUnknownArgumentType]


async def test_the_extension_is_advertised(client: TasksClient) -> None:
    discovered = client.session.discover_result
    assert discovered is not None and discovered.capabilities.extensions is not None
    assert TASKS in discovered.capabilities.extensions
    assert discovered.capabilities.tasks is None


async def test_an_opted_in_call_becomes_a_task_whose_result_tasks_get_inlines(client: TasksClient) -> None:
    created = await client.call("slow_compute", {"seconds": 0.2, "label": "x"})
    assert created["resultType"] == "task" and created["status"] == "working"
    assert {"createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs"} <= set(created)
    assert not {"result", "error", "inputRequests", "requestState", "ttl", "pollInterval"} & set(created)
    working = await client.get(created["taskId"])
    assert (working["taskId"], working["resultType"]) == (created["taskId"], "complete")
    done = await client.until(created["taskId"])
    assert done["status"] == "completed" and text(done["result"]) == "Computed x after 0.2s"


async def test_a_call_that_does_not_opt_in_is_answered_at_once_or_refused(client: TasksClient) -> None:
    answered = await client.call("slow_compute", {"seconds": 0}, tasks=False)
    assert answered["resultType"] == "complete" and "taskId" not in answered
    with pytest.raises(MCPError) as refused:
        await client.call("failing_job", tasks=False)
    assert refused.value.code == -32021
    assert refused.value.error.data == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
    with pytest.raises(MCPError) as gated:
        await client.request("tasks/get", {"taskId": "any"}, tasks=False)
    assert gated.value.code == -32021


async def test_tool_errors_complete_and_protocol_errors_fail(client: TasksClient) -> None:
    tool_error = await client.until((await client.call("failing_job"))["taskId"])
    assert tool_error["status"] == "completed" and tool_error["result"]["isError"] is True
    failed = await client.until((await client.call("protocol_error_job"))["taskId"])
    assert failed["status"] == "failed" and failed["error"]["code"] == -32603 and "result" not in failed


async def test_a_task_waits_for_every_answer_given_through_tasks_update(client: TasksClient) -> None:
    task_id = (await client.call("multi_input"))["taskId"]
    waiting = await client.until(task_id, "input_required")
    assert set(waiting["inputRequests"]) == {"first", "second"}
    assert waiting["inputRequests"]["first"]["method"] == "elicitation/create"
    ack = await client.update(task_id, {"first": {"action": "accept", "content": {"name": "ada"}}})
    assert ack.get("resultType") == "complete" and "taskId" not in ack
    still = await client.get(task_id)
    assert still["status"] == "input_required" and set(still["inputRequests"]) == {"second"}
    await client.update(task_id, {"second": {"action": "accept", "content": {"name": "bob"}}})
    done = await client.until(task_id)
    assert text(done["result"]) == "Received ada and bob"


async def test_cancel_stops_a_running_task_and_acknowledges_a_finished_one(client: TasksClient) -> None:
    task_id = (await client.call("slow_compute", {"seconds": 60}))["taskId"]
    assert (await client.cancel(task_id)).get("resultType") == "complete"
    assert (await client.get(task_id))["status"] == "cancelled"
    assert (await client.cancel(task_id)).get("resultType") == "complete"


async def test_unknown_ids_and_mismatched_names_are_refused(client: TasksClient) -> None:
    with pytest.raises(MCPError) as unknown:
        await client.get("task-that-never-was")
    assert unknown.value.code == -32602
    task_id = (await client.call("slow_compute", {"seconds": 60}))["taskId"]
    with pytest.raises(MCPError) as mismatched:
        await client.request("tasks/get", {"taskId": task_id}, name="another-task")
    assert mismatched.value.code == -32020
    await client.cancel(task_id)


async def test_a_round_of_questions_then_a_task(client: TasksClient) -> None:
    first = await client.call("test_tool_with_task")
    assert first["resultType"] == "input_required" and "taskId" not in first
    answer = {"user_name": {"action": "accept", "content": {"name": "Alice"}}}
    second = await client.request(
        "tools/call", {"name": "test_tool_with_task", "arguments": {}, "inputResponses": answer}
    )
    assert second["resultType"] == "task" and "requestState" not in second
    assert "Alice" in text((await client.until(second["taskId"]))["result"])


async def test_a_request_that_does_not_take_tasks_is_asked_in_rounds(client: TasksClient) -> None:
    first = await client.call("confirm_delete", {"filename": "b.txt"}, tasks=False)
    assert first["resultType"] == "input_required" and set(first["inputRequests"]) == {"confirm"}
    answer = {"confirm": {"action": "accept", "content": {"confirm": True}}}
    second = await client.request(
        "tools/call",
        {"name": "confirm_delete", "arguments": {"filename": "b.txt"}, "inputResponses": answer},
        tasks=False,
    )
    assert second["resultType"] == "complete" and text(second) == "Deleted b.txt"

"""Task status notices (`notifications/tasks` on `subscriptions/listen`) through the proxy, real processes.

The upstreams are the conformance fixture (`tests/conformance/fixture_task_listen.py`). The
reference is the same client straight to the fixture: through the proxy a listen that names task
ids hears the same notices, with the client's own (sealed) task ids and the front stream's
subscription id, split into one upstream listen per server that owns a task.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp import MCPError
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY

from mcp_proxy.upstream.task_listen import TaskListen, task_listen
from tests.mcp_proxy.test_tasks import direct, proxied, upstreams
from tests.tasks_client import DEADLINE_SECONDS, TasksClient, declaring

pytestmark = pytest.mark.anyio

ACCEPT = {"confirm": {"action": "accept", "content": {"confirm": True}}}
ASKS_AFTER_SECONDS = 2  # long enough for a listen to be acknowledged before the task asks


class Notices:
    """The `notifications/tasks` one listen received, in order."""

    def __init__(self, receive: MemoryObjectReceiveStream[dict[str, Any]]) -> None:
        self._receive = receive
        self.seen: list[dict[str, Any]] = []

    async def until(self, task_id: str, status: str) -> dict[str, Any]:
        """The first notice (already seen, or awaited within the deadline) of `task_id` in `status`."""
        with anyio.fail_after(DEADLINE_SECONDS):
            while True:
                for notice in self.seen:
                    if notice.get("taskId") == task_id and notice.get("status") == status:
                        return notice
                self.seen.append(await self._receive.receive())


@asynccontextmanager
async def listening(
    client: TasksClient, task_ids: list[str], *, tasks: bool = True, **also: Any
) -> AsyncGenerator[tuple[TaskListen, Notices]]:
    """A listen naming `task_ids` (opted in to tasks when `tasks`), and the notices it hears."""
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](1024)
    with send, receive:
        meta = declaring(tasks=tasks)
        async with task_listen(client.session, "test", task_ids, send.send_nowait, meta=meta, also=also) as listen:
            yield listen, Notices(receive)


def forged(task_id: str) -> str:
    """`task_id` with its last character changed."""
    return task_id[:-1] + ("A" if task_id[-1] != "A" else "B")


async def hear(client: TasksClient, prefix: str) -> list[Any]:
    """What a client hears of its tasks on a listen: their answers, their questions, and what it may not ask."""
    seen: list[Any] = []
    task_id = (await client.call(f"{prefix}confirm_delete", {"filename": "a.txt"}))["taskId"]
    await client.until(task_id, "input_required")
    asked = [task_id, forged(task_id), "task-unknown"]
    async with listening(client, asked, toolsListChanged=True) as (listen, notices):
        seen.append((listen.agreed == [task_id], listen.honored.tools_list_changed))
        await client.update(task_id, ACCEPT)
        done = await notices.until(task_id, "completed")
        seen.append((sorted(done), done["result"]["content"], done["result"].get("isError")))
        seen.append(done["_meta"] == {SUBSCRIPTION_ID_META_KEY: listen.subscription_id})
    task_id = (await client.call(f"{prefix}confirm_delete", {"filename": "b.txt", "seconds": ASKS_AFTER_SECONDS}))[
        "taskId"
    ]
    async with listening(client, [task_id]) as (listen, notices):
        assert (await client.get(task_id))["status"] == "working", "the task asked before the listen was acknowledged"
        asking = await notices.until(task_id, "input_required")
        seen.append((asking["taskId"] == task_id, asking["inputRequests"]))
        await client.update(task_id, ACCEPT)
        seen.append((await notices.until(task_id, "completed"))["result"]["content"])
        seen.append([notice["status"] for notice in notices.seen])
    with pytest.raises(MCPError) as refused:
        async with listening(client, [task_id], tasks=False):
            pass
    seen.append((refused.value.error.code, refused.value.error.data))
    return seen


@pytest.fixture
async def direct_reference() -> AsyncIterator[list[Any]]:
    async with direct() as client:
        yield await hear(client, "")


async def test_the_reference_hears_what_the_extension_promises(direct_reference: list[Any]) -> None:
    completed, asking, statuses, refused = (
        direct_reference[1],
        direct_reference[3],
        direct_reference[5],
        direct_reference[6],
    )
    assert direct_reference[0] == (True, True)
    assert "result" in completed[0] and completed[1] == [{"type": "text", "text": "Deleted a.txt"}]
    assert asking[0] is True and set(asking[1]) == {"confirm"}
    assert statuses == ["input_required", "working", "completed"]
    assert refused == (-32021, {"requiredCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}})


@pytest.mark.parametrize(
    ("front", "transport", "fast_path"),
    [("stdio", "stdio", True), ("http", "stdio", True), ("http", "http", True), ("http", "stdio", False)],
)
async def test_a_listen_through_the_proxy_hears_what_the_server_says(
    direct_reference: list[Any], front: str, transport: str, fast_path: bool, tmp_path: Path
) -> None:
    async with upstreams(tmp_path, transport, ("alpha",)) as config, proxied(config, front, fast_path=fast_path) as c:
        assert await hear(c, "alpha__") == direct_reference


@asynccontextmanager
async def two_waiting(client: TasksClient) -> AsyncGenerator[list[str]]:
    """A task waiting on input on each of two servers, alpha and beta."""
    ids = [
        (await client.call(f"{name}__confirm_delete", {"filename": f"{name}.txt"}))["taskId"]
        for name in ("alpha", "beta")
    ]
    for task_id in ids:
        await client.until(task_id, "input_required")
    yield ids


@pytest.mark.parametrize(("front", "transport"), [("stdio", "stdio"), ("http", "http")])
async def test_one_listen_hears_tasks_of_two_servers(front: str, transport: str, tmp_path: Path) -> None:
    async with (
        upstreams(tmp_path, transport, ("alpha", "beta")) as config,
        proxied(config, front) as client,
        two_waiting(client) as ids,
        listening(client, ids) as (listen, notices),
    ):
        assert listen.agreed == ids
        for task_id in ids:
            await client.update(task_id, ACCEPT)
        done = [await notices.until(task_id, "completed") for task_id in ids]
        assert [notice["result"]["content"][0]["text"] for notice in done] == ["Deleted alpha.txt", "Deleted beta.txt"]
        assert {notice["_meta"][SUBSCRIPTION_ID_META_KEY] for notice in done} == {listen.subscription_id}


async def test_a_cancelled_task_is_heard_and_the_other_server_goes_on(tmp_path: Path) -> None:
    async with (
        upstreams(tmp_path, "http", ("alpha", "beta")) as config,
        proxied(config, "http") as client,
        two_waiting(client) as ids,
        listening(client, ids) as (listen, notices),
    ):
        assert listen.agreed == ids
        await client.cancel(ids[0])
        assert (await notices.until(ids[0], "cancelled"))["taskId"] == ids[0]
        await client.update(ids[1], ACCEPT)
        assert (await notices.until(ids[1], "completed"))["result"]["content"][0]["text"] == "Deleted beta.txt"

"""A 2026-07-28 client of the tasks extension, for tests: raw JSON-RPC over any transport.

The SDK's client session cannot parse a task (it checks every `tools/call` answer against the
core shapes), so this client sends its requests through the session's raw machinery
(`ForwardingSession.send_raw`): the same era stamp and headers as the SDK's own requests, `Mcp-Name`
with the task id on `tasks/*`, and the answer as decoded JSON. Each request declares its own
client capabilities, opting in to tasks or not, as the extension has it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from mcp import MCPError

from mcp_proxy.upstream.link import ForwardingSession
from mcp_proxy.upstream.tasks import TASKS_EXTENSION

TERMINAL = frozenset({"completed", "failed", "cancelled"})
POLL_SECONDS = 0.05
DEADLINE_SECONDS = 20.0
START_DEADLINE_SECONDS = 60.0


def declaring(*, tasks: bool) -> dict[str, Any]:
    """The `_meta` of a request that declares elicitation, and opts in to tasks when `tasks`."""
    capabilities: dict[str, Any] = {"elicitation": {}}
    if tasks:
        capabilities["extensions"] = {TASKS_EXTENSION: {}}
    return {types.CLIENT_CAPABILITIES_META_KEY: capabilities}


class TasksClient:
    """Tool calls that may become tasks, and the `tasks/*` requests about them."""

    def __init__(self, session: ForwardingSession) -> None:
        self.session = session

    async def request(
        self, method: str, params: dict[str, Any], *, tasks: bool = True, name: str | None = None
    ) -> dict[str, Any]:
        """One request, opted in to tasks or not; the result as JSON (an `MCPError` for an error).

        `Mcp-Name` carries `name`, by default the task id the request names.
        """
        task_id = params.get("taskId")
        with anyio.fail_after(DEADLINE_SECONDS):
            return await self.session.send_raw(
                method,
                {**params, "_meta": declaring(tasks=tasks)},
                name=name or (task_id if isinstance(task_id, str) else None),
            )

    async def call(self, name: str, arguments: dict[str, Any] | None = None, *, tasks: bool = True) -> dict[str, Any]:
        """`tools/call`."""
        return await self.request("tools/call", {"name": name, "arguments": arguments or {}}, tasks=tasks)

    async def get(self, task_id: str) -> dict[str, Any]:
        """`tasks/get`."""
        return await self.request("tasks/get", {"taskId": task_id})

    async def update(self, task_id: str, responses: dict[str, Any]) -> dict[str, Any]:
        """`tasks/update` with `inputResponses`."""
        return await self.request("tasks/update", {"taskId": task_id, "inputResponses": responses})

    async def cancel(self, task_id: str) -> dict[str, Any]:
        """`tasks/cancel`."""
        return await self.request("tasks/cancel", {"taskId": task_id})

    async def until(self, task_id: str, *statuses: str) -> dict[str, Any]:
        """Poll `tasks/get` until the task is in one of `statuses` or terminal (within the deadline)."""
        wanted = set(statuses) | TERMINAL
        with anyio.fail_after(DEADLINE_SECONDS):
            while (task := await self.get(task_id))["status"] not in wanted:
                await anyio.sleep(POLL_SECONDS)
        return task


@asynccontextmanager
async def tasks_client(transport: AbstractAsyncContextManager[Any]) -> AsyncGenerator[TasksClient]:
    """A 2026-07-28 session over `transport` (any SDK client transport), discovered and ready."""
    async with transport as streams:
        read, write = streams[0], streams[1]
        async with ForwardingSession(read, write) as session:
            with anyio.fail_after(START_DEADLINE_SECONDS):
                while True:  # a proxy still starting its upstreams answers the probe late
                    try:
                        await session.discover()
                        break
                    except MCPError as exc:
                        if exc.code != types.REQUEST_TIMEOUT:
                            raise
            yield TasksClient(session)

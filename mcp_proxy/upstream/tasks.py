"""Tasks on the upstream side: what a server answers when it makes a call a task, and the opt-in.

The tasks extension of 2026-07-28 (`io.modelcontextprotocol/tasks`) lets a server answer a
`tools/call` with a task (`resultType: "task"`) instead of a result, when the request declared
the extension in its `_meta` client capabilities. The SDK's client session does not know that
answer (it validates every `tools/call` result against the core shapes), so a call that may
become a task, and the `tasks/*` requests that follow it, go to the server as raw JSON-RPC on
the session's own request machinery (`ForwardingSession.send_raw`) and come back as decoded
JSON. What the client sees of a task (its id above all) is the front's business (`front/tasks.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import mcp_types as types
from mcp import MCPError
from pydantic import ConfigDict, Field

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
"""The identifier of the 2026-07-28 tasks extension, in capabilities and per-request opt-ins."""

TASK_METHODS = ("tasks/get", "tasks/update", "tasks/cancel")
"""The requests about one task, each naming it in `params.taskId`."""


class CreatedTask(types.Result):
    """A server's answer that made a call a task (`resultType: "task"`), every field kept as sent."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    result_type: str = Field(default="task", alias="resultType")
    task_id: str = Field(alias="taskId")

    @classmethod
    def answered(cls, raw: Mapping[str, Any]) -> CreatedTask | None:
        """The task in a raw `tools/call` answer; None when the answer is not a task (or names none)."""
        if raw.get("resultType") != "task" or not isinstance(raw.get("taskId"), str):
            return None
        return cls.model_validate(dict(raw), by_name=False)


def declares_tasks(declared: types.ClientCapabilities | None) -> bool:
    """Whether a client's capability declaration opts in to tasks."""
    return declared is not None and TASKS_EXTENSION in (declared.extensions or {})


def opts_in(meta: Mapping[str, Any] | None) -> bool:
    """Whether a request's `_meta` declares the tasks extension among its client capabilities."""
    declared = (meta or {}).get(types.CLIENT_CAPABILITIES_META_KEY)
    if not isinstance(declared, dict):
        return False
    extensions = cast("dict[str, Any]", declared).get("extensions")
    return isinstance(extensions, dict) and TASKS_EXTENSION in extensions


def missing_extension(method: str) -> MCPError:
    """-32021 naming the tasks extension as the client capability the request lacks."""
    return MCPError(
        types.MISSING_REQUIRED_CLIENT_CAPABILITY,
        f"{method} needs the client capability extensions[{TASKS_EXTENSION!r}]",
        {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
    )


class TaskUnreachable(Exception):
    """The server's session for this caller does not speak the era of the task asked about."""

    def __init__(self, server: str) -> None:
        self.server = server
        super().__init__(f"{server} holds no task in this protocol era")

"""A handshake-era server with the 2025-11-25 tasks: tool calls that run as tasks, polled for their result.

Run it from the repository root::

    python -m tests.conformance.fixture_tasks_2025 [--transport stdio|sse|http] [--host 127.0.0.1] [--port N]

It speaks only the handshake era (it refuses `server/discover`, as servers on the 2025 SDKs do)
and declares `capabilities.tasks {list, cancel, requests.tools.call}`. Its tools:

- `echo_later` (`execution.taskSupport: "optional"`): echoes `text` after `delay_ms`, as a task
  when the request asks for one (`task: {ttl}`), else as a plain call;
- `long_job` (`"required"`): runs `delay_ms` (a minute unless told), then ends as `outcome`
  says: `ok` (a result), `tool_error` (a result with `isError`) or `error` (a JSON-RPC error);
  called without `task` it is refused with -32601, as the specification says;
- `echo_now` (no `execution`: tasks forbidden): echoes at once; asked as a task, -32602.

A task lives in the session that created it: `tasks/get`, `tasks/result`, `tasks/list` and
`tasks/cancel` on another session do not see it (-32602 "Unknown task"), so a client (or a
proxy) that loses the session loses its tasks. Each change of status is told to the creating
session in `notifications/tasks/status`. `tasks/result` waits for the end, and answers the tool's
result, with the `io.modelcontextprotocol/related-task` stamp in `_meta`, or the task's error.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.runner import serve_loop
from mcp.server.session import ServerSession

from tests.conformance.serving import serve_main

Ctx = ServerRequestContext[Any, Any]

SERVER_NAME = "tasks-2025-fixture"
DESCRIPTION = "A handshake-era MCP server whose tools run as 2025-11-25 tasks."
RELATED_TASK_META_KEY = "io.modelcontextprotocol/related-task"
DEFAULT_TTL_MS = 300_000
"""The retention granted when the request names none (and the most granted)."""
POLL_INTERVAL_MS = 100
LONG_JOB_MS = 60_000
TERMINAL = frozenset({"completed", "failed", "cancelled"})
TASKS_CAPABILITY = types.ServerTasksCapability(
    list=types.TasksListCapability(),
    cancel=types.TasksCancelCapability(),
    requests=types.ServerTasksRequestsCapability(tools=types.TasksToolsCapability(call=types.TasksCallCapability())),
)

_TEXT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "delay_ms": {"type": "integer", "minimum": 0}},
    "required": ["text"],
}
_JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "delay_ms": {"type": "integer", "minimum": 0},
        "outcome": {"type": "string", "enum": ["ok", "tool_error", "error"]},
    },
}
TOOLS = [
    types.Tool(
        name="echo_later",
        description="Echo the text after delay_ms milliseconds; may run as a task.",
        input_schema=_TEXT_SCHEMA,
        execution=types.ToolExecution(task_support="optional"),
    ),
    types.Tool(
        name="long_job",
        description="A job that must run as a task: ends after delay_ms as outcome says.",
        input_schema=_JOB_SCHEMA,
        execution=types.ToolExecution(task_support="required"),
    ),
    types.Tool(
        name="echo_now",
        description="Echo the text at once; never a task.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    ),
]
_SUPPORT = {tool.name: (tool.execution.task_support if tool.execution else None) or "forbidden" for tool in TOOLS}


def _connection_of(ctx: Ctx) -> object:
    return ctx.session._connection  # pyright: ignore[reportPrivateUsage]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _text(text: str, *, error: bool = False) -> dict[str, Any]:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error).model_dump(
        by_alias=True, mode="json", exclude_none=True, exclude={"result_type"}
    )


async def run_tool(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run one tool to its end: its `CallToolResult` as a wire dict, or an `MCPError`."""
    delay = arguments.get("delay_ms", LONG_JOB_MS if name == "long_job" else 0)
    if not isinstance(delay, int) or delay < 0:
        raise MCPError(types.INVALID_PARAMS, "delay_ms must be a non-negative integer")
    await asyncio.sleep(delay / 1000)
    if name == "long_job":
        outcome = arguments.get("outcome", "ok")
        if outcome == "error":
            raise MCPError(types.INTERNAL_ERROR, "long_job failed on purpose")
        return _text(f"long_job done after {delay} ms", error=outcome == "tool_error")
    text = arguments.get("text")
    if not isinstance(text, str):
        raise MCPError(types.INVALID_PARAMS, f"{name} needs the string argument 'text'")
    return _text(text)


@dataclass
class TaskRecord:
    """One task: its public state, the session it belongs to, and its outcome once ended."""

    task_id: str
    session: ServerSession
    connection: object
    """The client connection that created the task (the SDK makes a `ServerSession` per request)."""
    ttl: int
    status: str = "working"
    status_message: str | None = None
    created_at: str = field(default_factory=_now)
    last_updated_at: str = ""
    result: dict[str, Any] | None = None
    error: MCPError | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    runner: asyncio.Task[None] | None = None

    def wire(self) -> dict[str, Any]:
        """The task as the 2025-11-25 `Task` object."""
        task: dict[str, Any] = {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.last_updated_at or self.created_at,
            "ttl": self.ttl,
            "pollInterval": POLL_INTERVAL_MS,
        }
        if self.status_message is not None:
            task["statusMessage"] = self.status_message
        return task


class TaskServer:
    """The tools and the task store of one server process."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        self._ids = itertools.count(1)

    # ---- plain calls ------------------------------------------------------------------

    async def list_tools(self, ctx: Ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(self, ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        support = _SUPPORT.get(params.name)
        if support is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        if support == "required":
            raise MCPError(types.METHOD_NOT_FOUND, f"{params.name} must be called as a task (task: {{ttl}})")
        return types.CallToolResult.model_validate(await run_tool(params.name, params.arguments or {}))

    # ---- task-augmented calls ---------------------------------------------------------

    async def middleware(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        """Refuse the 2026-07-28 probe; answer a task-augmented `tools/call` with a `CreateTaskResult`.

        The SDK's server checks a `tools/call` answer against `CallToolResult`, so the task
        reply is written here, before that check.
        """
        if ctx.method == "server/discover":
            raise MCPError(types.METHOD_NOT_FOUND, "Method not found")
        params = ctx.params or {}
        if ctx.method == "tools/call" and params.get("task") is not None:
            return self._create(ctx, params)
        return await call_next(ctx)

    def _create(self, ctx: Ctx, params: Any) -> dict[str, Any]:
        name, arguments, task = params.get("name"), params.get("arguments") or {}, params.get("task")
        support = _SUPPORT.get(name) if isinstance(name, str) else None
        if support is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}")
        if support == "forbidden":
            raise MCPError(types.INVALID_PARAMS, f"{name} does not run as a task")
        if not isinstance(task, dict) or not isinstance(arguments, dict):
            raise MCPError(types.INVALID_PARAMS, "task and arguments must be objects")
        asked = cast(dict[str, Any], task).get("ttl")
        ttl = min(asked, DEFAULT_TTL_MS) if isinstance(asked, int) and asked > 0 else DEFAULT_TTL_MS
        record = TaskRecord(f"task-{next(self._ids)}", ctx.session, _connection_of(ctx), ttl)
        self.tasks[record.task_id] = record
        record.runner = asyncio.create_task(self._run(record, name, cast(dict[str, Any], arguments)))
        return {"task": record.wire()}

    async def _run(self, record: TaskRecord, name: str, arguments: dict[str, Any]) -> None:
        try:
            record.result = await run_tool(name, arguments)
            failed = bool(record.result.get("isError"))
            await self._settle(
                record, "failed" if failed else "completed", "the tool reported an error" if failed else None
            )
        except MCPError as exc:
            record.error = exc
            await self._settle(record, "failed", exc.error.message)
        except asyncio.CancelledError:
            record.error = MCPError(types.INVALID_PARAMS, "The task was cancelled")
            await self._settle(record, "cancelled", "cancelled at the client's request")

    async def _settle(self, record: TaskRecord, status: str, message: str | None) -> None:
        record.status, record.status_message, record.last_updated_at = status, message, _now()
        record.done.set()
        notice = {"method": "notifications/tasks/status", "params": record.wire()}
        try:
            await record.session.send_notification(cast(types.ServerNotification, _Notice(notice)))
        except Exception:  # the session may be gone: the status stays readable through tasks/get
            return

    # ---- tasks/* ----------------------------------------------------------------------

    def _owned(self, ctx: Ctx, task_id: str) -> TaskRecord:
        record = self.tasks.get(task_id)
        if record is None or record.connection is not _connection_of(ctx):
            raise MCPError(types.INVALID_PARAMS, f"Unknown task: {task_id}")
        return record

    async def get(self, ctx: Ctx, params: types.GetTaskRequestParams) -> dict[str, Any]:
        return self._owned(ctx, params.task_id).wire()

    async def result(self, ctx: Ctx, params: types.GetTaskPayloadRequestParams) -> dict[str, Any]:
        record = self._owned(ctx, params.task_id)
        await record.done.wait()
        if record.error is not None:
            raise record.error
        assert record.result is not None
        return {**record.result, "_meta": {RELATED_TASK_META_KEY: {"taskId": record.task_id}}}

    async def list(self, ctx: Ctx, params: types.PaginatedRequestParams) -> dict[str, Any]:
        return {"tasks": [record.wire() for record in self.tasks.values() if record.connection is _connection_of(ctx)]}

    async def cancel(self, ctx: Ctx, params: types.CancelTaskRequestParams) -> dict[str, Any]:
        record = self._owned(ctx, params.task_id)
        if record.status in TERMINAL:
            raise MCPError(types.INVALID_PARAMS, f"Task {record.task_id} has already ended ({record.status})")
        assert record.runner is not None
        record.runner.cancel()
        await record.done.wait()
        return record.wire()


class _Notice:
    """A notification the SDK's typed union does not hold, dumped as written."""

    def __init__(self, message: dict[str, Any]) -> None:
        self._message = message

    def model_dump(self, **_: Any) -> dict[str, Any]:
        return self._message


class TasksServer(Server[Any]):
    """The low-level server, declaring the 2025-11-25 tasks capability."""

    def get_capabilities(self, *args: Any, **kwargs: Any) -> types.ServerCapabilities:
        caps = super().get_capabilities(*args, **kwargs)
        caps.tasks = TASKS_CAPABILITY
        return caps

    async def run(
        self, read_stream: Any, write_stream: Any, initialization_options: Any, raise_exceptions: bool = False
    ) -> None:
        """Serve one stdio or SSE connection in the handshake era only (open to `initialize` after a probe)."""
        async with self.lifespan(self) as state:
            await serve_loop(self, read_stream, write_stream, lifespan_state=state, init_options=initialization_options)


def build_server(state: TaskServer | None = None) -> Server[Any]:
    """The fixture as a low-level server (a fresh `TaskServer` unless one is given)."""
    state = state or TaskServer()
    server = TasksServer(SERVER_NAME, version="1.0.0", on_list_tools=state.list_tools, on_call_tool=state.call_tool)
    server.add_request_handler("tasks/get", types.GetTaskRequestParams, state.get)
    server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, state.result)
    server.add_request_handler("tasks/list", types.PaginatedRequestParams, state.list)
    server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, state.cancel)
    server.middleware.append(state.middleware)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fixture on the transport the command line names."""
    serve_main(build_server(), argv, prog="python -m tests.conformance.fixture_tasks_2025", description=DESCRIPTION)


if __name__ == "__main__":
    main()

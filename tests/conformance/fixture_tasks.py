"""Tasks (the `io.modelcontextprotocol/tasks` extension, 2026-07-28): what the `tasks-*` scenarios call.

A request that declares the extension in its `_meta` client capabilities may get a task
instead of a result: `tools/call` answers `resultType: "task"` with the task's id and status
at once, the work goes on in the background, and the client polls `tasks/get` (which inlines
the result, the error or the questions of a task waiting on input), answers those questions
with `tasks/update` and stops a task with `tasks/cancel`. A request that does not declare it
is served synchronously, or refused with -32021 by a tool that can only run as a task; the
`tasks/*` methods refuse it the same way. Over streamable HTTP, `tasks/*` requests carry
`Mcp-Name: <taskId>`, checked against the body like the SDK checks the other names.

The tools are the suite's: `greet` (never a task), `slow_compute`, `failing_job` (a tool error,
task required), `protocol_error_job` (a failed task), `confirm_delete` and `multi_input` (tasks
that wait on the client; for a request that does not take tasks, questions in rounds, as
`fixture_rounds.py` asks them), and `test_tool_with_task` (a question in a round, then a task).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server import Server
from mcp.shared.inbound import MCP_METHOD_HEADER, decode_header_value
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ConfigDict, Field

from tests.conformance.fixture_rounds import Answers, StateSeal, form, in_rounds
from tests.conformance.fixture_tools import (
    EMPTY_OBJECT_SCHEMA,
    Context,
    FixtureTool,
    ToolFunction,
    ToolOutcome,
    text_result,
)

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
TASK_TTL_MS = 300_000
POLL_INTERVAL_MS = 100
FAILING_JOB_SECONDS = 0.2
TERMINAL = frozenset({"completed", "failed", "cancelled"})

Status = Literal["working", "input_required", "completed", "failed", "cancelled"]
Work = Callable[["TaskRecord"], Awaitable[types.CallToolResult]]
# What a task tool answers: a created task goes on the wire as the JSON written (the runner takes
# a dict; the SDK's typing of `tools/call` results does not know tasks).
TaskToolOutcome = ToolOutcome | dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def opted_in(ctx: Context) -> bool:
    """Whether this request declared the tasks extension in its client capabilities."""
    declared = ctx.session.client_capabilities
    return declared is not None and TASKS_EXTENSION in (declared.extensions or {})


def missing_extension(what: str) -> MCPError:
    """-32021 naming the tasks extension as the capability the request lacks."""
    return MCPError(
        types.MISSING_REQUIRED_CLIENT_CAPABILITY,
        f"{what} needs the client capability extensions[{TASKS_EXTENSION!r}]",
        {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
    )


@dataclass
class TaskRecord:
    """One task: its state as `tasks/get` shows it, and the questions it waits on."""

    task_id: str
    created_at: str = field(default_factory=_now)
    last_updated_at: str = ""
    status: Status = "working"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    answered: anyio.Event = field(default_factory=anyio.Event)
    created: float = field(default_factory=time.monotonic)
    runner: asyncio.Task[None] | None = None
    on_change: Callable[[TaskRecord], None] | None = None
    """Told of each status change, once the result, error or questions of the new status are in place."""

    def __post_init__(self) -> None:
        self.last_updated_at = self.created_at

    def set_status(self, status: Status) -> None:
        """Move to `status` (a terminal task never moves again)."""
        if self.status in TERMINAL:
            return
        self.status = status
        self.last_updated_at = _now()
        if self.on_change is not None:
            self.on_change(self)

    async def ask(self, questions: Mapping[str, types.InputRequest]) -> dict[str, Any]:
        """Wait until every question is answered (through `tasks/update`); the answers by key."""
        for key, request in questions.items():
            self.pending[key] = request.model_dump(by_alias=True, mode="json", exclude_none=True)
        self.set_status("input_required")
        while any(key not in self.answers for key in questions):
            self.answered = anyio.Event()
            await self.answered.wait()
        self.set_status("working")
        return {key: self.answers.pop(key) for key in questions}

    def answer(self, responses: Mapping[str, Any]) -> None:
        """Take the answers to pending questions; answers to anything else are ignored."""
        for key, response in responses.items():
            if self.pending.pop(key, None) is not None:
                self.answers[key] = response
        self.answered.set()

    def envelope(self) -> dict[str, Any]:
        """The task fields every task answer carries."""
        return {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.last_updated_at,
            "ttlMs": TASK_TTL_MS,
            "pollIntervalMs": POLL_INTERVAL_MS,
        }

    def detailed(self) -> dict[str, Any]:
        """The `tasks/get` answer: the envelope plus the result, the error or the open questions."""
        detailed = self.envelope()
        if self.status == "completed" and self.result is not None:
            detailed["result"] = self.result
        elif self.status == "failed" and self.error is not None:
            detailed["error"] = self.error
        elif self.status == "input_required":
            detailed["inputRequests"] = dict(self.pending)
        return detailed


class TaskGetParams(types.RequestParams):
    """`tasks/get` and `tasks/cancel`: the task's id."""

    model_config = ConfigDict(extra="allow")
    task_id: str = Field(alias="taskId")


class TaskUpdateParams(TaskGetParams):
    """`tasks/update`: the task's id and answers to its questions."""

    input_responses: dict[str, Any] = Field(default_factory=dict, alias="inputResponses")


class TaskStore:
    """The fixture's tasks, their tools and the `tasks/*` methods."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskRecord] = {}
        self.seal = StateSeal()  # for the rounds of a tool that asks a request that does not take tasks
        self._watchers: dict[object, Callable[[TaskRecord], None]] = {}

    def watch(self, watcher: Callable[[TaskRecord], None]) -> Callable[[], None]:
        """Tell `watcher` of every task's status changes (synchronously); returns the way to stop."""
        token = object()
        self._watchers[token] = watcher

        def stop() -> None:
            self._watchers.pop(token, None)

        return stop

    def _changed(self, record: TaskRecord) -> None:
        for watcher in list(self._watchers.values()):
            watcher(record)

    # ---- running tasks ----------------------------------------------------------------

    def start(self, work: Work) -> dict[str, Any]:
        """Create a task running `work` in the background; its `CreateTaskResult`.

        The task is stored before the answer goes out, so a `tasks/get` sent as soon as the
        client has the id finds it.
        """
        self._expire()
        record = TaskRecord(task_id=f"task-{secrets.token_hex(8)}", on_change=self._changed)
        self.tasks[record.task_id] = record
        record.runner = asyncio.get_running_loop().create_task(self._run(record, work))
        return {"resultType": "task", **record.envelope()}

    async def _run(self, record: TaskRecord, work: Work) -> None:
        try:
            result = await work(record)
        except asyncio.CancelledError:
            record.set_status("cancelled")
            return
        except MCPError as exc:
            record.error = exc.error.model_dump(by_alias=True, mode="json", exclude_none=True)
            record.set_status("failed")
            return
        record.result = {"resultType": "complete", **result.model_dump(by_alias=True, mode="json", exclude_none=True)}
        record.set_status("completed")

    def _expire(self) -> None:
        deadline = time.monotonic() - TASK_TTL_MS / 1000
        for task_id in [t for t, r in self.tasks.items() if r.status in TERMINAL and r.created < deadline]:
            del self.tasks[task_id]

    # ---- the tasks/* methods ----------------------------------------------------------

    def _task(self, ctx: Context, task_id: str, method: str) -> TaskRecord:
        if not opted_in(ctx):
            raise missing_extension(method)
        check_name_header(ctx, task_id)
        record = self.tasks.get(task_id)
        if record is None:
            raise MCPError(types.INVALID_PARAMS, "Unknown task", {"taskId": task_id})
        return record

    async def get(self, ctx: Context, params: TaskGetParams) -> dict[str, Any]:
        """`tasks/get`: the task with its result, error or open questions inlined."""
        return {"resultType": "complete", **self._task(ctx, params.task_id, "tasks/get").detailed()}

    async def update(self, ctx: Context, params: TaskUpdateParams) -> dict[str, Any]:
        """`tasks/update`: answers delivered; an empty acknowledgement."""
        self._task(ctx, params.task_id, "tasks/update").answer(params.input_responses)
        return {"resultType": "complete"}

    async def cancel(self, ctx: Context, params: TaskGetParams) -> dict[str, Any]:
        """`tasks/cancel`: a running task is stopped; an empty acknowledgement, also for a finished task."""
        record = self._task(ctx, params.task_id, "tasks/cancel")
        if record.status not in TERMINAL and record.runner is not None:
            record.runner.cancel()
            record.set_status("cancelled")
        return {"resultType": "complete"}

    def install(self, server: Server[Any]) -> None:
        """Advertise the extension on `server` and serve the `tasks/*` methods there."""
        server.extensions[TASKS_EXTENSION] = {}
        server.add_request_handler("tasks/get", TaskGetParams, self.get)
        server.add_request_handler("tasks/update", TaskUpdateParams, self.update)
        server.add_request_handler("tasks/cancel", TaskGetParams, self.cancel)

    # ---- the tools --------------------------------------------------------------------

    def tools(self) -> dict[str, FixtureTool]:
        """The tools the tasks scenarios call, by name."""
        number = {"type": "object", "properties": {"seconds": {"type": "number"}, "label": {"type": "string"}}}
        # `confirm_delete` also takes `seconds` (to work before it asks), left out of its schema: the
        # definition stays the suite's, which proxies pin (a changed definition is held for review).
        filename = {"type": "object", "properties": {"filename": {"type": "string"}}}
        specs: list[tuple[str, str, Callable[..., Awaitable[TaskToolOutcome]], dict[str, Any]]] = [
            (
                "greet",
                "Greets by name, at once (never a task)",
                self._greet,
                {"properties": {"name": {"type": "string"}}},
            ),
            ("slow_compute", "Sleeps `seconds`, then answers; a task when the client takes tasks", self._slow, number),
            ("failing_job", "A task that ends in a tool error (runs only as a task)", self._failing, {}),
            ("protocol_error_job", "A task that fails with a protocol error", self._protocol_error, {}),
            ("confirm_delete", "Asks the user to confirm, then deletes (as a task)", self._confirm, filename),
            ("multi_input", "Asks two questions at once (as a task)", self._multi_input, {}),
            ("test_tool_with_task", "Asks the user's name in a round, then greets them in a task", self._round, {}),
        ]
        tools: dict[str, FixtureTool] = {}
        for name, description, run, schema in specs:
            support = "required" if name in ("failing_job", "test_tool_with_task") else "optional"
            execution = None if name == "greet" else types.ToolExecution(task_support=support)
            definition = types.Tool(
                name=name, description=description, input_schema={**EMPTY_OBJECT_SCHEMA, **schema}, execution=execution
            )
            tools[name] = FixtureTool(definition, cast(ToolFunction, run))
        return tools

    async def _as_task(self, ctx: Context, name: str, work: Work, *, required: bool = False) -> TaskToolOutcome:
        """A task for a request that takes tasks; else the work run at once, or -32021 when it must be a task."""
        if opted_in(ctx):
            return self.start(work)
        if required:
            raise missing_extension(f"the tool {name}")
        return await work(TaskRecord(task_id="inline"))

    async def _greet(self, ctx: Context, params: types.CallToolRequestParams) -> TaskToolOutcome:
        return text_result(f"Hello, {(params.arguments or {}).get('name', 'stranger')}!")

    async def _slow(self, ctx: Context, params: types.CallToolRequestParams) -> TaskToolOutcome:
        arguments = params.arguments or {}
        seconds = arguments.get("seconds", 1)
        seconds = float(seconds) if isinstance(seconds, int | float) else 1.0
        label = arguments.get("label", "")

        async def work(record: TaskRecord) -> types.CallToolResult:
            await anyio.sleep(seconds)
            return text_result(f"Computed {label} after {seconds:g}s")

        return await self._as_task(ctx, "slow_compute", work)

    async def _failing(self, ctx: Context, params: types.CallToolRequestParams) -> TaskToolOutcome:
        async def work(record: TaskRecord) -> types.CallToolResult:
            await anyio.sleep(FAILING_JOB_SECONDS)
            return text_result("The job failed: nothing to process", is_error=True)

        return await self._as_task(ctx, "failing_job", work, required=True)

    async def _protocol_error(self, ctx: Context, params: types.CallToolRequestParams) -> TaskToolOutcome:
        async def work(record: TaskRecord) -> types.CallToolResult:
            await anyio.sleep(FAILING_JOB_SECONDS)
            raise MCPError(types.INTERNAL_ERROR, "Internal error: the job crashed")

        return await self._as_task(ctx, "protocol_error_job", work)

    async def _asking(
        self,
        ctx: Context,
        params: types.CallToolRequestParams,
        questions: Mapping[str, types.InputRequest],
        finish: Callable[[Mapping[str, Any]], types.CallToolResult],
        delay: float = 0,
    ) -> TaskToolOutcome:
        """Ask `questions` in a task when the request takes tasks, else in rounds (or pushed, handshake era).

        `finish` makes the result from the answers (wire JSON by key); a task asks after `delay` seconds.
        """
        if opted_in(ctx):

            async def work(record: TaskRecord) -> types.CallToolResult:
                await anyio.sleep(delay)
                return finish(await record.ask(questions))

            return self.start(work)

        async def round_(ctx: Context, answers: Answers) -> types.CallToolResult | types.InputRequiredResult:
            if any(key not in answers.responses for key in questions):
                return types.InputRequiredResult(input_requests=dict(questions))
            dumped = {
                k: v.model_dump(by_alias=True, mode="json", exclude_none=True) for k, v in answers.responses.items()
            }
            return finish(dumped)

        return await in_rounds(ctx, params, round_, self.seal)

    async def _confirm(self, ctx: Context, params: types.CallToolRequestParams) -> TaskToolOutcome:
        filename = (params.arguments or {}).get("filename", "the file")
        seconds = (params.arguments or {}).get("seconds", 0)  # how long the task works before it asks

        def finish(answers: Mapping[str, Any]) -> types.CallToolResult:
            confirmed = _accepted(answers["confirm"]).get("confirm") is True
            return text_result(f"Deleted {filename}" if confirmed else f"Kept {filename}")

        questions = {"confirm": form(f"Delete {filename}?", "confirm", "boolean")}
        return await self._asking(ctx, params, questions, finish, seconds if isinstance(seconds, int | float) else 0)

    async def _multi_input(self, ctx: Context, params: types.CallToolRequestParams) -> TaskToolOutcome:
        def finish(answers: Mapping[str, Any]) -> types.CallToolResult:
            names = [_accepted(answers[key]).get("name") for key in ("first", "second")]
            return text_result(f"Received {names[0]} and {names[1]}")

        questions = {"first": form("First input", "name"), "second": form("Second input", "name")}
        return await self._asking(ctx, params, questions, finish)

    async def _round(self, ctx: Context, params: types.CallToolRequestParams) -> TaskToolOutcome:
        if not opted_in(ctx):
            raise missing_extension("the tool test_tool_with_task")
        name = Answers(params.input_responses or {}, None).elicited("user_name", "name")
        if name is None:
            return types.InputRequiredResult(input_requests={"user_name": form("What is your name?", "name")})

        async def work(record: TaskRecord) -> types.CallToolResult:
            return text_result(f"Hello, {name}! (from a task)")

        return self.start(work)


def _accepted(response: Any) -> dict[str, Any]:
    """The content of an accepted form answer (wire JSON); empty for anything else."""
    if isinstance(response, dict) and response.get("action") == "accept":  # pyright: ignore[reportUnknownMemberType]
        content = response.get("content")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if isinstance(content, dict):
            return {str(k): v for k, v in content.items()}  # pyright: ignore[reportUnknownVariableType]
    return {}


def check_name_header(ctx: Context, task_id: str) -> None:
    """On streamable HTTP at 2026-07-28, `Mcp-Name` must name the task the body names (else -32020)."""
    request = ctx.request
    headers = getattr(request, "headers", None)
    if headers is None or ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS or MCP_METHOD_HEADER not in headers:
        return  # not a streamable-HTTP request of 2026-07-28 (which always names its method): no routing headers
    if decode_header_value(headers.get("mcp-name")) != task_id:
        raise MCPError(types.HEADER_MISMATCH, "mcp-name header does not match the request body's 'taskId' parameter")

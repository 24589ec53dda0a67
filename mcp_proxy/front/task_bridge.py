"""Tool calls that run as tasks on 2025-11-25 task servers, for clients of either era.

A server that declares `capabilities.tasks.requests.tools.call` (the 2025-11-25 flavour, on a
handshake-era session) runs a tool call as a task when the request carries ``task: {ttl}``. The
proxy serves such tasks to:

- a **handshake-era client** that asks with ``task``: the call goes to the server as asked (the
  server decides, per tool, whether it becomes a task), the task comes back under an id of the
  proxy's own (`task_store.py`), and `tasks/get`, `tasks/result`, `tasks/cancel` go to the
  server on the task's own session; `tasks/list` lists the client's tasks on every server;
- a **2026-07-28 client that opted in** to the tasks extension, calling a tool whose
  ``execution.taskSupport`` is optional or required: the proxy asks the server for a task
  (``task: {}``, the server's default retention: the extension has no way to ask one) and
  answers the flat 2026 reply; `tasks/get` is answered from the server's `tasks/get` and, once
  the task has ended, its `tasks/result`, inlined; `tasks/cancel` maps to `tasks/cancel`.

A 2026-07-28 client that did not opt in, calling a tool the server runs only as a task, is
refused with -32021 (the tasks extension is the missing capability). Results are rewritten like
those of a plain call (URIs to their exposed form, output capped).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, cast

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server import Server
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from ..catalog.merged import Catalog
from ..catalog.task_ids import TaskOwner
from ..core.errors import ManifoldError, UnknownNameError, UpstreamError
from ..core.observe import outcome_of
from ..core.sizes import content_size
from ..registry import Registry
from ..upstream.supervisor import Upstream
from ..upstream.task_calls import TaskSessionLost, ask, call_as_task
from ..upstream.tasks import TASKS_EXTENSION, declares_tasks, opts_in
from .audit import AuditTrail, audited, tool_subject
from .boundary import failed_tool_result, guarded, to_mcp_error
from .call_timer import current_tool_call
from .clients import client_identity
from .downstream import DownstreamCall
from .endpoint import Endpoint
from .task_eras import TaskSupport, created_2026, detailed_2026, is_terminal, task_support
from .task_store import TaskRecord, TaskStore
from .tasks import TaskParams, TaskRouting, check_name_header, missing_extension

Ctx = ServerRequestContext[Any, Any]
Wire = dict[str, Any]
MetaOf = Callable[[Ctx], dict[str, Any] | None]
Handler = Callable[[Ctx, TaskParams], Awaitable[Wire]]

DEFAULT_POLL_SECONDS = 0.5
"""How often the proxy polls a task for a waiting `tasks/result` when the server suggests nothing."""


def serves_2025_tasks(upstream: Upstream) -> bool:
    """Whether the server runs tool calls as 2025-11-25 tasks (declared on a handshake-era session)."""
    caps = upstream.capabilities
    tasks = caps.tasks if caps is not None else None
    return (
        upstream.usable
        and not upstream.is_modern
        and tasks is not None
        and tasks.requests is not None
        and tasks.requests.tools is not None
        and tasks.requests.tools.call is not None
    )


def advertised_tasks(upstreams: list[Upstream]) -> types.ServerTasksCapability | None:
    """The proxy's `capabilities.tasks` for handshake-era clients: the union of its servers'.

    `list` is always there when any server runs tasks: the proxy lists the client's tasks itself.
    """
    running = [u for u in upstreams if serves_2025_tasks(u)]
    if not running:
        return None
    cancel = any(u.capabilities and u.capabilities.tasks and u.capabilities.tasks.cancel for u in running)
    return types.ServerTasksCapability(
        list=types.TasksListCapability(),
        cancel=types.TasksCancelCapability() if cancel else None,
        requests=types.ServerTasksRequestsCapability(
            tools=types.TasksToolsCapability(call=types.TasksCallCapability())
        ),
    )


class TaskBridge:
    """The proxy's side of 2025-11-25 tasks: the calls that become tasks, and the `tasks/*` requests."""

    def __init__(self, endpoint: Endpoint, routing: TaskRouting, meta_of: MetaOf, audit: AuditTrail) -> None:
        self.endpoint, self.routing, self.audit, self._meta_of = endpoint, routing, audit, meta_of
        self.registry: Registry = routing.registry
        self.profile = endpoint.name  # the endpoint's name in audit events
        self.store = TaskStore()
        self._minted = itertools.count(1)

    def install(self, server: Server[Any]) -> None:
        """Take the task-making calls on `server`, and the `tasks/*` requests about the bridge's tasks.

        Installed after `TaskRouting`: a request of a 2026-07-28 client about a task the bridge did
        not make goes on to the routing of the extension's tasks.
        """
        server.middleware.append(self.middleware)
        for method, own in (("tasks/get", self.get), ("tasks/cancel", self.cancel), ("tasks/update", self.update)):
            routed = server.get_request_handler(method)
            server.add_request_handler(method, TaskParams, self._either(own, routed.handler if routed else None))
        server.add_request_handler("tasks/result", TaskParams, self.result)
        server.add_request_handler("tasks/list", types.PaginatedRequestParams, self.list)

    def _either(self, own: Handler, routed: Any) -> Handler:
        async def handle(ctx: Ctx, params: TaskParams) -> Wire:
            modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
            if modern and routed is not None and not self.store.knows(params.task_id):
                return cast(Wire, await routed(ctx, params))
            return await own(ctx, params)

        return handle

    # ---- calls ------------------------------------------------------------------------

    def takes(self, params: Wire) -> bool:
        """Whether a `tools/call` may become a task here (the lean relay leaves those to the SDK path)."""
        if params.get("task") is not None:
            return True
        target = self._target(params)
        return target is not None and target[2] != "forbidden"

    def _target(self, params: Wire) -> tuple[Upstream, str, TaskSupport] | None:
        """The server and upstream name of a `tools/call` if it runs on a 2025 task server, with its support."""
        name = params.get("name")
        route = self.endpoint.catalog.route_tool(name) if isinstance(name, str) else None
        upstream = self.registry.upstreams.get(route.server) if route is not None else None
        if route is None or upstream is None or not serves_2025_tasks(upstream):
            return None
        tool = next((t for t in upstream.listing.tools if t.name == route.original), None)
        return upstream, route.original, task_support(tool) if tool is not None else "forbidden"

    async def middleware(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        """Take the `tools/call` requests that become (or must become) 2025 tasks; pass on the rest."""
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params = cast(Wire, ctx.params or {})
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        target = self._target(params)
        if target is None:
            return await call_next(ctx)
        support = target[2]
        if not modern:
            if params.get("task") is None:
                return await call_next(ctx)
        elif support == "forbidden":
            return await call_next(ctx)
        elif not opts_in(ctx.meta):
            if support == "required":
                raise _task_required(str(params.get("name")))
            return await call_next(ctx)
        try:
            typed = types.CallToolRequestParams.model_validate(params, by_name=False)
        except ValidationError:
            return await call_next(ctx)  # malformed: the SDK's own answer
        return await self._create(ctx, typed)

    @property
    def catalog(self) -> Catalog:
        """The catalog the endpoint serves now (the audit events name its tools)."""
        return self.endpoint.catalog

    @audited(tool_subject)
    @guarded
    async def _create(self, ctx: Ctx, params: types.CallToolRequestParams) -> Wire:
        target = self._target({"name": params.name})
        if target is None:  # the server left between the check and now
            raise UnknownNameError("tool", params.name)
        upstream, original, _ = target
        record_call = current_tool_call()
        record_call.routed(upstream.name, original, params.arguments)
        ttl = params.task.ttl if params.task is not None else None
        caller = DownstreamCall(ctx, upstream.name)
        task: Wire = {"ttl": ttl} if ttl is not None else {}
        try:
            answer, made = await call_as_task(upstream, original, params.arguments, task, caller, self._meta_of(ctx))
        except UpstreamError as exc:
            # As for a plain call: the model should see why the tool failed, in a tool result.
            failed = failed_tool_result(exc)
            record_call.ended(outcome_of(exc), content_size(failed.content[0]))
            modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
            return failed.model_dump(
                by_alias=True, mode="json", exclude_none=True, exclude=None if modern else {"result_type"}
            )
        finally:
            await caller.drain()
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        record_call.ended("tool_error" if answer.get("isError") else "ok", 0)
        if made is None:  # the server ran it as a plain call
            return _shown(upstream, answer, "", modern=modern)
        created = cast(Wire, answer["task"])
        # Sessions may reuse each other's ids: the sealed id names the server and a number of the proxy's.
        sealed = self.routing.seal.seal(self.routing.scope, TaskOwner(upstream.name, f"{next(self._minted)}"))
        owner = client_identity(ctx).key
        record = self.store.add(sealed, made, owner, client_modern=modern, tool=params.name, ttl_ms=created.get("ttl"))
        exposed = {**created, "taskId": record.exposed_id}
        return created_2026(exposed) if modern else {"task": exposed}

    # ---- tasks/* ----------------------------------------------------------------------

    def _record(self, ctx: Ctx, params: TaskParams) -> TaskRecord:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            if not declares_tasks(ctx.session.client_capabilities):
                raise missing_extension(ctx.method)
            check_name_header(ctx, params.task_id)
        return self.store.owned(params.task_id, client_identity(ctx).key)

    async def _ask(self, ctx: Ctx, record: TaskRecord, method: str) -> Wire:
        upstream = self.registry.upstreams.get(record.upstream.server)
        if upstream is None:
            self.store.forget(record.exposed_id)
            raise TaskSessionLost(record.upstream.server)
        caller = DownstreamCall(ctx, upstream.name)
        try:
            answer = await ask(upstream, record.upstream, method, caller)
        except TaskSessionLost:
            self.store.forget(record.exposed_id)
            raise
        except ManifoldError as exc:
            raise to_mcp_error(exc) from exc
        finally:
            await caller.drain()
        if method == "tasks/result":
            return _shown(upstream, answer, record.exposed_id, modern=ctx.protocol_version in MODERN_PROTOCOL_VERSIONS)
        record.upstream.note(answer.get("status"))
        return {**answer, "taskId": record.exposed_id}

    @guarded
    async def get(self, ctx: Ctx, params: TaskParams) -> Wire:
        """`tasks/get`: the 2025 `Task`, or for a 2026 client the detailed task with what it ended with."""
        record = self._record(ctx, params)
        task = await self._ask(ctx, record, "tasks/get")
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return task
        if task.get("status") not in ("completed", "failed"):
            return detailed_2026(task)
        try:
            payload = await self._ask(ctx, record, "tasks/result")
        except MCPError as exc:
            return detailed_2026(task, error=exc.error.model_dump(by_alias=True, mode="json", exclude_none=True))
        return detailed_2026(task, result=payload)

    @guarded
    async def result(self, ctx: Ctx, params: TaskParams) -> Wire:
        """`tasks/result`: wait for the task's end (polling, outside the server's gate), then its result."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            raise MCPError(types.METHOD_NOT_FOUND, "Method not found", "tasks/result")
        record = self._record(ctx, params)
        task = await self._ask(ctx, record, "tasks/get")
        while not is_terminal(task) and task.get("status") != "input_required":
            interval = task.get("pollInterval")
            await anyio.sleep(interval / 1000 if isinstance(interval, int) and interval > 0 else DEFAULT_POLL_SECONDS)
            task = await self._ask(ctx, record, "tasks/get")
        return await self._ask(ctx, record, "tasks/result")

    @guarded
    async def cancel(self, ctx: Ctx, params: TaskParams) -> Wire:
        """`tasks/cancel`: the server's answer (the cancelled `Task`), or an empty acknowledgement for 2026."""
        record = self._record(ctx, params)
        task = await self._ask(ctx, record, "tasks/cancel")
        return task if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS else {}

    @guarded
    async def update(self, ctx: Ctx, params: TaskParams) -> Wire:
        """`tasks/update` on a bridged task: a 2025 server takes no input responses this way."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            raise MCPError(types.METHOD_NOT_FOUND, "Method not found", "tasks/update")
        self._record(ctx, params)
        raise MCPError(
            types.INVALID_PARAMS,
            "This task runs on a 2025-11-25 task server, which asks for input inside tasks/result; "
            "it cannot take inputResponses through tasks/update",
        )

    @guarded
    async def list(self, ctx: Ctx, params: types.PaginatedRequestParams) -> Wire:
        """`tasks/list`: the client's tasks on every server, each as its server reports it now, in one page."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            raise MCPError(types.METHOD_NOT_FOUND, "Method not found", "tasks/list")
        listed: list[Wire] = []
        owner: Hashable | None = client_identity(ctx).key
        for record in self.store.of_owner(owner):
            try:
                listed.append(await self._ask(ctx, record, "tasks/get"))
            except (MCPError, UpstreamError):
                continue  # gone with its session, forgotten by its server, or out of reach now
        return {"tasks": listed}


def _shown(upstream: Upstream, raw: Wire, task_id: str, *, modern: bool) -> Wire:
    """A tool result from the server as a plain call's reaches the client (`TaskRouting.shown_result`)."""
    shown = TaskRouting.shown_result(raw, upstream, task_id)
    if not modern:
        shown.pop("resultType", None)  # a handshake-era result has no such key
    return shown


def _task_required(tool: str) -> MCPError:
    return MCPError(
        types.MISSING_REQUIRED_CLIENT_CAPABILITY,
        f"Tool '{tool}' runs only as a task: declare the '{TASKS_EXTENSION}' extension on the request to call it",
        {"requiredCapabilities": {"extensions": {TASKS_EXTENSION: {}}}},
    )

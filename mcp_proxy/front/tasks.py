"""Tasks through the proxy: a call an upstream makes a task, and the client's `tasks/*` requests about it.

With the tasks extension of 2026-07-28 (`io.modelcontextprotocol/tasks`), a `tools/call` whose
request opts in (its `_meta` client capabilities name the extension) may be answered with a task
instead of a result. The proxy passes the opt-in on to the owning server only when the client
gave it (`upstream/client_capabilities.py`), and what comes back is shown to the client as the
server wrote it, except for what belongs to the proxy's hop:

- the task id is the proxy's own, naming the owner and sealed (`catalog/task_ids.py`), so
  `tasks/get`, `tasks/update` and `tasks/cancel` go back to the owning server with the server's
  own id (and, over HTTP, that id in `Mcp-Name`), and an altered, guessed or foreign id is
  answered -32602 "Unknown task" like an id that never existed;
- a result `tasks/get` inlines is rewritten as the proxy rewrites any tool result (the output
  cap, resource URIs in their exposed form, the server's identity stamp taken out of `_meta`);
- the questions of a task waiting on input (`inputRequests`) reach the client as asked, and its
  answers (`inputResponses` of `tasks/update`) reach the server as given.

A request about a task that does not opt in is refused with -32021, as a server refuses it; on
streamable HTTP, an `Mcp-Name` header that does not name the body's `taskId` is -32020.
"""

from __future__ import annotations

import time
from typing import Any, cast

import mcp_types as types
from mcp import MCPError
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.shared.inbound import MCP_METHOD_HEADER, MCP_NAME_HEADER, decode_header_value
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ConfigDict, Field

from ..catalog.naming import expose_content_uris
from ..catalog.task_ids import TaskIdSeal, TaskOwner
from ..core.observe import outcome_of
from ..registry import Registry
from ..upstream.supervisor import Upstream
from ..upstream.tasks import TASK_METHODS, CreatedTask, TaskUnreachable, declares_tasks, missing_extension
from .audit import AuditTrail, caller_of
from .boundary import guarded
from .downstream import DownstreamCall
from .output_cap import cap_tool_result

Ctx = ServerRequestContext[Any, Any]
UpstreamMeta = Any  # Callable[[Ctx], dict[str, Any]]; kept loose to avoid a cycle with server.py

RELATED_TASK_META_KEY = "io.modelcontextprotocol/related-task"
UNKNOWN_TASK = "Unknown task"


class TaskParams(types.RequestParams):
    """The params of a `tasks/*` request: the task's id, and whatever else the method takes."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    task_id: str = Field(alias="taskId")


def unknown_task(task_id: str) -> MCPError:
    """The one answer for an id that does not lead to a task: the same whether it was foreign, altered or gone."""
    return MCPError(types.INVALID_PARAMS, UNKNOWN_TASK, {"taskId": task_id})


def check_name_header(ctx: Ctx, task_id: str) -> None:
    """On streamable HTTP at 2026-07-28, `Mcp-Name` must name the task the body names (else -32020)."""
    headers = getattr(ctx.request, "headers", None)
    if headers is None or MCP_METHOD_HEADER not in headers:
        return  # not a streamable-HTTP request of 2026-07-28 (which always names its method): no routing headers
    if decode_header_value(headers.get(MCP_NAME_HEADER)) != task_id:
        raise MCPError(types.HEADER_MISMATCH, f"{MCP_NAME_HEADER} header does not match the request body's 'taskId'")


def shown_meta(meta: Any, task_id: str) -> dict[str, Any] | None:
    """A server's `_meta` as the client sees it: the server's identity stamp out, a related task's id the proxy's."""
    if not isinstance(meta, dict):
        return None
    kept = {k: v for k, v in cast("dict[str, Any]", meta).items() if k != types.SERVER_INFO_META_KEY}
    if isinstance(kept.get(RELATED_TASK_META_KEY), dict):
        kept[RELATED_TASK_META_KEY] = {**kept[RELATED_TASK_META_KEY], "taskId": task_id}
    return kept or None


def _with_meta(answer: dict[str, Any], task_id: str) -> dict[str, Any]:
    meta = shown_meta(answer.pop("_meta", None), task_id)
    if meta is not None:
        answer["_meta"] = meta
    return answer


class TaskRouting:
    """The tasks of one endpoint's clients: ids sealed for them, their requests routed to the owners."""

    def __init__(
        self, registry: Registry, scope: str, seal: TaskIdSeal, upstream_meta: UpstreamMeta, audit: AuditTrail
    ) -> None:
        self.registry = registry
        self.scope = scope
        self.seal = seal
        self._upstream_meta = upstream_meta
        self._audit = audit

    def install(self, server: Server[Any]) -> None:
        """Serve the `tasks/*` methods on `server`."""
        for method in TASK_METHODS:
            server.add_request_handler(method, TaskParams, self._handler(method))

    def created(self, server: str, task: CreatedTask) -> dict[str, Any]:
        """The task a server made of a call, as the client sees it: the proxy's id for it."""
        answer = task.model_dump(by_alias=True, mode="json", exclude_none=True)
        answer["taskId"] = self.seal.seal(self.scope, TaskOwner(server, task.task_id))
        return _with_meta(answer, answer["taskId"])

    def _handler(self, method: str) -> Any:
        @guarded
        async def handle(owner: TaskRouting, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
            return await owner.routed(method, ctx, params)

        async def bound(ctx: Ctx, params: TaskParams) -> dict[str, Any]:
            return await handle(self, ctx, params)

        return bound

    async def routed(self, method: str, ctx: Ctx, params: TaskParams) -> dict[str, Any]:
        """One `tasks/*` request: checked, sent to the owning server with its own id, its answer shown."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            raise MCPError(types.METHOD_NOT_FOUND, "Method not found", method)
        if not declares_tasks(ctx.session.client_capabilities):
            raise missing_extension(method)
        task_id = params.task_id
        check_name_header(ctx, task_id)
        owner = self.seal.open(self.scope, task_id)
        upstream = self.registry.upstreams.get(owner.server) if owner is not None else None
        if owner is None or upstream is None:
            raise unknown_task(task_id)
        forwarded = params.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"meta"})
        forwarded["taskId"] = owner.upstream_id
        started = time.perf_counter()
        outcome = "ok"
        try:
            answer = await upstream.task_request(
                method, forwarded, caller=DownstreamCall(ctx, owner.server), meta=self._upstream_meta(ctx)
            )
        except TaskUnreachable:
            outcome = "error"
            raise unknown_task(task_id) from None
        except MCPError as exc:
            outcome = outcome_of(exc)
            raise _in_client_terms(exc, owner, task_id) from None
        except BaseException as exc:
            outcome = outcome_of(exc)
            raise
        finally:  # like every forwarded request, one audit event (the task named by the client's id)
            identity, client = caller_of(ctx)
            duration = time.perf_counter() - started
            self._audit.record(
                identity, owner.server, method, task_id, outcome, duration, None, client=client, profile=self.scope
            )
        return self.shown(answer, upstream, task_id)

    def shown(self, answer: dict[str, Any], upstream: Upstream, task_id: str) -> dict[str, Any]:
        """A task as a server wrote it, as the client sees it: its id the client's, an inlined result shown."""
        answer = dict(answer)
        if "taskId" in answer:
            answer["taskId"] = task_id
        result = answer.get("result")
        if isinstance(result, dict):
            answer["result"] = self.shown_result(cast("dict[str, Any]", result), upstream, task_id)
        return _with_meta(answer, task_id)

    @staticmethod
    def shown_result(result: dict[str, Any], upstream: Upstream, task_id: str) -> dict[str, Any]:
        """A tool result a task inlines, rewritten as the proxy rewrites any tool result."""
        try:
            parsed = types.CallToolResult.model_validate(result, by_name=False)
        except ValueError:
            return _with_meta(dict(result), task_id)  # not a tool result the proxy can read: passed on as sent
        config = upstream.config
        parsed, _ = cap_tool_result(parsed, config.max_output_bytes, upstream.name)
        parsed.content = expose_content_uris(parsed.content, config.exposed_prefix)
        shown = parsed.model_dump(by_alias=True, mode="json", exclude_none=True)
        # Keys the tool-result model does not know (a later revision's) stay as the server sent them.
        shown.update({k: v for k, v in result.items() if k not in shown and k not in ("content", "_meta")})
        return _with_meta(shown, task_id)


def _in_client_terms(exc: MCPError, owner: TaskOwner, task_id: str) -> MCPError:
    """A server's error about its task, with the server's id for it replaced by the client's."""
    data = exc.error.data
    if isinstance(data, dict) and cast("dict[str, Any]", data).get("taskId") == owner.upstream_id:
        data = {**cast("dict[str, Any]", data), "taskId": task_id}
    message = exc.error.message.replace(owner.upstream_id, task_id) if owner.upstream_id else exc.error.message
    return MCPError(exc.error.code, message, data)

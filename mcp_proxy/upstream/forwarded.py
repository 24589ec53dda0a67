"""The MCP requests an upstream forwards for clients, each one gated request on the right session.

`ForwardedRequests` is the request half of `Upstream` (`supervisor.py`): it turns a tool call, a
resource read, a prompt and a completion into one `request`, which picks the session (the
client's era, its own session under per-client isolation) and passes the server's gate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import mcp_types as types
from mcp import ClientSession

from ..config.models import ServerConfig
from .caller import Caller
from .gate import Deadline
from .link import ForwardingSession
from .tasks import CreatedTask, TaskUnreachable, opts_in

T = TypeVar("T")
Operation = Callable[[ClientSession, Deadline], Awaitable[T]]
"""One request on a session, within its deadline."""


class ForwardedRequests(ABC):
    """Tool calls, resource reads, prompts and completions, each sent as one `request`."""

    config: ServerConfig

    @abstractmethod
    async def request(self, method: str, operation: Operation[T], caller: Caller | None = None) -> T:
        """Run one request on the right session, through the gate (see `Upstream.request`)."""

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        caller: Caller | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: types.InputResponses | None = None,
        request_state: str | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult | CreatedTask:
        """Call one upstream tool by its upstream name (a modern server may ask for input first).

        A request whose `meta` opts in to tasks may be answered with a task (`CreatedTask`).
        """
        relay = caller.progress if caller is not None else None

        def wire_params() -> types.CallToolRequestParams:
            return types.CallToolRequestParams(
                name=name,
                arguments=arguments,
                input_responses=input_responses,
                request_state=request_state,
                _meta=_typed(meta),
            )

        async def call(
            s: ClientSession, deadline: Deadline
        ) -> types.CallToolResult | types.InputRequiredResult | CreatedTask:
            if isinstance(s, ForwardingSession) and s.speaks_modern and opts_in(meta):
                # The SDK's session cannot parse a task: this call goes as JSON and is parsed here.
                raw = await s.send_raw(
                    "tools/call",
                    wire_params().model_dump(by_alias=True, mode="json", exclude_none=True),
                    timeout=self.config.max_timeout + self.config.timeout,
                    on_progress=deadline.relaying(relay),
                )
                return CreatedTask.answered(raw) or s.tool_result(raw)
            # A caller of the session's own era only: bridging eras (input rounds for what a
            # handshake-era session pushes) keeps the SDK's session in charge of the call's life.
            if (
                isinstance(s, ForwardingSession)
                and s.lane_serves()
                and (caller is None or caller.is_modern == s.speaks_modern)
            ):
                return await s.call_tool_on_lane(wire_params(), deadline.relaying(relay))
            return await s.call_tool(
                name,
                arguments,
                # The gate's deadline is the real limit; this only keeps the SDK from firing first.
                read_timeout_seconds=self.config.max_timeout + self.config.timeout,
                progress_callback=deadline.relaying(relay),
                meta=_typed(meta),
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            )

        return await self.request("tools/call", call, caller)

    async def task_request(
        self, method: str, params: dict[str, Any], *, caller: Caller | None = None, meta: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send one `tasks/*` request about a task of this server (`params.taskId` is the server's own id).

        Raises:
            TaskUnreachable: the session the caller reaches does not speak the era tasks live in.
        """

        async def send(s: ClientSession, deadline: Deadline) -> dict[str, Any]:
            if not isinstance(s, ForwardingSession) or not s.speaks_modern:
                raise TaskUnreachable(self.config.name)
            task_id = params.get("taskId")
            return await s.send_raw(
                method,
                _with_meta(params, meta),
                name=task_id if isinstance(task_id, str) else None,
                timeout=self.config.timeout,
            )

        return await self.request(method, send, caller)

    async def read_resource(
        self,
        uri: str,
        *,
        caller: Caller | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: types.InputResponses | None = None,
        request_state: str | None = None,
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        """Read one upstream resource by its upstream URI."""
        return await self.request(
            "resources/read",
            lambda s, _: s.read_resource(
                uri,
                meta=_typed(meta),
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            ),
            caller,
        )

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, str] | None,
        *,
        caller: Caller | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: types.InputResponses | None = None,
        request_state: str | None = None,
    ) -> types.GetPromptResult | types.InputRequiredResult:
        """Get one upstream prompt by its upstream name."""
        return await self.request(
            "prompts/get",
            lambda s, _: s.get_prompt(
                name,
                arguments,
                meta=_typed(meta),
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            ),
            caller,
        )

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: types.CompletionArgument,
        context: types.CompletionContext | None,
        *,
        meta: dict[str, Any] | None = None,
    ) -> types.CompleteResult:
        """Ask the server for completions of one argument of a prompt or template."""
        # Sent as built here: the SDK's `complete` has no way to pass `_meta`.
        request = types.CompleteRequest(
            params=types.CompleteRequestParams(ref=ref, argument=argument, context=context, _meta=_typed(meta))
        )
        return await self.request("completion/complete", lambda s, _: s.send_request(request, types.CompleteResult))

    async def extension_request(
        self,
        method: str,
        params: dict[str, Any],
        *,
        caller: Caller | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send a request of an extension's method with `params`; its result as the server wrote it.

        It goes on the session (`ForwardingSession.send_raw`: the era's stamp, the caller's
        session and the gate apply), never on the raw lane, and so works the same with the lean
        relay on or off.
        """
        timeout = self.config.max_timeout + self.config.timeout  # the gate's deadline is the real limit

        async def send(session: ClientSession, _: Deadline) -> dict[str, Any]:
            return await cast(ForwardingSession, session).send_raw(method, _with_meta(params, meta), timeout=timeout)

        return await self.request(method, send, caller)


def _with_meta(params: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
    """`params` with the request's `_meta` (a copy, never the caller's mapping)."""
    return {**params, "_meta": meta} if meta else dict(params)


def _typed(meta: dict[str, Any] | None) -> types.RequestParamsMeta | None:
    # `_meta` is an open mapping on the wire; the SDK types it as a TypedDict with extra items.
    return cast("types.RequestParamsMeta | None", meta)

"""Task requests to one upstream, each on the session its task lives in.

A task lives in one upstream session: the server keeps it for the session (or the credentials)
that created it, and another session does not see it. So the session that answered the task
call is pinned: every later request about the task (`tasks/get`, `tasks/result`,
`tasks/cancel`) goes on that same session, and the session is held open while the task lives,
past the pool's idle timeout (`sessions.py`), until the task has ended and been read or its
retention (`ttl`) has run out. If the session ended anyway (the server's connection dropped,
the proxy reconnected, a handshake-era client's own session closed with its connection), the
task is gone with it, and a request about it is answered so.

The requests go as written (`ForwardingSession.send_raw`, stamped in the session's era): the
SDK's client checks a `tools/call` answer against `CallToolResult` and does not know the
`tasks/*` methods. They pass the server's gate like every forwarded request (`Upstream.request`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import mcp_types as types
from mcp import MCPError

from .caller import Caller
from .gate import Deadline
from .link import ForwardingSession
from .supervisor import Upstream
from .task_holds import UNLIMITED_HOLD, holds_of

Flavour = Literal["2025", "2026"]
Wire = dict[str, Any]


class TaskSessionLost(MCPError):
    """The session a task lived in has ended: the task is gone with it."""

    def __init__(self, server: str) -> None:
        super().__init__(
            types.INVALID_PARAMS,
            f"Unknown task: the session of server '{server}' that ran it has ended, and the task with it",
        )


@dataclass
class UpstreamTask:
    """A task an upstream runs: its server, its id there, its flavour, and the session it lives in."""

    server: str
    task_id: str
    flavour: Flavour
    session: ForwardingSession
    ended: bool = False

    def hold_for(self, ttl_ms: Any) -> None:
        """Hold the session while the task is kept (its `ttl`, or a day when unlimited)."""
        seconds = ttl_ms / 1000 if isinstance(ttl_ms, int) and ttl_ms > 0 else UNLIMITED_HOLD
        holds_of(self.session).hold(self.task_id, seconds)

    def note(self, status: Any) -> None:
        """Note a status the server reported; an ended task lets its session go soon after."""
        if status in ("completed", "failed", "cancelled") and not self.ended:
            self.ended = True
            holds_of(self.session).release(self.task_id)


async def call_as_task(
    upstream: Upstream, name: str, arguments: Mapping[str, Any] | None, task: Wire, caller: Caller, meta: Wire | None
) -> tuple[Wire, UpstreamTask | None]:
    """Call a 2025-flavour tool with ``task`` (the ``{ttl}`` asked): the answer, and the task if it became one.

    A server that ran the call plainly answers a `CallToolResult`; then there is no task.
    """
    params: Wire = {"name": name, "arguments": dict(arguments or {}), "task": task}
    if meta:
        params["_meta"] = meta
    made: list[UpstreamTask] = []

    async def call(session: Any, deadline: Deadline) -> Wire:
        answer = await session.send_raw(
            "tools/call", params, timeout=upstream.config.max_timeout + upstream.config.timeout
        )
        created = answer.get("task")
        if isinstance(created, Mapping) and isinstance(task_id := cast(Wire, created).get("taskId"), str):
            made.append(UpstreamTask(upstream.name, task_id, "2025", session))
            made[0].hold_for(cast(Wire, created).get("ttl"))
        return answer

    answer = await upstream.request("tools/call", call, caller)
    return answer, (made[0] if made else None)


async def ask(upstream: Upstream, task: UpstreamTask, method: str, caller: Caller, extra: Wire | None = None) -> Wire:
    """Send a `tasks/*` request about `task` on its own session, through the server's gate.

    Raises:
        TaskSessionLost: the session the task lived in has ended.
        MCPError: the server answered an error.
    """
    params: Wire = {"taskId": task.task_id, **(extra or {})}

    async def on_own_session(session: Any, deadline: Deadline) -> Wire:
        if session is not task.session:
            raise TaskSessionLost(upstream.name)
        return await session.send_raw(method, params, timeout=upstream.config.timeout)

    return await upstream.request(method, on_own_session, caller)

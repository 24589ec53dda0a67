"""Task status notices from a server: one `subscriptions/listen` that names the server's task ids.

The tasks extension of 2026-07-28 lets a client ask, in a `subscriptions/listen` filter
(`taskIds`), for a `notifications/tasks` each time one of those tasks changes: the task as
`tasks/get` shows it, stamped with the listen's subscription id. The SDK's `listen()` cannot
name task ids, so `task_listen` opens the stream as the SDK's driver does (a listen route the
session feeds the acknowledgement to, the request sent on the session's own machinery under an
id of its own) with the filter and the caller's `_meta` (its capability declaration, which must
opt in to tasks). The session passes each `notifications/tasks` to the listen whose subscription
id it carries (`task_notice_routes.py`). A listen is idle until a task changes, so it does not
pass the server's gate.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import asynccontextmanager
from itertools import count
from typing import Any, cast

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.client.subscriptions import ListenRoute, SubscriptionLost
from mcp.shared.dispatcher import CallOptions

from .link import ForwardingSession
from .task_notice_routes import NoticeSink
from .tasks import TaskUnreachable

_listen_ids = count(1)
"""The ids of the proxy's task listens; strings, so they never meet a dispatcher's minted ints."""


class TaskListen:
    """One open task listen: the ids the server agreed to, and its end."""

    def __init__(self, route: ListenRoute, subscription_id: types.RequestId, asked: Sequence[str]) -> None:
        self._route = route
        self.subscription_id = subscription_id
        """The listen request's id, which the server stamps on every frame of the stream."""
        self.honored = route.honored or types.SubscriptionFilter()
        """The filter the server acknowledged."""
        self.agreed = agreed_ids(self.honored, asked)
        """The ids among those asked that the server agreed to send notices for."""

    async def ended(self) -> str:
        """Wait until the server ends the stream: "graceful" (its result came) or "lost"."""
        while True:
            outcome = await self._route.next_event()
            if isinstance(outcome, str):
                return outcome
            self._route.consume(outcome)  # no core kind was asked for; whatever came is not ours


def agreed_ids(honored: types.SubscriptionFilter, asked: Sequence[str]) -> list[str]:
    """The ids of `asked` an acknowledgement's `taskIds` names."""
    named = (honored.model_extra or {}).get("taskIds")
    if not isinstance(named, list):
        return []
    agreed = {i for i in cast("list[Any]", named) if isinstance(i, str)}
    return [i for i in asked if i in agreed]


@asynccontextmanager
async def task_listen(
    session: ForwardingSession,
    server: str,
    task_ids: Sequence[str],
    on_notice: NoticeSink,
    *,
    meta: dict[str, Any] | None = None,
    also: Mapping[str, Any] | None = None,
) -> AsyncGenerator[TaskListen]:
    """Open a listen for `task_ids` (the server's own) on `session`; inside, each notice goes to `on_notice`.

    `also` adds other fields to the filter (wire names, such as `toolsListChanged`).

    Entering returns once the server acknowledged (within the session's read timeout); leaving
    ends the stream (the request is cancelled).

    Raises:
        TaskUnreachable: the session does not speak 2026-07-28, where task listens live.
        MCPError: the server refused the listen, or the connection failed before the ack.
        SubscriptionLost: the stream ended before it was acknowledged.
        TimeoutError: no acknowledgement within the session's read timeout.
    """
    task_group = session._task_group  # pyright: ignore[reportPrivateUsage]
    if not session.speaks_modern or task_group is None:
        raise TaskUnreachable(server)
    request_id: types.RequestId = f"tasks-listen-{next(_listen_ids)}"
    params: dict[str, Any] = {"notifications": {**(also or {}), "taskIds": list(task_ids)}}
    if meta:
        params["_meta"] = dict(meta)  # the stamp edits it in place; the caller's mapping stays as it was
    data: dict[str, Any] = {"method": "subscriptions/listen", "params": params}
    options: CallOptions = {"request_id": request_id}
    session._stamp(data, options)  # pyright: ignore[reportPrivateUsage]
    driver = anyio.CancelScope()

    async def drive() -> None:
        # No result timeout: the result is the stream's graceful end.
        with driver:
            try:
                await session._dispatcher.send_raw_request(  # pyright: ignore[reportPrivateUsage]
                    data["method"], data.get("params"), options
                )
            except MCPError as error:
                route.settle("lost", error=error)
                return
            except ValueError as error:  # the id collided with another request's: this listen fails alone
                session._unregister_listen_route(request_id)  # pyright: ignore[reportPrivateUsage]
                route.settle("lost", error=MCPError(types.INTERNAL_ERROR, str(error)))
                return
            route.set_acked(types.SubscriptionFilter())
            route.settle("graceful")

    # Both routes exist before the request is written, so neither the ack nor a notice can race them.
    route = session._register_listen_route(request_id)  # pyright: ignore[reportPrivateUsage]
    with session.task_notices.routing(request_id, on_notice):
        try:
            task_group.start_soon(drive)
            with anyio.fail_after(session._session_read_timeout_seconds):  # pyright: ignore[reportPrivateUsage]
                await route.acked.wait()
            if route.honored is None:
                if route.error is not None:
                    raise route.error
                raise SubscriptionLost(f"the task listen {request_id!r} ended before it was acknowledged")
            yield TaskListen(route, request_id, task_ids)
        finally:
            route.settle("local")
            driver.cancel()
            session._unregister_listen_route(request_id)  # pyright: ignore[reportPrivateUsage]

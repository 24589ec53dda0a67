"""The proxy's `subscriptions/listen` streams: change notifications, and task status notices.

A modern client hears of changes only on the streams it opens with `subscriptions/listen`.
`ListenStreams` serves them as the SDK's `ListenHandler` does (the ack first, the listen
request's id as the subscription id on every frame, bus events within the honored filter, a
bounded backlog that ends the stream of a client that stopped reading, `close` ending every
stream with its result frame) and adds the tasks extension's `taskIds`: a listen that names task
ids must opt in to the extension (else -32021), and the ids are handed to a `TaskNoticeSource`
(`task_notices.py`), which listens upstream and says which ids were agreed before the ack goes.
A notice reaches the client as `notifications/tasks`, stamped with this stream's subscription id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, cast

import anyio
import anyio.streams.memory
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import MCPError
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import SubscriptionBus
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY, ServerEvent, event_matches, event_to_notification

from manifold_common.logging import get_logger

from ..upstream.tasks import declares_tasks, missing_extension

log = get_logger(__name__)

Ctx = ServerRequestContext[Any, Any]
TaskNotice = dict[str, Any]
"""A task as the client sees it (its own id, a shown result), ready to go on the stream."""
Frame = ServerEvent | TaskNotice
NoticeSink = Callable[[TaskNotice], None]


class TaskNoticeSource(Protocol):
    """Where a stream's task ids are listened for (`task_notices.TaskNotices`)."""

    async def listen(self, ctx: Ctx, task_ids: list[str], sink: NoticeSink, group: TaskGroup) -> list[str]:
        """Start listening for `task_ids` in `group`, notices to `sink`; the ids agreed, once known."""
        ...


class TaskNotification(types.Notification[dict[str, Any], Literal["notifications/tasks"]]):
    """A `notifications/tasks`: its params are the task, as written (the SDK's typed union does not hold it)."""

    method: Literal["notifications/tasks"] = "notifications/tasks"


def requested_task_ids(requested: types.SubscriptionFilter) -> list[str] | None:
    """The task ids a listen filter names (each once), or None when it has no `taskIds`."""
    asked = (requested.model_extra or {}).get("taskIds")
    if asked is None:
        return None
    if not isinstance(asked, list) or not all(isinstance(i, str) for i in cast("list[Any]", asked)):
        raise MCPError(types.INVALID_PARAMS, "notifications.taskIds must be a list of task ids (strings)")
    return list(dict.fromkeys(cast("list[str]", asked)))


def honored_subset(requested: types.SubscriptionFilter, task_ids: list[str]) -> types.SubscriptionFilter:
    """What the ack names: every core kind asked for (as the SDK honors them), and the task ids agreed, if any."""
    extra: dict[str, Any] = {"taskIds": task_ids} if task_ids else {}
    return types.SubscriptionFilter(
        tools_list_changed=True if requested.tools_list_changed else None,
        prompts_list_changed=True if requested.prompts_list_changed else None,
        resources_list_changed=True if requested.resources_list_changed else None,
        resource_subscriptions=list(requested.resource_subscriptions) if requested.resource_subscriptions else None,
        **extra,
    )


class ListenStreams:
    """Serves `subscriptions/listen`: one call is one stream, until the client goes or `close`."""

    def __init__(self, bus: SubscriptionBus, *, max_subscriptions: int = 1024, max_buffered_events: int = 1024) -> None:
        self._bus = bus
        self._max_subscriptions = max_subscriptions
        self._max_buffered_events = max_buffered_events
        self._streams: set[anyio.streams.memory.MemoryObjectSendStream[Frame]] = set()

    async def __call__(
        self, ctx: Ctx, params: types.SubscriptionsListenRequestParams, tasks: TaskNoticeSource | None = None
    ) -> types.SubscriptionsListenResult:
        """Serve one listen stream; `tasks` listens for the task ids it names."""
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(types.INVALID_REQUEST, "subscriptions/listen requires a request id")
        if len(self._streams) >= self._max_subscriptions:
            raise MCPError(types.INTERNAL_ERROR, "Subscription limit reached")
        asked = requested_task_ids(params.notifications)
        if asked is not None and not declares_tasks(ctx.session.client_capabilities):
            raise missing_extension("subscriptions/listen with taskIds")
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        honored = honored_subset(params.notifications, [])
        uris = frozenset(honored.resource_subscriptions or ())
        # Buffered so publishers never wait on a slow client; a backlog at the cap ends the stream.
        send, receive = anyio.create_memory_object_stream[Frame](self._max_buffered_events)

        def put(frame: Frame) -> None:
            try:
                send.send_nowait(frame)
            except anyio.ClosedResourceError:
                pass  # `close` closed this stream, or it is ending
            except anyio.WouldBlock:
                log.warning("listen_backlog_full", subscription_id=subscription_id, note="the stream is ended")
                # The slot goes now: this stream's own cleanup may be stuck writing to a client that stopped reading.
                self._streams.discard(send)
                send.close()

        def on_event(event: ServerEvent) -> None:
            if event_matches(honored, uris, event):
                put(event)

        # Subscribed before the ack is written, so an event published meanwhile waits in the backlog.
        unsubscribe = self._bus.subscribe(on_event)
        self._streams.add(send)
        try:
            async with anyio.create_task_group() as upstream_listens:  # they end with this stream
                if asked and tasks is not None:
                    agreed = await tasks.listen(ctx, asked, put, upstream_listens)
                    honored = honored_subset(params.notifications, agreed)
                await self._send(
                    ctx,
                    types.SubscriptionsAcknowledgedNotification(
                        params=types.SubscriptionsAcknowledgedNotificationParams(notifications=honored, _meta=meta)
                    ),
                )
                async for frame in receive:
                    await self._send(ctx, _frame(frame, meta))
                upstream_listens.cancel_scope.cancel()
        finally:
            unsubscribe()
            self._streams.discard(send)
            send.close()
            receive.close()
        return types.SubscriptionsListenResult(_meta=meta)

    @staticmethod
    async def _send(ctx: Ctx, notification: types.ServerNotification) -> None:
        await ctx.session.send_notification(notification, related_request_id=ctx.request_id)

    def close(self) -> None:
        """Begin the graceful end of every stream: each sends what it holds, then its result frame."""
        for stream in list(self._streams):
            stream.close()


def _frame(frame: Frame, meta: dict[str, Any]) -> types.ServerNotification:
    if not isinstance(frame, dict):
        return event_to_notification(frame, meta)
    kept: dict[str, Any] = frame.get("_meta") or {}
    params: dict[str, Any] = {**frame, "_meta": {**kept, **meta}}
    return cast(types.ServerNotification, TaskNotification(params=params))

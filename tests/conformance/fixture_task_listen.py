"""`subscriptions/listen` with task status notifications (the tasks extension, 2026-07-28).

The SDK's `ListenHandler` serves list changes and resource updates; the tasks extension adds
`taskIds` to the listen filter. A listen that names task ids must declare the extension in its
request's client capabilities (else -32021); the acknowledgement names, in `taskIds`, the ids
among those asked that the fixture knows, and each status change of such a task is sent as
`notifications/tasks` with the task as `tasks/get` shows it (its result, error or questions
inlined). Every frame carries the listen request's id as its subscription id, as the SDK's do.
"""

from __future__ import annotations

from typing import Any, cast

import anyio
import mcp_types as types
from mcp import MCPError
from mcp.server.subscriptions import (
    SubscriptionBus,
    _honored_subset,  # pyright: ignore[reportPrivateUsage]
)
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY, ServerEvent, event_matches, event_to_notification
from pydantic import TypeAdapter, ValidationError

from tests.conformance.fixture_tasks import TaskRecord, TaskStore, missing_extension, opted_in
from tests.conformance.fixture_tools import Context

MAX_BUFFERED = 1024
TASK_NOTICE = "notifications/tasks"

Frame = ServerEvent | dict[str, Any]
"""What a stream sends: a bus event, or a task as `tasks/get` shows it."""


TASK_IDS: TypeAdapter[list[str] | None] = TypeAdapter(list[str] | None)


def asked_task_ids(requested: types.SubscriptionFilter) -> list[str] | None:
    """The task ids a listen filter names (None when it names none), each once."""
    try:
        asked = TASK_IDS.validate_python((requested.model_extra or {}).get("taskIds"), strict=True)
    except ValidationError:
        raise MCPError(types.INVALID_PARAMS, "notifications.taskIds must be a list of strings") from None
    return None if asked is None else list(dict.fromkeys(asked))


def acknowledged(requested: types.SubscriptionFilter, task_ids: list[str]) -> types.SubscriptionFilter:
    """The SDK's honored subset of the core kinds, with the task ids agreed (when there are any)."""
    honored = _honored_subset(requested)
    if not task_ids:
        return honored
    return types.SubscriptionFilter.model_validate(
        {**honored.model_dump(by_alias=True, exclude_none=True), "taskIds": task_ids}
    )


class TaskListenHandler:
    """Serves `subscriptions/listen`: bus events as the SDK's handler sends them, and the tasks asked about."""

    def __init__(self, bus: SubscriptionBus, tasks: TaskStore) -> None:
        self._bus = bus
        self._tasks = tasks

    async def __call__(
        self, ctx: Context, params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        """Serve one listen stream until the client goes."""
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(types.INVALID_REQUEST, "subscriptions/listen requires a request id")
        asked = asked_task_ids(params.notifications)
        if asked is not None and not opted_in(ctx):
            raise missing_extension("subscriptions/listen with taskIds")
        watched = frozenset(i for i in asked or () if i in self._tasks.tasks)
        agreed = acknowledged(params.notifications, [i for i in asked or () if i in watched])
        uris = frozenset(agreed.resource_subscriptions or ())
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        send, receive = anyio.create_memory_object_stream[Frame](MAX_BUFFERED)

        def put(frame: Frame) -> None:
            try:
                send.send_nowait(frame)
            except (anyio.WouldBlock, anyio.ClosedResourceError):
                send.close()  # a client that stopped reading: its stream ends

        def on_event(event: ServerEvent) -> None:
            if event_matches(agreed, uris, event):
                put(event)

        def on_task(record: TaskRecord) -> None:
            if record.task_id in watched:
                put(record.detailed())

        stops = [self._bus.subscribe(on_event), self._tasks.watch(on_task)]
        try:
            ack = types.SubscriptionsAcknowledgedNotificationParams(notifications=agreed, _meta=meta)
            await ctx.session.send_notification(
                types.SubscriptionsAcknowledgedNotification(params=ack), related_request_id=subscription_id
            )
            async for frame in receive:
                if isinstance(frame, dict):
                    notice = types.Notification[dict[str, Any], str](
                        method=TASK_NOTICE, params={**frame, "_meta": meta}
                    )
                    await ctx.session.send_notification(
                        cast(types.ServerNotification, notice), related_request_id=subscription_id
                    )
                else:
                    await ctx.session.send_notification(
                        event_to_notification(frame, meta), related_request_id=subscription_id
                    )
        finally:
            for stop in stops:
                stop()
            send.close()
            receive.close()
        return types.SubscriptionsListenResult(_meta=meta)

"""Where a session's `notifications/tasks` go: the task listen whose subscription id each carries.

`notifications/tasks` (the tasks extension of 2026-07-28) is no core notification, so the SDK's
session hands it only to a binding; every `ForwardingSession` has this one (`link.py`), and each
task listen (`task_listen.py`) claims the notices stamped with its subscription id while open.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import Any, cast

import mcp_types as types
from mcp.client.extension import NotificationBinding
from mcp.shared.dispatcher import as_request_id
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY
from pydantic import ConfigDict

from manifold_common.logging import get_logger

log = get_logger(__name__)

TASK_NOTICE = "notifications/tasks"
"""The tasks extension's status notification: the task as `tasks/get` shows it."""

NoticeSink = Callable[[dict[str, Any]], None]
"""Takes one notice's params as the server sent them (its `_meta` included)."""


class TaskNoticeParams(types.NotificationParams):
    """The params of a `notifications/tasks`: a task, every field kept as sent."""

    model_config = ConfigDict(extra="allow")


class TaskNoticeRoutes:
    """The task listens open on one session, by subscription id: where each notice goes."""

    def __init__(self) -> None:
        self._sinks: dict[types.RequestId, NoticeSink] = {}

    def binding(self) -> NotificationBinding[TaskNoticeParams]:
        """The session's binding for `notifications/tasks`."""
        return NotificationBinding(method=TASK_NOTICE, params_type=TaskNoticeParams, handler=self._deliver)

    @contextmanager
    def routing(self, subscription_id: types.RequestId, sink: NoticeSink) -> Generator[None]:
        """Send the notices stamped with `subscription_id` to `sink` while inside."""
        self._sinks[subscription_id] = sink
        try:
            yield
        finally:
            self._sinks.pop(subscription_id, None)

    async def _deliver(self, params: TaskNoticeParams) -> None:
        raw = params.model_dump(by_alias=True, mode="json", exclude_unset=True)
        meta = raw.get("_meta")
        subscription_id = as_request_id(cast("dict[str, Any]", meta).get(SUBSCRIPTION_ID_META_KEY)) if meta else None
        sink = self._sinks.get(subscription_id) if subscription_id is not None else None
        if sink is None:
            log.debug("task_notice_unclaimed", subscription_id=subscription_id)
            return
        sink(raw)

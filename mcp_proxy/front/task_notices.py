"""Task status notices on a client's listen stream: one upstream listen per server that owns its tasks.

A client names task ids in its `subscriptions/listen` filter (`taskIds`, the tasks extension of
2026-07-28). Each id is opened with the endpoint's seal (`catalog/task_ids.py`); an id that does
not open (altered, guessed, another endpoint's) or names no configured server is not agreed, the
same as an id a server does not know, so the ack never tells which ids exist. The rest are
grouped by owner, and one listen per owner is opened on the session the client's requests reach
(`upstream/task_listen.py`), with the server's own ids and the client's `_meta`, all at once. The
client's ack names, in its own ids, those the servers agreed to; it goes once every server has
answered. A notice a server sends is shown as `tasks/get` shows the task (the client's id, an
inlined result rewritten like any tool result, the server's identity stamp out); the front stream
stamps its own subscription id on it. A server whose listen fails or ends gives no more notices
(logged at info); the stream and the other servers go on. Tasks the proxy bridges from
2025-11-25 servers (`task_bridge.py`) give none: their ids are not agreed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.shared.subscriptions import SUBSCRIPTION_ID_META_KEY

from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger

from ..upstream.supervisor import Upstream
from ..upstream.task_listen import task_listen
from .downstream import DownstreamCall
from .listen import Ctx, NoticeSink
from .tasks import TaskRouting, UpstreamMeta

log = get_logger(__name__)

Bridged = Callable[[str], bool]
"""Whether a client's task id names a task the proxy bridges (no notices for those)."""


class TaskNotices:
    """Opens the upstream listens for the task ids of one endpoint's listen streams."""

    def __init__(self, routing: TaskRouting, upstream_meta: UpstreamMeta, bridged: Bridged) -> None:
        self._routing = routing
        self._upstream_meta = upstream_meta
        self._bridged = bridged

    def _owners(self, task_ids: list[str]) -> dict[str, dict[str, str]]:
        """The ids that lead to a server's task, by server: the server's id -> the client's."""
        routing = self._routing
        owners: dict[str, dict[str, str]] = {}
        for task_id in task_ids:
            owner = routing.seal.open(routing.scope, task_id)
            if owner is None or owner.server not in routing.registry.upstreams or self._bridged(task_id):
                continue
            owners.setdefault(owner.server, {})[owner.upstream_id] = task_id
        return owners

    async def listen(self, ctx: Ctx, task_ids: list[str], sink: NoticeSink, group: TaskGroup) -> list[str]:
        """Listen upstream for `task_ids` in `group` (one listen per owning server); the ids agreed, in order."""
        meta: dict[str, Any] = self._upstream_meta(ctx)
        agreed: set[str] = set()

        async def open_one(server: str, ids: dict[str, str]) -> None:
            agreed.update(await group.start(self._hold, ctx, server, ids, meta, sink))

        async with anyio.create_task_group() as opening:
            for server, ids in self._owners(task_ids).items():
                opening.start_soon(open_one, server, ids)
        return [task_id for task_id in task_ids if task_id in agreed]

    async def _hold(
        self,
        ctx: Ctx,
        server: str,
        ids: dict[str, str],
        meta: dict[str, Any],
        sink: NoticeSink,
        *,
        task_status: TaskStatus[list[str]],
    ) -> None:
        """One server's listen, held until it ends or the client's stream does; the ids it agreed, once acked."""
        upstream = self._routing.registry.upstreams.get(server)
        started = False
        try:
            if upstream is None:
                raise LookupError(f"{server} is not configured")
            session = await upstream.listen_session(DownstreamCall(ctx, server))
            notice = self._shower(upstream, ids, sink)
            async with task_listen(session, server, list(ids), notice, meta=meta) as listening:
                task_status.started([ids[i] for i in listening.agreed])
                started = True
                end = await listening.ended()
            log.info("task_listen_ended", server=server, end=end, note="no more task notices from it on this stream")
        except Exception as exc:
            log.info("task_listen_failed", server=server, reason=describe_failure(exc))
        if not started:
            task_status.started([])

    def _shower(self, upstream: Upstream, ids: dict[str, str], sink: NoticeSink) -> NoticeSink:
        def show(raw: dict[str, Any]) -> None:
            task_id = ids.get(str(raw.get("taskId")))
            if task_id is None:
                return  # a task this stream did not ask about
            shown = self._routing.shown(raw, upstream, task_id)
            # The server's subscription id is its stream's, not the client's: the front stream stamps its own.
            meta: dict[str, Any] = shown.pop("_meta", None) or {}
            kept = {k: v for k, v in meta.items() if k != SUBSCRIPTION_ID_META_KEY}
            if kept:
                shown["_meta"] = kept
            sink(shown)

        return show

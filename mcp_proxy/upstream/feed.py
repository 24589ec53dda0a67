"""What one upstream tells the proxy without being asked: change notifications and resource updates.

A handshake-era server pushes them on its session once subscribed (`resources/subscribe` per
URI). A modern-era server sends them only on a `subscriptions/listen` stream the proxy opens,
whose filter (including the resource URIs) is fixed per stream — a new set of URIs means a new
stream. The frames of either kind reach the session's message handler, which acts on them; this
module only keeps the right subscriptions in place.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp import ClientSession, MCPError
from mcp.client.subscriptions import listen

from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger

from .link import OpenSession

log = get_logger(__name__)


class UpstreamFeed:
    """The resource subscriptions wanted from one server, and its modern-era listen stream."""

    def __init__(self, server: str, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self.uris: set[str] = set()
        self._listen_scope: anyio.CancelScope | None = None

    async def start(self, link: OpenSession, tg: TaskGroup, capabilities: types.ServerCapabilities | None) -> None:
        """Put the wanted subscriptions in place on a fresh connection."""
        if link.is_modern:
            await self._open_listen(tg, link.session, capabilities)
        else:
            for uri in sorted(self.uris):
                await self._quietly(link.session.subscribe_resource(uri), "subscribe", uri)  # pyright: ignore[reportDeprecated]

    async def want(
        self,
        uris: set[str],
        link: OpenSession | None,
        tg: TaskGroup | None,
        capabilities: types.ServerCapabilities | None,
    ) -> None:
        """Subscribe to exactly `uris` (upstream form) from now on."""
        added, removed = uris - self.uris, self.uris - uris
        self.uris = set(uris)
        if link is None or not (added or removed):
            return
        if link.is_modern:
            if tg is not None:
                await self._open_listen(tg, link.session, capabilities)
            return
        for uri in sorted(added):
            await self._quietly(link.session.subscribe_resource(uri), "subscribe", uri)  # pyright: ignore[reportDeprecated]
        for uri in sorted(removed):
            await self._quietly(link.session.unsubscribe_resource(uri), "unsubscribe", uri)  # pyright: ignore[reportDeprecated]

    async def _quietly(self, request: Awaitable[Any], action: str, uri: str) -> None:
        try:
            await request
        except Exception as exc:
            log.warning("upstream_subscription_failed", server=self.server, action=action, uri=uri, error=str(exc))

    async def _open_listen(
        self, tg: TaskGroup, session: ClientSession, capabilities: types.ServerCapabilities | None
    ) -> None:
        # Waiting for the new stream's acknowledgement means an update sent right after a client
        # subscribed is not missed.
        if self._listen_scope is not None:
            self._listen_scope.cancel()
        try:
            with anyio.fail_after(self.timeout):
                await tg.start(self._listen, session, capabilities or types.ServerCapabilities())
        except Exception as exc:
            log.warning("upstream_listen_failed", server=self.server, error=describe_failure(exc))

    async def _listen(
        self, session: ClientSession, caps: types.ServerCapabilities, *, task_status: TaskStatus[None]
    ) -> None:
        tools = bool(caps.tools and caps.tools.list_changed)
        prompts = bool(caps.prompts and caps.prompts.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        started = False
        with anyio.CancelScope() as scope:
            self._listen_scope = scope
            try:
                if not (tools or prompts or resources or self.uris):
                    return  # nothing to listen for
                async with listen(
                    session,
                    tools_list_changed=tools,
                    prompts_list_changed=prompts,
                    resources_list_changed=resources,
                    resource_subscriptions=sorted(self.uris),
                ) as stream:
                    task_status.started()
                    started = True
                    async for _ in stream:
                        pass
            except MCPError as exc:
                event = "upstream_listen_unsupported" if exc.code == types.METHOD_NOT_FOUND else "upstream_listen_ended"
                log.info(event, server=self.server, error=exc.message)
            except Exception as exc:
                log.info("upstream_listen_ended", server=self.server, error=describe_failure(exc))
            finally:
                if not started:
                    task_status.started()

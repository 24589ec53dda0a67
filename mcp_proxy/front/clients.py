"""The clients connected to the proxy: what each asked for, and notifications fanned out to them.

Handshake-era clients receive pushed notifications on their session; modern-era clients receive
them only on `subscriptions/listen` streams, which the subscription bus feeds. This module keeps
both kinds in step: list changes go to everyone, a resource update only to the clients that
subscribed to that resource, whichever era they speak.

It is also how the upstream side reaches the clients outside their requests (`ClientReach`): a
server's request sent while no call is in flight goes to the one handshake-era client connected,
if there is exactly one; and `client_identity` says who a request comes from, for per-client
upstream sessions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import mcp_types as types
from mcp import MCPError
from mcp.server.connection import NotifyOnlyOutbound
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from manifold_common.logging import get_logger

from ..catalog.merged import ChangedList
from ..upstream.caller import ClientIdentity, ClientLine
from .asking import SessionLine
from .auth import principal_of
from .listen import ListenStreams, TaskNoticeSource

log = get_logger(__name__)

Ctx = ServerRequestContext[Any, Any]
SubscriptionsChanged = Callable[[], Awaitable[None]]

_EVENTS: dict[ChangedList, ServerEvent] = {
    "tools": ToolsListChanged(),
    "resources": ResourcesListChanged(),
    "prompts": PromptsListChanged(),
}


def connection_key(ctx: Ctx) -> int:
    """Identifies the client connection a request came on (sessions are per message)."""
    return id(ctx.session._connection)  # pyright: ignore[reportPrivateUsage]


def on_connection_closed(ctx: Ctx, callback: Callable[[], object]) -> None:
    """Run `callback` when the client connection a request came on ends."""
    ctx.session._connection.exit_stack.callback(callback)  # pyright: ignore[reportPrivateUsage]


def client_identity(ctx: Ctx) -> ClientIdentity:
    """Who a request comes from, for per-client upstream sessions.

    A handshake-era client is its connection. A modern client has none (the SDK makes a new
    connection object per request), so it is its authenticated principal, else the stream it
    speaks on (stdio, SSE); a modern client over streamable HTTP without a token is nobody in
    particular. Either way the identity names the principal, when the request has one, and the
    user, when an identity provider signed that principal in.
    """
    connection = ctx.session._connection  # pyright: ignore[reportPrivateUsage]
    principal = principal_of(ctx.request)
    name = principal.name if principal is not None else None
    user = name if principal is not None and principal.issuer is not None else None
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return ClientIdentity(id(connection), principal=name, user=user)
    if name is not None:
        return ClientIdentity(("principal", name), ends_with_connection=False, principal=name, user=user)
    if isinstance(connection.outbound, NotifyOnlyOutbound):  # one per stdio or SSE stream
        return ClientIdentity(("stream", connection.outbound), ends_with_connection=False)
    return ClientIdentity(
        None,
        unknown_because=(
            "this client speaks the 2026-07-28 protocol over streamable HTTP, where requests carry no "
            "connection, and it presented no bearer token (give each client its own token in "
            "[security] auth_tokens or sign it in through [proxy.auth], or connect with a handshake-era client)"
        ),
    )


class Clients:
    """Every connected client's session, log level and resource subscriptions."""

    def __init__(
        self, on_subscriptions_changed: SubscriptionsChanged, default_roots: Callable[[], list[str]] = list
    ) -> None:
        self.bus = InMemorySubscriptionBus()
        self._default_roots = default_roots
        self._listen = ListenStreams(self.bus)
        self.task_notices: TaskNoticeSource | None = None
        """Where listen streams' task ids are listened for (the endpoint's tasks; set by its server)."""
        self._sessions: dict[int, ServerSession] = {}
        self._log_levels: dict[int, types.LoggingLevel] = {}
        # exposed resource URI -> subscriber keys (a connection, or one modern listen stream)
        self._subscribers: dict[str, set[object]] = {}
        self._on_subscriptions_changed = on_subscriptions_changed
        self._listen_streams = 0
        self._listening_ended = False

    @property
    def session_count(self) -> int:
        """How many handshake-era client sessions are connected."""
        return len(self._sessions)

    @property
    def listen_streams(self) -> int:
        """How many modern clients' `subscriptions/listen` streams are open: idle until a change, never work."""
        return self._listen_streams

    def end_listen_streams(self) -> None:
        """Shutdown: end every listen stream gracefully (its final result frame), and refuse new ones.

        A graceful end tells a client the proxy closed the stream on purpose, where a cut
        connection would look like a lost subscription.
        """
        self._listening_ended = True
        self._listen.close()

    # ---- sessions and levels ---------------------------------------------------------

    def register(self, ctx: Ctx) -> None:
        """Remember a handshake-era client's session for pushed notifications until it disconnects."""
        key = connection_key(ctx)
        self._sessions[key] = ctx.session  # a captured session stays usable for the connection's life
        on_connection_closed(ctx, lambda: self._forget(key))

    def _forget(self, key: int) -> None:
        self._sessions.pop(key, None)
        self._log_levels.pop(key, None)
        self._drop_subscriber(key)

    # ---- reaching clients outside their requests (`ClientReach`) ---------------------------

    def sole_client(self) -> ClientLine | None:
        """The only handshake-era client connected, or None when there is none or several."""
        if len(self._sessions) != 1:
            return None
        return SessionLine(next(iter(self._sessions.values())))

    def askable_clients(self) -> int:
        """How many clients could be asked things (handshake-era sessions)."""
        return len(self._sessions)

    def default_roots(self) -> list[str]:
        """The `[proxy] roots` of the configuration in force."""
        return list(self._default_roots())

    def set_log_level(self, ctx: Ctx, level: types.LoggingLevel) -> None:
        """Remember the level a handshake-era client asked for with `logging/setLevel`."""
        self._log_levels[connection_key(ctx)] = level

    def connection_log_level(self, key: int | None) -> types.LoggingLevel | None:
        """The level a handshake-era client connection asked for with `logging/setLevel`, if any."""
        return self._log_levels.get(key) if key is not None else None

    def log_level(self, ctx: Ctx) -> types.LoggingLevel | None:
        """The log level this request wants: its own opt-in (modern era) or its connection's setting."""
        requested = (ctx.meta or {}).get(types.LOG_LEVEL_META_KEY)
        if isinstance(requested, str):
            return requested  # pyright: ignore[reportReturnType]
        return self._log_levels.get(connection_key(ctx))

    # ---- resource subscriptions --------------------------------------------------------

    def subscribed_uris(self) -> set[str]:
        """Every exposed resource URI at least one client is subscribed to."""
        return set(self._subscribers)

    async def subscribe(self, ctx: Ctx, uri: str) -> None:
        """A handshake-era client's `resources/subscribe`."""
        await self._add(connection_key(ctx), [uri])

    async def unsubscribe(self, ctx: Ctx, uri: str) -> None:
        """A handshake-era client's `resources/unsubscribe`."""
        key = connection_key(ctx)
        holders = self._subscribers.get(uri)
        if holders is None or key not in holders:
            return
        holders.discard(key)
        if not holders:
            del self._subscribers[uri]
            await self._on_subscriptions_changed()

    async def listen(self, ctx: Ctx, params: types.SubscriptionsListenRequestParams) -> types.SubscriptionsListenResult:
        """Serve a modern client's `subscriptions/listen` stream, subscribing upstream for its URIs and tasks."""
        if self._listening_ended:
            raise MCPError(types.INTERNAL_ERROR, "the proxy is shutting down")
        key = object()
        uris = list(params.notifications.resource_subscriptions or [])
        self._listen_streams += 1
        try:
            await self._add(key, uris)
            return await self._listen(ctx, params, self.task_notices)
        finally:
            self._listen_streams -= 1
            if self._drop_subscriber(key):
                await self._on_subscriptions_changed()

    async def _add(self, key: object, uris: Iterable[str]) -> None:
        grew = False
        for uri in uris:
            holders = self._subscribers.setdefault(uri, set())
            grew = grew or not holders
            holders.add(key)
        if grew:
            await self._on_subscriptions_changed()

    def _drop_subscriber(self, key: object) -> bool:
        emptied = False
        for uri in list(self._subscribers):
            holders = self._subscribers[uri]
            holders.discard(key)
            if not holders:
                del self._subscribers[uri]
                emptied = True
        return emptied

    # ---- fan-out -----------------------------------------------------------------------

    async def announce(self, kinds: set[ChangedList]) -> None:
        """Tell every connected client which lists changed."""
        for kind in sorted(kinds):
            await self.bus.publish(_EVENTS[kind])
        for session in list(self._sessions.values()):
            if "tools" in kinds:
                await session.send_tool_list_changed()
            if "resources" in kinds:
                await session.send_resource_list_changed()
            if "prompts" in kinds:
                await session.send_prompt_list_changed()
        log.info("list_changed_sent", kinds=sorted(kinds), sessions=len(self._sessions))

    async def resource_updated(self, uri: str) -> None:
        """Tell the clients subscribed to `uri` (exposed form) that it changed."""
        holders = self._subscribers.get(uri, set())
        await self.bus.publish(ResourceUpdated(uri))  # listen streams filter by their own URIs
        for key in list(holders):
            session = self._sessions.get(key) if isinstance(key, int) else None
            if session is not None:
                await session.send_resource_updated(uri)

"""The profiles' endpoints on the HTTP front: `/mcp/NAME` and `/sse/NAME` (+ `/sse/NAME/messages/`).

Each profile is served by its own MCP server object (`ProxyServer` for the profile's view, a
peer of the default one), with its own streamable-HTTP session manager and its own SSE
transport, so its clients get its catalog, its list_changed and its status, and nothing of
another endpoint's. They are made on a profile's first request, while the app runs, and kept
for the life of the process: a profile added by a reload is served at once, one removed is
refused (404) from then on, and one that comes back finds its server again. The routes look
the profile up on each request, so a reload needs no change of routes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

from .http_errors import too_many_sessions
from .limits import ConnectionCap
from .profile_access import PROFILE_PATH_PARAM
from .server import ProxyServer


@dataclass
class ProfileFront:
    """One profile's server and its two transports."""

    server: ProxyServer
    manager: StreamableHTTPSessionManager
    sse: SseServerTransport


class ProfileEndpoints:
    """The profiles' servers and transports, made on first use while the app runs."""

    def __init__(
        self,
        session_manager: Callable[[ProxyServer], StreamableHTTPSessionManager],
        sse_transport: Callable[[str], SseServerTransport],
        sse_sessions: ConnectionCap,
        on_refused: Callable[[str], None],
    ) -> None:
        """`session_manager` and `sse_transport` (given the profile's name) make a profile's transports."""
        self._session_manager = session_manager
        self._sse_transport = sse_transport
        self._sse_sessions = sse_sessions
        self._on_refused = on_refused
        self._default: ProxyServer | None = None
        self._tg: TaskGroup | None = None
        self._fronts: dict[str, ProfileFront] = {}
        self._lock = anyio.Lock()

    @property
    def servers(self) -> list[ProxyServer]:
        """The profiles' servers made so far."""
        return [front.server for front in self._fronts.values()]

    @asynccontextmanager
    async def running(self, default: ProxyServer) -> AsyncGenerator[None]:
        """Serve the profiles beside `default` (the proxy's own server) until the block exits."""
        async with anyio.create_task_group() as tg:
            self._default, self._tg = default, tg
            try:
                yield
            finally:
                self._default, self._tg = None, None
                tg.cancel_scope.cancel()

    async def front(self, name: str) -> ProfileFront:
        """The profile's server and transports, made and started on the first request."""
        async with self._lock:
            found = self._fronts.get(name)
            if found is not None:
                return found
            if self._default is None or self._tg is None:
                raise RuntimeError("the proxy is not running")
            server = ProxyServer(self._default.registry, name, peers=self._default)
            created = ProfileFront(server, self._session_manager(server), self._sse_transport(name))
            await self._tg.start(self._serve, created)
            self._fronts[name] = created
            return created

    @staticmethod
    async def _serve(front: ProfileFront, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(front.server.input_rounds.run)
            async with front.manager.run():
                task_status.started()
                await anyio.sleep_forever()

    async def streamable_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI endpoint of `/mcp/{profile}` (the guards have found the profile configured)."""
        front = await self.front(_profile_of(scope))
        await StreamableHTTPASGIApp(front.manager)(scope, receive, send)

    async def sse_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI endpoint of `/sse/{profile}`: one legacy SSE session of the profile."""
        front = await self.front(_profile_of(scope))
        if not self._sse_sessions.try_enter():
            self._on_refused("too_many_sessions")
            await too_many_sessions(self._sse_sessions.limit)(scope, receive, send)
            return
        try:
            async with front.sse.connect_sse(scope, receive, send) as (read, write):
                server = front.server.server
                await server.run(read, write, server.create_initialization_options())
        finally:
            self._sse_sessions.leave()

    async def sse_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app of `/sse/{profile}/messages/`: a message posted to one of the profile's SSE sessions."""
        front = await self.front(_profile_of(scope))
        await front.sse.handle_post_message(scope, receive, send)


def _profile_of(scope: Scope) -> str:
    return str(scope["path_params"][PROFILE_PATH_PARAM])

"""The per-client session pool of an upstream with `isolation = "per-client"`.

On a shared session, what the server sends on its own initiative (sampling, elicitation, roots,
log messages) can be routed only while a single client request is in flight on it. With
per-client isolation every client connection gets its own session to the server, opened on its
first request and closed when that connection ends (or when the server drops it), so the routing
is never ambiguous.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.client.session import MessageHandlerFnT

from ..config.models import ServerConfig
from .caller import Caller
from .link import Flights, OpenSession, open_session
from .transports import TransportFactory


class ClientSessions:
    """One upstream session per client connection, each routing the server's messages to its own client."""

    def __init__(
        self, config: ServerConfig, transport_factory: TransportFactory, on_message: MessageHandlerFnT
    ) -> None:
        self._config = config
        self._transport_factory = transport_factory
        self._on_message = on_message
        self._links: dict[int, tuple[OpenSession, Flights]] = {}
        self._lock = anyio.Lock()
        self._tg: TaskGroup | None = None

    def __len__(self) -> int:
        """How many client sessions are open."""
        return len(self._links)

    @property
    def active(self) -> bool:
        """Whether requests get a session of their own: isolation is per-client and the pool is open."""
        return self._config.isolation == "per-client" and self._tg is not None

    @asynccontextmanager
    async def open(self) -> AsyncGenerator[None]:
        """Keep the pool open for the block; leaving it closes every client session."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    async def link_for(self, caller: Caller) -> tuple[OpenSession, Flights]:
        """The session of the caller's client connection, opened now if it has none yet."""
        assert self._tg is not None, "the pool is not open"
        key = caller.connection_key
        async with self._lock:  # two first calls from one client must share one session
            existing = self._links.get(key)
            if existing is not None and not existing[0].closed.is_set():
                return existing
            opened: tuple[OpenSession, Flights] = await self._tg.start(self._serve, caller)
            return opened

    async def _serve(self, caller: Caller, *, task_status: TaskStatus[tuple[OpenSession, Flights]]) -> None:
        # One session per client connection; it ends with that connection (or when the server drops it).
        key = caller.connection_key
        flights = Flights(self._config.name)
        async with open_session(self._config, self._transport_factory, flights.handlers(self._on_message)) as link:
            caller.on_connection_closed(link.closed.set)
            self._links[key] = (link, flights)
            task_status.started((link, flights))
            try:
                await link.closed.wait()
            finally:
                self._links.pop(key, None)

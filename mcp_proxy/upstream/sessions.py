"""The sessions of one upstream beside its main connection: other eras, and one per client.

Two reasons open another session to the same server:

- **era mirroring** (`protocol = "auto"`): a client reaches the server in its own era. When the
  main connection speaks the other era, the requests of such clients go over a session in
  theirs, opened on the first of them and shared by all, closed with the main connection. A
  server that turns that era down is not asked again; its requests use the main connection.
- **per-client isolation** (`isolation = "per-client"`): what the server sends on its own
  initiative (sampling, elicitation, roots, log messages) can be routed on a shared session only
  while a single client request is in flight on it, so every client gets a session of its own,
  in its own era. A handshake-era client is its connection: the session is closed when the
  connection ends. A modern client has no connection (each request stands alone), so it is
  known by its authenticated principal (a bearer token) or by the stream it speaks on (stdio,
  SSE); its session is closed after `idle_timeout` seconds without a request. A modern client
  that is neither cannot be told apart from others, and its request is refused saying so.
- **per-user credentials** (`auth = { type = "oauth", per_user = true }`): every user signed in
  at the front gets a session of their own, whatever their era or connection, opened with their
  own tokens (`per_user.py`) and closed after `idle_timeout` seconds without a request. A request
  that comes from no signed-in user is refused; so is one from a user who has not signed in to
  the server (`SignInRequired`, which the front turns into a sign-in link).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp import MCPError
from mcp.client.session import IncomingMessage, MessageHandlerFnT

from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger

from ..config.models import ServerConfig
from ..core.errors import UnidentifiedClient, UpstreamUnavailable
from .caller import Caller, ClientDirectory, ClientIdentity
from .eras import LEGACY, Era, EraMemory
from .flights import Flights
from .link import EraRefused, OpenSession, open_session
from .per_user import UserCredentials, no_user_error
from .task_holds import session_held
from .transports import TransportFactory

log = get_logger(__name__)

IDLE_TIMEOUT = 600.0
"""Seconds without a request after which the session of a client with no connection is closed."""
TASK_HOLD_RECHECK = 1.0
"""Seconds between two looks at whether a task still holds an idle session open."""
MIRROR_RETRY = 30.0
"""Seconds before a session in a client's era is tried again after it failed to open (not refused)."""


class _Shared:
    """The key of the sessions every client shares (there is one per era)."""

    def __repr__(self) -> str:
        return "shared"


SHARED = _Shared()
SessionKey = tuple[Hashable, Era]


@dataclass
class PooledSession:
    """A session of the pool, the requests in flight on it, and the client it belongs to."""

    link: OpenSession
    flights: Flights
    identity: ClientIdentity | None  # None: shared by every client


@dataclass(frozen=True)
class _Wanted:
    """A session to find in the pool or open: its key, who asked, and how it connects."""

    key: SessionKey
    caller: Caller | None
    main: OpenSession
    identity: ClientIdentity | None  # None: shared by every client
    transport: TransportFactory


class SessionPool:
    """The sessions of one upstream other than its main connection."""

    def __init__(
        self,
        config: ServerConfig,
        transport_factory: TransportFactory,
        on_message: MessageHandlerFnT,
        eras: EraMemory,
        directory: ClientDirectory,
        idle_timeout: float = IDLE_TIMEOUT,
        users: UserCredentials | None = None,
    ) -> None:
        self._config = config
        self._users = users
        self._transport_factory = transport_factory
        self._on_message = on_message
        self._eras = eras
        self._directory = directory
        self._idle_timeout = idle_timeout
        self._sessions: dict[SessionKey, PooledSession] = {}
        self._locks: dict[SessionKey, anyio.Lock] = {}
        self._retry_at: dict[Era, float] = {}
        self._tg: TaskGroup | None = None
        # The last level a client set, applied to new handshake-era sessions.
        self.log_level: types.LoggingLevel | None = None

    def __len__(self) -> int:
        """How many per-client sessions are open."""
        return sum(1 for key in self._sessions if key[0] is not SHARED)

    @property
    def mirrored(self) -> list[Era]:
        """The eras of the open sessions shared by every client (beside the main connection)."""
        return sorted(era for client, era in self._sessions if client is SHARED)

    @asynccontextmanager
    async def open(self) -> AsyncGenerator[None]:
        """Keep the pool open for the block; leaving it closes every session in it."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    async def link_for(self, caller: Caller, main: OpenSession, main_flights: Flights) -> tuple[OpenSession, Flights]:
        """The session `caller`'s request goes over: the main one, or one of the pool, opened now if needed.

        Raises:
            UnidentifiedClient: per-client isolation, and the client cannot be told apart from others.
            UpstreamUnavailable: the client's own session could not be opened.
        """
        era = self._eras.for_client(caller.is_modern, main.era)
        if self._users is not None:
            return await self._users_link(caller, era, main)
        if self._config.isolation != "per-client" or self._tg is None:
            if era == main.era:
                return main, main_flights
            mirror = await self._mirror(era, main)
            return (mirror.link, mirror.flights) if mirror is not None else (main, main_flights)
        identity = caller.identity
        if identity.key is None:
            raise UnidentifiedClient(
                self._config.name,
                f'has isolation = "per-client", but {identity.unknown_because}, so the proxy cannot tell this '
                "client from others and will not give it another client's session",
            )
        own = await self._own(identity, era, caller, main, self._transport_factory)
        return own.link, own.flights

    async def _users_link(self, caller: Caller, era: Era, main: OpenSession) -> tuple[OpenSession, Flights]:
        # Never the main session nor another user's: the user's own, with their own tokens.
        users = self._users
        assert users is not None
        user = caller.identity.user
        if user is None:
            raise no_user_error(self._config.name)
        credentials = await users.usable(user)
        identity = ClientIdentity(("user", user), ends_with_connection=False, principal=user, user=user)
        noted = credentials.needs_noted
        try:
            own = await self._own(identity, era, caller, main, lambda _: users.transport(credentials))
        except UpstreamUnavailable:
            if credentials.needs_noted != noted:  # the server refused the user's tokens
                raise users.required(user) from None
            raise
        return own.link, own.flights

    async def _mirror(self, era: Era, main: OpenSession) -> PooledSession | None:
        # A session in another era is a convenience: if it cannot be had, the main one serves.
        if main.closed.is_set() or anyio.current_time() < self._retry_at.get(era, 0.0):
            return None
        try:
            return await self._session(_Wanted((SHARED, era), None, main, None, self._transport_factory))
        except EraRefused:
            self._eras.refuse(era)
        except Exception as exc:
            self._retry_at[era] = anyio.current_time() + MIRROR_RETRY
            log.warning("upstream_mirror_failed", server=self._config.name, protocol=era, error=describe_failure(exc))
        return None

    async def _own(
        self, identity: ClientIdentity, era: Era, caller: Caller, main: OpenSession, transport: TransportFactory
    ) -> PooledSession:
        try:
            try:
                return await self._session(_Wanted((identity.key, era), caller, main, identity, transport))
            except EraRefused:
                self._eras.refuse(era)
                return await self._session(_Wanted((identity.key, main.era), caller, main, identity, transport))
        except Exception as exc:
            raise UpstreamUnavailable(
                self._config.name, f"could not open a session for this client: {describe_failure(exc)}"
            ) from exc

    async def _session(self, wanted: _Wanted) -> PooledSession:
        lock = self._locks.setdefault(wanted.key, anyio.Lock())
        async with lock:  # two first requests of one client share one session
            existing = self._sessions.get(wanted.key)
            if existing is not None and not existing.link.closed.is_set():
                return existing
            assert self._tg is not None, "the pool is not open"
            opened: PooledSession = await self._tg.start(self._serve, wanted)
            return opened

    async def _serve(self, wanted: _Wanted, *, task_status: TaskStatus[PooledSession]) -> None:
        key, caller, main, identity = wanted.key, wanted.caller, wanted.main, wanted.identity
        client, era = key
        flights = Flights(self._config, self._directory, caller.line() if caller is not None else None)
        broken = anyio.Event()

        async def on_message(message: IncomingMessage) -> None:
            if isinstance(message, Exception):  # this session is broken, not the server's main connection
                log.warning("upstream_session_broken", server=self._config.name, error=describe_failure(message))
                broken.set()
                return
            await self._on_message(message)

        pooled: PooledSession | None = None
        try:
            async with open_session(self._config, wanted.transport, flights.handlers(on_message), era) as link:
                pooled = PooledSession(link, flights, identity)
                self._sessions[key] = pooled
                await self._apply_log_level(link)
                if caller is not None and identity is not None and identity.ends_with_connection:
                    caller.on_connection_closed(link.closed.set)
                log.info("upstream_session_opened", server=self._config.name, protocol=era, client=_kind(client))
                task_status.started(pooled)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_close_on, broken, link)
                    if identity is None:
                        tg.start_soon(_close_on, main.closed, link)  # a shared session lives with the main one
                    elif not identity.ends_with_connection:
                        tg.start_soon(self._close_when_idle, link, flights)
                    await link.closed.wait()
                    tg.cancel_scope.cancel()
        except Exception as exc:
            if pooled is None:
                raise  # reaches the request that wanted the session
            log.warning("upstream_session_failed", server=self._config.name, error=describe_failure(exc))
        finally:
            if pooled is not None and self._sessions.get(key) is pooled:
                del self._sessions[key]
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                del self._locks[key]

    async def _close_when_idle(self, link: OpenSession, flights: Flights) -> None:
        # A task living in the session holds it open past the idle timeout (`task_calls.py`).
        while (held := session_held(link.session)) or flights.idle_for() < self._idle_timeout:
            await anyio.sleep(TASK_HOLD_RECHECK if held else max(self._idle_timeout - flights.idle_for(), 0.01))
        log.info("upstream_session_idle", server=self._config.name, idle_s=round(flights.idle_for(), 1))
        link.closed.set()

    async def _apply_log_level(self, link: OpenSession) -> None:
        caps = link.session.server_capabilities
        if self.log_level is None or link.era != LEGACY or caps is None or caps.logging is None:
            return
        try:
            await link.session.set_logging_level(self.log_level)  # pyright: ignore[reportDeprecated]
        except MCPError as exc:
            log.warning("upstream_set_level_failed", server=self._config.name, error=exc.message)

    async def set_logging_level(self, level: types.LoggingLevel) -> None:
        """Remember a client's `logging/setLevel` and pass it to every handshake-era session of the pool."""
        self.log_level = level
        for pooled in list(self._sessions.values()):
            await self._apply_log_level(pooled.link)

    async def roots_changed(self, client: Hashable | None) -> None:
        """Tell the sessions that asked for roots, shared ones and those of `client`, that the roots changed."""
        for (owner, _), pooled in list(self._sessions.items()):
            if pooled.flights.asked_roots and (owner is SHARED or (client is not None and owner == client)):
                await notify_roots_changed(self._config.name, pooled.link)


def _kind(client: Hashable) -> str:
    # What kind of client a session is for, for the log (never the key itself).
    if client is SHARED:
        return "shared"
    if isinstance(client, tuple) and client and isinstance(client[0], str):
        return client[0]
    return "connection"


async def _close_on(event: anyio.Event, link: OpenSession) -> None:
    await event.wait()
    link.closed.set()


async def notify_roots_changed(server: str, link: OpenSession) -> None:
    """Send `notifications/roots/list_changed` on one session, if it is still open."""
    if link.closed.is_set():
        return
    try:
        await link.session.send_roots_list_changed()  # pyright: ignore[reportDeprecated]
    except Exception as exc:
        log.warning("upstream_roots_notice_failed", server=server, error=describe_failure(exc))

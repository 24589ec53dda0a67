"""One supervised connection to one upstream MCP server.

An `Upstream` owns its connection for the life of the proxy: it connects, negotiates the
protocol era, fetches the server's lists, keeps them fresh from the server's change
notifications, and reconnects with backoff when the connection dies. Every failure is caught
here, recorded in the state, and never escapes to the other upstreams.

While a client request is forwarded, whatever the server sends on its own initiative (log
messages, sampling / elicitation / roots requests) is routed back to the client whose request
is in flight on that session (`Flights`). A client reaches the server in its own protocol era
when the server speaks it (`EraMemory`), and with `isolation = "per-client"` every client gets
its own session, so that routing is never ambiguous (`SessionPool`). A server with per-user
credentials is called for each user over a session of their own, with their own tokens
(`per_user.py`); its main connection, which lists and health checks use, keeps the shared sign-in.

States::

    disabled                          (enabled = false: never connected)
    connecting -> ready <-> degraded  (a failed health check degrades; a good one restores)
         ^          \\        /
         |           v      v         (connection lost, or `health_failures` checks failed)
         +-------- down <--+          (retried after an exponential, jittered backoff)
         |
         +--- login_required          (the server refused what the token store holds: waits for
                                       `mcp-proxy login NAME`, then connects again)

Every request passes the server's `CallGate` (circuit breaker, concurrency limit, timeouts).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import ClientSession, MCPError
from mcp.client.session import IncomingMessage

from manifold_common.backoff import Backoff
from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger

from ..catalog.merged import ServerListing
from ..config.models import ServerConfig
from ..core.errors import UpstreamTimeout, UpstreamUnavailable
from ..core.observe import NULL_OBSERVER, Observer, Outcome, outcome_of
from .caller import Caller, ClientDirectory
from .credentials import ServerCredentials
from .eras import MODERN, EraMemory
from .feed import UpstreamFeed
from .flights import Flights
from .forwarded import ForwardedRequests, Operation
from .gate import CallGate
from .link import HANDSHAKE_TIMEOUT, EraRefused, ForwardingSession, OpenSession, connection_failure, open_session
from .per_user import UserCredentials, no_user_error
from .refresh import ServerLists
from .sessions import SessionPool, notify_roots_changed
from .transports import TransportFactory, open_transport

log = get_logger(__name__)

T = TypeVar("T")
ChangeCallback = Callable[["Upstream"], None]
ResourceUpdatedCallback = Callable[["Upstream", str], Awaitable[None]]


class UpstreamState(enum.StrEnum):
    """Where an upstream is in its life cycle."""

    CONNECTING = "connecting"
    READY = "ready"
    DEGRADED = "degraded"
    DOWN = "down"
    LOGIN_REQUIRED = "login_required"
    DISABLED = "disabled"


USABLE_STATES = frozenset({UpstreamState.READY, UpstreamState.DEGRADED})


class Upstream(ForwardedRequests):
    """A supervised connection to the server described by `config`."""

    def __init__(
        self,
        config: ServerConfig,
        on_change: ChangeCallback | None = None,
        transport_factory: TransportFactory = open_transport,
        on_resource_updated: ResourceUpdatedCallback | None = None,
        observer: Observer = NULL_OBSERVER,
        clients: ClientDirectory | None = None,
        credentials: ServerCredentials | None = None,
        users: UserCredentials | None = None,
    ) -> None:
        self.config = config
        self._credentials = credentials
        self._users = users
        self._observer = observer
        self.state = UpstreamState.CONNECTING if config.enabled else UpstreamState.DISABLED
        self.last_error: str | None = None
        self.next_retry_at: float | None = None
        self.connected_at: float | None = None
        self.protocol_version: str | None = None
        self.server_info: types.Implementation | None = None
        self.capabilities: types.ServerCapabilities | None = None
        self.instructions: str | None = None
        self.settled = anyio.Event()  # set after the first connection attempt, whatever its outcome
        self._lists = ServerLists(config, self._notify)
        self._transport_factory = transport_factory
        self._on_change = on_change
        self._on_resource_updated = on_resource_updated
        self._backoff = Backoff(config.reconnect_initial, config.reconnect_max, config.reconnect_multiplier)
        self._gate = CallGate(config.name, config, config.timeout)
        self.failed_attempts = 0  # connection attempts that failed since the last stable connection
        self.health_failures = 0  # consecutive failed health checks
        self.restarts = 0  # reconnects after the first successful connection
        self._link: OpenSession | None = None
        clients = clients or ClientDirectory()
        self._flights = Flights(config, clients)
        self._eras = EraMemory(config.name, config.protocol)
        self._sessions = SessionPool(config, transport_factory, self._on_message, self._eras, clients, users=users)
        self._feed = UpstreamFeed(config.name, config.timeout)
        self._link_tg: TaskGroup | None = None  # tasks that live exactly as long as the shared connection

    @property
    def name(self) -> str:
        """The configured server name."""
        return self.config.name

    @property
    def listing(self) -> ServerListing:
        """What the server offers (the last known lists while it is down)."""
        return self._lists.listing

    @property
    def listing_problems(self) -> list[str]:
        """Why items the server listed were skipped."""
        return self._lists.problems

    @property
    def is_modern(self) -> bool:
        """Whether the live connection speaks the modern (2026-07-28) era."""
        return self._link is not None and self._link.is_modern

    @property
    def session(self) -> ClientSession | None:
        """The live shared session, or None when not ready."""
        return self._link.session if self._link is not None else None

    # ---- supervision -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until cancelled; never raises anything but cancellation."""
        if not self.config.enabled:
            self.settled.set()
            return
        async with self._sessions.open():  # the other sessions live beside the main connection
            while True:
                if self.connected_at is not None or self.failed_attempts:
                    self.restarts += 1
                self._set_state(UpstreamState.CONNECTING)
                noted = self._credentials.needs_noted if self._credentials is not None else 0
                try:
                    await self._connect_and_serve()
                    self.last_error = self.last_error or "connection closed by the server"
                except EraRefused as exc:  # the server changed: the next attempt probes its era again
                    self._eras.forget()
                    self.last_error = connection_failure(self.config, exc)
                except Exception as exc:  # one upstream's failure must never reach the others
                    self.last_error = connection_failure(self.config, exc)
                self._link = None
                self.connected_at = None
                if await self._waited_for_sign_in(noted):
                    continue
                self.failed_attempts += 1
                limit = self.config.reconnect_attempts
                if limit and self.failed_attempts >= limit:
                    self.next_retry_at = None
                    self.last_error = f"{self.last_error}; gave up after {self.failed_attempts} attempts"
                    self._set_state(UpstreamState.DOWN)
                    log.error("upstream_gave_up", server=self.name, error=self.last_error)
                    self.settled.set()
                    await anyio.sleep_forever()
                delay = self._backoff.next_delay()
                self.next_retry_at = time.time() + delay
                self._set_state(UpstreamState.DOWN)
                log.warning("upstream_down", server=self.name, error=self.last_error, retry_in_s=round(delay, 2))
                self.settled.set()
                await anyio.sleep(delay)

    async def _connect_and_serve(self) -> None:
        handlers = self._flights.handlers(self._on_message)
        async with open_session(self.config, self._transport_factory, handlers, self._eras.to_open()) as link:
            self._eras.connected(link.era, link.probed)
            session = link.session
            with anyio.fail_after(max(HANDSHAKE_TIMEOUT, self.config.timeout)):
                self.capabilities = session.server_capabilities
                await self._lists.fetch_all(session)
            self.protocol_version = session.protocol_version
            self.server_info = session.server_info
            self.instructions = session.instructions
            self._link = link
            self.connected_at = time.time()
            self.next_retry_at = None
            self.last_error = None
            self.health_failures = 0
            self._gate.breaker.reset()
            if self._credentials is not None and self._credentials.needed and not self._credentials.needed.step_up:
                self._credentials.needed = None  # the server accepts what the proxy holds now
            self._set_state(UpstreamState.READY)
            log.info(
                "upstream_ready",
                server=self.name,
                transport=self.config.transport,
                protocol=self.protocol_version,
                tools=len(self.listing.tools),
            )
            self.settled.set()
            try:
                async with anyio.create_task_group() as tg:
                    self._link_tg = tg
                    tg.start_soon(self._lists.follow, session)
                    tg.start_soon(self._check_health, link)
                    tg.start_soon(self._note_stability)
                    await self._feed.start(link, tg, self.capabilities)
                    await link.closed.wait()
                    tg.cancel_scope.cancel()
            finally:
                self._link_tg = None

    async def _waited_for_sign_in(self, noted: int) -> bool:
        """If the attempt failed for want of a sign-in, wait in `login_required` until one is made."""
        credentials = self._credentials
        if credentials is None or credentials.needed is None or credentials.needs_noted == noted:
            return False
        self.last_error = credentials.instruction()
        self.next_retry_at = None
        self._set_state(UpstreamState.LOGIN_REQUIRED)
        log.warning("upstream_login_required", server=self.name, error=self.last_error)
        self.settled.set()
        await credentials.wait_for_change()
        return True

    def _credentials_of(self, caller: Caller | None) -> ServerCredentials | None:
        """Whose credentials a request goes out with: the caller's own on a per-user server, else the shared ones."""
        if self._users is None:
            return self._credentials
        user = caller.identity.user if caller is not None else None
        return self._users.of(user) if user is not None else None

    def _sign_in_error(
        self, credentials: ServerCredentials | None, noted: int, link: OpenSession
    ) -> UpstreamUnavailable | None:
        """The error for a request the server refused for want of a sign-in (or of more scopes)."""
        if credentials is None or credentials.needed is None or credentials.needs_noted == noted:
            return None
        if not credentials.needed.step_up:
            link.closed.set()  # reconnect: the shared session finds the server in `login_required`, a user's closes
        if self._users is not None and credentials.key.principal:
            return self._users.required(credentials.key.principal)
        return UpstreamUnavailable(self.name, credentials.instruction())

    async def _note_stability(self) -> None:
        # Only a connection that stays up resets the backoff: a server that dies right after
        # each connect keeps backing off instead of being hammered.
        await anyio.sleep(self.config.stable_after)
        self.failed_attempts = 0
        self._backoff.reset()

    async def _check_health(self, link: OpenSession) -> None:
        interval = self.config.health_interval
        if interval <= 0:
            return
        while True:
            await anyio.sleep(interval)
            reason = await link.check_alive(self.config.health_timeout)
            if reason is not None:
                self.health_failures += 1
                self.last_error = f"health check failed: {reason}"
                log.warning("upstream_health_failed", server=self.name, failures=self.health_failures)
                if self.health_failures >= self.config.health_failures:
                    link.closed.set()  # reconnect
                    return
                self._set_state(UpstreamState.DEGRADED)
                continue
            if self.health_failures:
                self.health_failures = 0
                self.last_error = None
                self._set_state(UpstreamState.READY)

    def mark_disconnected(self) -> None:
        """Tell the supervisor the connection is gone (seen by a call), so it reconnects now."""
        if self._link is not None:
            self._link.closed.set()

    def _set_state(self, state: UpstreamState) -> None:
        if state != self.state:
            log.info("upstream_state", server=self.name, state=str(state), previous=str(self.state))
            self._observer.upstream_state(self.name, str(state), str(self.state))
            self.state = state
            self._notify()

    def _notify(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    # ---- what the server pushes --------------------------------------------------------

    async def _on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            # Garbage on a stdio server's stdout, an invalid JSON-RPC frame, a broken stream: the
            # connection can no longer be trusted, so it is replaced.
            # Only the first line: validation errors run to many lines and links.
            self.last_error = f"transport error: {describe_failure(message).splitlines()[0]}"
            log.warning("upstream_transport_error", server=self.name, error=self.last_error)
            self.mark_disconnected()
            return
        if self._lists.note_change(message):
            return
        if isinstance(message, types.ResourceUpdatedNotification) and self._on_resource_updated is not None:
            await self._on_resource_updated(self, message.params.uri)

    async def refresh(self) -> None:
        """Fetch every list of the server again now and announce the change."""
        session = self.session
        if session is None:
            return
        await self._lists.fetch_all(session)
        self._notify()

    # ---- resource subscriptions ----------------------------------------------------------

    async def set_subscriptions(self, uris: set[str]) -> None:
        """Make the upstream send `resources/updated` for exactly these (upstream) URIs."""
        await self._feed.want(uris, self._link, self._link_tg, self.capabilities)

    @property
    def subscriptions(self) -> set[str]:
        """The resource URIs (upstream form) the proxy wants updates for."""
        return set(self._feed.uris)

    # ---- requests --------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Whether requests can be sent now (ready, or degraded but connected)."""
        return self._link is not None and self.state in USABLE_STATES

    async def request(self, method: str, operation: Operation[T], caller: Caller | None = None) -> T:
        """Run one request on the right session, through the gate, mapping failures to our errors.

        Raises:
            UpstreamUnavailable: the server is not connected, its breaker is open, it is too busy,
                or the connection died mid-request.
            UpstreamTimeout: the server did not answer in time (the request was cancelled).
            MCPError: the server answered with a JSON-RPC error (passed through as is).
        """
        started = time.perf_counter()
        outcome: Outcome = "ok"
        breaker = self._gate.breaker
        try:
            if not self.usable:
                raise UpstreamUnavailable(self.name, self._unavailable_reason())
            if self._users is not None and caller is None:
                raise no_user_error(self.name)  # nothing of a per-user server is asked on nobody's behalf
            async with self._gate.admit(extendable=method == "tools/call") as deadline:
                link, flights = await self._link_for(caller)
                if caller is not None:
                    caller.admitted(deadline)
                credentials = self._credentials_of(caller)
                noted = credentials.needs_noted if credentials is not None else 0
                try:
                    with flights.carrying(caller):
                        result = await operation(link.session, deadline)
                except MCPError as exc:
                    if (refused := self._sign_in_error(credentials, noted, link)) is not None:
                        raise refused from exc
                    if exc.code == types.CONNECTION_CLOSED:
                        breaker.record_failure()
                        link.closed.set()
                        raise UpstreamUnavailable(self.name, "disconnected during the request") from exc
                    if exc.code == types.REQUEST_TIMEOUT:
                        breaker.record_failure()
                        raise UpstreamTimeout(self.name, f"did not answer within {self.config.timeout:g} s") from exc
                    breaker.record_success()  # it answered: the server is alive
                    raise
                breaker.record_success()
                return result
        except BaseException as exc:
            outcome = outcome_of(exc)
            raise
        finally:
            self._observer.upstream_request(self.name, method, outcome, time.perf_counter() - started)

    async def listen_session(self, caller: Caller) -> ForwardingSession:
        """The session a caller's listen goes on: the one its requests reach, without the gate (a listen is idle)."""
        if not self.usable:
            raise UpstreamUnavailable(self.name, self._unavailable_reason())
        return (await self._link_for(caller))[0].session

    async def _link_for(self, caller: Caller | None) -> tuple[OpenSession, Flights]:
        assert self._link is not None
        if caller is None:
            return self._link, self._flights
        return await self._sessions.link_for(caller, self._link, self._flights)

    def speaks_modern_to(self, client_modern: bool) -> bool:
        """Whether a client of that era reaches the server over a modern-era session."""
        if self._link is None:
            return client_modern
        return self._eras.for_client(client_modern, self._link.era) == MODERN

    async def roots_changed(self, client: Hashable | None) -> None:
        """A client's roots changed (or who can be asked did): tell the sessions that asked for roots."""
        link = self._link
        if link is not None and self._flights.asked_roots:
            await notify_roots_changed(self.name, link)
        await self._sessions.roots_changed(client)

    def _unavailable_reason(self) -> str:
        if self.state == UpstreamState.DISABLED:
            return "is disabled in the configuration"
        if self.state == UpstreamState.LOGIN_REQUIRED and self.last_error:
            return self.last_error
        if self.state == UpstreamState.CONNECTING:
            return "is still connecting" + (f" (last error: {self.last_error})" if self.last_error else "")
        reason = f"is unavailable ({self.last_error})" if self.last_error else "is unavailable"
        if self.next_retry_at is not None:
            wait = max(0.0, self.next_retry_at - time.time())
            reason += f"; retry in ~{wait:.0f} s"
        return reason

    async def set_logging_level(self, level: types.LoggingLevel) -> None:
        """Forward a client's `logging/setLevel` (handshake-era servers with logging only)."""
        await self._sessions.set_logging_level(level)
        link = self._link
        caps = self.capabilities
        if link is None or link.is_modern or caps is None or caps.logging is None:
            return
        try:
            await link.session.set_logging_level(level)  # pyright: ignore[reportDeprecated]
        except Exception as exc:
            log.warning("upstream_set_level_failed", server=self.name, level=level, error=describe_failure(exc))

    def supports(self, feature: str) -> bool:
        """Whether the server advertised a capability ("logging", "completions", "subscribe", ...)."""
        caps = self.capabilities
        if caps is None or not self.usable:
            return False
        if feature == "subscribe":
            return bool(caps.resources and caps.resources.subscribe)
        if feature == "completions" and self._users is not None:
            return False  # a completion request carries no user, so it has no one's tokens to go out with
        return getattr(caps, feature, None) is not None

    def status(self) -> dict[str, Any]:
        """A JSON-ready description of this upstream for health endpoints (no secrets)."""
        return {
            "name": self.name,
            "state": str(self.state),
            "transport": self.config.transport,
            "protocol": self.protocol_version,
            "server_info": self.server_info.model_dump(exclude_none=True) if self.server_info else None,
            "prefix": self.config.exposed_prefix,
            "priority": self.config.priority,
            "isolation": self.config.isolation,
            "client_sessions": len(self._sessions),
            "mirrored_eras": self._sessions.mirrored,
            "refused_eras": sorted(self._eras.refused),
            "counts": self._lists.counts(),
            "last_error": self.last_error,
            "connected_at": self.connected_at,
            "next_retry_at": self.next_retry_at,
            "retry_in_s": round(max(0.0, self.next_retry_at - time.time()), 2) if self.next_retry_at else None,
            "failed_attempts": self.failed_attempts,
            "restarts": self.restarts,
            "health_failures": self.health_failures,
            "listing_problems": list(self._lists.problems),
            **self._gate.status(),
            **({"auth": self._auth_status()} if self._credentials is not None else {}),
        }

    def _auth_status(self) -> dict[str, Any]:
        assert self._credentials is not None
        status = self._credentials.status()
        if self._users is not None:
            status.update(self._users.status())
        return status

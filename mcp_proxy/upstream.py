"""One supervised connection to one upstream MCP server.

An `Upstream` owns its connection for the life of the proxy: it connects, negotiates the
protocol era, fetches the server's lists, keeps them fresh from the server's change
notifications, and reconnects with backoff when the connection dies. Every failure is caught
here, recorded in the state, and never escapes to the other upstreams.

While a client request is forwarded, whatever the server sends on its own initiative (log
messages, sampling / elicitation / roots requests) is routed back to the client whose request
is in flight on that session (`Flights`). With `isolation = "per-client"` every client
connection gets its own session, so that routing is never ambiguous.

States::

    disabled                      (enabled = false: never connected)
    connecting -> ready -> down -> connecting -> ...
               \\-> down (connect failed)
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp import ClientSession, MCPError
from mcp.client import ClientRequestContext
from mcp.client.session import IncomingMessage, MessageHandlerFnT
from mcp.client.subscriptions import listen

from .backoff import Backoff
from .catalog import ChangedList, ServerListing
from .config import ServerConfig
from .downstream import DownstreamCall, no_caller_error
from .errors import UpstreamTimeout, UpstreamUnavailable
from .listing import fetch_listing, fetch_lists
from .logging import get_logger
from .observe import NULL_OBSERVER, Observer, RequestOutcome
from .transports import TransportFactory, open_transport
from .upstream_link import HANDSHAKE_TIMEOUT, OpenSession, SessionHandlers, open_session

log = get_logger("mcp_proxy.upstream")

T = TypeVar("T")
ChangeCallback = Callable[["Upstream"], None]
ResourceUpdatedCallback = Callable[["Upstream", str], Awaitable[None]]

_LIST_CHANGED: dict[type[types.ServerNotification], ChangedList] = {
    types.ToolListChangedNotification: "tools",
    types.ResourceListChangedNotification: "resources",
    types.PromptListChangedNotification: "prompts",
}


class UpstreamState(enum.StrEnum):
    """Where an upstream is in its life cycle."""

    CONNECTING = "connecting"
    READY = "ready"
    DOWN = "down"
    DISABLED = "disabled"


class Flights:
    """The client requests in flight on one upstream session, for routing what the server sends back."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.calls: list[DownstreamCall] = []

    def caller(self) -> DownstreamCall | None:
        """The one call in flight, or None when there are none or several."""
        return self.calls[0] if len(self.calls) == 1 else None

    def handlers(self, on_message: MessageHandlerFnT) -> SessionHandlers:
        """Session callbacks that route the server's messages to the caller in flight."""

        async def on_log(params: types.LoggingMessageNotificationParams) -> None:
            call = self.caller()
            if call is not None:
                await call.log(params)
            else:
                log.info("upstream_log", server=self.server, level=params.level, logger=params.logger)

        async def ask(method: str, request: types.InputRequest) -> Any:
            call = self.caller()
            if call is None:
                return no_caller_error(self.server, method, len(self.calls))
            return await call.ask(request)

        async def on_sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
            return await ask("sampling/createMessage", types.CreateMessageRequest(params=params))

        async def on_elicitation(context: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
            return await ask("elicitation/create", types.ElicitRequest(params=params))

        async def on_roots(context: ClientRequestContext) -> Any:
            return await ask("roots/list", types.ListRootsRequest())

        return SessionHandlers(on_message, on_log, on_sampling, on_elicitation, on_roots)


class Upstream:
    """A supervised connection to the server described by `config`."""

    def __init__(
        self,
        config: ServerConfig,
        on_change: ChangeCallback | None = None,
        transport_factory: TransportFactory = open_transport,
        on_resource_updated: ResourceUpdatedCallback | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self.config = config
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
        self._listing = ServerListing(server=config.name, prefix=config.exposed_prefix, priority=config.priority)
        self._transport_factory = transport_factory
        self._on_change = on_change
        self._on_resource_updated = on_resource_updated
        self._backoff = Backoff()
        self._link: OpenSession | None = None
        self._flights = Flights(config.name)
        self._client_links: dict[int, tuple[OpenSession, Flights]] = {}
        self._client_link_lock = anyio.Lock()
        self._tg: TaskGroup | None = None
        self._stale: set[ChangedList] = set()
        self._refresh_wanted = anyio.Event()
        self._subscriptions: set[str] = set()
        self._listen_scope: anyio.CancelScope | None = None
        self._link_tg: TaskGroup | None = None  # tasks that live exactly as long as the shared connection

    @property
    def name(self) -> str:
        """The configured server name."""
        return self.config.name

    @property
    def listing(self) -> ServerListing:
        """What the server offers (the last known lists while it is down)."""
        return self._listing

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
        async with anyio.create_task_group() as tg:
            self._tg = tg  # per-client sessions live here, beside the shared connection
            while True:
                self._set_state(UpstreamState.CONNECTING)
                try:
                    await self._connect_and_serve()
                    self.last_error = "connection closed by the server"
                except Exception as exc:  # one upstream's failure must never reach the others
                    self.last_error = describe_failure(exc)
                self._link = None
                self.connected_at = None
                delay = self._backoff.next_delay()
                self.next_retry_at = time.time() + delay
                self._set_state(UpstreamState.DOWN)
                log.warning("upstream_down", server=self.name, error=self.last_error, retry_in_s=round(delay, 2))
                self.settled.set()
                await anyio.sleep(delay)

    async def _connect_and_serve(self) -> None:
        async with open_session(self.config, self._transport_factory, self._flights.handlers(self._on_message)) as link:
            session = link.session
            with anyio.fail_after(max(HANDSHAKE_TIMEOUT, self.config.timeout)):
                self.capabilities = session.server_capabilities
                self._listing = await fetch_listing(session, self.config)
            self.protocol_version = session.protocol_version
            self.server_info = session.server_info
            self.instructions = session.instructions
            self._link = link
            self.connected_at = time.time()
            self.next_retry_at = None
            self.last_error = None
            self._backoff.reset()
            self._set_state(UpstreamState.READY)
            log.info(
                "upstream_ready",
                server=self.name,
                transport=self.config.transport,
                protocol=self.protocol_version,
                tools=len(self._listing.tools),
            )
            self.settled.set()
            async with anyio.create_task_group() as tg:
                self._link_tg = tg
                tg.start_soon(self._refresh_forever, session)
                if link.is_modern:
                    await self._open_listen(tg, session)
                else:
                    await self._resubscribe(session)
                await link.closed.wait()
                self._link_tg = None
                tg.cancel_scope.cancel()

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
            log.warning("upstream_transport_error", server=self.name, error=describe_failure(message))
            return
        kind = _LIST_CHANGED.get(type(message))
        if kind is not None:
            self._stale.add(kind)
            self._refresh_wanted.set()
        elif isinstance(message, types.ResourceUpdatedNotification) and self._on_resource_updated is not None:
            await self._on_resource_updated(self, message.params.uri)

    async def _refresh_forever(self, session: ClientSession) -> None:
        # Bursts of list_changed coalesce: one refetch covers every notification that arrived
        # while the previous one ran, and only the lists that changed are fetched again.
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted = anyio.Event()
            kinds, self._stale = self._stale, set()
            try:
                self._listing = await fetch_lists(session, self.config, self._listing, kinds)
            except Exception as exc:
                log.warning("upstream_refresh_failed", server=self.name, error=describe_failure(exc))
                continue
            self._notify()

    async def refresh(self) -> None:
        """Fetch every list of the server again now and announce the change."""
        session = self.session
        if session is None:
            return
        self._listing = await fetch_listing(session, self.config)
        self._notify()

    # ---- resource subscriptions ----------------------------------------------------------

    async def set_subscriptions(self, uris: set[str]) -> None:
        """Make the upstream send `resources/updated` for exactly these (upstream) URIs."""
        added, removed = uris - self._subscriptions, self._subscriptions - uris
        self._subscriptions = set(uris)
        link = self._link
        if link is None or not (added or removed):
            return
        if link.is_modern:
            if self._link_tg is not None:
                await self._open_listen(self._link_tg, link.session)
            return
        for uri in sorted(added):
            await self._quietly(link.session.subscribe_resource(uri), "subscribe", uri)  # pyright: ignore[reportDeprecated]
        for uri in sorted(removed):
            await self._quietly(link.session.unsubscribe_resource(uri), "unsubscribe", uri)  # pyright: ignore[reportDeprecated]

    async def _resubscribe(self, session: ClientSession) -> None:
        for uri in sorted(self._subscriptions):
            await self._quietly(session.subscribe_resource(uri), "subscribe", uri)  # pyright: ignore[reportDeprecated]

    async def _quietly(self, request: Awaitable[Any], action: str, uri: str) -> None:
        try:
            await request
        except Exception as exc:
            log.warning("upstream_subscription_failed", server=self.name, action=action, uri=uri, error=str(exc))

    async def _open_listen(self, tg: TaskGroup, session: ClientSession) -> None:
        # The listen filter is fixed per stream: a new set of URIs means a new stream. Waiting for
        # its acknowledgement means an update sent right after a client subscribed is not missed.
        if self._listen_scope is not None:
            self._listen_scope.cancel()
        try:
            with anyio.fail_after(self.config.timeout):
                await tg.start(self._listen, session)
        except Exception as exc:
            log.warning("upstream_listen_failed", server=self.name, error=describe_failure(exc))

    async def _listen(self, session: ClientSession, *, task_status: TaskStatus[None]) -> None:
        # Modern-era servers push change notifications only on a stream the client opens; the
        # frames are also delivered to the message handler, which acts on them.
        caps = self.capabilities or types.ServerCapabilities()
        with anyio.CancelScope() as scope:
            self._listen_scope = scope
            try:
                async with listen(
                    session,
                    tools_list_changed=bool(caps.tools and caps.tools.list_changed),
                    prompts_list_changed=bool(caps.prompts and caps.prompts.list_changed),
                    resources_list_changed=bool(caps.resources and caps.resources.list_changed),
                    resource_subscriptions=sorted(self._subscriptions),
                ) as subscription:
                    task_status.started()
                    async for _ in subscription:
                        pass
            except Exception as exc:
                log.info("upstream_listen_ended", server=self.name, error=describe_failure(exc))

    # ---- requests --------------------------------------------------------------------

    async def request(
        self, method: str, operation: Callable[[ClientSession], Awaitable[T]], caller: DownstreamCall | None = None
    ) -> T:
        """Run one request on the right session, mapping connection failures to our errors.

        Raises:
            UpstreamUnavailable: the server is not connected, or the connection died mid-request.
            UpstreamTimeout: the server did not answer within its timeout.
            MCPError: the server answered with a JSON-RPC error (passed through as is).
        """
        if self._link is None or self.state != UpstreamState.READY:
            self._observer.upstream_request(self.name, method, "unavailable", 0.0)
            raise UpstreamUnavailable(self.name, self._unavailable_reason())
        started = time.perf_counter()
        outcome: RequestOutcome = "error"
        link, flights = await self._link_for(caller)
        if caller is not None:
            flights.calls.append(caller)
        try:
            result = await operation(link.session)
            outcome = "ok"
            return result
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                outcome = "unavailable"
                link.closed.set()
                raise UpstreamUnavailable(self.name, "disconnected during the request") from exc
            if exc.code == types.REQUEST_TIMEOUT:
                outcome = "timeout"
                raise UpstreamTimeout(self.name, f"did not answer within {self.config.timeout:g} s") from exc
            raise
        finally:
            if caller is not None:
                flights.calls.remove(caller)
            self._observer.upstream_request(self.name, method, outcome, time.perf_counter() - started)

    async def _link_for(self, caller: DownstreamCall | None) -> tuple[OpenSession, Flights]:
        assert self._link is not None
        if caller is None or self.config.isolation != "per-client" or self._tg is None:
            return self._link, self._flights
        key = caller.connection_key
        async with self._client_link_lock:  # two first calls from one client must share one session
            existing = self._client_links.get(key)
            if existing is not None and not existing[0].closed.is_set():
                return existing
            opened: tuple[OpenSession, Flights] = await self._tg.start(self._serve_client_link, caller)
            return opened

    async def _serve_client_link(
        self, caller: DownstreamCall, *, task_status: TaskStatus[tuple[OpenSession, Flights]]
    ) -> None:
        # One session per client connection; it ends with that connection (or when the server drops it).
        key = caller.connection_key
        flights = Flights(self.name)
        async with open_session(self.config, self._transport_factory, flights.handlers(self._on_message)) as link:
            caller.on_connection_closed(link.closed.set)
            self._client_links[key] = (link, flights)
            task_status.started((link, flights))
            try:
                await link.closed.wait()
            finally:
                self._client_links.pop(key, None)

    def _unavailable_reason(self) -> str:
        if self.state == UpstreamState.DISABLED:
            return "is disabled in the configuration"
        if self.state == UpstreamState.CONNECTING:
            return "is still connecting"
        reason = f"is unavailable ({self.last_error})" if self.last_error else "is unavailable"
        if self.next_retry_at is not None:
            wait = max(0.0, self.next_retry_at - time.time())
            reason += f"; retry in ~{wait:.0f} s"
        return reason

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        caller: DownstreamCall | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: types.InputResponses | None = None,
        request_state: str | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """Call one upstream tool by its upstream name (a modern server may ask for input first)."""
        progress = caller.progress if caller is not None else None
        return await self.request(
            "tools/call",
            lambda s: s.call_tool(
                name,
                arguments,
                read_timeout_seconds=self.config.timeout,
                progress_callback=progress,
                meta=_typed(meta),
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            ),
            caller,
        )

    async def read_resource(
        self,
        uri: str,
        *,
        caller: DownstreamCall | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: types.InputResponses | None = None,
        request_state: str | None = None,
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        """Read one upstream resource by its upstream URI."""
        return await self.request(
            "resources/read",
            lambda s: s.read_resource(
                uri,
                meta=_typed(meta),
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            ),
            caller,
        )

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, str] | None,
        *,
        caller: DownstreamCall | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: types.InputResponses | None = None,
        request_state: str | None = None,
    ) -> types.GetPromptResult | types.InputRequiredResult:
        """Get one upstream prompt by its upstream name."""
        return await self.request(
            "prompts/get",
            lambda s: s.get_prompt(
                name,
                arguments,
                meta=_typed(meta),
                input_responses=input_responses,
                request_state=request_state,
                allow_input_required=True,
            ),
            caller,
        )

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: types.CompletionArgument,
        context: types.CompletionContext | None,
    ) -> types.CompleteResult:
        """Ask the server for completions of one argument of a prompt or template."""
        context_arguments = context.arguments if context is not None else None
        return await self.request(
            "completion/complete",
            lambda s: s.complete(ref, argument.model_dump(), context_arguments=context_arguments),
        )

    async def set_logging_level(self, level: types.LoggingLevel) -> None:
        """Forward a client's `logging/setLevel` (handshake-era servers with logging only)."""
        link = self._link
        caps = self.capabilities
        if link is None or link.is_modern or caps is None or caps.logging is None:
            return
        await self._quietly(link.session.set_logging_level(level), "set_logging_level", level)  # pyright: ignore[reportDeprecated]

    def supports(self, feature: str) -> bool:
        """Whether the server advertised a capability ("logging", "completions", "subscribe", ...)."""
        caps = self.capabilities
        if caps is None or self.state != UpstreamState.READY:
            return False
        if feature == "subscribe":
            return bool(caps.resources and caps.resources.subscribe)
        return getattr(caps, feature, None) is not None

    def status(self) -> dict[str, Any]:
        """A JSON-ready description of this upstream for health endpoints (no secrets)."""
        counts = {
            "tools": len(self._listing.tools),
            "resources": len(self._listing.resources),
            "resource_templates": len(self._listing.resource_templates),
            "prompts": len(self._listing.prompts),
        }
        return {
            "name": self.name,
            "state": str(self.state),
            "transport": self.config.transport,
            "protocol": self.protocol_version,
            "server_info": self.server_info.model_dump(exclude_none=True) if self.server_info else None,
            "prefix": self.config.exposed_prefix,
            "priority": self.config.priority,
            "isolation": self.config.isolation,
            "client_sessions": len(self._client_links),
            "counts": counts,
            "last_error": self.last_error,
            "connected_at": self.connected_at,
            "next_retry_at": self.next_retry_at,
        }


def _typed(meta: dict[str, Any] | None) -> types.RequestParamsMeta | None:
    # `_meta` is an open mapping on the wire; the SDK types it as a TypedDict with extra items.
    return cast("types.RequestParamsMeta | None", meta)


def describe_failure(exc: BaseException) -> str:
    """A one-line description of a failure, unwrapping the exception groups transports raise."""
    if isinstance(exc, BaseExceptionGroup):
        inner: tuple[BaseException, ...] = exc.exceptions  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return "; ".join(describe_failure(e) for e in inner)
    if isinstance(exc, TimeoutError):
        return "timed out while connecting"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"

"""One supervised connection to one upstream MCP server.

An `Upstream` owns its connection for the life of the proxy: it connects, negotiates the
protocol era, fetches the server's lists, keeps them fresh from the server's change
notifications, and reconnects with backoff when the connection dies. Every failure is caught
here, recorded in the state, and never escapes to the other upstreams.

States::

    disabled                      (enabled = false: never connected)
    connecting -> ready -> down -> connecting -> ...
               \\-> down (connect failed)
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import anyio
import mcp_types as types
from mcp import ClientSession, MCPError
from mcp.client._probe import negotiate_auto  # pyright: ignore[reportPrivateUsage]
from mcp.client.subscriptions import listen
from mcp.shared.dispatcher import ProgressFnT

from .backoff import Backoff
from .catalog import ServerListing
from .config import ServerConfig
from .errors import UpstreamTimeout, UpstreamUnavailable
from .listing import fetch_listing
from .logging import get_logger
from .streams import EofWatch
from .transports import TransportFactory, open_transport

log = get_logger("mcp_proxy.upstream")

T = TypeVar("T")
ChangeCallback = Callable[["Upstream"], None]

# How long the era negotiation and first listing may take on top of the transport connect.
HANDSHAKE_TIMEOUT = 30.0


class UpstreamState(enum.StrEnum):
    """Where an upstream is in its life cycle."""

    CONNECTING = "connecting"
    READY = "ready"
    DOWN = "down"
    DISABLED = "disabled"


class _ForwardingSession(ClientSession):
    """A client session that relays results as they are: the end client validates for itself."""

    async def validate_tool_result(self, name: str, result: types.CallToolResult) -> None:
        return None


class Upstream:
    """A supervised connection to the server described by `config`."""

    def __init__(
        self,
        config: ServerConfig,
        on_change: ChangeCallback | None = None,
        transport_factory: TransportFactory = open_transport,
    ) -> None:
        self.config = config
        self._transport_factory = transport_factory
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
        self._session: ClientSession | None = None
        self._closed: anyio.Event | None = None
        self._backoff = Backoff()
        self._on_change = on_change

    @property
    def name(self) -> str:
        """The configured server name."""
        return self.config.name

    @property
    def listing(self) -> ServerListing:
        """What the server offers (the last known lists while it is down)."""
        return self._listing

    @property
    def session(self) -> ClientSession | None:
        """The live session, or None when not ready."""
        return self._session

    # ---- supervision -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until cancelled; never raises anything but cancellation."""
        if not self.config.enabled:
            self.settled.set()
            return
        while True:
            self._set_state(UpstreamState.CONNECTING)
            try:
                await self._connect_and_serve()
                self.last_error = "connection closed by the server"
            except Exception as exc:  # one upstream's failure must never reach the others
                self.last_error = _describe(exc)
            self._session = None
            self.connected_at = None
            delay = self._backoff.next_delay()
            self.next_retry_at = time.time() + delay
            self._set_state(UpstreamState.DOWN)
            log.warning("upstream_down", server=self.name, error=self.last_error, retry_in_s=round(delay, 2))
            self.settled.set()
            await anyio.sleep(delay)

    async def _connect_and_serve(self) -> None:
        closed = anyio.Event()
        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(self._transport_factory(self.config))
            session = await stack.enter_async_context(
                _ForwardingSession(
                    EofWatch(read, closed),
                    write,
                    read_timeout_seconds=self.config.timeout,
                    message_handler=self._on_message,
                )
            )
            with anyio.fail_after(max(HANDSHAKE_TIMEOUT, self.config.timeout)):
                await self._handshake(session)
                self.capabilities = session.server_capabilities
                self._listing = await fetch_listing(session, self.config)
            self.protocol_version = session.protocol_version
            self.server_info = session.server_info
            self.instructions = session.instructions
            self._session, self._closed = session, closed
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
                if self._wants_listen(session):
                    tg.start_soon(self._listen, session)
                await closed.wait()
                tg.cancel_scope.cancel()

    async def _handshake(self, session: ClientSession) -> None:
        mode = self.config.protocol
        if mode == "legacy":
            await session.initialize()
        elif mode == "auto":
            await negotiate_auto(session)
        else:
            await session.discover()

    def _wants_listen(self, session: ClientSession) -> bool:
        # Modern-era servers push change notifications only on a stream the client opens.
        return session.discover_result is not None and session.initialize_result is None

    async def _listen(self, session: ClientSession) -> None:
        caps = self.capabilities or types.ServerCapabilities()
        try:
            async with listen(
                session,
                tools_list_changed=bool(caps.tools and caps.tools.list_changed),
                prompts_list_changed=bool(caps.prompts and caps.prompts.list_changed),
                resources_list_changed=bool(caps.resources and caps.resources.list_changed),
            ) as subscription:
                async for _ in subscription:
                    pass  # events are also delivered to the message handler, which acts on them
        except Exception as exc:
            log.info("upstream_listen_ended", server=self.name, error=_describe(exc))

    async def _on_message(self, message: types.ServerNotification | Exception) -> None:
        if isinstance(message, Exception):
            log.warning("upstream_transport_error", server=self.name, error=_describe(message))
            return
        if isinstance(
            message,
            types.ToolListChangedNotification
            | types.ResourceListChangedNotification
            | types.PromptListChangedNotification,
        ):
            await self.refresh()

    async def refresh(self) -> None:
        """Fetch the server's lists again and announce the change."""
        session = self._session
        if session is None:
            return
        try:
            self._listing = await fetch_listing(session, self.config)
        except Exception as exc:
            log.warning("upstream_refresh_failed", server=self.name, error=_describe(exc))
            return
        self._notify()

    def mark_disconnected(self) -> None:
        """Tell the supervisor the connection is gone (seen by a call), so it reconnects now."""
        if self._closed is not None:
            self._closed.set()

    def _set_state(self, state: UpstreamState) -> None:
        if state != self.state:
            log.info("upstream_state", server=self.name, state=str(state), previous=str(self.state))
            self.state = state
            self._notify()

    def _notify(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    # ---- requests --------------------------------------------------------------------

    async def request(self, operation: Callable[[ClientSession], Awaitable[T]]) -> T:
        """Run one request on the live session, mapping connection failures to our errors.

        Raises:
            UpstreamUnavailable: the server is not connected, or the connection died mid-request.
            UpstreamTimeout: the server did not answer within its timeout.
            MCPError: the server answered with a JSON-RPC error (passed through as is).
        """
        session = self._session
        if session is None or self.state != UpstreamState.READY:
            raise UpstreamUnavailable(self.name, self._unavailable_reason())
        try:
            return await operation(session)
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                self.mark_disconnected()
                raise UpstreamUnavailable(self.name, "disconnected during the request") from exc
            if exc.code == types.REQUEST_TIMEOUT:
                raise UpstreamTimeout(self.name, f"did not answer within {self.config.timeout:g} s") from exc
            raise

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
        meta: dict[str, Any] | None = None,
        progress: ProgressFnT | None = None,
    ) -> types.CallToolResult:
        """Call one upstream tool by its upstream name."""
        return await self.request(
            lambda s: s.call_tool(
                name,
                arguments,
                read_timeout_seconds=self.config.timeout,
                progress_callback=progress,
                meta=meta,  # pyright: ignore[reportArgumentType]
            )
        )

    async def read_resource(self, uri: str, *, meta: dict[str, Any] | None = None) -> types.ReadResourceResult:
        """Read one upstream resource by its upstream URI."""
        return await self.request(lambda s: s.read_resource(uri, meta=meta))  # pyright: ignore[reportArgumentType]

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None, *, meta: dict[str, Any] | None = None
    ) -> types.GetPromptResult:
        """Get one upstream prompt by its upstream name."""
        return await self.request(lambda s: s.get_prompt(name, arguments, meta=meta))  # pyright: ignore[reportArgumentType]

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
            "counts": counts,
            "last_error": self.last_error,
            "connected_at": self.connected_at,
            "next_retry_at": self.next_retry_at,
        }


def _describe(exc: BaseException) -> str:
    """A one-line description of a failure, unwrapping the exception groups transports raise."""
    if isinstance(exc, BaseExceptionGroup):
        inner: tuple[BaseException, ...] = exc.exceptions  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return "; ".join(_describe(e) for e in inner)
    if isinstance(exc, TimeoutError):
        return "timed out while connecting"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"

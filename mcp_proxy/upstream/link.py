"""One client session to an upstream server: opening it (transport, era) and routing what it sends.

Both the shared connection of an upstream and the per-client sessions of an upstream with
`isolation = "per-client"` are opened here, so they negotiate and behave identically.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp import ClientSession
from mcp.client import ClientRequestContext
from mcp.client._probe import negotiate_auto  # pyright: ignore[reportPrivateUsage]
from mcp.client.session import ElicitationFnT, ListRootsFnT, LoggingFnT, MessageHandlerFnT, SamplingFnT

from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger
from manifold_common.streams import EofWatch

from ..config.models import ServerConfig
from .caller import Caller, no_caller_error
from .transports import TransportFactory

log = get_logger(__name__)

# How long the era negotiation may take on top of the transport connect.
HANDSHAKE_TIMEOUT = 30.0


@dataclass(frozen=True)
class SessionHandlers:
    """What the proxy does with everything an upstream sends on its own initiative."""

    on_message: MessageHandlerFnT
    on_log: LoggingFnT
    on_sampling: SamplingFnT
    on_elicitation: ElicitationFnT
    on_roots: ListRootsFnT


class ForwardingSession(ClientSession):
    """A client session that relays results as they are: the end client validates for itself."""

    async def validate_tool_result(self, name: str, result: types.CallToolResult) -> None:
        return None


@dataclass
class OpenSession:
    """A negotiated session and the event that fires when its connection ends."""

    session: ForwardingSession
    closed: anyio.Event

    @property
    def is_modern(self) -> bool:
        """Whether the session negotiated the modern (2026-07-28) era."""
        return self.session.discover_result is not None and self.session.initialize_result is None

    async def check_alive(self, timeout: float) -> str | None:
        """Ask the server for a sign of life; None when it answered within `timeout`, else why not."""
        try:
            with anyio.fail_after(timeout):
                if self.is_modern:
                    await self.session.list_tools()  # modern servers have no ping
                else:
                    await self.session.send_ping()
        except Exception as exc:
            return f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else describe_failure(exc)
        return None


class Flights:
    """The client requests in flight on one upstream session, for routing what the server sends back."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.calls: list[Caller] = []

    def caller(self) -> Caller | None:
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


@asynccontextmanager
async def open_session(
    config: ServerConfig, transport_factory: TransportFactory, handlers: SessionHandlers
) -> AsyncGenerator[OpenSession]:
    """Connect to the server, negotiate its protocol era, and yield the live session."""
    closed = anyio.Event()
    async with transport_factory(config) as (read, write):
        session = ForwardingSession(
            EofWatch(read, closed),
            write,
            read_timeout_seconds=config.timeout,
            message_handler=handlers.on_message,
            logging_callback=handlers.on_log,
            sampling_callback=handlers.on_sampling,
            elicitation_callback=handlers.on_elicitation,
            list_roots_callback=handlers.on_roots,
        )
        async with session:
            with anyio.fail_after(max(HANDSHAKE_TIMEOUT, config.timeout)):
                await _handshake(session, config)
            yield OpenSession(session, closed)


def connection_failure(config: ServerConfig, exc: Exception) -> str:
    """Why a connection to the server failed or ended, naming the URL a refused connection tried."""
    reason = describe_failure(exc)
    if config.url and reason.startswith("cannot connect"):
        reason = reason.replace("cannot connect", f"cannot connect to {config.url}")
    return reason


async def _handshake(session: ClientSession, config: ServerConfig) -> None:
    if config.protocol == "legacy":
        await session.initialize()
    elif config.protocol == "auto":
        await negotiate_auto(session)
    else:
        await session.discover()

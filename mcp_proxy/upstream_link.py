"""Opening one client session to an upstream server: transport, session, protocol era.

Both the shared connection of an upstream and the per-client sessions of an upstream with
`isolation = "per-client"` are opened here, so they negotiate and behave identically.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import mcp_types as types
from mcp import ClientSession
from mcp.client._probe import negotiate_auto  # pyright: ignore[reportPrivateUsage]
from mcp.client.session import ElicitationFnT, ListRootsFnT, LoggingFnT, MessageHandlerFnT, SamplingFnT

from .config import ServerConfig
from .streams import EofWatch
from .transports import TransportFactory

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


async def _handshake(session: ClientSession, config: ServerConfig) -> None:
    if config.protocol == "legacy":
        await session.initialize()
    elif config.protocol == "auto":
        await negotiate_auto(session)
    else:
        await session.discover()

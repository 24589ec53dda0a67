"""One client session to an upstream server: opening it over its transport, in a protocol era.

Every session of an upstream (its main connection, the one in the other era that handshake-era
clients are mirrored to, and the per-client sessions of `isolation = "per-client"`) is opened
here, so they negotiate and behave identically. A session opened in an era the server turns
down raises `EraRefused`; a probe (`auto`) holds the child's stderr back until its outcome is
known (see `stderr_relay.py`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import anyio
import mcp_types as types
from mcp import ClientSession, MCPError
from mcp.client._probe import negotiate_auto  # pyright: ignore[reportPrivateUsage]
from mcp.client.extension import UnexpectedClaimedResult
from mcp.client.session import (
    _clamp_inbound_ttl,  # pyright: ignore[reportPrivateUsage]
    _later_revision_fields,  # pyright: ignore[reportPrivateUsage]
)
from mcp.shared.dispatcher import CallOptions, ProgressFnT
from mcp.shared.inbound import MCP_NAME_HEADER, encode_header_value
from mcp_types import methods as _methods
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from opentelemetry import trace

from manifold_common.failures import describe_failure
from manifold_common.logging import get_logger
from manifold_common.streams import EofWatch

from ..config.models import ProtocolMode, ServerConfig
from .client_capabilities import keeping_declared
from .eras import LEGACY, MODERN, Era, era_of
from .flights import SessionHandlers
from .lane import AnsweredError, RawLane, lane_of, progress_notices
from .stderr_relay import StderrHold, holding_stderr
from .task_notice_routes import TaskNoticeRoutes
from .transports import TransportFactory

log = get_logger(__name__)

# How long the era negotiation may take on top of the transport connect.
HANDSHAKE_TIMEOUT = 30.0


class ForwardingSession(ClientSession):
    """A client session that forwards for other clients.

    It relays results as they are (the end client validates for itself), and a request that
    declares the capabilities of the client it is forwarded for goes with those, not the
    session's own (`client_capabilities.py`).
    """

    lane: RawLane | None = None
    """The transport's raw lane, for requests the lean relay forwards beside the session (`lane.py`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.task_notices = TaskNoticeRoutes()
        """Where the server's `notifications/tasks` go: the task listen each names (`task_notice_routes.py`)."""
        kwargs["notification_bindings"] = [*kwargs.get("notification_bindings", ()), self.task_notices.binding()]
        super().__init__(*args, **kwargs)

    async def validate_tool_result(self, name: str, result: types.CallToolResult) -> None:
        return None

    def stamp(self, message: dict[str, Any]) -> dict[str, str]:
        """Write the negotiated era's stamp into `message` as the session would; the headers it goes with."""
        options: CallOptions = {}
        self._stamp(message, options)
        return options.get("headers") or {}

    @property
    def speaks_modern(self) -> bool:
        """Whether the session negotiated the 2026-07-28 era."""
        return self.discover_result is not None and self.initialize_result is None

    def lane_serves(self) -> bool:
        """Whether this session's requests can go over its transport's raw lane.

        Not while requests are traced: the session writes the trace context into each request.
        """
        return (
            self.lane is not None
            and self.lane.serves(self.speaks_modern)
            and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        )

    async def call_tool_on_lane(
        self, params: types.CallToolRequestParams, on_progress: ProgressFnT | None
    ) -> types.CallToolResult | types.InputRequiredResult:
        """`call_tool`, sent and answered on the raw lane: the same request, the same checks of the answer."""
        lane = self.lane
        assert lane is not None
        message: dict[str, Any] = {
            "jsonrpc": "2.0",
            "method": "tools/call",
            "params": params.model_dump(by_alias=True, mode="json", exclude_none=True),
        }
        answer = await lane.request(message, self.stamp(message), progress_notices(on_progress))
        if "error" in answer:
            raise AnsweredError(answer["error"])
        raw = answer.get("result")
        return self.tool_result(cast("dict[str, Any]", raw) if isinstance(raw, dict) else {})

    def tool_result(self, raw: dict[str, Any]) -> types.CallToolResult | types.InputRequiredResult:
        """A raw `tools/call` answer checked and parsed as the SDK's `call_tool` does."""
        _clamp_inbound_ttl(raw)
        version = self.protocol_version or LATEST_HANDSHAKE_VERSION
        _methods.validate_server_result("tools/call", version, raw)
        if not (foreign := _later_revision_fields("tools/call", version)).isdisjoint(raw):
            raw = {key: value for key, value in raw.items() if key not in foreign}
        result = self._call_tool_adapter.validate_python(raw, by_name=False)
        if not isinstance(result, types.CallToolResult | types.InputRequiredResult):
            raise UnexpectedClaimedResult(result)
        return result

    async def send_raw(
        self,
        method: str,
        params: dict[str, Any],
        *,
        name: str | None = None,
        timeout: float | None = None,
        on_progress: ProgressFnT | None = None,
    ) -> dict[str, Any]:
        """Send a request as JSON on the session's own machinery; the server's result, unchecked.

        For answers the SDK's session would refuse to parse (a task, and what the `tasks/*`
        requests answer). The request is stamped as the session stamps its own; `name` goes in
        the `Mcp-Name` header (HTTP transports send it).

        Raises:
            MCPError: the server answered with an error, or the request timed out or the
                connection closed.
        """
        data: dict[str, Any] = {"method": method, "params": params}
        options: CallOptions = {}
        self._stamp(data, options)
        if name is not None:
            options.setdefault("headers", {})[MCP_NAME_HEADER] = encode_header_value(name)
        if timeout is not None:
            options["timeout"] = timeout
        if on_progress is not None:
            options["on_progress"] = on_progress
        return await self._dispatcher.send_raw_request(method, data.get("params"), options)

    def adopt(self, result: types.InitializeResult | types.DiscoverResult) -> None:
        """Install the negotiated era, keeping each request's own capability declaration."""
        super().adopt(result)
        # The SDK writes the session's declaration into every request in its era's stamp;
        # every negotiation (initialize, discover, the auto probe) ends here.
        self._stamp = keeping_declared(self._stamp, modern=isinstance(result, types.DiscoverResult))


class EraRefused(Exception):
    """The server turned down the handshake of an era it was asked to speak."""

    def __init__(self, era: Era, error: MCPError) -> None:
        self.era = era
        self.error = error
        super().__init__(f"the server does not speak the {era} era: {error.message}")


@dataclass
class OpenSession:
    """A negotiated session and the event that fires when its connection ends."""

    session: ForwardingSession
    closed: anyio.Event
    probed: bool = False
    """The era was found by a probe (`protocol = "auto"`), not asked for."""

    @property
    def is_modern(self) -> bool:
        """Whether the session negotiated the modern (2026-07-28) era."""
        return self.session.discover_result is not None and self.session.initialize_result is None

    @property
    def era(self) -> Era:
        """The era the session speaks."""
        return era_of(self.is_modern)

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


@asynccontextmanager
async def open_session(
    config: ServerConfig, transport_factory: TransportFactory, handlers: SessionHandlers, mode: ProtocolMode
) -> AsyncGenerator[OpenSession]:
    """Connect to the server, speak `mode` (an era, or `auto` to probe), and yield the live session.

    Raises:
        EraRefused: the server turned down the handshake of the era `mode` names.
    """
    closed = anyio.Event()
    hold = StderrHold(config.name) if mode == "auto" else None
    refused: EraRefused | None = None
    async with AsyncExitStack() as stack:
        with holding_stderr(hold):  # a child started now holds its stderr back while it is probed
            streams = await stack.enter_async_context(transport_factory(config))
        read, write = streams
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
        session.lane = lane_of(streams)
        if session.lane is not None:
            session.lane.route_logs(handlers.log_at_once)
        await stack.enter_async_context(session)
        try:
            with anyio.fail_after(max(HANDSHAKE_TIMEOUT, config.timeout)):
                await _handshake(session, mode)
        except EraRefused as exc:
            refused = exc  # raised once the transport is closed, so it is not wrapped in its task group's errors
        except BaseException:
            if hold is not None:
                hold.release(expected=False)  # a server that fails at start shows why
            raise
        if refused is None:
            link = OpenSession(session, closed, probed=mode == "auto")
            if hold is not None:
                _report_probe(config.name, link, hold)
            yield link
    if refused is not None:
        raise refused


def _report_probe(server: str, link: OpenSession, hold: StderrHold) -> None:
    fell_back = link.era == LEGACY
    held = hold.release(expected=fell_back)
    if fell_back:
        log.info(
            "upstream_probe_fell_back",
            server=server,
            protocol=link.session.protocol_version,
            stderr_lines=held,
            note=f"the server does not speak {MODERN}; what it wrote on stderr about the probe is logged at debug",
        )


def connection_failure(config: ServerConfig, exc: Exception) -> str:
    """Why a connection to the server failed or ended, naming the URL a refused connection tried."""
    reason = describe_failure(exc)
    if config.url and reason.startswith("cannot connect"):
        reason = reason.replace("cannot connect", f"cannot connect to {config.url}")
    return reason


async def _handshake(session: ClientSession, mode: ProtocolMode) -> None:
    if mode == "auto":
        await negotiate_auto(session)
        return
    try:
        if mode == LEGACY:
            await session.initialize()
        else:
            await session.discover()
    except MCPError as exc:
        if exc.code in (types.CONNECTION_CLOSED, types.REQUEST_TIMEOUT):
            raise  # the connection died or stalled: no verdict on the era
        raise EraRefused(mode, exc) from exc

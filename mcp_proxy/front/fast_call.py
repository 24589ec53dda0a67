"""One request the lean relay forwards, seen from its client: progress, logs and questions back to it.

`FastCall` is the lean relay's `Caller` (`upstream/caller.py`), the counterpart of
`DownstreamCall` on the SDK path: the upstream side routes to it what the server says while the
request runs. It writes progress and log messages to the client at once, as whole messages on the
client's transport (`FrontClient.send`), so they reach the client before the result, in the order
the server sent them. Questions a handshake-era server pushes (sampling, elicitation, roots) go to
the client over its SDK session, exactly as on the SDK path; a 2026-07-28 client cannot be asked
mid-call, and the server is told why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import anyio.lowlevel
import mcp_types as types
from mcp.server.session import ServerSession

from ..core.observe import Outcome
from ..upstream.caller import ClientIdentity, ClientLine
from ..upstream.gate import Deadline
from .asking import RelayCount, SessionLine, ask_session, can_answer, mid_call_refusal

Message = dict[str, Any]

# The order of the protocol's log levels, to filter a 2026-07-28 request's opt-in like the SDK does.
_LEVELS: dict[str, int] = {
    level: rank
    for rank, level in enumerate(("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"))
}


@dataclass
class FrontClient:
    """The client connection fast requests come on: how to write to it, and what it negotiated.

    A handshake-era client has its SDK `session` (captured when it initialized), through which it
    is asked things; a 2026-07-28 client has none and negotiates per request.
    """

    send: Callable[[Message], None]
    """Write one JSON-RPC message to the client now, whole."""
    identity: ClientIdentity
    session: ServerSession | None = None
    version: str | None = None
    """The protocol version a handshake-era client negotiated."""
    connection_key: int | None = None
    """A handshake-era client's connection, as `clients.connection_key` names it (its log level, its private reads)."""
    name: str | None = None
    """The name a handshake-era client gave itself at `initialize` (for the audit trail)."""
    closing: list[Callable[[], object]] = field(default_factory=list[Callable[[], object]])
    related_request: types.RequestId | None = None
    """The request whose own stream carries the server's questions (a streamable HTTP session's
    POST), with `session` the request-scoped one; None: they go on the connection's channel."""

    def closed(self) -> None:
        """The connection ended: run what waited for that."""
        callbacks, self.closing = self.closing, []
        for callback in callbacks:
            callback()


@dataclass(frozen=True, slots=True)
class Ending:
    """How a relayed request ended, for its metrics and log lines."""

    outcome: Outcome
    seconds: float
    response_bytes: int


def _client_name(meta: Message) -> str | None:
    info = meta.get(types.CLIENT_INFO_META_KEY)
    name = cast("Message", info).get("name") if isinstance(info, dict) else None
    return name if isinstance(name, str) else None


class FastCall:
    """One client request on the lean relay, and the channel back to that client (a `Caller`)."""

    def __init__(
        self,
        client: FrontClient,
        server: str,
        request_id: types.RequestId,
        meta: Message | None,
        *,
        modern: bool,
    ) -> None:
        self.client = client
        self.server = server
        self.request_id = request_id
        self._modern = modern
        meta = meta or {}
        self._progress_token = meta.get("progressToken")
        self.client_name = _client_name(meta) if modern else client.name
        level = meta.get(types.LOG_LEVEL_META_KEY) if modern else None
        # A 2026-07-28 request gets log messages only at the level it opted into, or above.
        self._min_log_rank: int = -1
        if modern:
            self._min_log_rank = _LEVELS.get(level, len(_LEVELS)) if isinstance(level, str) else len(_LEVELS)
        self._asking = RelayCount()

    @property
    def is_modern(self) -> bool:
        """Whether the client speaks the 2026-07-28 era, which has no back-channel."""
        return self._modern

    @property
    def identity(self) -> ClientIdentity:
        """The client this request comes from."""
        return self.client.identity

    def on_connection_closed(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the client's connection ends."""
        self.client.closing.append(callback)

    def line(self) -> ClientLine | None:
        """The client's connection, to ask it things outside this request (handshake-era clients only)."""
        session = self.client.session
        return SessionLine(session, self.server) if session is not None and not self._modern else None

    def can_answer(self, method: str) -> bool:
        """Whether the client can be asked `method` during this request."""
        session = self.client.session
        return not self._modern and session is not None and can_answer(session, method)

    @property
    def awaiting_client(self) -> bool:
        """Never: the client answers on its own connection (or cannot be asked)."""
        return False

    def admitted(self, deadline: Deadline) -> None:
        """Nothing to do: questions asked during the request count as the server's time."""

    def progress_notice(self, params: Message) -> None:
        """Re-send a server's progress against the client's own token (none asked for: dropped)."""
        token = self._progress_token
        if token is None:
            return
        forwarded = {k: v for k, v in params.items() if k in ("progress", "total", "message")}
        forwarded["progressToken"] = token
        self.client.send({"jsonrpc": "2.0", "method": "notifications/progress", "params": forwarded})

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        """Re-emit upstream progress against the client's own progress token."""
        params: Message = {"progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self.progress_notice(params)

    def log_notice(self, params: Message) -> None:
        """Relay a server's log message to the client, as the SDK would for this request."""
        if self._modern and _LEVELS.get(params.get("level", ""), -1) < self._min_log_rank:
            return
        self.client.send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        """Relay an upstream log message to the client."""
        self.log_notice(params.model_dump(by_alias=True, mode="json", exclude_none=True))

    async def ask(self, request: types.InputRequest) -> types.InputResponse | types.ErrorData:
        """Forward a server-to-client request (sampling, elicitation, roots) and return the answer."""
        session = self.client.session
        if self._modern or session is None:
            return mid_call_refusal(self.server, request.method)
        self._asking.begin()
        try:
            # On the request's own stream where the transport has one, else on the connection's
            # own channel: this request never reached the SDK's session.
            return await ask_session(session, self.server, request, self.client.related_request)
        finally:
            self._asking.end()

    async def drain(self) -> None:
        """Let what the server said before its answer reach the client first.

        Progress and log messages are written as they are routed; the SDK's session hands them
        over in tasks it started before the answer arrived, so they run at the next turn.
        """
        await anyio.lowlevel.checkpoint()
        await self._asking.idle()

"""The streamable HTTP front's side of the lean relay: a handshake-era client's POSTs on its session.

A handshake-era client (protocol 2025-11-25 and earlier) opens a session with `initialize` and
sends every later request as a POST carrying its `Mcp-Session-Id`. Once the SDK has seen the
session initialize, its state is taken from there (`_initialized`): the negotiated version, the
client's capabilities and its session (through which it is asked things), its connection (whose
log level `logging/setLevel` set) and the name it gave. A later POST with a request the relay
takes (`fast_relay.py`) is answered here when every check the SDK's session manager and
transport would make passes, in their order: the session exists and was opened with the same
credential (else 404), is not terminated or expiring, the transport's Host/Origin and content
type checks, `Accept` naming both JSON and event streams, a version header the manager routes to
this era (none, or a handshake version), and a well-formed request whose id is not in flight on
the session. Anything else goes to the SDK with its body replayed, so every error answer stays
the SDK's own; so does any session when the manager answers in JSON or keeps an event store
(the proxy configures neither), because the relay writes only what the proxy's manager writes.

The answer is what the SDK's transport writes for a request POST: an event stream started at
once with the session's id, the request's progress and log messages as `message` events, then
the answer; the session is held open while it runs, as any request in flight holds it. A
question the server asks during the call (sampling, elicitation, roots) rides this POST's
stream with an id of the session's own, as the SDK sends it, and the client's answer, POSTed on
the session, reaches the SDK's session, which hands it back here. A client's
`notifications/cancelled` for a relayed request cancels it, and, as the SDK does on this era,
its stream ends with a "Request cancelled" error (-32800); the notification itself still goes
to the SDK, which accepts it (202). A client that disconnects cancels the call (the server is
told); a session that ends (DELETE, idle timeout, shutdown) ends its relayed calls' streams
with no answer, as the SDK's transport closes its own.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, cast

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.streamable_http import REQUEST_CANCELLED, REQUEST_STREAM_BUFFER_SIZE, EventMessage
from mcp.server.streamable_http import StreamableHTTPServerTransport as SessionTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.dispatcher import CallOptions, DispatchContext, coerce_request_id
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from starlette.requests import HTTPConnection, Request
from starlette.types import Receive, Scope, Send

from manifold_common.logging import get_logger

from .asking import ASKABLE, can_answer
from .audit import caller_of
from .auth import principal_of
from .clients import client_identity, connection_key, on_connection_closed
from .fast_call import FrontClient, Message
from .fast_relay import FastRelay
from .sse_exchange import SSE_HEADERS, Exchange, accepts, json_rpc_message, read_body, replaying

log = get_logger(__name__)

Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]

_SESSION_HEADER = b"mcp-session-id"
_MAY_ASK = frozenset({"tools/call", "prompts/get"})  # the server's questions come during these


@dataclass
class _Running:
    """A relayed request in flight on a session, and whether its client cancelled it."""

    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    by_client: bool = False


@dataclass
class _Session:
    """What the relay knows of one initialized session, and its relayed requests in flight."""

    client: FrontClient
    connection: Connection
    dispatcher: JSONRPCDispatcher[Any] | None
    running: dict[types.RequestId, _Running] = field(default_factory=dict[types.RequestId, _Running])


class _RequestChannel:
    """A relayed request's own back-channel on its session: what the SDK's dispatch context is to its requests.

    Messages sent on it carry the request's id as the one they relate to, so the session's
    transport routes them onto that request's POST stream.
    """

    def __init__(self, dispatcher: JSONRPCDispatcher[Any], request_id: types.RequestId) -> None:
        self._dispatcher = dispatcher
        self.request_id = request_id
        self.can_send_request = True

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        """Send a request to the client on this request's stream and await its answer."""
        return await self._dispatcher.send_raw_request(method, params, opts, _related_request_id=self.request_id)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        """Send a notification to the client on this request's stream."""
        await self._dispatcher.notify(method, params, opts, _related_request_id=self.request_id)


class HandshakePosts:
    """Offers a handshake-era session's POSTs to the default `/mcp` endpoint to the lean relay."""

    def __init__(self, relay: FastRelay, manager: StreamableHTTPSessionManager) -> None:
        self._relay = relay
        self._manager = manager
        self._sessions: dict[str, _Session] = {}
        relay.proxy.on_initialized.append(self._initialized)

    def _initialized(self, ctx: ServerRequestContext[Any, Any]) -> None:
        connection = ctx.session._connection  # pyright: ignore[reportPrivateUsage]
        session_id = connection.session_id
        if session_id is None or not isinstance(ctx.request, Request):
            return  # not a streamable HTTP session (stdio and /sse are served elsewhere)
        outbound = connection.outbound
        client = FrontClient(
            _unwritable,
            client_identity(ctx),
            session=ctx.session,
            version=ctx.protocol_version,
            connection_key=connection_key(ctx),
            name=caller_of(ctx)[1],
        )
        dispatcher = cast("JSONRPCDispatcher[Any]", outbound) if isinstance(outbound, JSONRPCDispatcher) else None
        state = _Session(client, connection, dispatcher)
        self._sessions[session_id] = state
        on_connection_closed(ctx, lambda: self._closed(session_id, state))

    def _closed(self, session_id: str, state: _Session) -> None:
        if self._sessions.get(session_id) is state:
            del self._sessions[session_id]
        for running in state.running.values():
            running.scope.cancel()  # as the SDK's transport ends its streams: no answer
        state.client.closed()

    async def __call__(self, scope: Scope, receive: Receive, send: Send, sdk: Endpoint) -> None:
        """Answer the POST on the relay, or hand it to `sdk` (its body replayed) when the relay declines."""
        session_id = _header(scope, _SESSION_HEADER)
        state = self._sessions.get(session_id) if session_id is not None else None
        transport: SessionTransport | None = None
        try:
            if state is not None and session_id is not None:
                transport = self._transport(scope, session_id, state)
            if transport is not None and not await _transport_admits(transport, scope):
                transport = None
        except Exception:
            # The SDK's session internals read here changed shape: the SDK answers, as before the relay.
            log.exception("fast_relay_declined")
            transport = None
        if state is None or session_id is None or transport is None:
            await sdk(scope, receive, send)
            return
        body, more = await read_body(receive)
        try:
            run = None if more else self._plan(scope, body, session_id, state, transport)
        except Exception:
            # A fault of the relay must cost one request its fast path, never the front.
            log.exception("fast_relay_declined")
            run = None
        if run is None:
            await sdk(scope, replaying(body, more, receive), send)
            return
        await run(receive, send)

    def _transport(self, scope: Scope, session_id: str, state: _Session) -> SessionTransport | None:
        """The session's transport when the manager would hand it this request, as it does; else None."""
        manager = self._manager
        if manager.json_response or manager.event_store is not None:
            return None
        principal = principal_of(HTTPConnection(scope))
        if (principal.name if principal is not None else None) != state.client.identity.principal:
            return None  # the request is someone else's than the session's opener: the SDK's to judge
        transport = manager._server_instances.get(session_id)  # pyright: ignore[reportPrivateUsage]
        if transport is None or transport.is_terminated:
            return None
        user = scope.get("user")
        requestor = authorization_context(user) if isinstance(user, AuthenticatedUser) else None
        if requestor != manager._session_owners.get(session_id):  # pyright: ignore[reportPrivateUsage]
            return None
        idle = transport.idle_scope
        return None if idle is not None and idle.cancel_called else transport

    def _plan(
        self, scope: Scope, body: bytes, session_id: str, state: _Session, transport: SessionTransport
    ) -> Callable[[Receive, Send], Awaitable[None]] | None:
        content_type = _header(scope, b"content-type") or ""
        if "application/json" not in (part.strip() for part in content_type.split(";")[0].split(",")):
            return None
        accepts_json, accepts_events = accepts(_header(scope, b"accept") or "")
        if not (accepts_json and accepts_events):
            return None
        message = json_rpc_message(body)
        if message is None:
            return None
        if "id" not in message:
            self._cancelled(state, message)  # the SDK still accepts the notification
            return None
        request_id = message["id"]
        if type(request_id) not in (int, str):
            return None
        key = coerce_request_id(request_id)
        streams = transport._request_streams  # pyright: ignore[reportPrivateUsage]
        if key in state.running or str(request_id) in streams:
            return None  # an id already in flight on the session: the SDK's to sort out
        base = state.client
        exchange = Exchange([*SSE_HEADERS, (_SESSION_HEADER, session_id.encode())])
        asks = message.get("method") in _MAY_ASK and base.session is not None and state.dispatcher is not None
        asks = asks and _may_be_asked(cast(ServerSession, base.session))
        client = replace(base, send=exchange.send)
        if asks:
            assert state.dispatcher is not None
            channel = cast("DispatchContext[Any]", _RequestChannel(state.dispatcher, request_id))
            client = replace(client, session=ServerSession(channel, state.connection), related_request=request_id)
        run = self._relay.plan(message, client)
        if run is None:
            return None
        call = _Call(state, transport, key, request_id, exchange, run, asks)
        return call.answer

    @staticmethod
    def _cancelled(state: _Session, message: Message) -> None:
        if message.get("method") != "notifications/cancelled":
            return
        params = message.get("params")
        request_id: Any = cast("Message", params).get("requestId") if isinstance(params, dict) else None
        if type(request_id) not in (int, str):
            return
        running = state.running.get(coerce_request_id(request_id))
        if running is not None:
            running.by_client = True
            running.scope.cancel()


@dataclass
class _Call:
    """One relayed request on a session: run, written to its POST's stream, and forgotten."""

    state: _Session
    transport: SessionTransport
    key: types.RequestId
    request_id: types.RequestId
    exchange: Exchange
    run: Callable[[], Awaitable[None]]
    asks: bool
    running: _Running = field(default_factory=_Running)

    async def answer(self, receive: Receive, send: Send) -> None:
        """Answer the POST: the call's messages and answer as the SDK's transport writes them."""
        self.state.running[self.key] = self.running
        stream_key = str(self.request_id)
        inbox: MemoryObjectReceiveStream[EventMessage] | None = None
        streams = self.transport._request_streams  # pyright: ignore[reportPrivateUsage]
        if self.asks:
            # The session's transport routes what the SDK sends about this request (the server's
            # questions) to the stream registered under its id: this POST's.
            pair = anyio.create_memory_object_stream[EventMessage](REQUEST_STREAM_BUFFER_SIZE)
            streams[stream_key] = pair
            inbox = pair[1]
        try:
            with _held_open(self.transport):
                await self.exchange.answer(lambda: self._call(inbox), receive, send)
        finally:
            if self.state.running.get(self.key) is self.running:
                del self.state.running[self.key]
            if inbox is not None:
                pair = streams.get(stream_key)
                if pair is not None and pair[1] is inbox:
                    del streams[stream_key]
                    pair[0].close()
                inbox.close()

    async def _call(self, inbox: MemoryObjectReceiveStream[EventMessage] | None) -> None:
        with self.running.scope:
            if inbox is None:
                await self.run()
            else:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._relay_session_messages, inbox)
                    await self.run()
                    tg.cancel_scope.cancel()
        if self.running.scope.cancelled_caught and self.running.by_client:
            error = {"code": REQUEST_CANCELLED, "message": "Request cancelled"}
            self.exchange.send({"jsonrpc": "2.0", "id": self.request_id, "error": error})

    async def _relay_session_messages(self, inbox: MemoryObjectReceiveStream[EventMessage]) -> None:
        async for event in inbox:
            # Encoded as the SDK's transport encodes what it writes.
            self.exchange.send(event.message.model_dump_json(by_alias=True, exclude_unset=True).encode())


def _may_be_asked(session: ServerSession) -> bool:
    return any(can_answer(session, method) for method in ASKABLE)


@contextmanager
def _held_open(transport: SessionTransport) -> Generator[None]:
    """Hold the session open while the request runs, as the transport does for each request it serves."""
    idle = transport.idle_scope
    timeout = transport._idle_timeout  # pyright: ignore[reportPrivateUsage]
    if idle is None or timeout is None:
        yield
        return
    transport._requests_in_flight += 1  # pyright: ignore[reportPrivateUsage]
    idle.deadline = math.inf
    try:
        yield
    finally:
        transport._requests_in_flight -= 1  # pyright: ignore[reportPrivateUsage]
        if not transport._requests_in_flight:  # pyright: ignore[reportPrivateUsage]
            idle.deadline = anyio.current_time() + timeout


async def _transport_admits(transport: SessionTransport, scope: Scope) -> bool:
    """Whether the transport's own Host/Origin and content type checks pass (else it answers them)."""
    security = transport._security  # pyright: ignore[reportPrivateUsage]
    return await security.validate_request(Request(scope), is_post=True) is None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _unwritable(message: Message) -> None:
    raise RuntimeError("a session's requests are written to their own POST streams")

"""The streamable HTTP front's side of the lean relay: single-exchange POSTs of 2026-07-28 clients.

A 2026-07-28 client's POST to `/mcp` carries one self-describing request. Once the front's
guards (Host/Origin, authentication, rate and body limits) have let it through, it is offered
here before the SDK's session manager: when it is a request the relay takes (`fast_relay.py`)
and every check the SDK's single-exchange entry makes passes (content type, `Accept`, no
duplicated routing header, the request classification with its headers, no `Mcp-Param-*`
header to validate), the relay answers it; anything else — and every request whose answer
would be an error the SDK writes itself — goes to the SDK with its body replayed.

The answer is written as the SDK writes it: `application/json` with the status the JSON-RPC
error code maps to, or, once the server has said something about the request before answering
(progress, a log message), an event stream with the answer as its last event and a comment
every 15 seconds while it waits. A client that disconnects cancels the request.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import cast

import anyio
import orjson
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS, find_duplicated_routing_header
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import HTTPConnection
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Scope, Send

from ..upstream.caller import ClientIdentity
from .auth import principal_of
from .fast_call import FrontClient, Message
from .fast_relay import FastRelay

SSE_PING_INTERVAL = 15.0
"""Seconds between keep-alive comments once the answer is an event stream (as the SDK's)."""

_SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
_PROTOCOL_HEADER = b"mcp-protocol-version"
_PARAM_HEADER_PREFIX = b"mcp-param-"
_MODERN_VERSIONS = frozenset(v.encode() for v in MODERN_PROTOCOL_VERSIONS)
_ANONYMOUS = ClientIdentity(None, unknown_because="a 2026-07-28 client over streamable HTTP without a token")

Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]


def _accepts(accept: str) -> tuple[bool, bool]:
    """(json, event stream) acceptable, with the wildcards the SDK honours (`check_accept_headers`)."""
    kinds = [part.strip().split(";")[0].strip().lower() for part in accept.split(",")]
    anything = "*/*" in kinds
    return (
        anything or "application/json" in kinds or "application/*" in kinds,
        anything or "text/event-stream" in kinds or "text/*" in kinds,
    )


class FastHttpFront:
    """Offers each POST to the default `/mcp` endpoint to the lean relay before the SDK's manager."""

    def __init__(self, relay: FastRelay) -> None:
        self._relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send, sdk: Endpoint) -> None:
        """Answer the request on the relay, or hand it to `sdk` (its body replayed) when the relay declines."""
        if scope.get("method") != "POST" or not self._modern(scope):
            await sdk(scope, receive, send)
            return
        body, more = await _read_body(receive)
        run = self._plan(scope, body) if not more else None
        if run is None:
            await sdk(scope, _replaying(body, more, receive), send)
            return
        await run(scope, receive, send)

    @staticmethod
    def _modern(scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == _PROTOCOL_HEADER:
                return value in _MODERN_VERSIONS
        return False

    def _plan(self, scope: Scope, body: bytes) -> Callable[[Scope, Receive, Send], Awaitable[None]] | None:
        headers: dict[str, str] = {}
        raw: list[tuple[str, str]] = []
        for name, value in scope["headers"]:
            if name.startswith(_PARAM_HEADER_PREFIX):
                return None  # the SDK validates them against the tool's schema
            key, text = name.decode("latin-1"), value.decode("latin-1")
            raw.append((key, text))
            headers[key] = text
        if not headers.get("content-type", "").lower().startswith("application/json"):
            return None
        accepts_json, accepts_events = _accepts(headers.get("accept", ""))
        if not (accepts_json and accepts_events) or find_duplicated_routing_header(raw) is not None:
            return None
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(message) is not dict:
            return None
        message = cast("Message", message)
        request_id = message.get("id")
        if message.get("jsonrpc") != "2.0" or type(request_id) not in (int, str) or not message.keys() <= _ENVELOPE:
            return None
        if self._declares_param_headers(message):
            return None
        exchange = _Exchange()
        principal = principal_of(HTTPConnection(scope))
        identity = _ANONYMOUS
        if principal is not None:  # as `clients.client_identity` names a modern client with a token
            user = principal.name if principal.issuer is not None else None
            identity = ClientIdentity(
                ("principal", principal.name), ends_with_connection=False, principal=principal.name, user=user
            )
        run = self._relay.plan(message, FrontClient(exchange.send, identity), headers=headers)
        if run is None:
            return None
        return lambda scope, receive, send: exchange.answer(run, receive, send)

    def _declares_param_headers(self, message: Message) -> bool:
        """Whether the called tool maps arguments to `Mcp-Param-*` headers (the SDK checks those)."""
        if message.get("method") != "tools/call":
            return False
        params = message.get("params")
        name = cast("Message", params).get("name") if isinstance(params, dict) else None
        arguments = cast("Message", params).get("arguments") if isinstance(params, dict) else None
        if not isinstance(name, str) or not arguments:
            return False
        schema = self._relay.registry.catalog.tool_input_schema(name)
        return schema is not None and b"x-mcp-header" in orjson.dumps(schema)


_ENVELOPE = frozenset({"jsonrpc", "id", "method", "params"})


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and whether more would follow (never, once the body guard has buffered it)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replaying(body: bytes, more: bool, receive: Receive) -> Receive:
    """A `receive` that gives the body read so far again, then the connection's own events."""
    replayed = False

    async def replay() -> AsgiMessage:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


class _Exchange:
    """One POST answered by the relay: what the relay writes, turned into the HTTP response."""

    def __init__(self) -> None:
        self._out, self._in = anyio.create_memory_object_stream[Message](math.inf)

    def send(self, message: Message) -> None:
        """What the relay writes to the client (`FrontClient.send`); the answer comes last."""
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):  # the client went away
            self._out.send_nowait(message)

    async def answer(self, run: Callable[[], Awaitable[None]], receive: Receive, send: Send) -> None:
        """Run the relayed request and write what it says, as the SDK's single-exchange entry does."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._run, run)
            tg.start_soon(_cancel_on_disconnect, receive, tg.cancel_scope)
            await self._write(send)
            tg.cancel_scope.cancel()

    async def _run(self, run: Callable[[], Awaitable[None]]) -> None:
        async with self._out:
            await run()

    async def _write(self, send: Send) -> None:
        async with self._in:
            first = await self._next()
            if first is None:
                return  # cancelled: a cancelled request is never answered
            if "method" not in first:
                await _write_json(first, send)
                return
            await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
            message: Message | None = first
            while message is not None:
                await send({"type": "http.response.body", "body": _event(message), "more_body": True})
                if "method" not in message:
                    break
                message = await self._next(ping=send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _next(self, ping: Send | None = None) -> Message | None:
        while True:
            with anyio.move_on_after(SSE_PING_INTERVAL):
                try:
                    return await self._in.receive()
                except anyio.EndOfStream:
                    return None
            if ping is not None:
                await ping({"type": "http.response.body", "body": b": ping\r\n\r\n", "more_body": True})


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive()).get("type") != "http.disconnect":
        pass
    scope.cancel()


def _event(message: Message) -> bytes:
    return b"event: message\r\ndata: " + orjson.dumps(message) + b"\r\n\r\n"


async def _write_json(message: Message, send: Send) -> None:
    error = message.get("error")
    code = cast("Message", error).get("code") if isinstance(error, dict) else None
    status = ERROR_CODE_HTTP_STATUS.get(code, 200) if type(code) is int else 200
    body = orjson.dumps(message)
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

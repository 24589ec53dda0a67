"""One POST the lean relay answers on the streamable HTTP front, written as the SDK's transport writes it.

What the relay says about a request (progress, log messages, the server's questions, and the
answer last) is queued here and written as the HTTP response: a single `application/json` body
with the status the JSON-RPC error code maps to when the answer is all there is to say (the
2026-07-28 single-exchange entry), or an event stream of `message` events ending with the answer,
with a comment every 15 seconds while it waits. A handshake-era session's POST is always answered
as an event stream started at once, as the SDK's session transport does, and carries the
session's id. A client that disconnects cancels the request; a cancelled request ends its stream
with no answer unless the caller queued one.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any, cast

import anyio
import orjson
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Send

Message = dict[str, Any]

SSE_PING_INTERVAL = 15.0
"""Seconds between keep-alive comments once the answer is an event stream (as the SDK's)."""

SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]

Outgoing = Message | bytes
"""A JSON-RPC message to write: decoded, or already encoded (never the answer)."""


_ENVELOPE = frozenset({"jsonrpc", "id", "method", "params"})


def json_rpc_message(body: bytes) -> Message | None:
    """`body` as one JSON-RPC 2.0 message with no member beyond the envelope's; None: the SDK's to answer."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(message) is not dict:
        return None
    message = cast("Message", message)
    return message if message.get("jsonrpc") == "2.0" and message.keys() <= _ENVELOPE else None


def accepts(accept: str) -> tuple[bool, bool]:
    """(json, event stream) acceptable, with the wildcards the SDK honours (`check_accept_headers`)."""
    kinds = [part.strip().split(";")[0].strip().lower() for part in accept.split(",")]
    anything = "*/*" in kinds
    return (
        anything or "application/json" in kinds or "application/*" in kinds,
        anything or "text/event-stream" in kinds or "text/*" in kinds,
    )


async def read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body, and whether more would follow (never, once the body guard has buffered it)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def replaying(body: bytes, more: bool, receive: Receive) -> Receive:
    """A `receive` that gives the body read so far again, then the connection's own events."""
    replayed = False

    async def replay() -> AsgiMessage:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


class Exchange:
    """One POST answered by the relay: what the relay writes, turned into the HTTP response.

    With `stream_headers` the response is an event stream from the start, with those headers
    (a handshake-era session's POST); without, it is JSON unless something precedes the answer.
    """

    def __init__(self, stream_headers: Sequence[tuple[bytes, bytes]] | None = None) -> None:
        self._out, self._in = anyio.create_memory_object_stream[Outgoing](math.inf)
        self._stream_headers = stream_headers

    def send(self, message: Outgoing) -> None:
        """What the relay writes to the client (`FrontClient.send`); the answer comes last."""
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):  # the client went away
            self._out.send_nowait(message)

    async def answer(self, run: Callable[[], Awaitable[None]], receive: Receive, send: Send) -> None:
        """Run the relayed request and write what it says, as the SDK's transport does."""
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
            if self._stream_headers is not None:
                await send({"type": "http.response.start", "status": 200, "headers": list(self._stream_headers)})
                await self._write_events(await self._next(ping=send), send)
                return
            first = await self._next()
            if first is None:
                return  # cancelled: a cancelled request is never answered
            if isinstance(first, dict) and "method" not in first:
                await _write_json(first, send)
                return
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await self._write_events(first, send)

    async def _write_events(self, message: Outgoing | None, send: Send) -> None:
        while message is not None:
            await send({"type": "http.response.body", "body": _event(message), "more_body": True})
            if isinstance(message, dict) and "method" not in message:
                break
            message = await self._next(ping=send)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _next(self, ping: Send | None = None) -> Outgoing | None:
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


def _event(message: Outgoing) -> bytes:
    data = message if isinstance(message, bytes) else orjson.dumps(message)
    return b"event: message\r\ndata: " + data + b"\r\n\r\n"


async def _write_json(message: Message, send: Send) -> None:
    error = message.get("error")
    code = cast("Message", error).get("code") if isinstance(error, dict) else None
    status = ERROR_CODE_HTTP_STATUS.get(code, 200) if type(code) is int else 200
    body = orjson.dumps(message)
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

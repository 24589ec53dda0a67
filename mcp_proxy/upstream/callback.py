"""The loopback redirect target of `mcp-proxy login`: one HTTP listener on 127.0.0.1 for a sign-in.

The authorization server sends the browser back to `http://127.0.0.1:PORT/callback?code=...&state=...&iss=...`
(RFC 8252, a native app's loopback redirect). The listener answers that request with a short page
telling the person they can close it, and hands the parameters over, in order of arrival (a
sign-in may take two authorizations: a server that moved to another authorization server, or a
scope step-up); anything else gets 404.
`state` and `iss` are checked by the SDK's flow, which generated and expects them.
"""

from __future__ import annotations

import html
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import anyio
from anyio.abc import SocketAttribute, SocketStream

from manifold_common.logging import get_logger

log = get_logger(__name__)

CALLBACK_HOST = "127.0.0.1"
CALLBACK_PATH = "/callback"
MAX_REQUEST_HEAD = 16 * 1024
"""Bytes of request line and headers read from the browser; a redirect's query fits easily."""
READ_TIMEOUT = 10.0
MAX_PENDING = 4
"""Redirects kept until the sign-in takes them; more are refused."""


@dataclass(frozen=True)
class CallbackParameters:
    """What the authorization server put on the redirect."""

    code: str | None
    state: str | None
    iss: str | None
    error: str | None
    error_description: str | None


class CallbackListener:
    """Listens on a loopback port for the redirects of one sign-in."""

    def __init__(self, server_name: str, port: int) -> None:
        self._server_name = server_name
        self._send, self._receive = anyio.create_memory_object_stream[CallbackParameters](MAX_PENDING)
        self.port = port

    @property
    def redirect_uri(self) -> str:
        """The redirect URI to register and send: where the browser comes back to."""
        return f"http://{CALLBACK_HOST}:{self.port}{CALLBACK_PATH}"

    @classmethod
    @asynccontextmanager
    async def listening(cls, server_name: str, port: int = 0) -> AsyncGenerator[CallbackListener]:
        """Listen on `port` (0: a free one) for the block's duration.

        Raises:
            OSError: the port cannot be listened on (most often: it is in use).
        """
        listener = await anyio.create_tcp_listener(local_host=CALLBACK_HOST, local_port=port)
        failure: Exception | None = None
        async with listener, anyio.create_task_group() as tg:
            callback = cls(server_name, listener.extra(SocketAttribute.local_port))
            tg.start_soon(listener.serve, callback._handle)
            try:
                yield callback
            except Exception as exc:  # raised below, outside the task group, which would wrap it in a group
                failure = exc
            finally:
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def wait(self) -> CallbackParameters:
        """The parameters of the next redirect, once it has arrived."""
        return await self._receive.receive()

    async def _handle(self, stream: SocketStream) -> None:
        async with stream:
            try:
                with anyio.fail_after(READ_TIMEOUT):
                    head = await _read_head(stream)
            except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError, ValueError):
                return
            target = _request_target(head)
            parts = urlsplit(target or "")
            if target is None or parts.path != CALLBACK_PATH:
                await _respond(stream, 404, "Not found", "This address only receives sign-ins.")
                return
            query = {name: values[0] for name, values in parse_qs(parts.query).items()}
            result = CallbackParameters(
                code=query.get("code"),
                state=query.get("state"),
                iss=query.get("iss"),
                error=query.get("error"),
                error_description=query.get("error_description"),
            )
            try:
                self._send.send_nowait(result)
            except anyio.WouldBlock:
                await _respond(stream, 404, "Not found", "No sign-in is waiting for this answer.")
                return
            if result.error:
                answer = f"The authorization server answered {result.error}."
                await _respond(stream, 400, "Sign-in failed", answer)
            else:
                message = f"Manifold received the sign-in to {self._server_name}. You can close this window."
                await _respond(stream, 200, "Signed in", message)


async def _read_head(stream: SocketStream) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        data += await stream.receive()
        if len(data) > MAX_REQUEST_HEAD:
            raise ValueError("request head too large")
    return data


def _request_target(head: bytes) -> str | None:
    line = head.split(b"\n", 1)[0].decode("latin-1").strip()
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "GET":
        return None
    return parts[1]


def sign_in_page(title: str, message: str) -> str:
    """The small page a browser lands on at the end of a sign-in (both texts escaped)."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )


async def _respond(stream: SocketStream, status: int, title: str, message: str) -> None:
    body = sign_in_page(title, message).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode()
    with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
        await stream.send(head + body)

"""The raw lane of a streamable-HTTP upstream: forwarded requests POSTed beside the SDK's session.

Each lane request is one POST on a pooled keep-alive connection (aiohttp's client: its C
parser and its single write of headers and body cost about a third of the CPU of an httpx2
request; see docs/PERFORMANCE.md), to the same server URL with the same static headers as the
SDK's transport. The reply is JSON or an SSE stream. In the stream, the server's progress for
the request and its log messages reach the request's `NoticeSink`; anything else (a request of
the server's own, such as sampling or elicitation on a handshake-era session, or an unrelated
notification) is handed to the SDK's session through its read stream, whose answer the SDK's
transport POSTs back. That is why this module opens the SDK's transport itself
(`laned_streamable_http`, the SDK's `streamable_http_client` with the lane beside it): the lane
needs the transport's read stream and its session id.

Both eras are served. A 2026-07-28 session is stateless; a handshake-era one sends the session
id the SDK's transport learnt at `initialize`. Cancelled while waiting, the lane drops the
connection (on the 2026-07-28 wire, closing the stream is the cancellation) and, on a
handshake-era session, also POSTs `notifications/cancelled`, as the SDK does.

The lane is not opened (the SDK carries everything) for a server with `auth` (its `httpx2.Auth`
flow belongs to httpx2) or one an environment proxy applies to (httpx2 honours `HTTP_PROXY` and
its kin; aiohttp is not told to). https uses httpx2's TLS context, so both clients trust the same
certificates. Redirects are followed as the SDK follows them: a 307 or 308 within the
endpoint's origin; any other is an error naming the location.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any, cast

import aiohttp
import anyio
import httpx2
import mcp_types as types
import orjson
from mcp import MCPError
from mcp.client.streamable_http import StreamableHTTPTransport
from mcp.shared._compat import resync_tracer  # pyright: ignore[reportPrivateUsage]
from mcp.shared._context_streams import create_context_streams  # pyright: ignore[reportPrivateUsage]
from mcp.shared.message import SessionMessage
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from yarl import URL

from manifold_common.http_transport import HTTP_CONNECT_TIMEOUT, HTTP_STREAM_READ_TIMEOUT

from ..core.framing import LineFramer
from .lane import (
    CANCEL_NOTICE_TIMEOUT,
    LaneClosed,
    LanedStreams,
    LaneIds,
    LogRouter,
    Message,
    NoticeSink,
    RawLane,
)

MAX_CONNECTIONS = 100
"""Connections the lane's pool keeps to one server at most (httpx2's default, which the SDK's side uses)."""
MAX_REDIRECTS = 20
"""Redirects one request follows at most (httpx2's default `max_redirects`)."""
FOLLOWED_REDIRECTS = (307, 308)
MAX_RECONNECTION_ATTEMPTS = 2
"""Failed attempts in a row to resume a broken event stream before the request fails (the SDK's)."""
RECONNECTION_DELAY_MS = 1000
"""Delay before resuming a stream when the server named none (the SDK's)."""
"""The redirects that keep a POST a POST; the others would turn it into a body-less GET."""

SESSION_ID_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"
REQUEST_NOTICES = ("notifications/progress", "notifications/message")
"""What the server sends about a request on its stream: the lane hands these to the request's sink."""

Deliver = Callable[[bytes], Awaitable[None]]
"""Hands a message the lane does not own (its JSON text) to the SDK's session."""


def lane_fits(url: str, auth: httpx2.Auth | None) -> bool:
    """Whether a lane can carry a server's forwarded requests exactly as the SDK's transport would."""
    if auth is not None:
        return False  # its flow (token refresh, 401 retries) lives in httpx2
    target = URL(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(target.scheme or "") or proxies.get("all")):
        return True
    return bool(urllib.request.proxy_bypass(target.host or ""))  # pyright: ignore[reportAttributeAccessIssue]


def _within_origin(sent: URL, target: URL) -> bool:
    """The SDK's redirect rule: the same origin, or its https upgrade on the default ports."""
    if (sent.scheme, sent.host, sent.port) == (target.scheme, target.host, target.port):
        return True
    return (
        sent.host == target.host
        and sent.scheme == "http"
        and sent.is_default_port()
        and target.scheme == "https"
        and target.is_default_port()
    )


class _EventData:
    """Splits an SSE body into the data of its `message` events (lines end in LF or CRLF)."""

    def __init__(self) -> None:
        self._lines = LineFramer()
        self._data: list[bytes] = []
        self._event = b"message"
        self.last_id: str | None = None
        """The id of the last event that had one: where a resumed stream picks up."""
        self.retry_ms: int | None = None
        """The reconnection delay the server asked for."""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of the events `chunk` completes."""
        events: list[bytes] = []
        for line in self._lines.feed(chunk):
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:  # a blank line ends the event
                if self._data and self._event == b"message":
                    events.append(b"\n".join(self._data))
                self._data.clear()
                self._event = b"message"
            elif line.startswith(b"data:"):
                self._data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            elif line.startswith(b"event:"):
                self._event = line[6:].strip()
            elif line.startswith(b"id:"):
                self.last_id = line[3:].strip().decode(errors="replace") or self.last_id
            elif line.startswith(b"retry:") and line[6:].strip().isdigit():
                self.retry_ms = int(line[6:].strip())
            # `:` comments (pings) say nothing the lane uses
        return events


class HttpLane(RawLane):
    """A lane that POSTs each forwarded request to a streamable-HTTP server on its own pooled client."""

    def __init__(
        self, url: str, headers: Mapping[str, str], session_id: Callable[[], str | None], deliver: Deliver
    ) -> None:
        self._url = URL(url)
        self._headers = {
            **headers,
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        self._session_id = session_id
        self._deliver = deliver
        self._log_router: LogRouter | None = None
        self._ids = LaneIds()
        self._client: aiohttp.ClientSession | None = None
        self._closed: LaneClosed | None = None

    def _client_now(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the event loop it was made in.
        if self._client is None:
            connector = aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS,
                ssl=httpx2.create_ssl_context() if self._url.scheme == "https" else True,
            )
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=HTTP_CONNECT_TIMEOUT, sock_read=HTTP_STREAM_READ_TIMEOUT
            )
            self._client = aiohttp.ClientSession(connector=connector, timeout=timeout, headers=self._headers)
        return self._client

    async def request(self, message: Message, headers: Mapping[str, str], on_notice: NoticeSink) -> Message:
        if self._closed is not None:
            raise self._closed
        request_id = self._ids.take()
        message["id"] = request_id
        params = message.setdefault("params", {})
        params["_meta"] = {**(params.get("_meta") or {}), "progressToken": request_id}
        sent = {name.lower(): value for name, value in headers.items()}
        if (session_id := self._session_id()) is not None:
            sent[SESSION_ID_HEADER] = session_id
        response: aiohttp.ClientResponse | None = None
        try:
            response = await self._post(orjson.dumps(message), sent)
            return await self._answer(response, request_id, session_id, on_notice, sent)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self._failure(exc) from exc
        except asyncio.CancelledError:
            if response is not None:
                response.close()  # the connection goes: on the 2026-07-28 wire that is the cancellation
            if sent.get(VERSION_HEADER) not in MODERN_PROTOCOL_VERSIONS:
                await self._tell_cancelled(request_id, sent)
            raise
        finally:
            if response is not None:
                response.release()

    async def _post(self, body: bytes, headers: Mapping[str, str]) -> aiohttp.ClientResponse:
        url = target = self._url
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._client_now().post(url, data=body, headers=headers, allow_redirects=False)
            if not 300 <= response.status < 400 or "Location" not in response.headers:
                return response
            target = url.join(URL(response.headers["Location"]))
            response.release()
            if response.status not in FOLLOWED_REDIRECTS or not _within_origin(url, target):
                break
            url = target
        raise MCPError(
            code=types.INVALID_REQUEST,
            message=f"Redirect to {target} not followed; use that URL as the endpoint if it is the intended server",
        )

    async def _answer(
        self,
        response: aiohttp.ClientResponse,
        request_id: int,
        session_id: str | None,
        on_notice: NoticeSink,
        sent: Mapping[str, str],
    ) -> Message:
        if response.status == 202:
            raise MCPError(code=types.INVALID_REQUEST, message="server answered a request with 202 Accepted")
        content_type = response.headers.get("Content-Type", "").lower()
        if response.status >= 400:
            return await self._error_answer(response, content_type, request_id, session_id)
        if content_type.startswith("application/json"):
            answer = _decoded(await response.read())
            if answer is None or "method" in answer:
                raise MCPError(code=types.PARSE_ERROR, message="Failed to parse JSON response")
            return answer
        if content_type.startswith("text/event-stream"):
            return await self._stream_answer(response, request_id, on_notice, sent)
        raise MCPError(code=types.INVALID_REQUEST, message=f"Unexpected content type: {content_type}")

    async def _stream_answer(
        self, response: aiohttp.ClientResponse, request_id: int, on_notice: NoticeSink, sent: Mapping[str, str]
    ) -> Message:
        """The answer from the request's event stream, resumed where it broke off as the SDK's client does.

        A stream that ends before the answer, after an event with an id, is asked for again with
        `Last-Event-ID` (a GET) after the delay the server asked for (`retry:`, else one second),
        up to `MAX_RECONNECTION_ATTEMPTS` failed attempts in a row.
        """
        events = _EventData()
        answer = await self._read_events(response, events, request_id, on_notice)
        failed = 0
        while answer is None:
            if events.last_id is None:
                raise LaneClosed("SSE stream ended without a response")
            if failed >= MAX_RECONNECTION_ATTEMPTS:
                raise LaneClosed("SSE stream ended and reconnection attempts were exhausted")
            await anyio.sleep((events.retry_ms if events.retry_ms is not None else RECONNECTION_DELAY_MS) / 1000)
            resumed = await self._resume(events.last_id, sent)
            if resumed is None:
                failed += 1
                continue
            failed = 0
            try:
                answer = await self._read_events(resumed, events, request_id, on_notice)
            finally:
                resumed.release()
        return answer

    async def _resume(self, last_id: str, sent: Mapping[str, str]) -> aiohttp.ClientResponse | None:
        """The request's event stream again from after `last_id`; None when the server would not give it."""
        headers = {name: value for name, value in sent.items() if name in (SESSION_ID_HEADER, VERSION_HEADER)}
        headers["last-event-id"] = last_id
        headers["accept"] = "text/event-stream"
        try:
            response = await self._client_now().get(self._url, headers=headers)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None
        if response.status == 200 and response.headers.get("Content-Type", "").lower().startswith("text/event-stream"):
            return response
        response.release()
        return None

    async def _read_events(
        self, response: aiohttp.ClientResponse, events: _EventData, request_id: int, on_notice: NoticeSink
    ) -> Message | None:
        """The request's answer from one event stream, or None if the stream ended first."""
        async for chunk in response.content.iter_any():
            for data in events.feed(chunk):
                if not data.strip():
                    continue  # a priming event (resumption): no message, as the SDK's client skips it
                message = _decoded(data)
                if message is None:
                    raise MCPError(code=types.PARSE_ERROR, message="Failed to parse SSE message")
                if "method" not in message and message.get("id") == request_id:
                    return message
                if not _concerns(message, request_id):
                    await self._hand_over(data)
                elif not self._routed_log(message):
                    on_notice(message)
        return None

    def route_logs(self, router: LogRouter) -> None:
        """Deliver the log messages on a request's stream through `router` (to the call in flight at once)."""
        self._log_router = router

    def _routed_log(self, message: Message) -> bool:
        router, params = self._log_router, message.get("params")
        if router is None or message.get("method") != "notifications/message" or not isinstance(params, dict):
            return False
        return router(cast("Message", params))

    async def _error_answer(
        self, response: aiohttp.ClientResponse, content_type: str, request_id: int, session_id: str | None
    ) -> Message:
        """A non-2xx reply: its JSON-RPC error when it carries one, else the SDK's stand-in for the status."""
        if content_type.startswith("application/json"):
            with suppress(aiohttp.ClientError):
                error = _decoded(await response.read())
                if error is not None and isinstance(error.get("error"), dict):
                    # the server may say `id: null` (rejected before it read the id): this request's, as the SDK does
                    return {"jsonrpc": "2.0", "id": request_id, "error": error["error"]}
        if response.status == 404:
            if session_id is not None:  # the server forgot the session: reconnecting opens a new one
                raise LaneClosed("the server ended the session (HTTP 404)")
            raise MCPError(code=types.METHOD_NOT_FOUND, message="Not Found")
        raise MCPError(code=types.INTERNAL_ERROR, message=f"the server answered HTTP {response.status}")

    async def _hand_over(self, data: bytes) -> None:
        """Give the SDK's session what the server sent on this stream that is not about the request."""
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):  # the session is closing
            await self._deliver(data)

    async def _tell_cancelled(self, request_id: int, headers: Mapping[str, str]) -> None:
        notice = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}
        with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_NOTICE_TIMEOUT), suppress(Exception):
            response = await self._post(orjson.dumps(notice), headers)
            response.release()

    def _failure(self, exc: BaseException) -> MCPError:
        if self._closed is not None:
            return self._closed
        if isinstance(exc, TimeoutError):
            return MCPError(code=types.REQUEST_TIMEOUT, message="the server sent nothing for too long")
        return LaneClosed(f"the connection to the server failed: {type(exc).__name__}")

    async def aclose(self) -> None:
        """The transport ends: requests still waiting fail with `LaneClosed`, and the pool closes."""
        self._closed = LaneClosed()
        if self._client is not None:
            await self._client.close()


def _decoded(data: bytes) -> Message | None:
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return cast("Message", message) if isinstance(message, dict) else None


def _concerns(message: Message, request_id: int) -> bool:
    """Whether a notification on a request's stream is about that request (its progress, a log message)."""
    method = message.get("method")
    if method not in REQUEST_NOTICES or "id" in message:
        return False
    if method == "notifications/message":
        return True
    params = message.get("params")
    return isinstance(params, dict) and cast("dict[str, Any]", params).get("progressToken") == request_id


@asynccontextmanager
async def laned_streamable_http(
    url: str, http_client: httpx2.AsyncClient, headers: Mapping[str, str]
) -> AsyncGenerator[LanedStreams]:
    """The SDK's `streamable_http_client` over `http_client`, with an `HttpLane` beside its streams.

    The SDK's transport and its tasks run unchanged; the lane reads the session id it learnt and
    writes what it does not own into the session's read stream.
    """
    transport = StreamableHTTPTransport(url)
    read_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
    write_stream, write_reader = create_context_streams[SessionMessage](0)

    async def deliver(data: bytes) -> None:
        try:
            message = SessionMessage(types.jsonrpc_message_adapter.validate_json(data, by_name=False))
        except ValueError as exc:
            await read_writer.send(exc)  # the session reports it, as the SDK's transport does
            return
        await read_writer.send(message)

    lane = HttpLane(url, headers, lambda: transport.session_id, deliver)
    async with read_writer, read_stream, write_stream, write_reader, anyio.create_task_group() as tg:

        def start_get_stream() -> None:
            tg.start_soon(transport.handle_get_stream, http_client, read_writer)

        tg.start_soon(transport.post_writer, http_client, write_reader, read_writer, write_stream, start_get_stream, tg)
        try:
            yield LanedStreams(read_stream, write_stream, lane)
        finally:
            with anyio.CancelScope(shield=True):
                await lane.aclose()
            if transport.session_id:
                await transport.terminate_session(http_client)
            tg.cancel_scope.cancel()
    await resync_tracer()

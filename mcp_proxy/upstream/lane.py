"""The raw lane of an upstream session: forwarded requests sent and answered as decoded JSON.

The SDK's client session builds, validates and serializes a model for every request and every
answer, and moves each through several tasks and streams. A request the proxy only forwards needs
none of that: the lean relay (`front/fast_relay.py`) hands its JSON-RPC request, already
rewritten for this server, to the lane of the session it goes over, and gets back the server's
answer as the decoded message. The lane shares the session's transport (the same child's pipes,
or the same server URL): the SDK's session keeps everything else, including what the server
sends on its own initiative (log messages, its own requests), which the proxy routes by the
calls in flight (`flights.py`) exactly as on the SDK path.

Ids of lane requests are taken from their own range, far above the SDK's (which counts from
zero), so the answers of the two never mix on one transport. Each lane request asks for progress
with its own id as the token; the server's progress for it reaches the request's `NoticeSink`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any, cast

import anyio
import mcp_types as types
import orjson
from mcp import MCPError
from mcp.shared.dispatcher import ProgressFnT

LANE_ID_BASE = 1 << 30
"""The first id a lane gives a request; the SDK's own ids count up from zero."""
LANE_ID_SPAN = 1 << 30
"""Lane ids wrap around within [LANE_ID_BASE, LANE_ID_BASE + LANE_ID_SPAN)."""

CANCEL_NOTICE_TIMEOUT = 1.0
"""Seconds telling the server a request was cancelled may take; the cancelled caller does not wait longer."""

Message = dict[str, Any]
LogRouter = Callable[[Message], bool]
"""Delivers a server's log message (its params) to the call it belongs to at once; False: it cannot."""
NoticeSink = Callable[[Message], None]
"""Receives the server's notifications about one lane request (its progress, and, on HTTP, its log messages)."""


class LaneClosed(MCPError):
    """The transport under the lane ended: every request waiting on it fails with this."""

    def __init__(self, why: str = "the connection to the server closed") -> None:
        super().__init__(code=types.CONNECTION_CLOSED, message=why)


class AnsweredError(MCPError):
    """The server answered a lane request with a JSON-RPC error, kept as it was sent for the client."""

    def __init__(self, raw: Any) -> None:
        raw = cast("Message", raw) if isinstance(raw, dict) else {"code": types.INTERNAL_ERROR, "message": str(raw)}
        code = raw.get("code")
        message = raw.get("message")
        super().__init__(
            code=code if type(code) is int else types.INTERNAL_ERROR,
            message=message if isinstance(message, str) else "",
            data=raw.get("data"),
        )
        self.raw = raw


class LaneIds:
    """The ids a lane gives its requests: counting up from `LANE_ID_BASE`, wrapping within the span."""

    def __init__(self) -> None:
        self._next = LANE_ID_BASE

    def take(self) -> int:
        """The next id."""
        request_id = self._next
        self._next = LANE_ID_BASE + (request_id - LANE_ID_BASE + 1) % LANE_ID_SPAN
        return request_id


class PendingRequests:
    """Lane requests sent and not answered yet, by their id: what a transport's reader resolves."""

    def __init__(self) -> None:
        self._ids = LaneIds()
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._notices: dict[int, NoticeSink] = {}
        self._closed: LaneClosed | None = None

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def open(self, on_notice: NoticeSink) -> tuple[int, asyncio.Future[Message]]:
        """A fresh id and the future its answer resolves; raises `LaneClosed` once the transport ended."""
        if self._closed is not None:
            raise self._closed
        request_id = self._ids.take()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._notices[request_id] = on_notice
        return request_id, future

    def forget(self, request_id: int) -> None:
        """Stop waiting for `request_id` (answered, or abandoned: a late answer is dropped)."""
        self._waiting.pop(request_id, None)
        self._notices.pop(request_id, None)

    def take(self, message: Message) -> bool:
        """Resolve the request `message` answers, or hand it a notification about it; False if not ours."""
        request_id = message.get("id")
        if request_id is not None:
            if "method" in message or type(request_id) is not int:
                return False  # the server's own request, or an id the lane never gives
            future = self._waiting.pop(request_id, None)
            if future is None:
                return False
            self._notices.pop(request_id, None)
            if not future.done():
                future.set_result(message)
            return True
        if message.get("method") == "notifications/progress":
            params = message.get("params")
            token = cast("Message", params).get("progressToken") if isinstance(params, dict) else None
            sink = self._notices.get(token) if type(token) is int else None
            if sink is not None:
                sink(message)
                return True
        return False

    def close(self, why: str = "the connection to the server closed") -> None:
        """The transport ended: fail every request still waiting, and any opened later."""
        self._closed = LaneClosed(why)
        waiting, self._waiting = self._waiting, {}
        self._notices.clear()
        for future in waiting.values():
            if not future.done():
                future.set_exception(self._closed)


class RawLane(ABC):
    """One transport's way to send a JSON-RPC request and receive its answer without the SDK's session."""

    def serves(self, modern: bool) -> bool:
        """Whether the lane can carry requests of a session of that era (2026-07-28 when `modern`)."""
        return True

    def route_logs(self, router: LogRouter) -> None:
        """Hand the server's log messages to `router` while lane requests wait (see `StreamLane`)."""
        _ = router  # by default log messages arrive on each request's own stream (`NoticeSink`)

    @abstractmethod
    async def request(self, message: Message, headers: Mapping[str, str], on_notice: NoticeSink) -> Message:
        """Send `message` and return the server's answer (a result or an error) as decoded JSON.

        `message` is a JSON-RPC request without its id: the lane gives it one of its own and asks
        for progress with that id as the token (`params._meta.progressToken`). `headers` are those
        the SDK's session would send with it (HTTP transports use them). Notifications the server
        sends about the request reach `on_notice`. Cancelled while waiting, the lane tells the
        server, as the SDK does, and drops the late answer.

        Raises:
            LaneClosed: the transport ended before the answer came.
        """


class StreamLane(RawLane):
    """A lane over a transport that carries one message per line both ways (stdio).

    Requests are written as whole lines through `write_line`; the transport's reader offers each
    line it reads to `take_line` while a lane request waits, and hands the rest to the SDK.
    """

    def __init__(self, write_line: Callable[[bytes], Awaitable[None]]) -> None:
        self._write_line = write_line
        self.pending = PendingRequests()
        self._log_router: LogRouter | None = None

    def route_logs(self, router: LogRouter) -> None:
        """Deliver log messages read while lane requests wait through `router`.

        A log message carries no reference to the request it is about; on the SDK's session it
        reaches the call it belongs to in a task of its own, which may run after the call's
        answer, read just after it, was taken here. Delivered by the reader itself, it reaches
        the client before that answer, as the server sent it.
        """
        self._log_router = router

    async def request(self, message: Message, headers: Mapping[str, str], on_notice: NoticeSink) -> Message:
        request_id, answer = self.pending.open(on_notice)
        message["id"] = request_id
        params = message.setdefault("params", {})
        params["_meta"] = {**(params.get("_meta") or {}), "progressToken": request_id}
        try:
            try:
                await self._write_line(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
            except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                raise LaneClosed(f"the server's input is closed ({type(exc).__name__})") from exc
            return await answer
        except BaseException:
            if not answer.done():
                await self._tell_cancelled(request_id)
            raise
        finally:
            self.pending.forget(request_id)

    async def _tell_cancelled(self, request_id: int) -> None:
        notice = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}
        with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_NOTICE_TIMEOUT), suppress(Exception):
            await self._write_line(orjson.dumps(notice, option=orjson.OPT_APPEND_NEWLINE))

    def take_line(self, line: bytes) -> bool:
        """Whether `line` answered (or told progress of) a lane request, which has it now."""
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False  # the SDK's parser reports it as it always did
        if not isinstance(message, dict):
            return False
        message = cast("Message", message)
        if message.get("method") == "notifications/message":
            router, params = self._log_router, message.get("params")
            return router is not None and isinstance(params, dict) and router(cast("Message", params))
        return self.pending.take(message)

    def close(self) -> None:
        """The transport ended: whatever waits on the lane fails with `LaneClosed`."""
        self.pending.close()


def progress_notices(on_progress: ProgressFnT | None) -> NoticeSink:
    """A `NoticeSink` that passes a request's progress to `on_progress` (in a task, as the SDK does)."""

    def on_notice(notice: Message) -> None:
        params = notice.get("params")
        if on_progress is None or notice.get("method") != "notifications/progress" or not isinstance(params, dict):
            return
        params = cast("Message", params)
        progress, total, text = params.get("progress"), params.get("total"), params.get("message")
        if not isinstance(progress, int | float) or isinstance(progress, bool):
            return
        task = asyncio.get_running_loop().create_task(
            _report_progress(
                on_progress,
                float(progress),
                float(total) if isinstance(total, int | float) and not isinstance(total, bool) else None,
                text if isinstance(text, str) else None,
            )
        )
        _progress_tasks.add(task)
        task.add_done_callback(_progress_tasks.discard)

    return on_notice


_progress_tasks: set[asyncio.Task[None]] = set()  # kept until done: the loop holds only weak references


async def _report_progress(on_progress: ProgressFnT, progress: float, total: float | None, text: str | None) -> None:
    with suppress(Exception):  # a client gone meanwhile: its progress has nowhere to go
        await on_progress(progress, total, text)


class LanedStreams(tuple[Any, Any]):
    """A transport's `(read, write)` stream pair that also carries the transport's raw lane."""

    lane: RawLane | None

    def __new__(cls, read: Any, write: Any, lane: RawLane | None) -> LanedStreams:
        """The pair, unpacked as any transport's, with `lane` beside it."""
        streams = super().__new__(cls, (read, write))
        streams.lane = lane
        return streams


def lane_of(streams: object) -> RawLane | None:
    """The raw lane a transport opened beside its streams, if it has one."""
    return getattr(streams, "lane", None)

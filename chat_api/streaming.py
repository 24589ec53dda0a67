"""`POST /chat/stream`: one chat as server-sent events.

The chat runs in a task owned by the response. Its first event decides the status: when the
chat fails before producing anything (MCP server down, LLM unreachable), the client gets the
same JSON error and status as `POST /chat` (503, 502); otherwise the stream starts (200) and a
later failure arrives as an `error` event. Events, each `data:` a JSON object:

``start``               ``{conversation_id, mode}``
``text_delta``          ``{text}``
``tool_call_started``   ``{id, name, server, arguments}``
``tool_call_progress``  ``{id, name, server, progress, total, message}``
``tool_call_finished``  ``{id, name, server, is_error, duration_ms, result}``
``done``                the `POST /chat` response body
``error``               ``{error, message, status}``

A comment line is sent when nothing happened for a while, so proxies keep the stream open. A
client that disconnects cancels the chat.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import CancelScope
from anyio.streams.memory import MemoryObjectSendStream
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from manifold_common.logging import get_logger

from .chat import ChatEngine, ChatEvent, ChatOutcome, TextDelta, ToolFinished, ToolProgress, ToolStarted
from .errors import ChatApiError
from .metrics import ChatMetrics
from .schemas import ChatResponse

log = get_logger(__name__)

KEEPALIVE_INTERVAL = 15.0
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]


@dataclass(frozen=True)
class _Done:
    outcome: ChatOutcome


@dataclass(frozen=True)
class _Failed:
    error: ChatApiError


_Item = ChatEvent | _Done | _Failed


def format_event(event: str, data: Any) -> bytes:
    """One server-sent event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


def encode_event(item: ChatEvent) -> bytes:
    """The wire form of one chat event."""
    if isinstance(item, TextDelta):
        return format_event("text_delta", {"text": item.text})
    if isinstance(item, ToolStarted):
        data = {"id": item.call_id, "name": item.name, "server": item.server, "arguments": item.arguments}
        return format_event("tool_call_started", data)
    if isinstance(item, ToolProgress):
        data = {
            "id": item.call_id,
            "name": item.name,
            "server": item.server,
            "progress": item.progress,
            "total": item.total,
            "message": item.message,
        }
        return format_event("tool_call_progress", data)
    assert isinstance(item, ToolFinished)
    data = {
        "id": item.call_id,
        "name": item.name,
        "server": item.server,
        "is_error": item.is_error,
        "duration_ms": item.duration_ms,
        "result": item.result,
    }
    return format_event("tool_call_finished", data)


class ChatEventResponse(Response):
    """A response that runs one chat and streams its events (or answers with the chat's error)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        engine: ChatEngine,
        message: str,
        conversation_id: str,
        metrics: ChatMetrics,
        keepalive_interval: float = KEEPALIVE_INTERVAL,
    ) -> None:
        super().__init__(status_code=200, media_type=self.media_type)
        self.engine = engine
        self.message = message
        self.conversation_id = conversation_id
        self.metrics = metrics
        self.keepalive_interval = keepalive_interval

    async def _produce(self, items: MemoryObjectSendStream[_Item]) -> None:
        async with items:

            async def forward(event: ChatEvent) -> None:
                await items.send(event)

            try:
                outcome = await self.engine.chat(self.message, self.conversation_id, forward)
            except ChatApiError as exc:
                await items.send(_Failed(exc))
                return
            except Exception as exc:  # a bug must still end the stream with an event, not a cut connection
                log.exception("chat_stream_failed", error=repr(exc))
                await items.send(_Failed(ChatApiError("The chat failed unexpectedly; see the service log.")))
                return
            await items.send(_Done(outcome))

    async def _cancel_on_disconnect(self, receive: Receive, scope: CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        log.info("chat_stream_disconnected", conversation_id=self.conversation_id)
        scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the chat, answering with an error response or an event stream (see the module docstring)."""
        sender, items = anyio.create_memory_object_stream[_Item](math.inf)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._produce, sender)
            tg.start_soon(self._cancel_on_disconnect, receive, tg.cancel_scope)
            async with items:
                first = await items.receive()
                if isinstance(first, _Failed):
                    self.metrics.chat_requests.labels("chat_stream", first.error.code).inc()
                    await JSONResponse(first.error.body(), status_code=first.error.status)(scope, receive, send)
                else:
                    await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
                    await self._stream(first, items, send)
            tg.cancel_scope.cancel()

    async def _stream(self, first: _Item, items: Any, send: Send) -> None:
        mode = self.engine.link.inventory.mode if self.engine.link.inventory else None
        await _body(send, format_event("start", {"conversation_id": self.conversation_id, "mode": mode}))
        item: _Item | None = first
        while item is not None:
            if isinstance(item, _Done):
                self.metrics.chat_requests.labels("chat_stream", "ok").inc()
                await _body(send, format_event("done", ChatResponse.from_outcome(item.outcome).model_dump(mode="json")))
                break
            if isinstance(item, _Failed):
                self.metrics.chat_requests.labels("chat_stream", item.error.code).inc()
                await _body(send, format_event("error", {**item.error.body(), "status": item.error.status}))
                break
            await _body(send, encode_event(item))
            item = None
            while item is None:
                with anyio.move_on_after(self.keepalive_interval):
                    item = await items.receive()
                if item is None:
                    await _body(send, b": keepalive\n\n")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _body(send: Send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})

"""The stdio front's end of input: every request read is answered before the server sees the end.

The SDK's server loop stops when its input ends, and cancels the requests still running. A
client that writes its requests and closes stdin (`printf ... | mcp-proxy serve`) would never
get the answers still being worked on. `InputDrain` stands between the transport and the
server: it notes each request read and each answer written, and once input ends (or a signal
asks the front to stop) it holds the server's input open until everything read has been
answered, for at most `drain_timeout` seconds. A modern client's `subscriptions/listen` stream
carries no work and is never waited for: once the rest is answered it is ended gracefully.

It also answers what never reaches the server: a line that is not JSON gets the JSON-RPC parse
error, and JSON that is not a JSON-RPC message the invalid-request error, both with `id: null`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import mcp_types as types
from mcp.shared._context_streams import (  # pyright: ignore[reportPrivateUsage]
    ContextReceiveStream,
    ContextSendStream,
    create_context_streams,
)
from mcp.shared.message import SessionMessage

from manifold_common.logging import get_logger

from ..core.framing import malformed_line_answer

log = get_logger(__name__)

ReadStream = ContextReceiveStream[SessionMessage | Exception]
"""What a transport read: messages, and the lines that were none."""
WriteStream = ContextSendStream[SessionMessage]
"""What a transport writes."""
_ToServer = ContextSendStream[SessionMessage | Exception]
_FromServer = ContextReceiveStream[SessionMessage]

LISTEN_METHOD = "subscriptions/listen"
STREAM_END_GRACE = 1.0
"""Seconds the listen streams get to send their final frame once they have been told to end."""
OUTPUT_GRACE = 1.0
"""Seconds the server's last answers get to reach the transport once the server has stopped."""
_STREAM_CLOSED = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)


class InputDrain:
    """The requests a stdio client is owed, and the end of the server's input once they are answered."""

    def __init__(self, drain_timeout: float) -> None:
        self._drain_timeout = drain_timeout
        self._owed: dict[types.RequestId, str] = {}  # requests read, not answered yet -> method
        self._asked: set[types.RequestId] = set()  # the server's requests the client has not answered
        self._changed = anyio.Event()
        self._finish = anyio.Event()
        self._input_ended = False
        self._output_lost = False  # the client closed its end of the output: no answer can reach it
        self._serving = False
        self._end_streams: Callable[[], None] = lambda: None

    def serving(self, end_streams: Callable[[], None]) -> None:
        """The server behind the front runs from now on; `end_streams` ends its listen streams."""
        self._serving = True
        self._end_streams = end_streams

    def finish(self) -> bool:
        """Answer what was read, then end the server's input; False before the server runs (nothing to answer)."""
        if not self._serving:
            return False
        self._finish.set()
        return True

    def owe(self, request_id: types.RequestId, method: str) -> None:
        """A request read and answered beside the server (the lean relay) is owed like any other."""
        self._owed[request_id] = method
        self._note_change()

    def paid(self, request_id: types.RequestId) -> None:
        """A request noted with `owe` was answered (or cancelled, which is never answered)."""
        if self._owed.pop(request_id, None) is not None:
            self._note_change()

    def work(self) -> int:
        """Requests read and not answered yet, listen streams aside."""
        return sum(1 for method in self._owed.values() if method != LISTEN_METHOD)

    @asynccontextmanager
    async def answering(self, raw_read: ReadStream, raw_write: WriteStream) -> AsyncGenerator[tuple[Any, Any]]:
        """Between a transport's streams and the server: yields the (read, write) streams the server runs on."""
        to_server, server_read = create_context_streams[SessionMessage | Exception](0)
        server_write, from_server = create_context_streams[SessionMessage](0)
        output_done = anyio.Event()
        async with anyio.create_task_group() as tg:
            reading = anyio.CancelScope()
            tg.start_soon(self._relay_input, raw_read, raw_write, to_server, reading)
            tg.start_soon(self._relay_output, from_server, raw_write, to_server, output_done)
            tg.start_soon(self._end_input_when_answered, to_server, reading)
            try:
                yield server_read, server_write
            finally:
                with anyio.move_on_after(OUTPUT_GRACE):
                    await output_done.wait()
                tg.cancel_scope.cancel()

    async def _relay_input(
        self, raw_read: ReadStream, raw_write: WriteStream, to_server: _ToServer, reading: anyio.CancelScope
    ) -> None:
        with reading, suppress(*_STREAM_CLOSED):
            async for item in raw_read:
                if isinstance(item, Exception):
                    answer = malformed_line_answer(item)
                    if answer is not None:
                        await raw_write.send(SessionMessage(answer))
                    continue
                self._note_from_client(item.message)
                await to_server.send(item)
            self._input_ended = True
            log.info("stdio_input_ended", unanswered=len(self._owed))
            # Nobody is left to answer what the server asked the client: tell it now, not at the deadline.
            for request_id in sorted(self._asked, key=str):
                await self._refuse(to_server, request_id)
            self._finish.set()

    async def _relay_output(
        self, from_server: _FromServer, raw_write: WriteStream, to_server: _ToServer, done: anyio.Event
    ) -> None:
        try:
            async with raw_write, from_server:
                async for item in from_server:
                    message = item.message
                    if isinstance(message, types.JSONRPCRequest):
                        if self._input_ended:
                            await self._refuse(to_server, message.id)
                            continue
                        self._asked.add(message.id)
                    await raw_write.send(item)
                    if isinstance(message, types.JSONRPCResponse | types.JSONRPCError) and message.id is not None:
                        self._owed.pop(message.id, None)
                        self._note_change()
        except _STREAM_CLOSED:
            # The transport can write no more (the server's later writes fail, and it drops
            # them): waiting for answers nobody can receive would only delay the end.
            self._output_lost = True
            self._finish.set()
            self._note_change()
        finally:
            done.set()

    async def _end_input_when_answered(self, to_server: _ToServer, reading: anyio.CancelScope) -> None:
        await self._finish.wait()
        with anyio.move_on_after(self._drain_timeout) as deadline:
            if self.work():
                log.info("shutdown_draining", requests=self.work(), timeout_s=self._drain_timeout)
            await self._until(lambda: self.work() == 0 or self._output_lost)
        if deadline.cancelled_caught:
            log.warning("shutdown_drain_timeout", requests=self.work())
        if self._owed and not self._output_lost:
            self._end_streams()
            with anyio.move_on_after(STREAM_END_GRACE):
                await self._until(lambda: not self._owed or self._output_lost)
        reading.cancel()
        # The server sees the end of its input now; whatever is still running it ends with an error.
        await to_server.aclose()

    def _note_from_client(self, message: types.JSONRPCMessage) -> None:
        if isinstance(message, types.JSONRPCRequest):
            self._owed[message.id] = message.method
        elif isinstance(message, types.JSONRPCNotification):
            if message.method == "notifications/cancelled":
                # A cancelled request is never answered (the protocol forbids it): stop waiting for it.
                cancelled = (message.params or {}).get("requestId")
                if isinstance(cancelled, int | str):
                    self._owed.pop(cancelled, None)
        elif message.id is not None:
            self._asked.discard(message.id)
        self._note_change()

    async def _refuse(self, to_server: _ToServer, request_id: types.RequestId) -> None:
        self._asked.discard(request_id)
        error = types.ErrorData(code=types.CONNECTION_CLOSED, message="the client closed its input")
        with suppress(*_STREAM_CLOSED):
            await to_server.send(SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=request_id, error=error)))

    def _note_change(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _until(self, done: Callable[[], bool]) -> None:
        while not done():
            await self._changed.wait()

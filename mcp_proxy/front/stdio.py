"""The stdio front's transport: MCP messages over this process's stdin and stdout, on the event loop.

The SDK's `stdio_server` moves every line through a worker thread (anyio's `wrap_file`): two
thread hand-offs per request, about a quarter of the proxy's CPU per relayed call. When stdin and
stdout are pipes or sockets — as when a desktop client or an IDE launches the proxy — this
transport reads and writes them with asyncio's pipe transports instead. Anything else (a
terminal, a regular file) falls back to the SDK's transport, which handles every kind of file.

Like the SDK's transport, it claims the two descriptors while serving: fd 0 reads from the null
device and fd 1 writes to stderr, so a stray `print` or a child that inherits them can never
corrupt the protocol stream. Both are restored on exit.

`StdioFront` is the front of one run: the transport, and the guarantee that a signalled process
ends even when stdin is read by the SDK's worker thread.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
from mcp.server.stdio import stdio_server
from mcp.shared._context_streams import (  # pyright: ignore[reportPrivateUsage]
    ContextReceiveStream,
    ContextSendStream,
    create_context_streams,
)
from mcp.shared.message import SessionMessage

from ..core.framing import LineFramer, parse_message
from ..core.pipes import EventedPipes, open_pipes

STDIN_FD = 0
STDOUT_FD = 1
STDERR_FD = 2
READ_CHUNK = 256 * 1024

SHUTDOWN_GRACE = 5.0
"""Seconds a signalled process whose stdin is read by a thread waits for its upstreams to close
before it exits anyway."""

ReadStream = ContextReceiveStream[SessionMessage | Exception]
WriteStream = ContextSendStream[SessionMessage]


def _is_pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def evented_stdio_possible() -> bool:
    """Whether stdin and stdout can be served on the event loop (both are pipes or sockets)."""
    return _is_pipe_or_socket(STDIN_FD) and _is_pipe_or_socket(STDOUT_FD)


class StdioFront:
    """MCP on this process's stdin and stdout for one run, and a sure exit when a signal ends it.

    When stdin is neither a pipe nor a socket (a terminal, say), the SDK's transport reads it in a
    worker thread that cancellation cannot interrupt: while the client keeps stdin open, a
    signalled process would never finish exiting. Only then does `ensure_exit` start a watchdog
    that ends the process once the proxy behind the front has closed its upstreams
    (`upstreams_closed`), or after `shutdown_grace` seconds. On the event loop the process ends by
    itself, and a forced exit would race the interpreter's own shutdown.
    """

    def __init__(self, shutdown_grace: float = SHUTDOWN_GRACE) -> None:
        self._shutdown_grace = shutdown_grace
        self._threaded_stdin = False
        self._upstreams_closed = threading.Event()  # set on the event loop, awaited by the watchdog

    @property
    def stdin_read_by_a_thread(self) -> bool:
        """Whether stdin is being read by the SDK's worker thread, which cancellation cannot interrupt."""
        return self._threaded_stdin

    @asynccontextmanager
    async def serving(self) -> AsyncGenerator[tuple[Any, Any]]:
        """Serve MCP over stdin/stdout: yields the (read, write) message streams a server runs on."""
        if not evented_stdio_possible():
            self._threaded_stdin = True
            try:
                async with stdio_server() as streams:
                    yield streams
            finally:
                self._threaded_stdin = False
            return
        async with _evented_stdio() as streams:
            yield streams

    def upstreams_closed(self) -> None:
        """The proxy behind this front has closed its upstreams: nothing is left to wait for."""
        self._upstreams_closed.set()

    def ensure_exit(self) -> None:
        """A signal asked the process to end: make sure it does, even with stdin held by a thread."""
        if self._threaded_stdin:
            threading.Thread(target=self._exit_once_clean, name="shutdown-watchdog", daemon=True).start()

    def _exit_once_clean(self) -> None:
        # Leave without waiting for the thread that reads stdin, once the upstreams are closed.
        self._upstreams_closed.wait(self._shutdown_grace)
        sys.stderr.flush()
        os._exit(0)


class _Claim:
    """fd 0 and fd 1 moved aside to private descriptors, with the standard ones pointed elsewhere."""

    def __init__(self) -> None:
        self.wire_in = os.dup(STDIN_FD)
        self.wire_out = os.dup(STDOUT_FD)
        for fd in (self.wire_in, self.wire_out):
            os.set_inheritable(fd, False)  # children must never hold the client's pipe
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, STDIN_FD)
        finally:
            os.close(null)
        os.dup2(STDERR_FD, STDOUT_FD)

    def restore(self) -> None:
        """Point fd 0 and fd 1 back at the wire (the private descriptors are closed by their owner)."""
        for wire, fd in ((self.wire_in, STDIN_FD), (self.wire_out, STDOUT_FD)):
            with suppress(OSError):
                os.dup2(wire, fd)

    @staticmethod
    def unblock() -> None:
        """Undo the event loop's O_NONBLOCK on the wire, which fd 0 and fd 1 share again."""
        for fd in (STDIN_FD, STDOUT_FD):
            with suppress(OSError):
                os.set_blocking(fd, True)


@asynccontextmanager
async def _evented_stdio() -> AsyncGenerator[tuple[ReadStream, WriteStream]]:
    claim = _Claim()
    pipes: EventedPipes | None = None
    try:
        pipes = await open_pipes(
            os.fdopen(claim.wire_in, "rb", buffering=0), os.fdopen(claim.wire_out, "wb", buffering=0), READ_CHUNK
        )
        reader, writer = pipes.reader, pipes.writer
        inbound_send, inbound = create_context_streams[SessionMessage | Exception](0)
        outbound, outbound_receive = create_context_streams[SessionMessage](0)

        async def read_lines() -> None:
            async with inbound_send:
                framer = LineFramer()
                while chunk := await reader.read(READ_CHUNK):
                    for line in framer.feed(chunk):
                        if line.strip():
                            await inbound_send.send(parse_message(line))
                last = framer.rest()
                if last.strip():
                    await inbound_send.send(parse_message(last))

        async def write_messages() -> None:
            async with outbound_receive:
                async for session_message in outbound_receive:
                    writer.write(_serialize(session_message))
                    await writer.drain()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_lines)
            tg.start_soon(write_messages)
            try:
                yield inbound, outbound
            finally:
                tg.cancel_scope.cancel()
    finally:
        claim.restore()
        if pipes is not None:
            pipes.close()  # closes the private descriptors; the restored standard ones stay
        claim.unblock()


def _serialize(session_message: SessionMessage) -> bytes:
    # The same rendering as the SDK's stdio transport, so both paths put identical bytes on the wire.
    return (session_message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n").encode()

"""The stdio front's transport: MCP messages over this process's stdin and stdout.

When stdin and stdout are pipes or sockets — as when a desktop client or an IDE launches the
proxy — they are read and written on the event loop with asyncio's pipe transports: no thread
hand-off per message. Anything else (a terminal, a regular file) is read by a daemon thread and
written by worker threads, with the same framing. The reading thread may stay blocked on a
terminal forever; being a daemon, it never keeps the process from exiting.

While serving, the front claims the two descriptors: fd 0 reads from the null device and fd 1
writes to stderr, so a stray `print` or a child that inherits them can never corrupt the
protocol stream. Both are restored on exit.

`StdioFront` is the front of one run: a transport, and the `InputDrain` that answers every
request read before the server sees the end of its input (see `stdio_drain.py`).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectSendStream
from mcp.shared._context_streams import create_context_streams  # pyright: ignore[reportPrivateUsage]
from mcp.shared.message import SessionMessage

from manifold_common.logging import get_logger

from ..core.framing import LineFramer, parse_message
from ..core.pipes import EventedPipes, open_pipes
from .fast_relay import FastRelay
from .fast_stdio import FastIntake, WriteNow
from .stdio_drain import OUTPUT_GRACE, InputDrain, ReadStream, WriteStream

log = get_logger(__name__)

STDIN_FD = 0
STDOUT_FD = 1
STDERR_FD = 2
READ_CHUNK = 256 * 1024

ReadChunk = Callable[[], Awaitable[bytes]]
Offer = Callable[[bytes, anyio.abc.TaskGroup], bool]
"""Offers a line read to the lean relay; True when it took it."""


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
    """MCP on this process's stdin and stdout for one run, ended only once what was read is answered.

    The end of stdin, or `finish` (a signal), lets the requests already read be answered, for
    at most `drain_timeout` seconds, before the server behind the front sees the end of its input.
    """

    def __init__(self, drain_timeout: float) -> None:
        self._drain = InputDrain(drain_timeout)
        self._write_now: WriteNow | None = None
        self._intake: FastIntake | None = None

    @asynccontextmanager
    async def serving(self) -> AsyncGenerator[tuple[Any, Any]]:
        """Serve MCP over stdin/stdout: yields the (read, write) message streams a server runs on."""
        transport = partial(_evented_stdio, self) if evented_stdio_possible() else _threaded_stdio
        async with transport() as (raw_read, raw_write), self._drain.answering(raw_read, raw_write) as streams:
            yield streams

    def relay(self, relay: FastRelay) -> None:
        """Offer each line read to the lean relay first (only where stdout is written on the event loop)."""
        if self._write_now is not None:
            self._intake = FastIntake(relay, self._drain, self._write_now)

    def offer(self, line: bytes, tg: anyio.abc.TaskGroup) -> bool:
        """Whether the lean relay took `line`; False hands it to the SDK's server."""
        intake = self._intake
        return intake is not None and intake.take(line, tg)

    def proxy_running(self, end_streams: Callable[[], None]) -> None:
        """The proxy behind the front serves from now on; `end_streams` ends its listen streams at the end."""
        self._drain.serving(end_streams)

    def finish(self) -> bool:
        """A signal asked the process to end: answer what was read, then end (False: nothing runs yet)."""
        return self._drain.finish()


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
async def _evented_stdio(front: StdioFront) -> AsyncGenerator[tuple[ReadStream, WriteStream]]:
    claim = _Claim()
    pipes: EventedPipes | None = None
    try:
        pipes = await open_pipes(
            os.fdopen(claim.wire_in, "rb", buffering=0), os.fdopen(claim.wire_out, "wb", buffering=0), READ_CHUNK
        )
        reader, writer = pipes.reader, pipes.writer

        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        front._write_now = writer.write  # pyright: ignore[reportPrivateUsage]
        async with _framed(lambda: reader.read(READ_CHUNK), write, front.offer) as streams:
            yield streams
    finally:
        front._write_now = None  # pyright: ignore[reportPrivateUsage]
        claim.restore()
        if pipes is not None:
            pipes.close()  # closes the private descriptors; the restored standard ones stay
        claim.unblock()


@asynccontextmanager
async def _threaded_stdio() -> AsyncGenerator[tuple[ReadStream, WriteStream]]:
    claim = _Claim()
    chunks_in, chunks = anyio.create_memory_object_stream[bytes](1)
    reader = threading.Thread(
        target=_read_in_thread,
        args=(claim.wire_in, chunks_in, anyio.lowlevel.current_token()),
        name="stdio-reader",
        daemon=True,  # blocked on a terminal, it must not keep the process alive
    )

    async def read_chunk() -> bytes:
        try:
            return await chunks.receive()
        except anyio.EndOfStream:
            return b""

    async def write(data: bytes) -> None:
        await anyio.to_thread.run_sync(_write_all, claim.wire_out, data)

    try:
        reader.start()
        async with _framed(read_chunk, write) as streams:
            yield streams
    finally:
        chunks.close()
        claim.restore()
        os.close(claim.wire_out)
        if not reader.is_alive():  # else the thread may still read it: never recycle its number
            os.close(claim.wire_in)


def _read_in_thread(fd: int, chunks: MemoryObjectSendStream[bytes], token: anyio.lowlevel.EventLoopToken) -> None:
    try:
        while data := os.read(fd, READ_CHUNK):
            anyio.from_thread.run(chunks.send, data, token=token)
    except (OSError, RuntimeError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass  # the input failed, or the front stopped reading: either way, nothing more to read
    finally:
        with suppress(RuntimeError):
            anyio.from_thread.run_sync(chunks.close, token=token)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _nothing_taken(line: bytes, tg: anyio.abc.TaskGroup) -> bool:
    return False


@asynccontextmanager
async def _framed(
    read_chunk: ReadChunk, write: Callable[[bytes], Awaitable[None]], offer: Offer = _nothing_taken
) -> AsyncGenerator[tuple[ReadStream, WriteStream]]:
    """Messages over a byte transport, one per line; the last answers are written before it closes."""
    inbound_send, inbound = create_context_streams[SessionMessage | Exception](0)
    outbound, outbound_receive = create_context_streams[SessionMessage](0)
    written = anyio.Event()

    async def read_lines() -> None:
        async with inbound_send:
            framer = LineFramer()
            while chunk := await read_chunk():
                for line in framer.feed(chunk):
                    if offer(line, tg):
                        continue
                    if line.strip():
                        await inbound_send.send(parse_message(line))
            last = framer.rest()
            if last.strip():
                await inbound_send.send(parse_message(last))

    async def write_messages() -> None:
        try:
            async with outbound_receive:
                async for session_message in outbound_receive:
                    await write(_serialize(session_message))
        except OSError as exc:
            # The client closed its end of our stdout: nothing written from now on can be read.
            # Closing the outbound stream tells the front there is nobody left to answer.
            log.info("stdio_output_closed", error=str(exc) or type(exc).__name__)
        finally:
            written.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_lines)
        tg.start_soon(write_messages)
        try:
            yield inbound, outbound
        finally:
            # The write stream is closed once the server is done: let what it wrote reach the wire.
            with anyio.move_on_after(OUTPUT_GRACE):
                await written.wait()
            tg.cancel_scope.cancel()


def _serialize(session_message: SessionMessage) -> bytes:
    # The same rendering as the SDK's stdio transport, so both paths put identical bytes on the wire.
    return (session_message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n").encode()

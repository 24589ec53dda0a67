"""The client side of a stdio upstream: the child process and its newline-delimited JSON-RPC.

The process is spawned, watched and stopped exactly as the SDK's `stdio_client` does it (its own
session/process group; on exit: close stdin, wait, then kill the whole tree, every wait
bounded and shielded), using the SDK's own helpers. Only the reading differs. The SDK decodes
each chunk to text and re-joins its line buffer with every chunk, so a message of n bytes
arriving in 64 KiB chunks costs O(n²/64 KiB) copying: about sixteen times the message for a 1
MB tool result, paid on every result the proxy relays. Here lines are framed on bytes, each
byte is copied once into its line, and the JSON parser reads the bytes directly.

A child started ahead of time by `prelaunch.py` is adopted instead of spawned: its pipes are
attached to the event loop and `AdoptedProcess.stop` runs the same stop sequence.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, TextIO, cast

import anyio
import anyio.lowlevel
from mcp.client._transport import TransportStreams  # pyright: ignore[reportPrivateUsage]
from mcp.client.stdio import (
    FORCE_KILL_TIMEOUT,
    PROCESS_TERMINATION_TIMEOUT,
    StdioServerParameters,
    _aclose_all,  # pyright: ignore[reportPrivateUsage]
    _create_platform_compatible_process,  # pyright: ignore[reportPrivateUsage]
    _drain_stdout,  # pyright: ignore[reportPrivateUsage]
    _stop_server_process,  # pyright: ignore[reportPrivateUsage]
    get_default_environment,
)
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

from manifold_common.logging import get_logger

from ..core.framing import LineFramer, parse_message
from ..core.pipes import open_pipes
from .lane import LanedStreams, StreamLane

log = get_logger(__name__)

READ_CHUNK = 64 * 1024
EXIT_POLL_INTERVAL = 0.01
WRITER_FLUSH_TIMEOUT = 0.5
"""Seconds the writer gets to flush accepted messages when the transport closes (as the SDK's)."""


def parse_line(line: bytes, server: str = "") -> SessionMessage | Exception:
    """One line as a message, or the parse error as a value for the session to surface."""
    parsed = parse_message(line)
    if isinstance(parsed, Exception):
        problem = str(parsed).splitlines()[0]
        log.warning("upstream_invalid_message", server=server, error=problem, bytes=len(line))
    return parsed


class _PipeReader:
    """The receiving half of an adopted child's stdout, shaped like anyio's byte stream."""

    def __init__(self, reader: asyncio.StreamReader, transport: asyncio.BaseTransport) -> None:
        self._reader = reader
        self._transport = transport

    async def receive(self) -> bytes:
        data = await self._reader.read(READ_CHUNK)
        if not data:
            raise anyio.EndOfStream
        return data

    def __aiter__(self) -> _PipeReader:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._transport.close()


class _PipeWriter:
    """The sending half of an adopted child's stdin, shaped like anyio's byte stream."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()


class AdoptedProcess:
    """A child started by `prelaunch` before the event loop ran, with the attributes the SDK's
    stop sequence uses (`pid`, `returncode`, `stdin`, `stdout`)."""

    def __init__(self, process: subprocess.Popen[bytes], stdin: _PipeWriter, stdout: _PipeReader) -> None:
        self._process = process
        self.pid = process.pid
        self.stdin = stdin
        self.stdout = stdout

    @property
    def returncode(self) -> int | None:
        return self._process.poll()  # polling also reaps the child once it has exited

    async def stop(self) -> None:
        """The SDK's stop sequence: close stdin, wait, then kill the whole process group."""
        await self.stdin.aclose()
        if not await self._exited_within(PROCESS_TERMINATION_TIMEOUT):
            await terminate_posix_process_tree(cast(Any, self), FORCE_KILL_TIMEOUT)
            if not await self._exited_within(FORCE_KILL_TIMEOUT):
                log.warning("upstream_not_stopped", pid=self.pid)  # its group was sent SIGKILL
        await self.stdout.aclose()

    async def _exited_within(self, seconds: float) -> bool:
        with anyio.move_on_after(seconds):
            while self.returncode is None:
                await anyio.sleep(EXIT_POLL_INTERVAL)
            return True
        return False

    @classmethod
    async def connect(cls, process: subprocess.Popen[bytes]) -> AdoptedProcess:
        """Attach the event loop to the pipes of a running child."""
        if process.stdin is None or process.stdout is None:
            raise ValueError("an adopted child must have been started with pipes")
        pipes = await open_pipes(process.stdout, process.stdin, READ_CHUNK)
        return cls(process, _PipeWriter(pipes.writer), _PipeReader(pipes.reader, pipes.read_transport))


@asynccontextmanager
async def stdio_upstream(
    server: StdioServerParameters,
    errlog: TextIO | None,
    adopt: subprocess.Popen[bytes] | None = None,
    *,
    name: str = "",
    lane: bool = True,
) -> AsyncGenerator[TransportStreams]:
    """Connect to the server over its stdin/stdout (the SDK's `stdio_client` contract).

    The server is spawned here, with `errlog` as its stderr, unless a running child to `adopt`
    is given (see `prelaunch.py`).
    """
    if adopt is not None:
        process: Any = await AdoptedProcess.connect(adopt)
    else:
        process = await _create_platform_compatible_process(
            command=server.command,
            args=server.args,
            env=get_default_environment() | (server.env or {}),
            errlog=errlog if errlog is not None else sys.stderr,
            cwd=server.cwd,
        )
    # No awaits until the task group is entered: a cancellation in the gap would leak the process.
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    writer_done = anyio.Event()
    raw = StreamLane(process.stdin.send)  # one write per line, as the SDK's writer: lines never interleave

    async def read_messages() -> None:
        framer = LineFramer()
        try:
            async with read_writer:
                try:
                    async for chunk in process.stdout:
                        for line in framer.feed(chunk):
                            if raw.pending and raw.take_line(line):
                                continue  # a lane request's answer or progress: the SDK never sees it
                            if line.strip():
                                await read_writer.send(parse_line(line, name))
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    return  # the session is gone; only the drain below remains
                finally:
                    await _drain_stdout(process)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError, OSError):
            pass  # the pipe closed under the read: the session sees the stream end
        finally:
            raw.close()

    async def write_messages() -> None:
        try:
            async with write_reader:
                async for session_message in write_reader:
                    data = session_message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await process.stdin.send(data.encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            # The server may still be alive: end the read side so no request waits forever.
            await read_writer.aclose()
        finally:
            writer_done.set()

    async def shut_down() -> None:
        read_stream.close()  # unblocks the reader into its drain, so a writing server can exit
        write_stream.close()
        with anyio.move_on_after(WRITER_FLUSH_TIMEOUT):
            await writer_done.wait()
        if isinstance(process, AdoptedProcess):
            await process.stop()
        else:
            await _stop_server_process(process)
        await _aclose_all(read_stream, write_stream, read_writer, write_reader)
        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read_messages)
        tg.start_soon(write_messages)
        try:
            yield LanedStreams(read_stream, write_stream, raw if lane else None)
        finally:
            raw.close()
            with anyio.CancelScope(shield=True):  # every wait inside is bounded
                await shut_down()
            tg.cancel_scope.cancel()
    await anyio.lowlevel.cancel_shielded_checkpoint()

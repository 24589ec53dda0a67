"""Re-emitting what a stdio upstream writes on its stderr as log events tagged with its server.

The child's stderr is the write end of a pipe; a task reads the other end and logs each line as
an `upstream_stderr` event. Lines are cut at `MAX_LINE_CHARS` so a child that writes megabytes
without a newline cannot grow the proxy's memory. The pipe is closed when the child goes away,
and the lines it wrote just before dying (often the interesting ones) are drained first.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager, suppress
from typing import TextIO

import anyio

from manifold_common.logging import get_logger

log = get_logger(__name__)

MAX_LINE_CHARS = 4096
"""Longest stderr line logged; the rest of a longer line is dropped and the event says so."""
DRAIN_TIMEOUT = 1.0
"""Seconds to wait, once the child is gone, for the last lines still in the pipe."""
_READ_CHUNK = 65536


class _LineSplitter:
    """Bytes in, bounded lines out."""

    def __init__(self, server: str) -> None:
        self.server = server
        self._buffer = bytearray()
        self._dropping = False  # inside a line already cut at MAX_LINE_CHARS

    def feed(self, data: bytes) -> None:
        """Log every complete line in `data` (with what came before it)."""
        *lines, rest = data.split(b"\n")
        for line in lines:
            self._append(line)
            self._flush()
            self._dropping = False
        self._append(rest)

    def finish(self) -> None:
        """Log a last line that had no newline."""
        if self._buffer:
            self._flush()

    def _append(self, chunk: bytes) -> None:
        if self._dropping:
            return
        self._buffer.extend(chunk)
        # Bytes, not characters, bound the buffer; a multi-byte character may be cut, which
        # `errors="replace"` renders harmlessly.
        if len(self._buffer) > MAX_LINE_CHARS * 4:
            self._flush(truncated=True)
            self._dropping = True

    def _flush(self, truncated: bool = False) -> None:
        text = self._buffer.decode(errors="replace").rstrip("\r")
        self._buffer.clear()
        if len(text) > MAX_LINE_CHARS:
            text, truncated = text[:MAX_LINE_CHARS], True
        if text or truncated:
            log.info("upstream_stderr", server=self.server, line=text, **({"truncated": True} if truncated else {}))


async def _relay(fd: int, server: str) -> None:
    splitter = _LineSplitter(server)
    try:
        while True:
            await anyio.wait_readable(fd)
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                continue
            if not data:
                break
            splitter.feed(data)
    finally:
        splitter.finish()


@asynccontextmanager
async def _unwrapped() -> AsyncGenerator[None]:
    # The relay's task group wraps whatever the body raises in an exception group; callers
    # expect the body's exception as it was raised (a missing command is a FileNotFoundError).
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) != 1:
            raise
        raise group.exceptions[0] from None


@asynccontextmanager
async def stderr_relay(server: str) -> AsyncGenerator[TextIO]:
    """A file to give a child as its stderr; every line written to it is logged for `server`.

    Call `close()` on the yielded file once the child has started, so that the pipe reaches
    end-of-file when the child exits. On exit the relay drains for up to `DRAIN_TIMEOUT`,
    then stops, and both ends of the pipe are closed.
    """
    read_fd, write_fd = os.pipe()
    errlog = os.fdopen(write_fd, "w", encoding="utf-8", errors="replace")
    try:
        async with relaying_stderr(server, read_fd):
            try:
                yield errlog
            finally:
                errlog.close()
    finally:
        errlog.close()


@asynccontextmanager
async def relaying_stderr(server: str, read_fd: int) -> AsyncGenerator[None]:
    """Log every line arriving on `read_fd` (the read end of a child's stderr pipe) for `server`.

    On exit the relay drains for up to `DRAIN_TIMEOUT`, then stops and closes `read_fd`.
    """
    os.set_blocking(read_fd, False)
    try:
        async with _unwrapped(), anyio.create_task_group() as tg:
            done = anyio.Event()

            async def relay() -> None:
                try:
                    await _relay(read_fd, server)
                finally:
                    done.set()

            tg.start_soon(relay)
            try:
                yield
            finally:
                with anyio.move_on_after(DRAIN_TIMEOUT, shield=True):
                    await done.wait()
                tg.cancel_scope.cancel()
    finally:
        with suppress(OSError):
            os.close(read_fd)

"""Re-emitting what a stdio upstream writes on its stderr as log events tagged with its server.

The child's stderr is the write end of a pipe; a task reads the other end and logs each line as
an `upstream_stderr` event. Lines are cut at `MAX_LINE_CHARS` so a child that writes megabytes
without a newline cannot grow the proxy's memory. The pipe is closed when the child goes away,
and the lines it wrote just before dying (often the interesting ones) are drained first.

While the proxy probes a server's protocol era, its stderr is held back (`StderrHold`): a server
that only speaks the handshake era (the Python servers on mcp 1.x) answers the `server/discover`
probe with dozens of lines of validation errors. Once the probe's outcome is known, the held
lines are logged at debug when the probe failed as expected (with one summary line at info), and
at info otherwise — a server that dies at start shows its last words as always.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from typing import TextIO

import anyio

from manifold_common.logging import get_logger

log = get_logger(__name__)

MAX_LINE_CHARS = 4096
"""Longest stderr line logged; the rest of a longer line is dropped and the event says so."""
DRAIN_TIMEOUT = 1.0
"""Seconds to wait, once the child is gone, for the last lines still in the pipe."""
MAX_HELD_LINES = 1000
"""Most lines held back during an era probe; later ones are logged at once."""
_READ_CHUNK = 65536


def _log_line(server: str, text: str, truncated: bool, level: str = "info") -> None:
    extra = {"truncated": True} if truncated else {}
    (log.debug if level == "debug" else log.info)("upstream_stderr", server=server, line=text, **extra)


class StderrHold:
    """The stderr lines of a child held back while the proxy probes its protocol era."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.active = True
        self._lines: list[tuple[str, bool]] = []
        self._drains: list[Callable[[], None]] = []

    def offer(self, text: str, truncated: bool) -> bool:
        """Keep a line back while the probe runs; False when it is to be logged at once."""
        if not self.active or len(self._lines) >= MAX_HELD_LINES:
            return False
        self._lines.append((text, truncated))
        return True

    def attach(self, drain: Callable[[], None]) -> None:
        """Register how to read what the child has already written, without waiting."""
        self._drains.append(drain)

    def release(self, *, expected: bool) -> int:
        """Log the held lines (at debug when `expected` noise, else at info); returns how many there were."""
        # Whatever the child wrote before answering the probe is in the pipe by now.
        for drain in self._drains:
            drain()
        self.active = False
        held, self._lines = self._lines, []
        for text, truncated in held:
            _log_line(self.server, text, truncated, "debug" if expected else "info")
        return len(held)


_HOLD: ContextVar[StderrHold | None] = ContextVar("stderr_hold", default=None)


@contextmanager
def holding_stderr(hold: StderrHold | None) -> Generator[None]:
    """Make the stderr relays of children started in the block hold their lines back in `hold`."""
    token = _HOLD.set(hold)
    try:
        yield
    finally:
        _HOLD.reset(token)


class _LineSplitter:
    """Bytes in, bounded lines out."""

    def __init__(self, server: str, hold: StderrHold | None = None) -> None:
        self.server = server
        self._buffer = bytearray()
        self._dropping = False  # inside a line already cut at MAX_LINE_CHARS
        self._hold = hold

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
        if (text or truncated) and not (self._hold is not None and self._hold.offer(text, truncated)):
            _log_line(self.server, text, truncated)


async def _relay(fd: int, server: str) -> None:
    hold = _HOLD.get()
    splitter = _LineSplitter(server, hold)
    ended = False

    def drain() -> None:
        # Read everything already in the pipe now; the task below finds it empty afterwards.
        nonlocal ended
        while not ended:
            try:
                data = os.read(fd, _READ_CHUNK)
            except (BlockingIOError, OSError):
                return
            if not data:
                ended = True
                return
            splitter.feed(data)

    if hold is not None:
        hold.attach(drain)
    try:
        while not ended:
            await anyio.wait_readable(fd)
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                continue
            if not data:
                break
            splitter.feed(data)
    finally:
        ended = True  # the descriptor is closed after this: a late drain must not read it
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

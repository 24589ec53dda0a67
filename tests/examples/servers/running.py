"""Start an example server as a real child process on an ephemeral port, for tests.

`running_example` launches ``python -m examples.servers.<name> --transport sse|http --port 0``,
waits (with a deadline) for the readiness line the server writes on stderr, and yields the URL
it announced. On exit the child is terminated, killed if it lingers, and always reaped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from examples.servers._serve import parse_ready_line

REPO_ROOT = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_SECONDS = 20.0
SHUTDOWN_TIMEOUT_SECONDS = 10.0
MAX_STDERR_LINE_BYTES = 64 * 1024


@dataclass
class RunningExample:
    """A launched example server: its URL, process, and the stderr lines seen so far."""

    url: str
    process: Process
    stderr_lines: list[str] = field(default_factory=list)


def example_command(name: str, *args: str) -> list[str]:
    """The command line that runs example server `name` with this interpreter."""
    return [sys.executable, "-m", f"examples.servers.{name}", *args]


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The current environment plus `extra`, with the repository importable."""
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": python_path, **extra}


@asynccontextmanager
async def running_example(
    name: str, transport: str, *, env: Mapping[str, str] | None = None
) -> AsyncIterator[RunningExample]:
    """Run example server `name` over `transport` (sse or http) on a free port until exit."""
    process = await anyio.open_process(
        example_command(name, "--transport", transport, "--port", "0", "--log-level", "WARNING"),
        cwd=REPO_ROOT,
        env=child_environment(env or {}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert process.stderr is not None
        stderr = BufferedByteReceiveStream(process.stderr)
        lines: list[str] = []
        url = await _wait_until_ready(stderr, lines)
        async with anyio.create_task_group() as group:
            group.start_soon(_drain, stderr, lines)
            yield RunningExample(url=url, process=process, stderr_lines=lines)
            group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process)


async def _wait_until_ready(stderr: BufferedByteReceiveStream, lines: list[str]) -> str:
    with anyio.fail_after(STARTUP_TIMEOUT_SECONDS):
        while True:
            try:
                raw = await stderr.receive_until(b"\n", MAX_STDERR_LINE_BYTES)
            except anyio.IncompleteRead:
                raise RuntimeError("the server exited before it was ready:\n" + "\n".join(lines)) from None
            line = raw.decode(errors="replace")
            lines.append(line)
            fields = parse_ready_line(line)
            if fields is not None and "url" in fields:
                return fields["url"]


async def _drain(stderr: BufferedByteReceiveStream, lines: list[str]) -> None:
    """Keep reading stderr so a chatty child never blocks on a full pipe."""
    try:
        while True:
            lines.append((await stderr.receive_until(b"\n", MAX_STDERR_LINE_BYTES)).decode(errors="replace"))
    except (anyio.IncompleteRead, anyio.EndOfStream, anyio.ClosedResourceError):
        return


async def _stop(process: Process) -> None:
    if process.returncode is None:
        process.terminate()
        with anyio.move_on_after(SHUTDOWN_TIMEOUT_SECONDS):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
    await process.aclose()

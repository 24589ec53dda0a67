"""Starting measured processes: stderr goes to a file (never a pipe we must drain while measuring),
and readiness is a line that appears in that file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
from anyio.abc import Process

from examples.servers._serve import parse_ready_line

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_DEADLINE = 60.0
STOP_DEADLINE = 10.0
READY_POLL_SECONDS = 0.005

T = TypeVar("T")
ReadyParser = Callable[[str], dict[str, Any] | None]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment, with the running interpreter's folder first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def example_ready(line: str) -> dict[str, Any] | None:
    """The fields of an example server's (or the echo server's) readiness line."""
    return parse_ready_line(line)


def json_event(name: str) -> ReadyParser:
    """A parser that accepts the proxy's JSON log event `name` (e.g. `http_listening`)."""

    def parse(line: str) -> dict[str, Any] | None:
        try:
            event = json.loads(line)
        except ValueError:
            return None
        if isinstance(event, dict) and event.get("event") == name:  # pyright: ignore[reportUnknownMemberType]
            return event  # pyright: ignore[reportUnknownVariableType]
        return None

    return parse


async def wait_for_line(log: Path, ready: ReadyParser, process: Process | None = None) -> dict[str, Any]:
    """Poll `log` until a line satisfies `ready`; fail if the process exits first or the deadline passes."""
    deadline = time.monotonic() + READY_DEADLINE
    offset = 0
    pending = ""
    while time.monotonic() < deadline:
        with log.open("rb") as stream:
            stream.seek(offset)
            chunk = stream.read()
        offset += len(chunk)
        *lines, pending = (pending + chunk.decode(errors="replace")).split("\n")
        for line in lines:
            if (found := ready(line)) is not None:
                return found
        if process is not None and process.returncode is not None:
            raise RuntimeError(f"process exited with {process.returncode} before it was ready; see {log}")
        await anyio.sleep(READY_POLL_SECONDS)
    raise TimeoutError(f"no readiness line within {READY_DEADLINE:g} s; see {log}")


@dataclass
class Launched:
    """A running process and what its readiness line said."""

    process: Process
    ready: dict[str, Any]
    log: Path

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid


@asynccontextmanager
async def launch(
    args: Sequence[str],
    *,
    log: Path,
    ready: ReadyParser | None,
    env: Mapping[str, str] | None = None,
    stop_deadline: float = STOP_DEADLINE,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> AsyncGenerator[Launched]:
    """Start a process with stderr to `log`, wait for its readiness line (none when `ready` is
    None: the caller polls for readiness itself), and stop it on exit."""
    with log.open("wb") as stderr:
        process = await anyio.open_process(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=child_env(env),
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    try:
        info = await wait_for_line(log, ready, process) if ready else {}
        yield Launched(process, info, log)
    finally:
        with anyio.CancelScope(shield=True):
            await stop(process, stop_deadline, stop_signal)


async def stop(process: Process, deadline: float = STOP_DEADLINE, first: signal.Signals = signal.SIGTERM) -> None:
    """Send `first` (SIGTERM), then SIGKILL after the deadline."""
    if process.returncode is None:
        process.send_signal(first)
        with anyio.move_on_after(deadline):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()


async def enter_together(stack: AsyncExitStack, contexts: Sequence[AbstractAsyncContextManager[T]]) -> list[T]:
    """Enter several start-up contexts at once (launches overlap) and leave them with `stack`.

    Only for contexts that hold no cancel scope open while entered, as `launch` does.
    """
    entered: list[T | None] = [None] * len(contexts)

    async def enter(index: int) -> None:
        entered[index] = await stack.enter_async_context(contexts[index])

    async with anyio.create_task_group() as tg:
        for index in range(len(contexts)):
            tg.start_soon(enter, index)
    return [value for value in entered if value is not None]

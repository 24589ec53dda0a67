"""Launching real processes for tests: the proxy and the example servers, with readiness lines."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from mcp import StdioServerParameters

from examples.servers._serve import READY_PREFIX, parse_ready_line

REPO_ROOT = Path(__file__).resolve().parent.parent
START_DEADLINE = 30.0
STOP_DEADLINE = 10.0
# Anywhere in a line: a child's readiness line may arrive relayed inside the proxy's JSON log.
_EXAMPLE_PID = re.compile(rf"{READY_PREFIX}\b[^\n]*?\bpid=(\d+)")


@dataclass
class Spawned:
    """A running child process, with every stderr line it wrote so far."""

    process: Process
    stderr_lines: list[str] = field(default_factory=list)
    ready: dict[str, Any] = field(default_factory=dict)

    def example_pids(self) -> list[int]:
        """The pids announced by example servers this process (or its children) started.

        A readiness line may arrive as written or re-emitted inside the proxy's JSON
        `upstream_stderr` event, so it is looked for anywhere in the line.
        """
        return [int(match) for line in self.stderr_lines for match in _EXAMPLE_PID.findall(line)]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment with the venv's interpreter first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def stdio_proxy(config: Path) -> StdioServerParameters:
    """How a client launches the proxy over stdio with `config`, as desktop clients do."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_proxy", "serve", "--transport", "stdio", "--config", str(config)],
        env=child_env(),
        cwd=REPO_ROOT,
    )


def example_ready(line: str) -> dict[str, Any] | None:
    """Parse an example server's readiness line."""
    return parse_ready_line(line)


def proxy_listening(line: str) -> dict[str, Any] | None:
    """Parse the proxy's `http_listening` log event (JSON log format)."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if isinstance(event, dict) and event.get("event") == "http_listening":
        return event  # pyright: ignore[reportUnknownVariableType]
    return None


@asynccontextmanager
async def spawn(
    args: Sequence[str],
    *,
    ready: Callable[[str], dict[str, Any] | None] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO_ROOT,
) -> AsyncGenerator[Spawned]:
    """Start a process, wait for its readiness line (if `ready` is given), and stop it on exit."""
    process = await anyio.open_process(list(args), env=child_env(env), cwd=cwd, start_new_session=True)
    spawned = Spawned(process)
    found = anyio.Event()

    async def read_stderr() -> None:
        assert process.stderr is not None
        buffer = b""
        async for chunk in process.stderr:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                spawned.stderr_lines.append(line)
                if ready is not None and not found.is_set() and (info := ready(line)) is not None:
                    spawned.ready = info
                    found.set()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_stderr)
            if ready is not None:
                with anyio.fail_after(START_DEADLINE):
                    await found.wait()
            try:
                yield spawned
            finally:
                await stop(process)
                tg.cancel_scope.cancel()
    finally:
        if process.returncode is None:
            process.kill()


async def stop(process: Process) -> None:
    """Ask a process to stop (SIGTERM), and kill it if it does not within the deadline."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    with anyio.move_on_after(STOP_DEADLINE):
        await process.wait()
        return
    process.kill()
    await process.wait()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid still exists (zombies count as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_until_gone(pids: Sequence[int], deadline: float = STOP_DEADLINE) -> list[int]:
    """Poll until every pid has exited or the deadline passes; returns the pids still alive."""
    with anyio.move_on_after(deadline):
        while any(pid_alive(pid) for pid in pids):
            await anyio.sleep(0.05)
    return [pid for pid in pids if pid_alive(pid)]

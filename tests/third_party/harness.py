"""The proxy as a process for the real-client and real-server tests: its configuration, its HTTP front, its log.

Everything here is synchronous (`subprocess` and a reader thread), so a proxy started for a
whole module or session lives in a plain fixture.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT, child_env

PROXY_STARTUP_TIMEOUT_SECONDS = 20
PROXY_START_DEADLINE = 60.0
PROXY_STOP_DEADLINE = 10.0
INFO_LEVELS = {"info", "warning", "error", "critical"}
# What a failed era probe makes a server print: pydantic's validation dump of the request it could
# not parse (`server/discover`), about 95 lines from a server on the Python SDK 1.x.
PROBE_DUMP = re.compile(r"validation errors? for|errors\.pydantic\.dev|input_value=|Input should be|Field required")

TomlValue = str | int | float | Sequence[str] | Mapping[str, str]


def render_config(servers: Mapping[str, Mapping[str, TomlValue]]) -> str:
    """A proxy configuration with these `[servers.<name>]` tables (JSON string escapes are valid TOML)."""

    def value(item: TomlValue) -> str:
        if isinstance(item, str):
            return json.dumps(item)
        if isinstance(item, int | float):
            return str(item)
        if isinstance(item, Mapping):
            return "{ " + ", ".join(f"{key} = {json.dumps(text)}" for key, text in item.items()) + " }"
        return "[" + ", ".join(json.dumps(text) for text in item) + "]"

    lines = ["[proxy]", f"startup_timeout = {PROXY_STARTUP_TIMEOUT_SECONDS}", ""]
    for name, fields in servers.items():
        lines.append(f"[servers.{name}]")
        lines.extend(f"{key} = {value(item)}" for key, item in fields.items())
        lines.append("")
    return "\n".join(lines)


def write_config(path: Path, servers: Mapping[str, Mapping[str, TomlValue]]) -> Path:
    """Write `render_config(servers)` to `path`."""
    path.write_text(render_config(servers))
    return path


def project_module(module: str, *args: str, **fields: TomlValue) -> dict[str, TomlValue]:
    """A stdio server that is a module of this repository, run by this interpreter."""
    return {"command": sys.executable, "args": ["-m", module, *args], "cwd": str(REPO_ROOT), **fields}


def proxy_command(front: str, config: Path) -> list[str]:
    """The command line of the proxy serving `config` on `front` (HTTP on a free port), logging JSON."""
    command = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", front, "--config", str(config)]
    command += ["--log-format", "json"]
    return command if front == "stdio" else [*command, "--port", "0"]


def log_events(lines: Sequence[str]) -> list[dict[str, Any]]:
    """The proxy's JSON log events among these stderr lines."""
    events: list[dict[str, Any]] = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)  # pyright: ignore[reportUnknownArgumentType]
    return events


@dataclass
class RunningProxy:
    """A proxy process serving HTTP (streamable HTTP and SSE), and every stderr line it wrote so far."""

    process: subprocess.Popen[str]
    stderr_lines: list[str] = field(default_factory=list)
    listening: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The streamable HTTP endpoint."""
        return self.listening["url"]

    @property
    def sse_url(self) -> str:
        """The legacy SSE endpoint."""
        return self.listening["sse"]

    def events(self) -> list[dict[str, Any]]:
        """The JSON log events written so far."""
        return log_events(list(self.stderr_lines))


@contextmanager
def http_proxy(config: Path) -> Iterator[RunningProxy]:
    """Start the proxy's HTTP front on a free port, wait until it listens and its start-up settled, stop it after."""
    process = subprocess.Popen(
        proxy_command("http", config),
        cwd=REPO_ROOT,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    running = RunningProxy(process)
    settled = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            running.stderr_lines.append(line.rstrip("\n"))
            event = log_events([line])
            if event and event[0].get("event") == "http_listening":
                running.listening = event[0]
            if event and event[0].get("event") == "startup_complete":
                settled.set()
        settled.set()  # the process ended: nothing more to wait for

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        if not settled.wait(PROXY_START_DEADLINE) or not running.listening:
            tail = "\n".join(running.stderr_lines[-20:])
            raise AssertionError(f"the proxy did not start within {PROXY_START_DEADLINE:g} s:\n{tail}")
        yield running
    finally:
        _stop(process)
        reader.join(PROXY_STOP_DEADLINE)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(PROXY_STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def relayed_probe_dump(proxy: RunningProxy, server: str) -> list[str]:
    """The lines of a failed probe's dump that the proxy relayed from `server` at info level or above."""
    return [
        str(event.get("line", ""))
        for event in proxy.events()
        if event.get("event") == "upstream_stderr"
        and event.get("server") == server
        and event.get("level") in INFO_LEVELS
        and PROBE_DUMP.search(str(event.get("line", "")))
    ]


def assert_quiet_start(proxy: RunningProxy, server: str) -> None:
    """At most one line (a summary) of a failed probe's dump reaches the info-level log."""
    dump = relayed_probe_dump(proxy, server)
    shown = "\n".join(dump[:5])
    assert len(dump) <= 1, f"{len(dump)} lines of {server}'s probe dump relayed at info level, the first:\n{shown}"

"""The real stack for the browser tests, as subprocesses: example servers, the proxy, the chat service.

Synchronous on purpose: Playwright's sync API owns the test thread's event loop. Each process's
stderr is read by a thread that keeps every line and watches for the process's readiness line
(the example servers' `MANIFOLD_EXAMPLE_READY`, the proxy's `http_listening` and the chat
service's `chat_api_listening` JSON log events).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.servers._serve import parse_ready_line

REPO_ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 40.0
STOP_DEADLINE = 10.0

Ready = Callable[[str], dict[str, Any] | None]


@dataclass
class Proc:
    """A running child process and what it wrote to stderr."""

    name: str
    popen: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list[str])
    ready: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, count: int = 40) -> str:
        return "\n".join(self.lines[-count:])

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL if it does not end in time."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(STOP_DEADLINE)


def example_ready(line: str) -> dict[str, Any] | None:
    """An example server's readiness line."""
    parsed = parse_ready_line(line)
    return dict(parsed) if parsed is not None else None


def log_event(name: str) -> Ready:
    """A readiness check for one JSON log event of the proxy or the chat service."""

    def check(line: str) -> dict[str, Any] | None:
        try:
            event = json.loads(line)
        except ValueError:
            return None
        return event if isinstance(event, dict) and event.get("event") == name else None  # pyright: ignore[reportUnknownVariableType]

    return check


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with the test interpreter's folder first on PATH, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "OPENAI_", "ANTHROPIC_", "MCP_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def start(name: str, args: Sequence[str], ready: Ready, env: Mapping[str, str] | None = None) -> Proc:
    """Start a process in its own process group and wait for its readiness line."""
    popen = subprocess.Popen(
        list(args),
        cwd=REPO_ROOT,
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    proc = Proc(name, popen)
    found = threading.Event()

    def read() -> None:
        assert popen.stderr is not None
        for raw in popen.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            proc.lines.append(line)
            if not found.is_set() and (info := ready(line)) is not None:
                proc.ready = info
                found.set()

    threading.Thread(target=read, name=f"stderr-{name}", daemon=True).start()
    deadline = time.monotonic() + START_DEADLINE
    while not found.wait(0.1):
        if popen.poll() is not None or time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"{name} did not start (exit code {popen.poll()}):\n{proc.log_tail()}")
    return proc


def example_server(name: str, transport: str, module: str | None = None) -> Proc:
    """An example server (or the jobs server) on a free loopback port."""
    module = module or f"examples.servers.{name}"
    args = [sys.executable, "-m", module, "--transport", transport, "--port", "0"]
    return start(name, args, example_ready)


def write_config(folder: Path, upstreams: Mapping[str, Proc]) -> Path:
    """The proxy's servers.toml: database and jobs over stdio, the others at their HTTP/SSE URLs."""
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    db = json.dumps(str(folder / "shop.db"))
    tables = [
        "[proxy]\nstartup_timeout = 20\n",
        "[server_defaults]\nhealth_interval = 1\nhealth_timeout = 2\nhealth_failures = 1\n",
        f'[servers.database]\ntransport = "stdio"\ncommand = {python}\n'
        f'args = ["-m", "examples.servers.database"]\ncwd = {root}\nenv = {{ DB_PATH = {db} }}\n',
        f'[servers.jobs]\ntransport = "stdio"\ncommand = {python}\n'
        f'args = ["-m", "tests.e2e.jobs_server"]\ncwd = {root}\n',
    ]
    for name, proc in upstreams.items():
        transport = proc.ready["transport"]
        tables.append(f'[servers.{name}]\ntransport = "{transport}"\nurl = {json.dumps(proc.ready["url"])}\n')
    path = folder / "servers.toml"
    path.write_text("\n".join(tables))
    return path


def proxy(config: Path) -> Proc:
    """The proxy over streamable HTTP on a free port."""
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json"]
    return start("proxy", args, log_event("http_listening"))


def chat_service(mcp_url: str, llm_base_url: str | None) -> Proc:
    """The chat service (with the web UI) on a free port, talking to `mcp_url`."""
    env = {
        "MCP_SERVER_URL": mcp_url,
        "CHAT_API_HOST": "127.0.0.1",
        "CHAT_API_PORT": "0",
        "CHAT_API_LOG_FORMAT": "json",
        "CHAT_API_MCP_HEALTH_INTERVAL": "1",
        "CHAT_API_MCP_RECONNECT_MAX_DELAY": "2",
    }
    if llm_base_url is None:
        env["LLM_PROVIDER"] = "none"
    else:
        env.update({"LLM_BASE_URL": llm_base_url, "LLM_API_KEY": "test", "LLM_MODEL": "scripted-model"})
    args = [sys.executable, "-m", "tests.e2e.serve_chat"]
    return start("chat_api", args, log_event("chat_api_listening"), env)


@dataclass
class Stack:
    """Every process of one stack, with the URLs the tests need."""

    folder: Path
    procs: dict[str, Proc] = field(default_factory=dict[str, Proc])

    @property
    def mcp_url(self) -> str:
        return str(self.procs["proxy"].ready["url"])

    def chat_url(self, name: str) -> str:
        return str(self.procs[name].ready["url"]).rstrip("/")

    def add_chat(self, name: str, llm_base_url: str | None) -> str:
        """Start one more chat service on this stack's proxy; returns its base URL."""
        self.procs[name] = chat_service(self.mcp_url, llm_base_url)
        return self.chat_url(name)

    def stop(self) -> None:
        """Stop everything, the chat services first and the upstreams last."""
        for proc in reversed(list(self.procs.values())):
            proc.stop()


def start_stack(folder: Path) -> Stack:
    """github (streamable HTTP) and files (legacy SSE) as their own processes, then the proxy."""
    stack = Stack(folder)
    try:
        stack.procs["github"] = example_server("github", "http")
        stack.procs["files"] = example_server("files", "sse")
        config = write_config(folder, {"github": stack.procs["github"], "files": stack.procs["files"]})
        stack.procs["proxy"] = proxy(config)
    except BaseException:
        stack.stop()
        raise
    return stack

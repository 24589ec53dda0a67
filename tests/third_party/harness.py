"""The proxy and the third-party clients as processes, for the real-client and real-server tests.

Everything here is synchronous (`subprocess`): a proxy started for a whole module lives in a
plain fixture, and each client is a program that runs its steps and prints one JSON report.
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

from .install import INSPECTOR_PACKAGE, TS_SDK_PACKAGE, InstalledTree
from .python_envs import InstalledEnv

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
PROXY_STARTUP_TIMEOUT_SECONDS = 20
PROXY_START_DEADLINE = 60.0
PROXY_STOP_DEADLINE = 10.0
# One client run: it may start a proxy over stdio (and that its upstreams) before its steps.
CLIENT_DEADLINE = 120.0
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


@dataclass(frozen=True)
class ClientRun:
    """What one client program printed: its JSON report (stdout) and its stderr."""

    report: dict[str, Any]
    stderr: str


def run_json_program(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path = REPO_ROOT
) -> ClientRun:
    """Run a client program to the end and parse the JSON document it printed on stdout."""
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLIENT_DEADLINE,
    )
    tail = "\n".join(done.stderr.strip().splitlines()[-30:])
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(
            f"`{' '.join(command[:3])} ...` exited {done.returncode} without a JSON report:\n"
            f"stdout: {done.stdout[-2000:]}\nstderr: {tail}"
        ) from None
    return ClientRun(report=report, stderr=done.stderr)


@dataclass(frozen=True)
class Target:
    """How a client reaches the proxy: a command it launches (stdio) or a URL (http, sse)."""

    front: str
    command: tuple[str, ...] = ()
    url: str = ""

    def spec(self) -> dict[str, Any]:
        """The connection part of a client script's spec."""
        if self.front == "stdio":
            return {"transport": "stdio", "command": self.command[0], "args": list(self.command[1:])}
        return {"transport": self.front, "url": self.url}


def target_for(front: str, config: Path, proxy: RunningProxy | None) -> Target:
    """The stdio command for `config`, or the URL of the running proxy's HTTP or SSE front."""
    if front == "stdio":
        return Target(front, command=tuple(proxy_command("stdio", config)))
    assert proxy is not None, "the http and sse fronts need a running proxy"
    return Target(front, url=proxy.url if front == "http" else proxy.sse_url)


def run_ts_client(clients: InstalledTree, spec: Mapping[str, Any]) -> ClientRun:
    """`clients/ts_client.mjs` on Node 22 with the pinned TypeScript SDK."""
    script = CLIENTS_DIR / "ts_client.mjs"
    sdk = clients.package_dir(TS_SDK_PACKAGE)
    return run_json_program([str(clients.node), str(script), str(sdk), json.dumps(spec)])


def run_python_client(env: InstalledEnv, spec: Mapping[str, Any]) -> ClientRun:
    """`clients/python_client.py` with the Python SDK 1.x of its own venv."""
    return run_json_program([str(env.python), str(CLIENTS_DIR / "python_client.py"), json.dumps(spec)])


def run_inspector(clients: InstalledTree, target: Target, home: Path, *options: str) -> ClientRun:
    """The MCP Inspector's CLI mode (`--cli`) against the target, with `options` (`--method ...`)."""
    package = clients.package_dir(INSPECTOR_PACKAGE)
    manifest = json.loads((package / "package.json").read_text())
    launcher = package / manifest["bin"]["mcp-inspector"]
    command = [str(clients.node), str(launcher), "--cli"]
    if target.front == "stdio":
        # Everything after `--` is the server's command line, its own flags included.
        command += [*options, "--", *target.command]
    else:
        command += [target.url, "--transport", target.front, *options]
    # Its catalog of servers lives under the home folder: keep it out of the real one.
    home.mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "MCP_CATALOG_PATH": str(home / "catalog.json")}
    return run_json_program(command, env=env)


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


SCRIPTED_CLIENTS = ("typescript-sdk", "python-sdk-1")
# A pause after each progress update: the TypeScript SDK drops an update it reads in the same
# chunk as the call's result (it handles notifications a tick later than responses).
PROGRESS_PAUSE = 0.05


def sampled_text(client: str) -> str:
    """What a scripted client's model answers to every sampling request."""
    return f"the model of {client} answers"


def asked_prompt(client: str, prefix: str) -> str:
    """The prompt a scripted client sends to `<prefix>ask_llm` (so the sampling request carries it)."""
    return f"{'ts' if client == 'typescript-sdk' else 'python'} asks {prefix}"


class ScriptedClients:
    """The TypeScript and Python SDK clients' reports per front, each run once on first use.

    Their spec: list the tools, call `demo__echo`, call `demo__slow` with a progress handler,
    and for each of `ask_prefixes` call `<prefix>ask_llm` and `<prefix>show_roots`, answering
    sampling with `sampled_text(client)` and roots/list with `roots`.
    """

    def __init__(
        self,
        config: Path,
        proxy: RunningProxy,
        npm_clients: InstalledTree,
        sdk1: InstalledEnv,
        *,
        ask_prefixes: Sequence[str],
        roots: Sequence[str],
    ) -> None:
        self._config, self._proxy, self._npm, self._sdk1 = config, proxy, npm_clients, sdk1
        self._ask_prefixes, self._roots = list(ask_prefixes), list(roots)
        self._runs: dict[tuple[str, str], ClientRun] = {}

    def report(self, client: str, front: str) -> dict[str, Any]:
        """The report of `client` (one of `SCRIPTED_CLIENTS`) through `front`."""
        key = (client, front)
        if key not in self._runs:
            spec = {
                **target_for(front, self._config, self._proxy).spec(),
                "tool_prefix": "demo__",
                "ask_prefixes": self._ask_prefixes,
                "roots": self._roots,
                "sampled_text": sampled_text(client),
                "progress_pause": PROGRESS_PAUSE,
            }
            if client == "typescript-sdk":
                self._runs[key] = run_ts_client(self._npm, spec)
            else:
                self._runs[key] = run_python_client(self._sdk1, spec)
        return self._runs[key].report


def outcome(report: dict[str, Any], step: str) -> Any:
    """A step's value from a scripted client's report; a failed step fails the test with the client's message."""
    result = report.get(step)
    assert isinstance(result, dict), f"the client did not reach step {step!r}: {report}"
    assert "error" not in result, f"{report['client']} step {step!r} failed: {result['error']}"
    return result["ok"]  # pyright: ignore[reportUnknownVariableType]

"""The third-party clients as programs: each runs its steps against the proxy and prints one JSON report.

The Inspector's CLI runs one method per process; the TypeScript and Python SDK scripts
(`clients/`) run every step in one connection. `ScriptedClients` runs each script once per front
and keeps the report, so every test reads one step of it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT, child_env

from .harness import RunningProxy, proxy_command
from .install import INSPECTOR_PACKAGE, TS_SDK_PACKAGE, InstalledTree
from .python_envs import InstalledEnv

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
# One client run: it may start a proxy over stdio (and that its upstreams) before its steps.
CLIENT_DEADLINE = 120.0


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

"""Starting what a setup needs: the fixtures and proxies, their configurations and their logs.

Every process starts on a free port (port 0 plus a readiness line) and is stopped on exit;
what it wrote on stderr is kept in the setup's work folder, whether it came up or not.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT, Spawned, example_ready, proxy_listening, spawn

FIXTURE_MODULE = "tests.conformance.fixture"
PUSH_FIXTURE_MODULE = "tests.conformance.push_fixture"
PROXY_STARTUP_TIMEOUT_SECONDS = 20
TomlValue = str | int | Sequence[str] | Mapping[str, str]
Servers = Mapping[str, Mapping[str, TomlValue]]


def fixture_command(transport: str, module: str = FIXTURE_MODULE) -> list[str]:
    """The command line that serves a fixture on `transport` (HTTP ones on a free port)."""
    command = [sys.executable, "-m", module, "--transport", transport]
    return command if transport == "stdio" else [*command, "--port", "0"]


def render_toml_value(value: TomlValue) -> str:
    """A TOML literal for a string, integer, list of strings or table of strings.

    JSON string escapes are valid TOML basic-string escapes, so `json.dumps` quotes safely.
    """
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {json.dumps(item)}" for key, item in value.items()) + " }"
    return "[" + ", ".join(json.dumps(item) for item in value) + "]"


def render_config(servers: Servers) -> str:
    """A proxy configuration file with these `[servers.<name>]` tables."""
    lines = ["[proxy]", f"startup_timeout = {PROXY_STARTUP_TIMEOUT_SECONDS}", ""]
    for name, fields in servers.items():
        lines.append(f"[servers.{name}]")
        lines.extend(f"{key} = {render_toml_value(value)}" for key, value in fields.items())
        lines.append("")
    return "\n".join(lines)


def bare_over_stdio(command: Sequence[str]) -> dict[str, TomlValue]:
    """A stdio upstream started with `command` from the repository, its names exposed unprefixed."""
    return {"transport": "stdio", "command": command[0], "args": list(command[1:]), "cwd": str(REPO_ROOT), "prefix": ""}


def bare_fixture_over_stdio(module: str = FIXTURE_MODULE) -> dict[str, TomlValue]:
    """A fixture as a stdio upstream whose names are exposed unprefixed."""
    return bare_over_stdio(fixture_command("stdio", module))


def bare_fixture_at(transport: str, url: str) -> dict[str, TomlValue]:
    """A remote (http or sse) upstream whose names are exposed unprefixed."""
    return {"transport": transport, "url": url, "prefix": ""}


def example_database(db_path: Path) -> dict[str, TomlValue]:
    """The example database server over stdio, on its own copy of the sample database."""
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", "examples.servers.database"],
        "cwd": str(REPO_ROOT),
        "env": {"DB_PATH": str(db_path)},
    }


FAST_PATH_VARIABLE = "MCP_PROXY_FAST_PATH"
"""Turns the proxies' lean relay on ("1") or off ("0"); `run.py --fast-path` sets it for every proxy."""


def proxy_command(transport: str, config: Path) -> list[str]:
    """The command line of a proxy serving `config` on `transport` (HTTP on a free port)."""
    command = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", transport, "--config", str(config)]
    command += ["--log-format", "json"]
    return command if transport == "stdio" else [*command, "--port", "0"]


def write_config(servers: Servers, path: Path) -> Path:
    """Write a proxy configuration with these upstreams to `path`."""
    path.write_text(render_config(servers))
    return path


class SetupError(RuntimeError):
    """A process of a setup did not come up; the message says which and where its log is."""


@asynccontextmanager
async def spawn_logged(
    command: Sequence[str], parse_ready: Callable[[str], dict[str, Any] | None], log_path: Path
) -> AsyncIterator[Spawned]:
    """`spawn` that always leaves the process's stderr in `log_path`, even when it never got ready."""
    startup_lines: list[str] = []

    def ready(line: str) -> dict[str, Any] | None:
        startup_lines.append(line)
        return parse_ready(line)

    spawned: Spawned | None = None
    try:
        async with spawn(command, ready=ready) as spawned:
            yield spawned
    except TimeoutError as exc:
        if spawned is None:
            raise SetupError(f"{log_path.stem} did not report ready; see {log_path}") from exc
        raise
    finally:
        log_path.write_text("\n".join(spawned.stderr_lines if spawned else startup_lines) + "\n")


@asynccontextmanager
async def running_fixture(transport: str, workdir: Path, module: str = FIXTURE_MODULE) -> AsyncIterator[str]:
    """Serve a fixture over `transport` ("http" or "sse"); yields the URL it announced."""
    log = workdir / f"{module.rsplit('.', 1)[-1]}-{transport}.log"
    async with spawn_logged(fixture_command(transport, module), example_ready, log) as fixture:
        yield fixture.ready["url"]


@asynccontextmanager
async def running_proxy(servers: Servers, workdir: Path, name: str = "proxy") -> AsyncIterator[dict[str, Any]]:
    """Run a proxy over HTTP with these upstreams; yields its `http_listening` event (`url`, `sse`, ...)."""
    config = write_config(servers, workdir / f"{name}.toml")
    async with spawn_logged(proxy_command("http", config), proxy_listening, workdir / f"{name}.log") as proxy:
        yield proxy.ready

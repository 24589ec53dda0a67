"""The setups the suite runs against: the fixture alone, and the fixture behind the proxy.

Each setup is an async context manager that starts what it needs on free ports (port 0 plus
readiness lines), yields the streamable HTTP URL the suite should test, and stops every process
on exit. What the processes wrote on stderr is kept in the setup's work folder for diagnosis.

* ``direct-http``: the fixture itself over streamable HTTP: the reference the others must match.
* ``proxy-stdio`` / ``proxy-http`` / ``proxy-sse``: the fixture as the proxy's only upstream,
  over that transport, with ``prefix = ""`` so the proxy should be invisible.
* ``proxy-two-upstreams``: the same bare-named fixture plus the example database server under
  its own prefix, so aggregation must not disturb the fixture's names, URIs or capabilities.
* ``proxy-stdio-legacy``: as ``proxy-stdio``, but the proxy must speak the handshake era to the
  fixture (``protocol = "legacy"``). The other setups let the proxy pick, and it picks 2026, so
  this is the one where sampling and elicitation are pushed by the upstream and logging levels
  are set with ``logging/setLevel``: the other era combination the suite can reach.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT, Spawned, example_ready, proxy_listening, spawn

FIXTURE_MODULE = "tests.conformance.fixture"
PROXY_STARTUP_TIMEOUT_SECONDS = 20
TomlValue = str | int | Sequence[str] | Mapping[str, str]
Setup = Callable[[Path], AbstractAsyncContextManager[str]]


def fixture_command(transport: str) -> list[str]:
    """The command line that serves the fixture on `transport` (HTTP ones on a free port)."""
    command = [sys.executable, "-m", FIXTURE_MODULE, "--transport", transport]
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


def render_config(servers: Mapping[str, Mapping[str, TomlValue]]) -> str:
    """A proxy configuration file with these `[servers.<name>]` tables."""
    lines = ["[proxy]", f"startup_timeout = {PROXY_STARTUP_TIMEOUT_SECONDS}", ""]
    for name, fields in servers.items():
        lines.append(f"[servers.{name}]")
        lines.extend(f"{key} = {render_toml_value(value)}" for key, value in fields.items())
        lines.append("")
    return "\n".join(lines)


def bare_fixture_over_stdio() -> dict[str, TomlValue]:
    """The fixture as a stdio upstream whose names are exposed unprefixed."""
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": fixture_command("stdio")[1:],
        "cwd": str(REPO_ROOT),
        "prefix": "",
    }


def bare_fixture_at(transport: str, url: str) -> dict[str, TomlValue]:
    """The fixture as a remote (http or sse) upstream whose names are exposed unprefixed."""
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


class SetupError(RuntimeError):
    """A process of a setup did not come up; the message says which and where its log is."""


@asynccontextmanager
async def _spawn_logged(
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
async def running_fixture(transport: str, workdir: Path) -> AsyncIterator[str]:
    """Serve the fixture over `transport` ("http" or "sse"); yields the URL it announced."""
    async with _spawn_logged(
        fixture_command(transport), example_ready, workdir / f"fixture-{transport}.log"
    ) as fixture:
        yield fixture.ready["url"]


@asynccontextmanager
async def running_proxy(servers: Mapping[str, Mapping[str, TomlValue]], workdir: Path) -> AsyncIterator[str]:
    """Run the proxy over streamable HTTP with these upstreams; yields its `/mcp` URL."""
    config = workdir / "servers.toml"
    config.write_text(render_config(servers))
    command = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    command += ["--config", str(config), "--log-format", "json"]
    async with _spawn_logged(command, proxy_listening, workdir / "proxy.log") as proxy:
        yield proxy.ready["url"]


@asynccontextmanager
async def direct_http(workdir: Path) -> AsyncIterator[str]:
    async with running_fixture("http", workdir) as url:
        yield url


@asynccontextmanager
async def proxy_stdio(workdir: Path) -> AsyncIterator[str]:
    async with running_proxy({"fixture": bare_fixture_over_stdio()}, workdir) as url:
        yield url


@asynccontextmanager
async def proxy_http(workdir: Path) -> AsyncIterator[str]:
    async with (
        running_fixture("http", workdir) as upstream,
        running_proxy({"fixture": bare_fixture_at("http", upstream)}, workdir) as url,
    ):
        yield url


@asynccontextmanager
async def proxy_sse(workdir: Path) -> AsyncIterator[str]:
    async with (
        running_fixture("sse", workdir) as upstream,
        running_proxy({"fixture": bare_fixture_at("sse", upstream)}, workdir) as url,
    ):
        yield url


@asynccontextmanager
async def proxy_stdio_legacy(workdir: Path) -> AsyncIterator[str]:
    async with running_proxy({"fixture": {**bare_fixture_over_stdio(), "protocol": "legacy"}}, workdir) as url:
        yield url


@asynccontextmanager
async def proxy_two_upstreams(workdir: Path) -> AsyncIterator[str]:
    servers = {"fixture": bare_fixture_over_stdio(), "database": example_database(workdir / "shop.db")}
    async with running_proxy(servers, workdir) as url:
        yield url


SETUPS: dict[str, Setup] = {
    "direct-http": direct_http,
    "proxy-stdio": proxy_stdio,
    "proxy-http": proxy_http,
    "proxy-sse": proxy_sse,
    "proxy-two-upstreams": proxy_two_upstreams,
    "proxy-stdio-legacy": proxy_stdio_legacy,
}

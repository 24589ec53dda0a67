"""The proxy launched the way desktop clients launch it serves the bundled configuration.

Claude Desktop, IDEs and the MCP Inspector start `/abs/.venv/bin/mcp-proxy serve --transport
stdio --config /abs/servers.toml` with almost no environment: `HOME` and a short `PATH` without
the project's virtual environment (on Debian there is no `python` there at all), from a folder of
their own. The repository's own `servers.toml` must serve every example tool that way, and
`mcp-proxy check`, run the same way, must agree.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.server import MCPServer

from examples.servers import database, files, github
from tests.processes import REPO_ROOT

pytestmark = pytest.mark.anyio

VENV_PROXY = Path(sys.executable).parent / "mcp-proxy"
"""The venv's console script, by absolute path, as a desktop client's configuration names it."""
BUNDLED_CONFIG = REPO_ROOT / "servers.toml"
DESKTOP_PATH = "/usr/bin:/bin"
ENV_PROGRAM = "/usr/bin/env"
LIST_DEADLINE = 60.0
SUBPROCESS_DEADLINE = 60.0
SELECT = "SELECT name FROM customers ORDER BY id LIMIT 2"


def desktop_command(home: Path, *args: str) -> list[str]:
    """`mcp-proxy args...` with the environment a desktop client gives it: HOME and PATH, nothing else."""
    return [ENV_PROGRAM, "-i", f"HOME={home}", f"PATH={DESKTOP_PATH}", str(VENV_PROXY), *args]


def run_as_a_desktop_client_would(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        desktop_command(home, *args),
        cwd=cwd,
        env={},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_DEADLINE,
        check=False,
    )


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory that is not the repository, and holds nothing the proxy could use."""
    folder = tmp_path / "launched-from"
    folder.mkdir()
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


async def tools_of(server: MCPServer) -> set[str]:
    async with Client(server) as client:
        return {tool.name for tool in (await client.list_tools()).tools}


@pytest.fixture
async def example_tools(tmp_path: Path) -> set[str]:
    """Every tool of the three example servers, under the names the bundled configuration exposes."""
    servers = {
        "database": database.build_server(tmp_path / "shop.db"),
        "github": github.build_server(),
        "files": files.build_server(),
    }
    return {f"{name}__{tool}" for name, server in servers.items() for tool in await tools_of(server)}


@pytest.fixture
async def desktop_client(home: Path, elsewhere: Path, tmp_path: Path) -> AsyncGenerator[Client]:
    """An MCP client that launched the proxy as Claude Desktop does, speaking the handshake era."""
    command, *args = desktop_command(home, "serve", "--transport", "stdio", "--config", str(BUNDLED_CONFIG))
    params = StdioServerParameters(command=command, args=args, cwd=elsewhere)
    with (tmp_path / "proxy.stderr").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy", cache=None) as client:
            yield client


async def listed_tools(client: Client, expected: set[str]) -> set[str]:
    """The proxy's tools once `expected` are all listed, or what it lists at the deadline.

    Servers the proxy's start-up did not wait for join a little later; a client sees them when it
    lists again, as a desktop client does on `list_changed`.
    """
    names: set[str] = set()
    with anyio.move_on_after(LIST_DEADLINE):
        while not expected <= (names := {tool.name for tool in (await client.list_tools()).tools}):
            await anyio.sleep(0.2)
    return names


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(part.text for part in result.content if isinstance(part, types.TextContent))


def test_the_launch_environment_has_neither_the_venv_nor_its_python() -> None:
    # What makes the test below mean something: the children cannot be found through PATH.
    assert str(Path(sys.executable).parent) not in DESKTOP_PATH.split(":")
    assert Path(ENV_PROGRAM).is_file() and VENV_PROXY.is_file()


async def test_a_desktop_launch_of_the_bundled_configuration_serves_every_example_tool(
    desktop_client: Client, example_tools: set[str], tmp_path: Path
) -> None:
    assert len(example_tools) >= 9  # three servers, three tools each at least
    listed = await listed_tools(desktop_client, example_tools)
    assert example_tools <= listed, (
        f"missing {sorted(example_tools - listed)}; proxy stderr:\n" + (tmp_path / "proxy.stderr").read_text()[-4000:]
    )
    # Relative paths of the configuration (DB_PATH, FILES_ROOT) resolve beside the file, not in
    # the folder the client launched the proxy from.
    rows = await desktop_client.call_tool("database__execute_query", {"sql": SELECT})
    assert rows.is_error is not True
    assert "Amara Okafor" in text_of(rows)
    listing = await desktop_client.call_tool("files__list_directory", {"path": "."})
    assert listing.is_error is not True
    assert "README.md" in text_of(listing)


def test_check_run_as_a_desktop_client_runs_the_proxy_passes_the_bundled_configuration(
    home: Path, elsewhere: Path
) -> None:
    finished = run_as_a_desktop_client_would(home, elsewhere, "check", "--config", str(BUNDLED_CONFIG))
    assert finished.returncode == 0, finished.stderr
    assert "3 server(s), 3 enabled: configuration OK" in finished.stdout
    assert f"target:    {sys.executable} -m examples.servers.database" in finished.stdout


def test_check_run_as_a_desktop_client_runs_the_proxy_fails_a_python_it_cannot_find(
    home: Path, elsewhere: Path, tmp_path: Path
) -> None:
    config = tmp_path / "servers.toml"
    config.write_text(
        '[servers.database]\ncommand = "python"\nargs = ["-m", "examples.servers.database"]\n'
        f'cwd = "{REPO_ROOT}"\nenv = {{ PATH = "{elsewhere}" }}\n'
    )
    finished = run_as_a_desktop_client_would(home, elsewhere, "check", "--config", str(config))
    assert finished.returncode == 1
    assert finished.stdout == ""
    assert (
        f"{config}: server 'database': field 'command': 'python' is not found on the PATH set in its env"
    ) in finished.stderr
    assert 'write module = "examples.servers.database"' in finished.stderr

"""The installed third-party servers and clients, shared by every test of the session."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conformance.toolchain import ToolchainError

from .harness import RunningProxy, TomlValue, http_proxy, write_config
from .install import (
    FILESYSTEM_PACKAGE,
    MEMORY_PACKAGE,
    NPM_CLIENTS,
    NPM_SERVERS,
    PACKAGE,
    VERSION,
    InstalledTree,
    ServerEverything,
    ensure_npm_tree,
    ensure_server_everything,
)
from .python_envs import FETCH_SERVER, GIT_SERVER, SDK1_CLIENT, TIME_SERVER, InstalledEnv, ensure_python_env
from .workspaces import loopback_page, make_repository

T = TypeVar("T")


def _progress(message: str) -> None:
    print(f"third_party: {message}", file=sys.stderr, flush=True)


def _installed(what: str, install: Callable[[], T]) -> T:
    try:
        return install()
    except ToolchainError as exc:
        problem = str(exc)
    # Not a skip: a run that could not install what it drives has not tested anything.
    pytest.fail(f"cannot install {what} for the third-party tests: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def server_everything() -> ServerEverything:
    """The pinned server-everything, installed first if missing; an install failure fails the tests."""
    return _installed(f"{PACKAGE}@{VERSION}", lambda: ensure_server_everything(log=_progress))


@pytest.fixture(scope="session")
def npm_servers() -> InstalledTree:
    """The pinned filesystem and memory servers."""
    return _installed(NPM_SERVERS.name, lambda: ensure_npm_tree(NPM_SERVERS, log=_progress))


@pytest.fixture(scope="session")
def npm_clients() -> InstalledTree:
    """The pinned MCP Inspector and TypeScript SDK."""
    return _installed(NPM_CLIENTS.name, lambda: ensure_npm_tree(NPM_CLIENTS, log=_progress))


@pytest.fixture(scope="session")
def sdk1_client() -> InstalledEnv:
    """A venv with the Python SDK 1.x, for `clients/python_client.py`."""
    return _installed(SDK1_CLIENT.name, lambda: ensure_python_env(SDK1_CLIENT, log=_progress))


@pytest.fixture(scope="session")
def time_server() -> InstalledEnv:
    """A venv with `mcp-server-time` on the Python SDK 1.x."""
    return _installed(TIME_SERVER.name, lambda: ensure_python_env(TIME_SERVER, log=_progress))


@pytest.fixture(scope="session")
def git_server() -> InstalledEnv:
    """A venv with `mcp-server-git` on the Python SDK 1.x."""
    return _installed(GIT_SERVER.name, lambda: ensure_python_env(GIT_SERVER, log=_progress))


@pytest.fixture(scope="session")
def fetch_server() -> InstalledEnv:
    """A venv with `mcp-server-fetch` on the Python SDK 1.x."""
    return _installed(FETCH_SERVER.name, lambda: ensure_python_env(FETCH_SERVER, log=_progress))


@pytest.fixture(scope="session")
def loopback_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A page served on 127.0.0.1, for the fetch server."""
    with loopback_page(tmp_path_factory.mktemp("site")) as url:
        yield url


@pytest.fixture(scope="session")
def git_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with one commit and one untracked file, for the git server."""
    return make_repository(tmp_path_factory.mktemp("repository"))


@pytest.fixture(scope="session")
def real_servers_proxy(
    tmp_path_factory: pytest.TempPathFactory,
    server_everything: ServerEverything,
    npm_servers: InstalledTree,
    time_server: InstalledEnv,
    git_server: InstalledEnv,
    fetch_server: InstalledEnv,
    git_repository: Path,
) -> Iterator[RunningProxy]:
    """One proxy (HTTP front) with every real server behind it, each left to the era probe (`protocol = "auto"`)."""
    folder = tmp_path_factory.mktemp("real-servers")
    command, args = server_everything.stdio_command()
    node = str(npm_servers.node)
    servers: dict[str, dict[str, TomlValue]] = {
        "everything": {"command": command, "args": args},
        # Started without directories: the ones it may serve come from the client's roots.
        "filesystem": {
            "command": node,
            "args": [str(npm_servers.package_dir(FILESYSTEM_PACKAGE) / "dist" / "index.js")],
        },
        "memory": {
            "command": node,
            "args": [str(npm_servers.package_dir(MEMORY_PACKAGE) / "dist" / "index.js")],
            "env": {"MEMORY_FILE_PATH": str(folder / "memory.jsonl")},
        },
        "time": {"command": str(time_server.script("mcp-server-time")), "args": ["--local-timezone", "UTC"]},
        "git": {"command": str(git_server.script("mcp-server-git")), "args": ["--repository", str(git_repository)]},
        # No `node` on its PATH: with one, its HTML simplifier (readabilipy) runs `npm install`
        # into its own package on first use and prints npm's output on stdout, the MCP stream.
        # Without, it simplifies in Python, as documented.
        "fetch": {
            "command": str(fetch_server.script("mcp-server-fetch")),
            "env": {"PATH": str(fetch_server.python.parent)},
        },
    }
    with http_proxy(write_config(folder / "servers.toml", servers)) as proxy:
        yield proxy

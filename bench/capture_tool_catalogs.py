"""Capture the `tools/list` of real MCP servers into the tool-search fixture.

    .venv/bin/python -m bench.capture_tool_catalogs [--only NAME ...]

Each server below is installed at a pinned version (if it is not installed yet), started over
stdio, asked for its tools through the SDK's client (every page), and stopped; its tools are
written to `tests/fixtures/tool_catalogs/<name>.json` with the package, version and licence,
and `README.md` there is written again from all the fixture files. The servers already pinned
for `tests/third_party` come from there (same installs); the others are installed into
`.conformance/tool-catalogs/` (git-ignored): npm packages with `npm install --ignore-scripts`
on the pinned Node 22, PyPI packages into a venv of their own.

Nothing is called: listing needs no credentials and no browser, so the GitHub server gets a
placeholder token and the browser servers never start one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conformance.toolchain import TOOLS_DIR, ensure_toolchain
from tests.third_party.install import NPM_SERVERS, ensure_npm_tree, ensure_server_everything
from tests.third_party.python_envs import FETCH_SERVER, GIT_SERVER, TIME_SERVER, ensure_python_env

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_DIR = REPO_ROOT / "tests" / "fixtures" / "tool_catalogs"
EXTRAS_DIR = TOOLS_DIR / "tool-catalogs"
LIST_TIMEOUT_SECONDS = 60.0
INSTALL_TIMEOUT_SECONDS = 600.0
# The reference servers' npm packages say "SEE LICENSE IN LICENSE" without shipping the file;
# each one's README says it is under the MIT License of its repository (modelcontextprotocol/servers).
REFERENCE_LICENCE = "MIT (per its README)"

# Extra npm packages, installed together into one folder: (package, version).
EXTRA_NPM = (
    ("@modelcontextprotocol/server-sequential-thinking", "2026.8.31"),
    ("@modelcontextprotocol/server-github", "2025.4.8"),
    ("@modelcontextprotocol/server-puppeteer", "2025.5.12"),
    ("@playwright/mcp", "0.0.83"),
)
# Extra PyPI servers on the 1.x SDK, each in a venv of its own: (package, version, pins).
EXTRA_PYPI = (("mcp-server-sqlite", "2025.4.25", ("mcp==1.30.0",)),)


@dataclass(frozen=True)
class Launch:
    """How to start one server over stdio, and what it is."""

    command: str
    args: list[str]
    package: str
    version: str
    licence: str
    env: dict[str, str] | None = None


@dataclass(frozen=True)
class Workspace:
    """Scratch places some servers need at start-up (a directory, a repository, a database)."""

    root: Path

    def folder(self, name: str) -> Path:
        """A fresh folder under the workspace."""
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _npm_extras() -> Path:
    folder = EXTRAS_DIR / "npm"
    wanted = dict(EXTRA_NPM)
    if all(_npm_version(folder, package) == version for package, version in wanted.items()):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "package.json").exists():
        (folder / "package.json").write_text('{"private": true}\n')
    node = ensure_toolchain(log=_log).node
    specs = [f"{package}@{version}" for package, version in wanted.items()]
    _log(f"installing {', '.join(specs)} into {folder}")
    subprocess.run(
        ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--cache", str(TOOLS_DIR / "npm-cache")]
        + specs,
        cwd=folder,
        env={"PATH": f"{node.parent}:/usr/bin:/bin", "HOME": str(Path.home())},
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    return folder


def _npm_version(folder: Path, package: str) -> str | None:
    manifest = folder / "node_modules" / package / "package.json"
    return json.loads(manifest.read_text()).get("version") if manifest.is_file() else None


def _pypi_extra(package: str, version: str, pins: tuple[str, ...]) -> Path:
    venv = EXTRAS_DIR / package
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    wanted = " ".join((f"{package}=={version}", *pins))
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return venv
    _log(f"installing {wanted} into {venv}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=INSTALL_TIMEOUT_SECONDS)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *wanted.split()], check=True, timeout=INSTALL_TIMEOUT_SECONDS
    )
    stamp.write_text(wanted + "\n")
    return venv


def _node_launch(node: Path, folder: Path, package: str, entry: str, *args: str, licence: str = "") -> Launch:
    version = _npm_version(folder, package) or "?"
    declared = json.loads((folder / "node_modules" / package / "package.json").read_text()).get("license", "")
    licence = licence or (REFERENCE_LICENCE if declared.startswith("SEE LICENSE") else declared)
    return Launch(str(node), [str(folder / "node_modules" / package / entry), *args], package, version, licence)


def _launches(work: Workspace) -> dict[str, Callable[[], Launch]]:
    """Every server of the fixture, by the name it gets in the combined catalog."""

    def everything() -> Launch:
        server = ensure_server_everything(log=_log)
        folder = server.entry.parent.parent.parent.parent.parent
        return _node_launch(server.node, folder, "@modelcontextprotocol/server-everything", "dist/index.js", "stdio")

    def npm_servers(package: str, *args: str) -> Launch:
        tree = ensure_npm_tree(NPM_SERVERS, log=_log)
        return _node_launch(tree.node, tree.folder, package, "dist/index.js", *args)

    def filesystem() -> Launch:
        return npm_servers("@modelcontextprotocol/server-filesystem", str(work.folder("files")))

    def memory() -> Launch:
        launch = npm_servers("@modelcontextprotocol/server-memory")
        return Launch(**{**launch.__dict__, "env": {"MEMORY_FILE_PATH": str(work.folder("memory") / "memory.jsonl")}})

    def extra(package: str, entry: str, *args: str, env: dict[str, str] | None = None) -> Callable[[], Launch]:
        def launch() -> Launch:
            folder = _npm_extras()
            made = _node_launch(ensure_toolchain(log=_log).node, folder, package, entry, *args)
            return Launch(**{**made.__dict__, "env": env})

        return launch

    def python_server(env_name: str, script: str, package: str, *args: str) -> Callable[[], Launch]:
        def launch() -> Launch:
            env = {"time": TIME_SERVER, "git": GIT_SERVER, "fetch": FETCH_SERVER}[env_name]
            installed = ensure_python_env(env, log=_log)
            version = _pinned_version(env.lock_file, package)
            return Launch(str(installed.script(script)), list(args), package, version, "MIT")

        return launch

    def git() -> Launch:
        repository = work.folder("repository")
        subprocess.run(["git", "init", "--quiet", str(repository)], check=True)
        return python_server("git", "mcp-server-git", "mcp-server-git", "--repository", str(repository))()

    def sqlite() -> Launch:
        package, version, pins = EXTRA_PYPI[0]
        venv = _pypi_extra(package, version, pins)
        database = work.folder("sqlite") / "catalog.db"
        return Launch(str(venv / "bin" / "mcp-server-sqlite"), ["--db-path", str(database)], package, version, "MIT")

    return {
        "everything": everything,
        "filesystem": filesystem,
        "memory": memory,
        "sequential_thinking": extra("@modelcontextprotocol/server-sequential-thinking", "dist/index.js"),
        "github": extra(
            "@modelcontextprotocol/server-github",
            "dist/index.js",
            env={"GITHUB_PERSONAL_ACCESS_TOKEN": "placeholder-never-used"},
        ),
        "puppeteer": extra("@modelcontextprotocol/server-puppeteer", "dist/index.js"),
        "playwright": extra("@playwright/mcp", "cli.js", "--headless"),
        "time": python_server("time", "mcp-server-time", "mcp-server-time", "--local-timezone", "UTC"),
        "git": git,
        "fetch": python_server("fetch", "mcp-server-fetch", "mcp-server-fetch"),
        "sqlite": sqlite,
    }


def _pinned_version(lock_file: Path, package: str) -> str:
    for line in lock_file.read_text().splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == package:
            return version.strip()
    return "?"


async def list_every_tool(launch: Launch, errlog: Any) -> list[types.Tool]:
    """Start the server, read every page of its `tools/list`, and stop it."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), **(launch.env or {})}
    parameters = StdioServerParameters(command=launch.command, args=launch.args, env=env)
    tools: list[types.Tool] = []
    with anyio.fail_after(LIST_TIMEOUT_SECONDS):
        async with Client(stdio_client(parameters, errlog=errlog), mode="legacy", cache=None) as client:
            cursor: str | None = None
            while True:
                page = await client.list_tools(cursor=cursor)
                tools.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    return tools


def fixture_of(name: str, launch: Launch, tools: list[types.Tool]) -> dict[str, Any]:
    """One server's fixture file: what it is, and its tools as they came over the wire."""
    return {
        "server": name,
        "package": launch.package,
        "version": launch.version,
        "licence": launch.licence,
        "tools": [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools],
    }


def write_readme(folder: Path) -> None:
    """`README.md` beside the fixture files: one row per server, read back from the files."""
    rows = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        what = f"`{data['package']}` | {data['version']} | {data['licence']}"
        rows.append(f"| `{data['server']}` | {what} | {len(data['tools'])} |")
    folder.joinpath("README.md").write_text(
        "# Tool lists of real MCP servers\n\n"
        "The `tools/list` answer of each server below, captured over stdio by\n"
        "`python -m bench.capture_tool_catalogs` (which writes this file too). The tool-search evaluation\n"
        "(`python -m bench.tool_search_eval`) and its tests read them. Names, descriptions and schemas are\n"
        "the servers' own text, kept unchanged under their licences.\n\n"
        "| fixture | package | version | licence | tools |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


async def capture(names: list[str] | None, folder: Path = FIXTURE_DIR) -> None:
    """Capture the named servers (all by default) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tool-catalogs-") as scratch:
        launches = _launches(Workspace(Path(scratch)))
        with (Path(scratch) / "stderr.log").open("w") as errlog:
            for name, make in launches.items():
                if names and name not in names:
                    continue
                launch = make()
                tools = await list_every_tool(launch, errlog)
                (folder / f"{name}.json").write_text(json.dumps(fixture_of(name, launch, tools), indent=1) + "\n")
                _log(f"{name}: {len(tools)} tools ({launch.package} {launch.version})")
    write_readme(folder)


def main(argv: list[str] | None = None) -> None:
    """Command line: capture every server, or only those given with `--only`."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="capture only these servers")
    args = parser.parse_args(argv)
    anyio.run(capture, args.only)


if __name__ == "__main__":
    main()

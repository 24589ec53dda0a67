"""Pinned npm packages (servers and clients written by others), installed on demand beside the conformance toolchain.

Each tree is a folder next to this file holding a `package.json` and a `package-lock.json`;
`npm ci` installs exactly that tree (integrity hashes included) into the git-ignored tools
folder::

    .conformance/
        node/                                Node 22, from `tests.conformance.toolchain`
        npm-cache/                           npm's cache, shared with the conformance suite
        third-party/<tree>/                  package.json, package-lock.json, node_modules/
        third-party/<tree>.lock              held while installing, so parallel runs wait

The trees: `server-everything` (the reference server), `npm-servers` (the filesystem and memory
servers) and `npm-clients` (the MCP Inspector and the TypeScript SDK). They run on the same pinned
Node 22 as the conformance suite (npm also runs on it while installing), so the system's Node
only has to be able to bootstrap that toolchain.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conformance.toolchain import INSTALL_TIMEOUT_SECONDS, TOOLS_DIR, ToolchainError, ensure_toolchain

HERE = Path(__file__).resolve().parent
INSTALLS_DIR = TOOLS_DIR / "third-party"
NPM_CI_TIMEOUT_SECONDS = 300.0
# Another run may be installing everything (Node 22 and the suite, then the tree) while this
# one waits for the lock.
LOCK_TIMEOUT_SECONDS = 2 * INSTALL_TIMEOUT_SECONDS + NPM_CI_TIMEOUT_SECONDS + 60.0
_LOCK_POLL_SECONDS = 0.2
_PIN_FILES = ("package.json", "package-lock.json")
STAMP = ".installed"


@dataclass(frozen=True)
class NpmTree:
    """A pinned npm dependency tree: its folder of pins here, and the packages it must provide."""

    name: str
    packages: tuple[tuple[str, str], ...]

    @property
    def pins_dir(self) -> Path:
        """The folder beside this file with the tree's `package.json` and `package-lock.json`."""
        return HERE / self.name

    @property
    def install_dir(self) -> Path:
        """Where the tree is installed by default."""
        return INSTALLS_DIR / self.name


@dataclass(frozen=True)
class InstalledTree:
    """An installed tree and the Node 22 that runs what it holds."""

    node: Path
    folder: Path

    def package_dir(self, package: str) -> Path:
        """The installed folder of one of the tree's packages."""
        return self.folder / "node_modules" / package


PACKAGE = "@modelcontextprotocol/server-everything"
VERSION = "2026.8.31"
SERVER_EVERYTHING = NpmTree("server-everything", ((PACKAGE, VERSION),))
FILESYSTEM_PACKAGE = "@modelcontextprotocol/server-filesystem"
MEMORY_PACKAGE = "@modelcontextprotocol/server-memory"
NPM_SERVERS = NpmTree("npm-servers", ((FILESYSTEM_PACKAGE, "2026.8.31"), (MEMORY_PACKAGE, "2026.8.31")))
INSPECTOR_PACKAGE = "@modelcontextprotocol/inspector"
TS_SDK_PACKAGE = "@modelcontextprotocol/sdk"
NPM_CLIENTS = NpmTree("npm-clients", ((INSPECTOR_PACKAGE, "2.12.0"), (TS_SDK_PACKAGE, "1.32.2")))
INSTALL_DIR = SERVER_EVERYTHING.install_dir


@dataclass(frozen=True)
class ServerEverything:
    """How to start the installed server: `node entry stdio`."""

    node: Path
    entry: Path

    def stdio_command(self) -> tuple[str, list[str]]:
        """The command and arguments that serve it over stdio."""
        return str(self.node), [str(self.entry), "stdio"]


def ensure_server_everything(
    folder: Path = INSTALL_DIR, *, log: Callable[[str], None] = print, lock_timeout: float = LOCK_TIMEOUT_SECONDS
) -> ServerEverything:
    """Install Node 22 and the pinned server if they are missing, and say where they are.

    Raises `ToolchainError` with what went wrong (no npm, no network, a timeout, ...).
    """
    installed = ensure_npm_tree(SERVER_EVERYTHING, folder, log=log, lock_timeout=lock_timeout)
    entry = installed.package_dir(PACKAGE) / "dist" / "index.js"
    if not entry.is_file():
        raise ToolchainError(f"{PACKAGE}@{VERSION} has no {entry}")
    return ServerEverything(node=installed.node, entry=entry)


def ensure_npm_tree(
    tree: NpmTree,
    folder: Path | None = None,
    *,
    log: Callable[[str], None] = print,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> InstalledTree:
    """Install Node 22 and the pinned tree (by default in its own folder) if they are missing.

    The tree is installed again when its pins changed or one of its packages is not at its
    pinned version. Raises `ToolchainError` with what went wrong.
    """
    folder = folder or tree.install_dir
    with exclusive(folder.parent / f"{folder.name}.lock", lock_timeout):
        node = ensure_toolchain(log=log).node
        digest = _pins_digest(tree.pins_dir)
        if read_stamp(folder) != digest or _wrong_versions(tree, folder):
            log(f"installing {', '.join(f'{name}@{version}' for name, version in tree.packages)} into {folder}")
            _npm_ci(folder, tree.pins_dir, node_bin=node.parent, cache=TOOLS_DIR / "npm-cache")
            if wrong := _wrong_versions(tree, folder):
                raise ToolchainError(f"after `npm ci` in {folder}: {'; '.join(wrong)}")
            (folder / STAMP).write_text(digest + "\n")
        return InstalledTree(node=node, folder=folder)


@contextmanager
def exclusive(lock_path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive file lock, waiting at most `timeout` seconds for another run to release it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with lock_path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ToolchainError(
                        f"another run held {lock_path} for more than {timeout:g} s while installing"
                    ) from None
                time.sleep(_LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def files_digest(*paths: Path) -> str:
    """One digest of the contents of these files, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_stamp(folder: Path) -> str | None:
    """The digest an install into `folder` recorded when it finished, if one did."""
    try:
        return (folder / STAMP).read_text().strip()
    except OSError:
        return None


def _pins_digest(pins_dir: Path) -> str:
    return files_digest(*(pins_dir / name for name in _PIN_FILES))


def _wrong_versions(tree: NpmTree, folder: Path) -> list[str]:
    """What is not as pinned: each package missing or at another version."""
    wrong: list[str] = []
    for package, version in tree.packages:
        found = _installed_version(folder, package)
        if found != version:
            wrong.append(f"{package} is {found or 'missing'}, not {version}")
    return wrong


def _installed_version(folder: Path, package: str) -> str | None:
    manifest = folder / "node_modules" / package / "package.json"
    try:
        version = json.loads(manifest.read_text()).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def _npm_ci(folder: Path, pins_dir: Path, *, node_bin: Path, cache: Path) -> None:
    """Install exactly the locked tree of `pins_dir` into `folder`, with npm running on the given Node."""
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainError(f"npm is not on PATH: install Node.js (20 or later) with npm to fetch {pins_dir.name}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STAMP).unlink(missing_ok=True)  # a run interrupted from here on installs again
    for name in _PIN_FILES:
        shutil.copyfile(pins_dir / name, folder / name)
    env = dict(
        os.environ,
        npm_config_cache=str(cache),
        npm_config_update_notifier="false",
        PATH=f"{node_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
    try:
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=NPM_CI_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(
            f"`{' '.join(command)}` in {folder} did not finish within {NPM_CI_TIMEOUT_SECONDS:g} s"
        ) from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ToolchainError(f"`{' '.join(command)}` in {folder} failed with exit code {done.returncode}:\n{tail}")

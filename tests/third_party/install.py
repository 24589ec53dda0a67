"""`@modelcontextprotocol/server-everything`, installed on demand beside the conformance toolchain.

The server and its whole dependency tree are pinned by the `package.json` and
`package-lock.json` in `server-everything/` next to this file; `npm ci` installs exactly that
tree (integrity hashes included) into the git-ignored tools folder::

    .conformance/
        node/                                Node 22, from `tests.conformance.toolchain`
        npm-cache/                           npm's cache, shared with the conformance suite
        third-party/server-everything/       package.json, package-lock.json, node_modules/
        third-party/server-everything.lock   held while installing, so parallel runs wait

The server runs on the same pinned Node 22 as the conformance suite (npm also runs on it while
installing), so the system's Node only has to be able to bootstrap that toolchain.
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

PACKAGE = "@modelcontextprotocol/server-everything"
VERSION = "2026.8.31"
PINS_DIR = Path(__file__).resolve().parent / "server-everything"
INSTALL_DIR = TOOLS_DIR / "third-party" / "server-everything"
NPM_CI_TIMEOUT_SECONDS = 300.0
# Another run may be installing everything (Node 22 and the suite, then the server) while this
# one waits for the lock.
LOCK_TIMEOUT_SECONDS = 2 * INSTALL_TIMEOUT_SECONDS + NPM_CI_TIMEOUT_SECONDS + 60.0
_LOCK_POLL_SECONDS = 0.2
_PIN_FILES = ("package.json", "package-lock.json")
_STAMP = ".installed"


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
    with _exclusive(folder.parent / f"{folder.name}.lock", lock_timeout):
        node = ensure_toolchain(log=log).node
        entry = folder / "node_modules" / PACKAGE / "dist" / "index.js"
        if _installed_pins(folder) != _pins_digest() or _installed_version(folder) != VERSION:
            log(f"installing {PACKAGE}@{VERSION} into {folder}")
            _npm_ci(folder, node_bin=node.parent, cache=TOOLS_DIR / "npm-cache")
            if _installed_version(folder) != VERSION or not entry.is_file():
                raise ToolchainError(f"{PACKAGE}@{VERSION} is not at {entry} after `npm ci`")
            (folder / _STAMP).write_text(_pins_digest() + "\n")
        return ServerEverything(node=node, entry=entry)


@contextmanager
def _exclusive(lock_path: Path, timeout: float) -> Iterator[None]:
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


def _pins_digest() -> str:
    digest = hashlib.sha256()
    for name in _PIN_FILES:
        digest.update((PINS_DIR / name).read_bytes())
    return digest.hexdigest()


def _installed_pins(folder: Path) -> str | None:
    try:
        return (folder / _STAMP).read_text().strip()
    except OSError:
        return None


def _installed_version(folder: Path) -> str | None:
    manifest = folder / "node_modules" / PACKAGE / "package.json"
    try:
        version = json.loads(manifest.read_text()).get("version")
    except (OSError, ValueError):
        return None
    return version if isinstance(version, str) else None


def _npm_ci(folder: Path, *, node_bin: Path, cache: Path) -> None:
    """Install exactly the locked tree into `folder`, with npm running on the given Node."""
    npm = shutil.which("npm")
    if npm is None:
        raise ToolchainError(f"npm is not on PATH: install Node.js (20 or later) with npm to fetch {PACKAGE}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _STAMP).unlink(missing_ok=True)  # a run interrupted from here on installs again
    for name in _PIN_FILES:
        shutil.copyfile(PINS_DIR / name, folder / name)
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

"""Pinned Python packages on the 1.x SDK (servers and a client written by others), each in its own venv.

The project itself runs on `mcp` 2.x; these packages need `mcp<2`, so each gets a virtual
environment of its own, installed from PyPI with pip on demand::

    .conformance/third-party/python/<name>/       the venv (bin/python, bin/<console scripts>)
    .conformance/third-party/python/<name>.lock   held while installing, so parallel runs wait

What goes in is the lock file `python/<name>.txt` beside this file: the whole dependency set,
every package at an exact version (`pip freeze` of a working install). The venv is made again
when that file changes (its digest, with the interpreter's version, is kept in `.installed`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.conformance.toolchain import ToolchainError

from .install import HERE, INSTALLS_DIR, STAMP, exclusive, files_digest, read_stamp

PIP_TIMEOUT_SECONDS = 600.0
VENV_TIMEOUT_SECONDS = 120.0
LOCK_TIMEOUT_SECONDS = PIP_TIMEOUT_SECONDS + VENV_TIMEOUT_SECONDS + 60.0


@dataclass(frozen=True)
class PythonEnv:
    """A pinned set of Python packages, installed in a venv of its own."""

    name: str

    @property
    def lock_file(self) -> Path:
        """The pins: `python/<name>.txt` beside this file."""
        return HERE / "python" / f"{self.name}.txt"

    @property
    def install_dir(self) -> Path:
        """Where the venv is made by default."""
        return INSTALLS_DIR / "python" / self.name


@dataclass(frozen=True)
class InstalledEnv:
    """An installed venv: its interpreter and its console scripts."""

    folder: Path

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.folder / "bin" / "python"

    def script(self, name: str) -> Path:
        """A console script the venv's packages installed (a server's command)."""
        return self.folder / "bin" / name


TIME_SERVER = PythonEnv("mcp-server-time")
GIT_SERVER = PythonEnv("mcp-server-git")
FETCH_SERVER = PythonEnv("mcp-server-fetch")
SDK1_CLIENT = PythonEnv("mcp-client")


def ensure_python_env(
    env: PythonEnv,
    folder: Path | None = None,
    *,
    log: Callable[[str], None] = print,
    lock_timeout: float = LOCK_TIMEOUT_SECONDS,
) -> InstalledEnv:
    """Make the venv and install its pinned packages if that was not done for these pins yet.

    Raises `ToolchainError` with what went wrong (no network, a pin pip cannot satisfy, ...).
    """
    folder = folder or env.install_dir
    with exclusive(folder.parent / f"{folder.name}.lock", lock_timeout):
        installed = InstalledEnv(folder)
        digest = _digest(env)
        if read_stamp(folder) != digest or not installed.python.is_file():
            log(f"installing {env.lock_file.name} into {folder}")
            _install(env.lock_file, folder)
            (folder / STAMP).write_text(digest + "\n")
        return installed


def _digest(env: PythonEnv) -> str:
    # The venv belongs to the interpreter that made it: another Python version makes a new one.
    return f"{files_digest(env.lock_file)} python{sys.version_info.major}.{sys.version_info.minor}"


def _install(lock_file: Path, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # a run interrupted from here on installs again
    folder.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(folder)], VENV_TIMEOUT_SECONDS)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "install", "--quiet", "--requirement", str(lock_file)], PIP_TIMEOUT_SECONDS)


def _run(command: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"`{' '.join(command)}` did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ToolchainError(f"`{' '.join(command)}` failed with exit code {done.returncode}:\n{tail}")

"""The on-demand installer of the third-party servers: when it installs, and how its failures read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conformance.toolchain import Toolchain, ToolchainError

from . import install

# The helpers under test are private to the installer.
# pyright: reportPrivateUsage=false


def test_an_installer_waiting_too_long_for_another_runs_lock_gives_up_naming_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "server-everything.lock"
    with (
        install._exclusive(lock, timeout=1.0),
        pytest.raises(ToolchainError) as caught,
        install._exclusive(lock, timeout=0.3),
    ):
        pass
    assert str(lock) in str(caught.value)


def test_the_lock_is_free_again_once_an_install_is_over(tmp_path: Path) -> None:
    lock = tmp_path / "server-everything.lock"
    with install._exclusive(lock, timeout=1.0):
        pass
    with install._exclusive(lock, timeout=0.0):
        pass


def test_without_npm_the_install_fails_saying_npm_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    with pytest.raises(ToolchainError) as caught:
        install._npm_ci(tmp_path / "server-everything", node_bin=tmp_path, cache=tmp_path / "cache")
    assert "npm is not on PATH" in str(caught.value)


def test_the_server_is_installed_when_its_pins_changed_and_not_again_once_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = tmp_path / "node" / "bin" / "node"
    installs: list[Path] = []

    def fake_npm_ci(folder: Path, *, node_bin: Path, cache: Path) -> None:
        installs.append(folder)
        package = folder / "node_modules" / install.PACKAGE
        (package / "dist").mkdir(parents=True, exist_ok=True)
        (package / "dist" / "index.js").write_text("")
        (package / "package.json").write_text(json.dumps({"version": install.VERSION}))

    monkeypatch.setattr(install, "ensure_toolchain", lambda log: Toolchain(node=node, suite_cli=tmp_path / "suite"))
    monkeypatch.setattr(install, "_npm_ci", fake_npm_ci)
    folder = tmp_path / "server-everything"
    folder.mkdir()
    (folder / ".installed").write_text("digest of an older lockfile\n")

    first = install.ensure_server_everything(folder, log=lambda message: None)
    second = install.ensure_server_everything(folder, log=lambda message: None)
    assert installs == [folder]
    assert (
        first
        == second
        == install.ServerEverything(node=node, entry=folder / "node_modules" / install.PACKAGE / "dist" / "index.js")
    )

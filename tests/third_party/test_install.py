"""The on-demand installers of the third-party servers and clients: when they install, and how their failures read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conformance.toolchain import Toolchain, ToolchainError

from . import install, python_envs

# The helpers under test are private to the installer.
# pyright: reportPrivateUsage=false


def test_an_installer_waiting_too_long_for_another_runs_lock_gives_up_naming_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "server-everything.lock"
    with (
        install.exclusive(lock, timeout=1.0),
        pytest.raises(ToolchainError) as caught,
        install.exclusive(lock, timeout=0.3),
    ):
        pass
    assert str(lock) in str(caught.value)


def test_the_lock_is_free_again_once_an_install_is_over(tmp_path: Path) -> None:
    lock = tmp_path / "server-everything.lock"
    with install.exclusive(lock, timeout=1.0):
        pass
    with install.exclusive(lock, timeout=0.0):
        pass


def test_without_npm_the_install_fails_saying_npm_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    with pytest.raises(ToolchainError) as caught:
        install._npm_ci(
            tmp_path / "server-everything",
            install.SERVER_EVERYTHING.pins_dir,
            node_bin=tmp_path,
            cache=tmp_path / "cache",
        )
    assert "npm is not on PATH" in str(caught.value)


def test_the_server_is_installed_when_its_pins_changed_and_not_again_once_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = tmp_path / "node" / "bin" / "node"
    installs: list[Path] = []

    def fake_npm_ci(folder: Path, pins_dir: Path, *, node_bin: Path, cache: Path) -> None:
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


def fake_tree(tmp_path: Path, versions: dict[str, str]) -> install.NpmTree:
    """A tree of these packages, pinned by files in `tmp_path / "pins"`."""
    pins = tmp_path / "pins"
    pins.mkdir()
    (pins / "package.json").write_text("{}")
    (pins / "package-lock.json").write_text("{}")
    return install.NpmTree("fake", tuple(versions.items()))


def test_a_tree_is_installed_again_when_one_of_its_packages_is_not_at_its_pinned_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, installs = fake_tree(tmp_path, {"@scope/a": "1.0.0", "b": "2.0.0"}), list[Path]()
    monkeypatch.setattr(install.NpmTree, "pins_dir", property(lambda self: tmp_path / "pins"))

    def fake_npm_ci(folder: Path, pins_dir: Path, *, node_bin: Path, cache: Path) -> None:
        installs.append(folder)
        for package, version in tree.packages:
            (folder / "node_modules" / package).mkdir(parents=True, exist_ok=True)
            (folder / "node_modules" / package / "package.json").write_text(json.dumps({"version": version}))

    monkeypatch.setattr(install, "ensure_toolchain", lambda log: Toolchain(node=tmp_path / "node", suite_cli=tmp_path))
    monkeypatch.setattr(install, "_npm_ci", fake_npm_ci)
    folder = tmp_path / "fake"
    install.ensure_npm_tree(tree, folder, log=lambda message: None)
    (folder / "node_modules" / "b" / "package.json").write_text(json.dumps({"version": "1.9.0"}))
    installed = install.ensure_npm_tree(tree, folder, log=lambda message: None)
    install.ensure_npm_tree(tree, folder, log=lambda message: None)
    assert installs == [folder, folder]
    assert installed.package_dir("@scope/a") == folder / "node_modules" / "@scope" / "a"


def test_an_install_that_leaves_a_package_out_fails_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = fake_tree(tmp_path, {"present": "1.0.0", "absent": "3.1.4"})
    monkeypatch.setattr(install.NpmTree, "pins_dir", property(lambda self: tmp_path / "pins"))

    def fake_npm_ci(folder: Path, pins_dir: Path, *, node_bin: Path, cache: Path) -> None:
        (folder / "node_modules" / "present").mkdir(parents=True)
        (folder / "node_modules" / "present" / "package.json").write_text(json.dumps({"version": "1.0.0"}))

    monkeypatch.setattr(install, "ensure_toolchain", lambda log: Toolchain(node=tmp_path / "node", suite_cli=tmp_path))
    monkeypatch.setattr(install, "_npm_ci", fake_npm_ci)
    with pytest.raises(ToolchainError) as caught:
        install.ensure_npm_tree(tree, tmp_path / "fake", log=lambda message: None)
    assert "absent is missing, not 3.1.4" in str(caught.value)
    assert not (tmp_path / "fake" / install.STAMP).exists()


def test_a_python_env_is_made_when_its_lock_file_changed_and_not_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "fake.txt"
    lock.write_text("mcp==1.30.0\n")
    monkeypatch.setattr(python_envs.PythonEnv, "lock_file", property(lambda self: lock))
    made: list[Path] = []

    def fake_install(lock_file: Path, folder: Path) -> None:
        made.append(folder)
        (folder / "bin").mkdir(parents=True, exist_ok=True)
        (folder / "bin" / "python").write_text("")

    monkeypatch.setattr(python_envs, "_install", fake_install)
    env, folder = python_envs.PythonEnv("fake"), tmp_path / "venv"
    first = python_envs.ensure_python_env(env, folder, log=lambda message: None)
    python_envs.ensure_python_env(env, folder, log=lambda message: None)
    lock.write_text("mcp==1.29.0\n")
    python_envs.ensure_python_env(env, folder, log=lambda message: None)
    assert made == [folder, folder]
    assert first.python == folder / "bin" / "python"
    assert first.script("mcp-server-time") == folder / "bin" / "mcp-server-time"


def test_a_failing_install_step_reports_its_exit_code_and_the_tail_of_its_output() -> None:
    failing = [sys.executable, "-c", "import sys; print('no matching distribution for mcp==0.0.0'); sys.exit(3)"]
    with pytest.raises(ToolchainError) as caught:
        python_envs._run(failing, timeout=60.0)
    assert "exit code 3" in str(caught.value)
    assert "no matching distribution for mcp==0.0.0" in str(caught.value)

"""Whether each stdio server can start as configured: the problems `mcp-proxy check` reports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mcp_proxy.config.loading import load_config
from mcp_proxy.core.errors import ConfigProblem
from mcp_proxy.upstream.launch_check import launch_problems
from tests.mcp_proxy.config.files import write

MISSING_MODULE = "manifold_no_such_module_4f2a"


def program(folder: Path, name: str = "tool") -> Path:
    """An executable file `name` in `folder`."""
    path = write(folder / name, "#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def problems(tmp_path: Path, table: str, environ: dict[str, str]) -> list[ConfigProblem]:
    config = load_config(write(tmp_path / "servers.toml", table), {})
    return launch_problems(config, environ)


def test_a_command_on_the_proxys_path_can_start(tmp_path: Path) -> None:
    program(tmp_path / "bin")
    found = problems(tmp_path, '[servers.a]\ncommand = "tool"\n', {"PATH": str(tmp_path / "bin")})
    assert found == []


def test_a_command_missing_from_the_proxys_path_is_a_problem_naming_file_server_field_and_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (problem,) = problems(tmp_path, '[servers.search]\ncommand = "search-server"\n', {"PATH": str(empty)})
    assert (problem.file, problem.server, problem.field) == (str(tmp_path / "servers.toml"), "search", "command")
    assert f"'search-server' is not found on the proxy's PATH ({empty})" in problem.message
    assert "give its absolute path, or add its folder to that PATH" in problem.message


def test_python_with_a_module_missing_from_the_path_is_told_to_use_module(tmp_path: Path) -> None:
    table = '[servers.db]\ncommand = "python"\nargs = ["-m", "examples.servers.database"]\n'
    (problem,) = problems(tmp_path, table, {"PATH": "/nonexistent"})
    assert "'python' is not found on the proxy's PATH (/nonexistent)" in problem.message
    assert 'write module = "examples.servers.database"' in problem.message
    assert 'leave "-m", "examples.servers.database" out of args' in problem.message


def test_python_running_a_script_missing_from_the_path_is_told_to_use_the_python_variable(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, '[servers.s]\ncommand = "python3.12"\nargs = ["server.py"]\n', {"PATH": "/x"})
    assert 'write command = "${python}"' in problem.message


def test_the_path_set_in_the_servers_env_is_the_one_searched_and_is_never_shown(tmp_path: Path) -> None:
    program(tmp_path / "own")
    table = f'[servers.a]\ncommand = "tool"\nenv = {{ PATH = "{tmp_path / "own"}" }}\n'
    assert problems(tmp_path, table, {"PATH": "/nonexistent"}) == []
    table = f'[servers.a]\ncommand = "other"\nenv = {{ PATH = "{tmp_path / "own"}" }}\n'
    (problem,) = problems(tmp_path, table, {"PATH": str(tmp_path / "own")})
    assert "'other' is not found on the PATH set in its env" in problem.message
    assert str(tmp_path / "own") not in problem.message  # env values are secrets


def test_a_relative_command_is_taken_from_the_servers_cwd(tmp_path: Path) -> None:
    program(tmp_path / "srv" / "bin")
    table = '[servers.a]\ncommand = "./bin/tool"\ncwd = "srv"\n'
    assert problems(tmp_path, table, {"PATH": "/nonexistent"}) == []
    (problem,) = problems(tmp_path, '[servers.a]\ncommand = "./bin/gone"\ncwd = "srv"\n', {})
    assert f"'./bin/gone' does not exist or is not executable in the server's cwd ({tmp_path / 'srv'})" in (
        problem.message
    )


def test_a_relative_command_without_cwd_depends_on_the_launcher_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (problem,) = problems(tmp_path, '[servers.a]\ncommand = "./bin/gone"\n', {})
    assert "the proxy's working directory, which depends on who launches it" in problem.message
    assert "give an absolute path, or set cwd" in problem.message


def test_a_missing_absolute_command_is_a_problem(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, f'[servers.a]\ncommand = "{tmp_path / "gone"}"\n', {})
    assert problem.message == f"{str(tmp_path / 'gone')!r} does not exist or is not executable; correct the path"


def test_a_file_that_is_not_executable_cannot_start(tmp_path: Path) -> None:
    write(tmp_path / "bin" / "tool", "not a program")
    (problem,) = problems(tmp_path, '[servers.a]\ncommand = "tool"\n', {"PATH": str(tmp_path / "bin")})
    assert problem.field == "command"


def test_a_missing_cwd_is_the_one_problem_reported(tmp_path: Path) -> None:
    (problem,) = problems(tmp_path, '[servers.a]\ncommand = "gone"\ncwd = "nowhere"\n', {"PATH": "/x"})
    assert (problem.server, problem.field) == ("a", "cwd")
    assert f"folder {tmp_path / 'nowhere'} does not exist" in problem.message
    assert "relative to the configuration file's folder" in problem.message


def test_the_python_variable_always_names_a_program_that_exists(tmp_path: Path) -> None:
    assert problems(tmp_path, '[servers.a]\ncommand = "${python}"\nargs = ["s.py"]\n', {"PATH": "/x"}) == []


def test_a_module_in_the_servers_folder_can_start_whatever_the_path(tmp_path: Path) -> None:
    write(tmp_path / "srv" / "mypkg" / "__init__.py", "raise SystemExit('never imported by the check')\n")
    table = '[servers.a]\nmodule = "mypkg.server"\ncwd = "srv"\n'
    assert problems(tmp_path, table, {"PATH": "/nonexistent"}) == []
    assert "mypkg" not in sys.modules


@pytest.mark.parametrize("module", ["json.tool", "sys", "pydantic", "mcp_proxy"])
def test_modules_of_the_proxys_interpreter_are_found(tmp_path: Path, module: str) -> None:
    (tmp_path / "srv").mkdir()
    assert problems(tmp_path, f'[servers.a]\nmodule = "{module}"\ncwd = "srv"\n', {}) == []


def test_a_module_on_the_childs_own_pythonpath_is_found(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "shared_srv.py", "")
    (tmp_path / "srv").mkdir()
    table = f'[servers.a]\nmodule = "shared_srv"\ncwd = "srv"\nenv = {{ PYTHONPATH = "{tmp_path / "lib"}" }}\n'
    assert problems(tmp_path, table, {}) == []


def test_the_proxys_pythonpath_is_not_the_childs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "lib" / "shared_srv.py", "")
    # Where the proxy's own PYTHONPATH puts it: after the program's folder.
    monkeypatch.setattr(sys, "path", [sys.path[0], str(tmp_path / "lib"), *sys.path[1:]])
    (tmp_path / "srv").mkdir()
    environ = {"PYTHONPATH": str(tmp_path / "lib")}
    (problem,) = problems(tmp_path, '[servers.a]\nmodule = "shared_srv"\ncwd = "srv"\n', environ)
    assert problem.field == "module"
    table = '[servers.a]\nmodule = "shared_srv"\ncwd = "srv"\ninherit_env = ["PYTHONPATH"]\n'
    assert problems(tmp_path, table, environ) == []


def test_a_module_nowhere_to_be_found_names_the_interpreter_and_the_folder(tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    (problem,) = problems(tmp_path, f'[servers.a]\nmodule = "{MISSING_MODULE}.server"\ncwd = "srv"\n', {})
    assert (problem.server, problem.field) == ("a", "module")
    assert f"'{MISSING_MODULE}' is not found by the proxy's interpreter ({sys.executable})" in problem.message
    assert f"from {tmp_path / 'srv'}" in problem.message
    assert "set cwd to the folder that holds it" in problem.message


def test_without_cwd_a_module_is_looked_for_in_the_proxys_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "here" / "local_srv.py", "")
    table = '[servers.a]\nmodule = "local_srv"\n'
    monkeypatch.chdir(tmp_path / "here")
    assert problems(tmp_path, table, {}) == []
    monkeypatch.chdir(tmp_path)
    (problem,) = problems(tmp_path, table, {})
    assert f"from {tmp_path}" in problem.message


def test_disabled_and_remote_servers_are_not_looked_up(tmp_path: Path) -> None:
    table = '[servers.off]\ncommand = "gone"\nenabled = false\n\n[servers.web]\nurl = "https://h/mcp"\n'
    assert problems(tmp_path, table, {"PATH": "/x"}) == []


def test_every_server_that_cannot_start_is_reported_in_file_order(tmp_path: Path) -> None:
    table = "".join(f'[servers.s{i}]\ncommand = "gone{i}"\n\n' for i in range(3))
    found = problems(tmp_path, table, {"PATH": "/x"})
    assert [(p.server, p.field) for p in found] == [("s0", "command"), ("s1", "command"), ("s2", "command")]


def test_the_proxys_own_environment_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    config = load_config(write(tmp_path / "servers.toml", '[servers.a]\ncommand = "tool"\n'), {})
    assert launch_problems(config) == []
    monkeypatch.setenv("PATH", os.devnull)
    assert [p.field for p in launch_problems(config)] == ["command"]

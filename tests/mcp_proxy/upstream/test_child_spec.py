"""How a stdio server's process is started: its command line, whatever the launcher's PATH."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcp_proxy.config.models import ServerConfig
from mcp_proxy.upstream.child_spec import child_spec


def test_a_module_starts_this_interpreter_even_with_a_path_that_has_no_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing here: no python, no setpriv
    server = ServerConfig(name="db", transport="stdio", module="examples.servers.database", args=["-v"])
    spec = child_spec(server)
    # Behind the parent-death guard on Linux, whose launcher comes first.
    assert [spec.command, *spec.args][-4:] == [sys.executable, "-m", "examples.servers.database", "-v"]
    assert spec.environ["PATH"] == str(tmp_path)


def test_a_command_missing_from_the_childs_path_cannot_be_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the command is looked up ahead of the start where the parent-death guard wraps it (Linux)")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        child_spec(ServerConfig(name="db", transport="stdio", command="python", args=["-m", "x"]))

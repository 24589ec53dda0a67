"""Choosing the event loop: uvloop when installed, asyncio on request, a clear error otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mcp_proxy import event_loop
from mcp_proxy.event_loop import EventLoopUnavailable, resolve


def test_auto_picks_uvloop_when_it_is_installed_and_asyncio_is_always_honoured() -> None:
    assert event_loop.uvloop_installed()  # a dependency on this platform
    assert resolve("auto") == "uvloop"
    assert resolve("uvloop") == "uvloop"
    assert resolve("asyncio") == "asyncio"


def test_without_uvloop_auto_falls_back_and_an_explicit_request_says_how_to_fix_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_loop, "uvloop_installed", lambda: False)
    assert resolve("auto") == "asyncio"
    with pytest.raises(EventLoopUnavailable, match="pip install uvloop"):
        resolve("uvloop")


def test_invalid_environment_settings_are_refused_naming_each_variable_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "servers.toml"
    config.write_text("[servers]\n")
    done = subprocess.run(
        [sys.executable, "-m", "mcp_proxy", "serve", "--config", str(config)],
        env={"MCP_PROXY_EVENT_LOOP": "trio", "MCP_PROXY_PORT": "eighty", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "MCP_PROXY_EVENT_LOOP='trio': Input should be 'auto', 'asyncio' or 'uvloop'" in done.stderr
    assert "MCP_PROXY_PORT='eighty'" in done.stderr
    assert "Traceback" not in done.stderr

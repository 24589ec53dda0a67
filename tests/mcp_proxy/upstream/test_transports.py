"""Stdio upstreams: the child's environment, and its stderr re-emitted as log events without leaking fds."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog
from mcp import ClientSession

from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.config.models import ServerConfig
from mcp_proxy.upstream.child_spec import child_environment
from mcp_proxy.upstream.stderr_relay import MAX_LINE_CHARS
from mcp_proxy.upstream.transports import open_transport
from tests.processes import REPO_ROOT

pytestmark = pytest.mark.anyio

CONNECTS = 5


def noisy_server(name: str = "noisy", **fields: Any) -> ServerConfig:
    data = {
        "servers": {
            name: {
                "command": sys.executable,
                "args": ["-m", "tests.mcp_proxy.noisy_upstream", name],
                "cwd": str(REPO_ROOT),
                **fields,
            }
        }
    }
    return parse_config_data(data, "test.toml", environ={}).servers[0]


async def connect_once(config: ServerConfig) -> int:
    """Connect, list the tools, disconnect; returns how many tools the server had."""
    async with open_transport(config) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return len((await session.list_tools()).tools)


def lines_of(logs: Sequence[Mapping[str, Any]], server: str) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == "upstream_stderr" and e["server"] == server]


def test_a_child_gets_only_the_variables_it_inherits_by_name_and_its_own() -> None:
    config = noisy_server(
        inherit_env=["INHERITED_VAR", "ABSENT_VAR"], env={"CONFIGURED_VAR": "c", "INHERITED_VAR": "own"}
    )
    environ = {"INHERITED_VAR": "from-proxy", "NOT_INHERITED_VAR": "secret", "ABSENT": "x"}
    assert child_environment(config, environ) == {"INHERITED_VAR": "own", "CONFIGURED_VAR": "c"}
    config = noisy_server(inherit_env=["INHERITED_VAR"])
    assert child_environment(config, environ) == {"INHERITED_VAR": "from-proxy"}


async def test_stderr_lines_are_logged_with_the_server_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INHERITED_VAR", "passed-down")
    monkeypatch.setenv("NOT_INHERITED_VAR", "kept-back")
    config = noisy_server("chatter", inherit_env=["INHERITED_VAR"], env={"CONFIGURED_VAR": "configured"})
    with structlog.testing.capture_logs() as logs:
        assert await connect_once(config) == 13
    lines = lines_of(logs, "chatter")
    texts = [e["line"] for e in lines]
    assert texts[0] == "hello from chatter"
    assert "INHERITED_VAR=passed-down NOT_INHERITED_VAR=- CONFIGURED_VAR=configured HOME=" in texts[1]
    long = lines[2]
    assert len(long["line"]) == MAX_LINE_CHARS and long["truncated"] is True
    assert texts[3] == "last words without a newline"
    assert len(lines) == 4  # the rest of the long line was dropped, not logged as more lines
    assert all(e["log_level"] == "info" for e in lines)


async def test_repeated_connections_leave_no_file_descriptor_behind() -> None:
    config = noisy_server()
    await connect_once(config)  # first use loads modules and opens lasting descriptors
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(CONNECTS):
        await connect_once(config)
    assert len(os.listdir("/proc/self/fd")) == before


async def test_a_command_that_does_not_exist_fails_cleanly_without_leaking(tmp_path: Path) -> None:
    config = noisy_server(command=str(tmp_path / "missing-binary"), args=[])
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(CONNECTS):
        with pytest.raises(OSError):
            await connect_once(config)
    assert len(os.listdir("/proc/self/fd")) == before

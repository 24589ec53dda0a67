"""Choosing the MCP target: a config file launches the proxy, else a command, else the URL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from chat_api.mcp_target import command_target, find_config, plan_targets, proxy_target, url_target
from tests.chat_api.support import write_proxy_config


def test_a_url_ending_in_sse_uses_sse_and_anything_else_streamable_http() -> None:
    assert url_target("http://h:1/sse").kind == "sse"
    assert url_target("http://h:1/sse/").kind == "sse"
    assert url_target("http://h:1/mcp").kind == "http"


def test_a_command_line_is_split_like_a_shell_would() -> None:
    assert command_target("python -m 'my server'").command == ("python", "-m", "my server")
    with pytest.raises(ValueError, match="empty"):
        command_target("  ")


def test_descriptions_hide_credentials_and_paths() -> None:
    assert url_target("http://user:secret@h:8000/mcp").describe() == "http: http://h:8000/mcp"
    assert command_target("/opt/bin/server --flag").describe() == "stdio: server --flag"


def test_the_config_is_found_explicitly_then_from_the_environment_then_by_search(tmp_path: Path) -> None:
    found = tmp_path / "mcp-servers.json"
    found.write_text("{}")
    assert find_config("given.toml", [found], {}) == Path("given.toml")
    assert find_config(None, [found], {"MCP_CONFIG_PATH": "env.toml"}) == Path("env.toml")
    assert find_config(None, [tmp_path / "missing.json", found], {}) == found
    assert find_config(None, [tmp_path / "missing.json"], {}) is None


def test_without_a_config_the_command_wins_over_the_url() -> None:
    plan = plan_targets(server_url="http://h/mcp", server_command="srv --stdio", config_path=None)
    assert plan.primary.kind == "stdio" and plan.fallback is None
    assert plan_targets(server_url="http://h/mcp", server_command=None, config_path=None).primary.kind == "http"


def test_a_usable_config_launches_the_proxy_and_keeps_the_url_as_fallback(tmp_path: Path) -> None:
    config = write_proxy_config(tmp_path)
    plan = plan_targets(server_url="http://h/sse", server_command=None, config_path=config)
    assert plan.primary == proxy_target(config)
    assert plan.primary.command[:3] == (sys.executable, "-m", "mcp_proxy")
    assert plan.primary.launches_proxy
    assert plan.fallback == url_target("http://h/sse")


def test_an_unusable_config_is_reported_and_skipped(tmp_path: Path) -> None:
    with capture_logs() as logs:
        plan = plan_targets(server_url="http://h/mcp", server_command=None, config_path=tmp_path / "nope.toml")
    assert plan.primary == url_target("http://h/mcp")
    assert plan.config_path == tmp_path / "nope.toml"
    assert "file not found" in logs[0]["error"]

"""Choosing the MCP target: a config file launches the proxy, else a command, else the URL.

Whether the proxy can use the file is the proxy's to say: the service asks `mcp-proxy check`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chat_api.mcp_target import (
    check_proxy_config,
    command_target,
    find_config,
    plan_targets,
    proxy_target,
    url_target,
)
from chat_api.settings import ChatSettings
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


def test_the_config_is_found_explicitly_then_from_the_environment_then_by_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = tmp_path / "mcp-servers.json"
    found.write_text("{}")
    monkeypatch.setenv("MCP_CONFIG_PATH", "env.toml")
    from_environment = ChatSettings().mcp_config_path
    assert find_config("given.toml", [found]) == Path("given.toml")
    assert find_config(from_environment, [found]) == Path("env.toml")
    assert find_config(None, [tmp_path / "missing.json", found]) == found
    assert find_config(None, [tmp_path / "missing.json"]) is None


def test_without_a_config_the_command_wins_over_the_url() -> None:
    plan = plan_targets(server_url="http://h/mcp", server_command="srv --stdio", config_path=None)
    assert plan.primary.kind == "stdio" and plan.fallback is None
    assert plan_targets(server_url="http://h/mcp", server_command=None, config_path=None).primary.kind == "http"


def test_a_config_launches_the_proxy_and_keeps_the_url_as_fallback(tmp_path: Path) -> None:
    config = write_proxy_config(tmp_path)
    plan = plan_targets(server_url="http://h/sse", server_command=None, config_path=config)
    assert plan.primary == proxy_target(config)
    assert plan.primary.command[:3] == (sys.executable, "-m", "mcp_proxy")
    assert plan.primary.launches_proxy
    assert plan.fallback == url_target("http://h/sse")


@pytest.mark.anyio
async def test_a_config_the_proxy_accepts_is_not_refused(tmp_path: Path) -> None:
    assert await check_proxy_config(write_proxy_config(tmp_path)) is None


@pytest.mark.anyio
async def test_the_proxy_refuses_a_missing_file_in_its_own_words(tmp_path: Path) -> None:
    refusal = await check_proxy_config(tmp_path / "nope.toml")
    assert refusal is not None and refusal.exit_status != 0
    assert refusal.message.startswith("mcp-proxy: ")
    assert f"{tmp_path / 'nope.toml'}: file not found" in refusal.message


@pytest.mark.anyio
async def test_the_proxy_names_the_file_the_field_and_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "servers.toml"
    config.write_text('[servers.db]\ntransport = "stdio"\ncomand = "db-server"\n')
    refusal = await check_proxy_config(config)
    assert refusal is not None
    assert f"{config}: server 'db': field 'comand': unknown setting; did you mean 'command'?" in refusal.message


@pytest.mark.anyio
async def test_a_check_that_cannot_answer_leaves_the_decision_to_the_launch(tmp_path: Path) -> None:
    assert await check_proxy_config(write_proxy_config(tmp_path), timeout=0) is None

"""Tests for `[profiles.NAME]`: reading, ${VAR} tokens, and problems that name the file, the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.core.errors import ConfigError

SERVERS = {"db": {"command": "db-server"}, "git": {"command": "git-server"}}


def parse(profiles: dict[str, Any], environ: dict[str, str] | None = None) -> Any:
    return parse_config_data({"servers": SERVERS, "profiles": profiles}, "servers.toml", environ or {})


def problems(profiles: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(profiles)
    return [str(problem) for problem in caught.value.problems]


def test_a_profile_is_read_with_its_tokens_expanded() -> None:
    config = parse(
        {"dev": {"servers": ["db"], "tool": {"db__query": {"name": "sql"}}, "tokens": ["${DEV}"]}}, {"DEV": "s3cret"}
    )
    profile = config.profiles["dev"]
    assert profile.servers == ["db"]
    assert profile.tool["db__query"].name == "sql"
    assert [token.get_secret_value() for token in profile.tokens] == ["s3cret"]
    assert profile.bound and profile.tool_search is None


def test_an_unknown_server_is_named_with_the_known_ones() -> None:
    assert problems({"dev": {"servers": ["dbb"]}}) == [
        "servers.toml: field 'profiles.dev.servers': no server is named 'dbb'; the servers are: db, git"
    ]


def test_an_unknown_setting_gets_a_suggestion() -> None:
    [problem] = problems({"dev": {"exclude_tool": ["x"]}})
    assert "field 'profiles.dev.exclude_tool'" in problem and "did you mean 'exclude_tools'?" in problem


def test_an_empty_glob_is_refused() -> None:
    [problem] = problems({"dev": {"tools": [""]}})
    assert "field 'profiles.dev.tools'" in problem and 'write "*" for everything' in problem


@pytest.mark.parametrize(
    ("tool", "fragment"),
    [
        ({"db__a": {"name": "x"}, "db__b": {"name": "x"}}, "'x' is already the new name of 'db__a'"),
        ({"db__a": {"name": "db__b"}, "db__b": {"description": "kept"}}, "'db__b' is another tool's name"),
        ({"db__a": {"name": "has space"}}, "must be 1 to 128 letters"),
    ],
)
def test_a_colliding_or_invalid_rename_is_refused(tool: dict[str, Any], fragment: str) -> None:
    [problem] = problems({"dev": {"tool": tool}})
    assert "profiles.dev.tool." in problem and fragment in problem


@pytest.mark.parametrize("name", ["default", "server-card", "with space", "a/b"])
def test_a_profile_name_must_fit_a_url_path(name: str) -> None:
    [problem] = problems({name: {}})
    assert f"field 'profiles.{name}'" in problem

"""Other tools' configuration files (seed JSON, Claude Desktop, Cursor, VS Code) in our shape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcp_proxy.config.importers import (
    convert_json_document,
    default_import_path,
    detect_layout,
    import_claude_desktop,
    import_cursor,
    import_seed,
    import_vscode,
    workspace_folder,
)
from mcp_proxy.config.loading import load_config, parse_config_data
from tests.mcp_proxy.config.files import CONFIGS, problems_of, read_json, write


@pytest.mark.parametrize(
    ("data", "layout"),
    [
        ({"mcpServers": {}}, "mcp-servers"),
        ({"servers": []}, "seed"),
        ({"servers": {}}, "vscode"),
        ({"mcp": {"servers": {}}}, "vscode"),
        ({"mcp": {"inputs": []}}, None),
        ({"tools": {}}, None),
    ],
)
def test_detect_layout_recognises_each_json_form(data: dict[str, Any], layout: str | None) -> None:
    assert detect_layout(data) == layout


def test_claude_desktop_entries_become_servers_with_transports_inferred() -> None:
    servers = import_claude_desktop(read_json("claude_desktop_config.json"))
    assert servers == [
        {
            "command": "python",
            "args": ["-m", "examples.servers.database"],
            "env": {"DB_PATH": "/data/shop.db", "API_KEY": "${API_KEY}"},
            "name": "database",
        },
        {
            "url": "https://mcp.example.com/sse",
            "headers": {"Authorization": "Bearer ${REMOTE_TOKEN}"},
            "name": "remote",
        },
        {"url": "https://api.example.com/mcp/sse", "transport": "http", "name": "github"},
        {"command": "node", "args": ["old.js"], "enabled": False, "name": "old"},
    ]


def test_a_loaded_claude_desktop_file_infers_sse_from_the_url_unless_a_type_is_given() -> None:
    config = load_config(CONFIGS / "claude_desktop_config.json", {"API_KEY": "k", "REMOTE_TOKEN": "r"})
    transports = {server.name: server.transport for server in config.servers}
    assert transports == {"database": "stdio", "remote": "sse", "github": "http", "old": "stdio"}
    assert [server.name for server in config.servers if server.enabled] == ["database", "remote", "github"]


@pytest.mark.parametrize(("key", "value"), [("transport", "sse"), ("transportType", "streamable-http")])
def test_any_transport_key_wins_over_the_url(key: str, value: str) -> None:
    (server,) = import_claude_desktop({"mcpServers": {"a": {"url": "http://h/x", key: value}}})
    assert server["transport"] == value


def test_an_explicit_enabled_flag_is_kept() -> None:
    (server,) = import_claude_desktop({"mcpServers": {"a": {"command": "x", "enabled": False}}})
    assert server["enabled"] is False


def test_cursor_env_references_are_translated_and_unknown_keys_ignored() -> None:
    search, docs = import_cursor(read_json("cursor_mcp.json"))
    assert search == {
        "command": "npx",
        "args": ["-y", "search-server"],
        "env": {"SEARCH_KEY": "${SEARCH_KEY}"},
        "name": "search",
    }
    assert docs == {"url": "https://docs.example.com/mcp", "name": "docs"}


def test_vscode_servers_are_translated() -> None:
    local, remote, legacy = import_vscode(read_json("vscode_mcp.json"))
    assert local == {
        "command": "python",
        "args": ["server.py", "--home", "${HOME}"],
        "env": {"TOKEN": "${LOCAL_TOKEN}", "PORT": 8080},
        "transport": "stdio",
        "name": "local",
    }
    assert remote["headers"] == {"X-Api-Key": "${REMOTE_KEY}"}
    assert (remote["transport"], legacy["transport"]) == ("http", "sse")


def test_a_loaded_vscode_file_expands_translated_references() -> None:
    environ = {"HOME": "/home/me", "LOCAL_TOKEN": "lt", "REMOTE_KEY": "rk"}
    local, remote, _ = load_config(CONFIGS / "vscode_mcp.json", environ).servers
    assert local.args == ["server.py", "--home", "/home/me"]
    assert {key: value.get_secret_value() for key, value in local.env.items()} == {"TOKEN": "lt", "PORT": "8080"}
    assert remote.headers["X-Api-Key"].get_secret_value() == "rk"


def test_vscode_settings_files_nest_servers_under_mcp() -> None:
    (server,) = import_vscode({"mcp": {"servers": {"a": {"type": "stdio", "command": "x"}}}})
    assert server["name"] == "a"


def test_a_vscode_input_prompt_is_a_problem_naming_server_and_field() -> None:
    data = {"servers": {"remote": {"type": "http", "url": "http://h/mcp", "headers": {"Key": "${input:api-key}"}}}}
    (problem,) = problems_of(lambda: import_vscode(data, source=".vscode/mcp.json"))
    assert (problem.file, problem.server, problem.field) == (".vscode/mcp.json", "remote", "headers.Key")
    assert "${input:api-key} asks the editor to prompt for a value" in problem.message
    assert "such as ${API_KEY}" in problem.message


def test_loading_a_file_with_an_input_prompt_reports_it_once(tmp_path: Path) -> None:
    text = '{"servers": {"a": {"type": "stdio", "command": "x", "args": ["${input:token}", "${MISSING}"]}}}'
    path = write(tmp_path / "mcp.json", text)
    first, second = problems_of(lambda: load_config(path, {}))
    assert (first.field, second.field) == ("args[0]", "args[1]")
    assert "prompt" in first.message and "MISSING is not set" in second.message


def test_workspace_folder_references_resolve_next_to_the_editor_folder(tmp_path: Path) -> None:
    text = '{"servers": {"a": {"type": "stdio", "command": "x", "cwd": "${workspaceFolder}/srv"}}}'
    path = write(tmp_path / "proj" / ".vscode" / "mcp.json", text)
    assert load_config(path, {}).servers[0].cwd == tmp_path / "proj" / "srv"


def test_workspace_folder_without_a_workspace_is_left_as_a_variable() -> None:
    (server,) = import_vscode({"servers": {"a": {"command": "${workspaceFolder}/x"}}})
    assert server["command"] == "${workspaceFolder}/x"


@pytest.mark.parametrize(("folder", "workspace"), [("/p/.vscode", "/p"), ("/p/.cursor", "/p"), ("/p/conf", None)])
def test_workspace_folder_is_the_parent_of_an_editor_folder(folder: str, workspace: str | None) -> None:
    assert workspace_folder(Path(folder)) == (Path(workspace) if workspace else None)


def test_dollars_in_third_party_values_stay_literal_after_loading() -> None:
    data = {"mcpServers": {"a": {"command": "x", "env": {"PASSWORD": "pa$$w$rd", "REF": "${KEPT:-d}"}}}}
    env = parse_config_data(data, "mcp.json", {}).servers[0].env
    assert {key: value.get_secret_value() for key, value in env.items()} == {"PASSWORD": "pa$$w$rd", "REF": "d"}


@pytest.mark.parametrize(
    ("importer", "data"),
    [
        (import_claude_desktop, {"servers": {}}),
        (import_cursor, {}),
        (import_vscode, {"mcpServers": {}}),
        (import_seed, {"servers": {}}),
    ],
)
def test_importers_reject_documents_in_another_layout(
    importer: Callable[[dict[str, Any]], list[dict[str, Any]]], data: dict[str, Any]
) -> None:
    (problem,) = problems_of(lambda: importer(data))
    assert problem.message.startswith("no ")


@pytest.mark.parametrize(
    ("data", "server", "field", "fragment"),
    [
        ({"mcpServers": []}, None, "mcpServers", "must be an object mapping server names"),
        ({"mcpServers": {"a": "npx x"}}, "a", None, "must be an object with command/args/env"),
    ],
)
def test_misshapen_server_maps_are_problems(
    data: dict[str, Any], server: str | None, field: str | None, fragment: str
) -> None:
    (problem,) = problems_of(lambda: import_claude_desktop(data))
    assert (problem.server, problem.field) == (server, field)
    assert fragment in problem.message


def test_seed_entries_are_translated() -> None:
    database, github, filesystem = import_seed(read_json("seed.json"))
    assert database == {
        "enabled": True,
        "transport": "stdio",
        "priority": 10,
        "command": "python",
        "args": ["-m", "examples.servers.database"],
        "env": {"DB_PATH": "${DB_PATH}"},
        "timeout": 30.0,
        "name": "database",
    }
    assert github["headers"] == {"Authorization": "Bearer ${GITHUB_TOKEN}"}
    assert (github["url"], github["timeout"]) == ("http://127.0.0.1:8101/mcp", 1.5)
    assert filesystem == {"transport": "sse", "url": "http://127.0.0.1:8102/sse", "name": "filesystem"}


def test_a_module_is_taken_where_a_command_is_in_every_json_form() -> None:
    seed = {"servers": [{"name": "db", "config": {"module": "examples.servers.database", "args": ["-v"]}}]}
    claude = {"mcpServers": {"db": {"module": "examples.servers.database", "args": ["-v"]}}}
    vscode = {"servers": {"db": {"type": "stdio", "module": "examples.servers.database", "args": ["-v"]}}}
    for document in (seed, claude, vscode):
        (server,) = parse_config_data(document, "mcp.json", {}).servers
        assert (server.transport, server.command, server.module, server.args) == (
            "stdio",
            None,
            "examples.servers.database",
            ["-v"],
        )


def test_a_seed_authorization_header_wins_over_the_api_key() -> None:
    entry = {"name": "a", "config": {"url": "http://h/mcp", "headers": {"authorization": "Basic x"}, "api_key": "k"}}
    (server,) = import_seed({"servers": [entry]})
    assert server["headers"] == {"authorization": "Basic x"}


def test_a_seed_timeout_given_as_a_numeric_string_is_converted() -> None:
    (server,) = import_seed({"servers": [{"name": "a", "config": {"command": "x", "timeout": "2500"}}]})
    assert server["timeout"] == 2.5


@pytest.mark.parametrize(
    ("entry", "server", "field", "fragment"),
    [
        ("a", None, "servers[0]", "must be an object with a name"),
        ({"config": {}}, None, "servers[0].name", "every server needs a name"),
        ({"name": "a", "config": []}, "a", "config", "must be an object"),
        ({"name": "a", "config": {"timeout": "soon"}}, "a", "config.timeout", "milliseconds, got 'soon'"),
        ({"name": "a", "config": {"timeout": True}}, "a", "config.timeout", "milliseconds, got True"),
        ({"name": "a", "config": {"timeout": None}}, "a", "config.timeout", "milliseconds, got None"),
    ],
)
def test_bad_seed_entries_are_problems(entry: Any, server: str | None, field: str, fragment: str) -> None:
    (problem,) = problems_of(lambda: import_seed({"servers": [entry]}, source="seed.json"))
    assert (problem.file, problem.server, problem.field) == ("seed.json", server, field)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("name", "suggestion"), [("my.server", "my_server"), ("a__b", "a_b"), ("My Server!", "My_Server")]
)
def test_an_imported_name_that_breaks_the_rules_is_an_error_with_a_valid_spelling(name: str, suggestion: str) -> None:
    data = {"mcpServers": {name: {"command": "x"}}}
    (problem,) = problems_of(lambda: parse_config_data(data, "claude_desktop_config.json", {}))
    assert (problem.server, problem.field) == (name, "name")
    assert f"{name!r}" in problem.message and problem.message.endswith(f"try {suggestion!r}")


def test_convert_json_document_passes_a_proxy_object_through_and_reports_unknown_layouts() -> None:
    document = convert_json_document({"proxy": {"separator": "-"}, "other": 1}, "x.json")
    assert document.proxy == {"separator": "-"}
    assert document.servers == []
    assert [problem.message.split(":")[0] for problem in document.problems] == ["unrecognised layout"]


@pytest.mark.parametrize(
    ("kind", "platform", "environ", "expected"),
    [
        ("claude-desktop", "darwin", {}, "/home/u/Library/Application Support/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {}, "/home/u/.config/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/Claude/claude_desktop_config.json"),
        ("claude-desktop", "win32", {"APPDATA": "/appdata"}, "/appdata/Claude/claude_desktop_config.json"),
        ("claude-desktop", "win32", {}, "/home/u/AppData/Roaming/Claude/claude_desktop_config.json"),
        ("cursor", "linux", {}, "/home/u/.cursor/mcp.json"),
        ("vscode", "darwin", {}, ".vscode/mcp.json"),
    ],
)
def test_default_import_paths_follow_each_tools_convention(
    kind: Any, platform: str, environ: dict[str, str], expected: str
) -> None:
    assert default_import_path(kind, platform=platform, environ=environ, home=Path("/home/u")) == Path(expected)


def test_default_import_paths_use_the_real_home_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_import_path("cursor") == tmp_path / ".cursor" / "mcp.json"

"""Loading a configuration: reading TOML and JSON files, `${VAR}` expansion, collecting problems, discovery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from mcp_proxy.config import loading
from mcp_proxy.config.loading import CONFIG_SEARCH_PATHS, discover_config_path, load_config, parse_config_data
from mcp_proxy.config.models import ProxySection, ServerConfig
from tests.mcp_proxy.config.files import CONFIGS, STDIO, load_toml, problems_of, toml_problems, write
from tests.processes import START_DEADLINE, child_env

SDK_PACKAGES = frozenset({"mcp", "mcp_types"})


def test_the_documented_example_loads_with_every_setting() -> None:
    config = load_config(CONFIGS / "servers.toml", {"GITHUB_TOKEN": "t0ken"})
    assert config.source == CONFIGS / "servers.toml"
    assert config.proxy == ProxySection(separator="__", name_budget=48, startup_timeout=5, page_size=50)
    database, github, filesystem = config.servers
    assert database == ServerConfig(
        name="database",
        transport="stdio",
        command="python",
        args=["-m", "examples.servers.database"],
        env={"DB_PATH": SecretStr("examples/data/shop.db")},
        cwd=CONFIGS,
        priority=10,
        prefix="db",
        timeout=30,
        exclude_tools=["drop_*"],
    )
    assert github.headers["Authorization"].get_secret_value() == "Bearer t0ken"
    assert (github.transport, github.url, github.protocol) == ("http", "http://127.0.0.1:8101/mcp", "2026-07-28")
    assert (filesystem.transport, filesystem.prefix, filesystem.enabled) == ("sse", "", False)
    assert (filesystem.timeout, filesystem.protocol) == (2.5, "legacy")


def test_servers_keep_file_order_and_disabled_servers_are_listed_but_not_enabled() -> None:
    config = load_config(CONFIGS / "servers.toml", {"GITHUB_TOKEN": "t"})
    assert [server.name for server in config.servers] == ["database", "github", "filesystem"]
    assert [server.name for server in config.servers if server.enabled] == ["database", "github"]


def test_an_empty_file_is_a_configuration_without_servers(tmp_path: Path) -> None:
    assert load_toml(tmp_path, "").servers == []


def test_every_missing_variable_in_the_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        '[proxy]\nseparator = "${SEP}"\n'
        '[servers.db]\ncommand = "${DB_COMMAND}"\nargs = ["--token", "${DB_TOKEN}"]\n'
        '[servers.github]\nurl = "http://h/mcp"\nheaders = { Authorization = "Bearer ${GITHUB_TOKEN}" }\n'
    )
    problems = toml_problems(tmp_path, text)
    assert [(p.server, p.field) for p in problems] == [
        (None, "proxy.separator"),
        ("db", "command"),
        ("db", "args[1]"),
        ("github", "headers.Authorization"),
    ]
    assert str(problems[-1]) == (
        f"{tmp_path / 'servers.toml'}: server 'github': field 'headers.Authorization': "
        "environment variable GITHUB_TOKEN is not set; set it or write ${GITHUB_TOKEN:-default}"
    )


def test_interpolated_values_are_validated_like_written_ones(tmp_path: Path) -> None:
    text = f'[servers.a]\n{STDIO}timeout = "${{TIMEOUT:-45}}"\nenabled = "${{ENABLED:-false}}"\n'
    (server,) = load_toml(tmp_path, text).servers
    assert (server.timeout, server.enabled) == (45.0, False)


def test_unknown_proxy_settings_and_sections_are_errors_with_suggestions(tmp_path: Path) -> None:
    problems = toml_problems(tmp_path, "[proxy]\nseperator = '_'\n[server.a]\ncommand = 'x'\n")
    assert [(p.field, p.message) for p in problems] == [
        ("server", "unknown section; did you mean 'servers'?"),
        ("proxy.seperator", "unknown setting; did you mean 'separator'?"),
    ]


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("proxy = 3\n", "proxy", "must be a table: [proxy]"),
        ("servers = 3\n", "servers", "must be a table of servers"),
        ("servers = { a = 3 }\n", None, "must be a table: [servers.a]"),
        (f"[servers.a]\n{STDIO}name = 'b'\n", "name", "its table name"),
    ],
)
def test_misshapen_toml_tables_are_errors(tmp_path: Path, text: str, field: str | None, fragment: str) -> None:
    (problem,) = toml_problems(tmp_path, text)
    assert problem.field == field
    assert fragment in problem.message


def test_problems_in_every_server_are_reported_not_just_the_first(tmp_path: Path) -> None:
    text = '[servers.a]\ntransport = "stdio"\n[servers.b]\nurl = "x"\n[servers.c]\ncommand = "ok"\ntimeout = -1\n'
    assert [p.server for p in toml_problems(tmp_path, text)] == ["a", "b", "c"]


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, "[servers.a]\ncommand = = 'x'\n")
    assert problem.file == str(tmp_path / "servers.toml")
    assert "is not valid TOML" in problem.message and "line 2" in problem.message


def test_a_json_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "servers.json", '{\n  "servers": [,]\n}')
    (problem,) = problems_of(lambda: load_config(path, {}))
    assert problem.file == str(path)
    assert "is not valid JSON" in problem.message and "line 2" in problem.message


@pytest.mark.parametrize(
    ("relative", "fragment"),
    [
        ("absent.toml", "file not found"),
        (".", "is a directory"),
        ("a-file.toml/child.toml", "cannot be read: Not a directory"),
    ],
)
def test_an_unreadable_file_is_a_problem_naming_it(tmp_path: Path, relative: str, fragment: str) -> None:
    write(tmp_path / "a-file.toml", "")
    path = tmp_path / relative
    (problem,) = problems_of(lambda: load_config(path, {}))
    assert problem.file == str(path)
    assert problem.message.startswith(fragment)


def test_a_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_bytes(b"\xff\xfe\x00")
    (problem,) = problems_of(lambda: load_config(path, {}))
    assert problem.message == "is not UTF-8 text"


def test_a_json_file_must_hold_an_object(tmp_path: Path) -> None:
    (problem,) = problems_of(lambda: load_config(write(tmp_path / "servers.json", "[1, 2]"), {}))
    assert problem.message == "must contain a JSON object at the top level"


def test_an_unrecognised_json_layout_says_which_layouts_are_understood(tmp_path: Path) -> None:
    (problem,) = problems_of(lambda: load_config(write(tmp_path / "servers.json", '{"tools": {}}'), {}))
    assert "unrecognised layout" in problem.message and "mcpServers" in problem.message


@pytest.mark.parametrize(
    ("text", "transport"),
    [('{"mcpServers": {"a": {"command": "x"}}}', "stdio"), ('[servers.a]\nurl = "http://h/sse"\n', "sse")],
)
def test_files_without_a_known_suffix_are_read_by_their_content(tmp_path: Path, text: str, transport: str) -> None:
    assert load_config(write(tmp_path / "servers.conf", text), {}).servers[0].transport == transport


def test_the_seed_json_form_converts_milliseconds_endpoints_and_api_keys() -> None:
    config = load_config(CONFIGS / "seed.json", {"DB_PATH": "/d.db", "GITHUB_TOKEN": "tok"})
    database, github, filesystem = config.servers
    assert (database.transport, database.command, database.priority, database.timeout) == ("stdio", "python", 10, 30.0)
    assert database.env["DB_PATH"].get_secret_value() == "/d.db"
    assert (github.transport, github.url, github.enabled, github.timeout) == (
        "http",
        "http://127.0.0.1:8101/mcp",
        False,
        1.5,
    )
    assert github.headers["Authorization"].get_secret_value() == "Bearer tok"
    assert (filesystem.transport, filesystem.url, filesystem.timeout) == ("sse", "http://127.0.0.1:8102/sse", 30.0)


def test_seed_json_names_must_be_unique() -> None:
    data = {"servers": [{"name": "a", "config": {"command": "x"}}, {"name": "a", "config": {"command": "y"}}]}
    (problem,) = problems_of(lambda: parse_config_data(data, "servers.json", {}))
    assert (problem.server, problem.field) == ("a", "name")
    assert "names must be unique" in problem.message


def test_a_proxy_object_in_json_sets_the_proxy_section() -> None:
    data = {"proxy": {"separator": "-"}, "mcpServers": {"a": {"command": "x"}}}
    assert parse_config_data(data, "servers.json", {}).proxy.separator == "-"


def test_parse_config_data_reads_toml_shaped_data_unless_the_source_is_json() -> None:
    data: dict[str, Any] = {"servers": {"a": {"command": "x", "priority": 5}}}
    assert parse_config_data(data, "<memory>", {}).servers[0].priority == 5
    assert parse_config_data(data, "<memory>", {}, syntax="json").servers[0].priority == 0  # VS Code layout
    assert parse_config_data(data, "mcp.JSON", {}).servers[0].priority == 0


def test_environment_variables_come_from_the_process_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIFOLD_TEST_COMMAND", "from-env")
    data = {"servers": {"a": {"command": "${MANIFOLD_TEST_COMMAND}"}}}
    assert parse_config_data(data, "servers.toml").servers[0].command == "from-env"


def test_relative_cwd_stays_relative_without_a_base_folder() -> None:
    data = {"servers": {"a": {"command": "x", "cwd": "sub"}}}
    assert parse_config_data(data, "servers.toml", {}).servers[0].cwd == Path("sub")


def test_without_interpolation_references_are_kept_and_urls_with_references_pass() -> None:
    data = {
        "servers": {
            "a": {"url": "${BASE_URL}/mcp", "headers": {"K": "${KEY}"}},
            "b": {"command": "x", "cwd": "${HOME}"},
        }
    }
    config = parse_config_data(data, "servers.toml", {}, base_dir=Path("/base"), interpolate=False)
    a, b = config.servers
    assert (a.url, a.headers["K"].get_secret_value(), b.cwd) == ("${BASE_URL}/mcp", "${KEY}", Path("${HOME}"))


def test_discovery_prefers_the_explicit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "servers.toml", "")
    explicit = write(tmp_path / "explicit.toml", "")
    from_env = write(tmp_path / "env.toml", "")
    assert discover_config_path(explicit, {"MCP_CONFIG_PATH": str(from_env)}) == explicit
    assert discover_config_path(str(explicit), {}) == explicit


def test_discovery_uses_mcp_config_path_before_the_search_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "servers.toml", "")
    from_env = write(tmp_path / "env.toml", "")
    assert discover_config_path(None, {"MCP_CONFIG_PATH": str(from_env)}) == from_env
    assert discover_config_path(None, {"MCP_CONFIG_PATH": ""}) == Path("servers.toml")


def test_discovery_searches_the_default_paths_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    system_wide = tmp_path / "etc" / "servers.json"
    monkeypatch.setattr(loading, "CONFIG_SEARCH_PATHS", (*CONFIG_SEARCH_PATHS[:2], system_wide))
    assert discover_config_path(None, {}) is None
    write(system_wide, "{}")
    assert discover_config_path(None, {}) == system_wide
    write(tmp_path / "config/mcp-servers.json", "{}")
    assert discover_config_path(None, {}) == Path("config/mcp-servers.json")
    write(tmp_path / "servers.toml", "")
    assert discover_config_path(None, {}) == Path("servers.toml")


def test_the_default_search_paths_are_the_documented_ones() -> None:
    assert (
        Path("servers.toml"),
        Path("config/mcp-servers.json"),
        Path("/etc/mcp/servers.json"),
    ) == CONFIG_SEARCH_PATHS


@pytest.mark.parametrize("origin", ["--config", "MCP_CONFIG_PATH"])
def test_a_configured_path_that_does_not_exist_is_an_error(tmp_path: Path, origin: str) -> None:
    missing = tmp_path / "nope.toml"
    explicit, environ = (missing, {}) if origin == "--config" else (None, {"MCP_CONFIG_PATH": str(missing)})
    (problem,) = problems_of(lambda: discover_config_path(explicit, environ))
    assert problem.file == str(missing)
    assert f"file not found (given by {origin})" in problem.message


def test_discovery_reads_the_process_environment_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = write(tmp_path / "mine.toml", "")
    monkeypatch.setenv("MCP_CONFIG_PATH", str(target))
    assert discover_config_path() == target


def test_auth_tokens_written_in_clear_are_counted_when_the_file_is_loaded(tmp_path: Path) -> None:
    environ = {"PROXY_TOKEN": "from-the-environment"}
    text = '[security]\nauth_tokens = ["${PROXY_TOKEN}", "literal-token-value"]\n'
    assert load_toml(tmp_path, text, environ).auth_tokens_in_clear == 1
    text = '[security]\nauth_tokens = ["${PROXY_TOKEN}", "${PROXY_TOKEN:-fallback}"]\n'
    assert load_toml(tmp_path, text, environ).auth_tokens_in_clear == 0
    assert load_toml(tmp_path, "").auth_tokens_in_clear == 0


def test_loading_any_configuration_imports_no_part_of_the_mcp_sdk(tmp_path: Path) -> None:
    # `mcp-proxy serve` loads its configuration and starts its stdio children before it pays for
    # importing the SDK (mcp_proxy.upstream.prelaunch); a fresh interpreter shows what loading costs.
    toml = write(tmp_path / "servers.toml", f"[servers.a]\n{STDIO}")
    json_file = write(tmp_path / "mcp.json", '{"mcpServers": {"b": {"command": "x"}}}')
    script = (
        "import sys\n"
        "import mcp_proxy.cli\n"
        "from mcp_proxy.config.loading import load_config\n"
        "from mcp_proxy.config.render import import_file\n"
        f"load_config({str(toml)!r})\n"
        f"load_config({str(json_file)!r})\n"
        f"import_file('cursor', {str(json_file)!r})\n"
        "print(' '.join(sorted({name.partition('.')[0] for name in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=child_env(), capture_output=True, text=True, timeout=START_DEADLINE
    )
    assert result.returncode == 0, result.stderr
    assert SDK_PACKAGES.isdisjoint(result.stdout.split())

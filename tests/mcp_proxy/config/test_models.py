"""Tests for the configuration models, loading and discovery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from mcp_proxy.config import models as config_module
from mcp_proxy.config.models import (
    CONFIG_SEARCH_PATHS,
    ProxyConfig,
    ProxySection,
    ServerConfig,
    discover_config_path,
    load_config,
    parse_config_data,
    suggest_server_name,
)
from mcp_proxy.core.errors import ConfigError, ConfigProblem

CONFIGS = Path(__file__).parents[1] / "configs"
STDIO = 'transport = "stdio"\ncommand = "python"\n'


def write(folder: Path, text: str, name: str = "servers.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(action: Callable[[], Any]) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        action()
    return caught.value.problems


def toml_problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[ConfigProblem]:
    path = write(tmp_path, text)
    return problems_of(lambda: load_config(path, environ or {}))


def load_toml(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ProxyConfig:
    return load_config(write(tmp_path, text), environ or {})


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
    assert [server.name for server in config.enabled_servers] == ["database", "github"]


def test_defaults_apply_to_everything_left_out(tmp_path: Path) -> None:
    config = load_toml(tmp_path, f"[servers.one]\n{STDIO}")
    assert config.proxy == ProxySection()
    assert (config.proxy.separator, config.proxy.name_budget, config.proxy.startup_timeout) == ("__", 64, 10.0)
    assert config.proxy.page_size == 100
    (server,) = config.servers
    assert (server.args, server.env, server.cwd, server.url, server.headers) == ([], {}, None, None, {})
    assert (server.priority, server.prefix, server.enabled, server.timeout) == (0, None, True, 30.0)
    assert (server.protocol, server.include_tools, server.exclude_tools) == ("auto", ["*"], [])


def test_an_empty_file_is_a_configuration_without_servers(tmp_path: Path) -> None:
    assert load_toml(tmp_path, "").servers == []


@pytest.mark.parametrize(("prefix", "exposed"), [(None, "github"), ("gh", "gh"), ("", "")])
def test_the_exposed_prefix_defaults_to_the_server_name(prefix: str | None, exposed: str) -> None:
    server = ServerConfig(name="github", transport="http", url="https://x/mcp", prefix=prefix)
    assert server.exposed_prefix == exposed


@pytest.mark.parametrize("spelling", ["http", "HTTP", "streamable-http", "streamable_http", "Streamable-HTTP"])
def test_streamable_http_spellings_are_normalised_to_http(spelling: str) -> None:
    assert ServerConfig.model_validate({"name": "a", "transport": spelling, "url": "http://h/mcp"}).transport == "http"


@pytest.mark.parametrize(
    ("fields", "transport"),
    [
        ({"command": "python"}, "stdio"),
        ({"url": "http://h/mcp"}, "http"),
        ({"url": "http://h/sse"}, "sse"),
        ({"url": "http://h/sse/"}, "sse"),
        ({"url": "http://h/sse-like/mcp"}, "http"),
    ],
)
def test_a_missing_transport_is_inferred_from_command_or_url(fields: dict[str, str], transport: str) -> None:
    assert ServerConfig.model_validate({"name": "a", **fields}).transport == transport


def test_secrets_never_appear_in_reprs(tmp_path: Path) -> None:
    text = '[servers.gh]\nurl = "http://h/mcp"\nheaders = { Authorization = "Bearer ${TOKEN}" }\n'
    config = load_toml(tmp_path, text, {"TOKEN": "hunter2"})
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.servers[0].model_dump())


def test_a_relative_cwd_is_resolved_against_the_config_files_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "conf", f'[servers.a]\n{STDIO}cwd = "work/dir"\n'), {})
    assert config.servers[0].cwd == tmp_path / "conf" / "work" / "dir"


def test_an_absolute_cwd_and_a_home_relative_cwd_are_kept(tmp_path: Path) -> None:
    text = f'[servers.a]\n{STDIO}cwd = "/srv/x"\n[servers.b]\n{STDIO}cwd = "~/x"\n'
    a, b = load_toml(tmp_path, text).servers
    assert a.cwd == Path("/srv/x")
    assert b.cwd == Path("~/x").expanduser()


def test_numbers_in_env_and_headers_become_strings(tmp_path: Path) -> None:
    config = load_toml(tmp_path, f"[servers.a]\n{STDIO}env = {{ PORT = 8080, RATIO = 0.5 }}\n")
    assert {key: value.get_secret_value() for key, value in config.servers[0].env.items()} == {
        "PORT": "8080",
        "RATIO": "0.5",
    }


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


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        ("timeuot = 3", "did you mean 'timeout'?"),
        ("comand = 'x'", "did you mean 'command'?"),
        ("type = 'stdio'", "did you mean 'transport'?"),
        ("disabled = true", "did you mean 'enabled'?"),
        ("zzz = 1", "the settings are: args, breaker_failures"),
    ],
)
def test_an_unknown_server_setting_is_an_error_with_a_suggestion(tmp_path: Path, line: str, suggestion: str) -> None:
    (problem,) = toml_problems(tmp_path, f"[servers.a]\n{STDIO}{line}\n")
    assert (problem.server, problem.field) == ("a", line.split(" ")[0])
    assert suggestion in problem.message


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


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ('transport = "stdio"\n', "command", "is required when transport is 'stdio'"),
        ('transport = "stdio"\ncommand = ""\n', "command", "is required when transport is 'stdio'"),
        ('transport = "http"\n', "url", "is required when transport is 'http'"),
        ('transport = "sse"\n', "url", "is required when transport is 'sse'"),
        ('transport = "http"\nurl = "http://h"\ncommand = "x"\n', "command", "only applies to 'stdio' servers"),
        ('transport = "http"\nurl = "http://h"\nenv = { A = "1" }\n', "env", "only applies to 'stdio' servers"),
        (f'{STDIO}url = "http://h"\n', "url", "only applies to 'sse' and 'http' servers"),
        (f'{STDIO}headers = {{ A = "b" }}\n', "headers", "only applies to 'sse' and 'http' servers"),
        ("priority = 1\n", "transport", "is required; set it to one of 'stdio', 'sse', 'http'"),
        ('transport = "websocket"\ncommand = "x"\n', "transport", "must be one of 'stdio', 'sse', 'http'"),
        (
            'transport = 5\ncommand = "x"\n',
            "transport",
            "must be one of 'stdio', 'sse', 'http' (or 'streamable-http'), got 5",
        ),
        (f'{STDIO}env = "A=1"\n', "env", 'must be a table of strings, e.g. { NAME = "value" }, got a str'),
        (f'{STDIO}protocol = "2024"\n', "protocol", "must be one of 'auto', 'legacy', '2026-07-28', got '2024'"),
        (f'{STDIO}timeout = "abc"\n', "timeout", "must be a number of seconds greater than 0, got 'abc'"),
        (f"{STDIO}timeout = 0\n", "timeout", "must be a number of seconds greater than 0, got 0"),
        (f"{STDIO}timeout = inf\n", "timeout", "greater than 0, got inf"),
        (f'{STDIO}priority = "high"\n', "priority", "must be a whole number, got 'high'"),
        (f'{STDIO}enabled = "maybe"\n', "enabled", "must be true or false, got 'maybe'"),
        (f"{STDIO}args = [true]\n", "args[0]", "must be a list of strings, got true"),
        (f'{STDIO}args = "--x"\n', "args", "must be a list of strings, got '--x'"),
        (f"{STDIO}cwd = 5\n", "cwd", "must be a directory path, got 5"),
        ('transport = "stdio"\ncommand = 5\n', "command", "input should be a valid string, got 5"),
    ],
)
def test_bad_server_settings_are_reported_with_their_field_and_fix(
    tmp_path: Path, body: str, field: str, fragment: str
) -> None:
    (problem,) = toml_problems(tmp_path, f"[servers.a]\n{body}")
    assert (problem.server, problem.field) == ("a", field)
    assert fragment in problem.message


@pytest.mark.parametrize(
    "url", ["ftp://example.com/mcp", "localhost:8000/mcp", "http://", "example.com/mcp", "http//x"]
)
def test_a_url_must_be_http_or_https_with_a_host(tmp_path: Path, url: str) -> None:
    (problem,) = toml_problems(tmp_path, f'[servers.a]\nurl = "{url}"\ntransport = "http"\n')
    assert problem.field == "url"
    assert problem.message == f"must be an http:// or https:// URL, got {url!r}"


def test_secret_values_are_never_echoed_in_problems(tmp_path: Path) -> None:
    text = f'[servers.a]\n{STDIO}env = {{ TOKEN = ["hunter2"], FLAG = true }}\n'
    problems = toml_problems(tmp_path, text)
    assert {p.field for p in problems} == {"env.TOKEN", "env.FLAG"}
    assert all("hunter2" not in p.message and "got a " in p.message for p in problems)


def test_problems_in_every_server_are_reported_not_just_the_first(tmp_path: Path) -> None:
    text = '[servers.a]\ntransport = "stdio"\n[servers.b]\nurl = "x"\n[servers.c]\ncommand = "ok"\ntimeout = -1\n'
    assert [p.server for p in toml_problems(tmp_path, text)] == ["a", "b", "c"]


def test_disabled_servers_are_still_validated(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, '[servers.a]\nenabled = false\ntransport = "http"\n')
    assert (problem.server, problem.field) == ("a", "url")


@pytest.mark.parametrize("separator", ["__", "_", "-", ".", "--", "._"])
def test_separators_made_of_underscores_dashes_and_dots_are_accepted(tmp_path: Path, separator: str) -> None:
    assert load_toml(tmp_path, f'[proxy]\nseparator = "{separator}"\n').proxy.separator == separator


@pytest.mark.parametrize("separator", ["", "::", "ab", "/", "_ "])
def test_other_separators_are_rejected(tmp_path: Path, separator: str) -> None:
    (problem,) = toml_problems(tmp_path, f'[proxy]\nseparator = "{separator}"\n')
    assert problem.field == "proxy.separator"
    assert "must be made of '_', '-' and '.' only" in problem.message


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ("name_budget = 15", "proxy.name_budget", "a whole number of at least 16"),
        ("startup_timeout = 0", "proxy.startup_timeout", "a number of seconds greater than 0, got 0"),
        ("page_size = 0", "proxy.page_size", "a whole number of at least 1, got 0"),
    ],
)
def test_proxy_limits_are_checked(tmp_path: Path, line: str, field: str, fragment: str) -> None:
    (problem,) = toml_problems(tmp_path, f"[proxy]\n{line}\n")
    assert (problem.server, problem.field) == (None, field)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("my.server", "my_server"), ("-lead", "lead"), ("trail_", "trail"), ("my server", "my_server"), ("é", "server")],
)
def test_invalid_server_names_are_errors_with_a_valid_spelling(tmp_path: Path, name: str, suggestion: str) -> None:
    (problem,) = toml_problems(tmp_path, f'[servers."{name}"]\n{STDIO}')
    assert (problem.server, problem.field) == (name, "name")
    assert problem.message.startswith(f"server name {name!r} is not valid")
    assert problem.message.endswith(f"try {suggestion!r}")


@pytest.mark.parametrize("name", ["a", "db2", "my-server", "my_server", "A-b_C"])
def test_names_of_letters_digits_dashes_and_underscores_are_valid(tmp_path: Path, name: str) -> None:
    assert load_toml(tmp_path, f"[servers.{name}]\n{STDIO}").servers[0].name == name


@pytest.mark.parametrize(
    ("separator", "name", "suggestion"), [("__", "a__b", "a_b"), ("-", "my-server", "my_server"), ("_", "a_b", "a-b")]
)
def test_a_name_containing_the_separator_is_an_error(
    tmp_path: Path, separator: str, name: str, suggestion: str
) -> None:
    problems = toml_problems(tmp_path, f'[proxy]\nseparator = "{separator}"\n[servers.{name}]\n{STDIO}')
    (problem,) = problems
    assert (problem.server, problem.field) == (name, "name")
    assert f"contains the separator {separator!r}" in problem.message
    assert problem.message.endswith(f"try {suggestion!r}")


@pytest.mark.parametrize(("name", "separator", "suggestion"), [("a.b", "_", "a-b"), ("x..y", "-", "x_y")])
def test_suggested_names_avoid_the_separator(name: str, separator: str, suggestion: str) -> None:
    assert suggest_server_name(name, separator) == suggestion


def test_prefixes_follow_the_name_rules(tmp_path: Path) -> None:
    text = f'[servers.a]\n{STDIO}prefix = "my.tools"\n[servers.b]\n{STDIO}prefix = "b__x"\n'
    a, b = toml_problems(tmp_path, text)
    assert (a.server, a.field) == ("a", "prefix")
    assert "prefix 'my.tools' is not valid" in a.message and 'or "" for bare names' in a.message
    assert (b.server, b.field) == ("b", "prefix")
    assert "contains the separator '__'" in b.message


def test_two_enabled_servers_with_the_same_prefix_are_an_error(tmp_path: Path) -> None:
    text = f'[servers.github]\n{STDIO}[servers.gh2]\n{STDIO}prefix = "github"\n'
    (problem,) = toml_problems(tmp_path, text)
    assert (problem.server, problem.field) == ("gh2", "prefix")
    assert "prefix 'github' is already used by server 'github'" in problem.message


def test_a_disabled_server_may_share_a_prefix_and_bare_servers_never_clash(tmp_path: Path) -> None:
    text = (
        f'[servers.github]\n{STDIO}[servers.github-next]\n{STDIO}prefix = "github"\nenabled = false\n'
        f'[servers.x]\n{STDIO}prefix = ""\n[servers.y]\n{STDIO}prefix = ""\n'
    )
    assert len(load_toml(tmp_path, text).servers) == 4


def test_a_proxy_config_built_directly_checks_servers_together() -> None:
    one = ServerConfig(name="one", transport="stdio", command="x", prefix="p")
    two = ServerConfig(name="two", transport="stdio", command="x", prefix="p")
    with pytest.raises(ValidationError, match="prefix 'p' is already used by server 'one'"):
        ProxyConfig(servers=[one, two])


def test_server_configs_are_immutable() -> None:
    server = ServerConfig(name="one", transport="stdio", command="x")
    with pytest.raises(ValidationError):
        server.priority = 3  # type: ignore[misc]


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    (problem,) = toml_problems(tmp_path, "[servers.a]\ncommand = = 'x'\n")
    assert problem.file == str(tmp_path / "servers.toml")
    assert "is not valid TOML" in problem.message and "line 2" in problem.message


def test_a_json_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "servers": [,]\n}', "servers.json")
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
    write(tmp_path, "", "a-file.toml")
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
    (problem,) = problems_of(lambda: load_config(write(tmp_path, "[1, 2]", "servers.json"), {}))
    assert problem.message == "must contain a JSON object at the top level"


def test_an_unrecognised_json_layout_says_which_layouts_are_understood(tmp_path: Path) -> None:
    (problem,) = problems_of(lambda: load_config(write(tmp_path, '{"tools": {}}', "servers.json"), {}))
    assert "unrecognised layout" in problem.message and "mcpServers" in problem.message


@pytest.mark.parametrize(
    ("text", "transport"),
    [('{"mcpServers": {"a": {"command": "x"}}}', "stdio"), ('[servers.a]\nurl = "http://h/sse"\n', "sse")],
)
def test_files_without_a_known_suffix_are_read_by_their_content(tmp_path: Path, text: str, transport: str) -> None:
    assert load_config(write(tmp_path, text, "servers.conf"), {}).servers[0].transport == transport


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
    write(tmp_path, "", "servers.toml")
    explicit = write(tmp_path, "", "explicit.toml")
    from_env = write(tmp_path, "", "env.toml")
    assert discover_config_path(explicit, {"MCP_CONFIG_PATH": str(from_env)}) == explicit
    assert discover_config_path(str(explicit), {}) == explicit


def test_discovery_uses_mcp_config_path_before_the_search_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "", "servers.toml")
    from_env = write(tmp_path, "", "env.toml")
    assert discover_config_path(None, {"MCP_CONFIG_PATH": str(from_env)}) == from_env
    assert discover_config_path(None, {"MCP_CONFIG_PATH": ""}) == Path("servers.toml")


def test_discovery_searches_the_default_paths_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    system_wide = tmp_path / "etc" / "servers.json"
    monkeypatch.setattr(config_module, "CONFIG_SEARCH_PATHS", (*CONFIG_SEARCH_PATHS[:2], system_wide))
    assert discover_config_path(None, {}) is None
    write(system_wide.parent, "{}", system_wide.name)
    assert discover_config_path(None, {}) == system_wide
    write(tmp_path, "{}", "config/mcp-servers.json")
    assert discover_config_path(None, {}) == Path("config/mcp-servers.json")
    write(tmp_path, "", "servers.toml")
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
    target = write(tmp_path, "", "mine.toml")
    monkeypatch.setenv("MCP_CONFIG_PATH", str(target))
    assert discover_config_path() == target

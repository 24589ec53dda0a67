"""The configuration models: what a valid `servers.toml` says, field by field and server by server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from mcp_proxy.config.loading import load_config
from mcp_proxy.config.models import ProxyConfig, ProxySection, ServerConfig
from tests.mcp_proxy.config.files import STDIO, load_toml, toml_problems, write


def test_defaults_apply_to_everything_left_out(tmp_path: Path) -> None:
    config = load_toml(tmp_path, f"[servers.one]\n{STDIO}")
    assert config.proxy == ProxySection()
    assert (config.proxy.separator, config.proxy.name_budget, config.proxy.startup_timeout) == ("__", 64, 10.0)
    assert config.proxy.page_size == 100
    (server,) = config.servers
    assert (server.args, server.env, server.cwd, server.url, server.headers) == ([], {}, None, None, {})
    assert (server.priority, server.prefix, server.enabled, server.timeout) == (0, None, True, 30.0)
    assert (server.protocol, server.include_tools, server.exclude_tools) == ("auto", ["*"], [])


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
        ({"module": "pkg.server"}, "stdio"),
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
    config = load_config(write(tmp_path / "conf" / "servers.toml", f'[servers.a]\n{STDIO}cwd = "work/dir"\n'), {})
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


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        ("timeuot = 3", "did you mean 'timeout'?"),
        ("comand = 'x'", "did you mean 'command'?"),
        ("type = 'stdio'", "did you mean 'transport'?"),
        ("disabled = true", "did you mean 'enabled'?"),
        ("zzz = 1", "the settings are: args, auth, breaker_failures"),
    ],
)
def test_an_unknown_server_setting_is_an_error_with_a_suggestion(tmp_path: Path, line: str, suggestion: str) -> None:
    (problem,) = toml_problems(tmp_path, f"[servers.a]\n{STDIO}{line}\n")
    assert (problem.server, problem.field) == ("a", line.split(" ")[0])
    assert suggestion in problem.message


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
        ('transport = "stdio"\n', "command", 'or module = "package.server" to run a Python module'),
        (f'{STDIO}module = "pkg.server"\n', "module", "cannot be set together with command"),
        ('transport = "http"\nurl = "http://h"\nmodule = "x"\n', "module", "only applies to 'stdio' servers"),
        ('module = "pkg/server.py"\n', "module", "must be a module name, dotted like 'package.server'"),
        ('module = "pkg.server --port 1"\n', "module", "its arguments go in args"),
        ('module = "pkg..server"\n', "module", "must be a module name"),
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


def test_a_module_runs_with_the_proxys_own_interpreter_followed_by_its_args(tmp_path: Path) -> None:
    config = load_toml(
        tmp_path, '[servers.db]\nmodule = "examples.servers.database"\nargs = ["--log-level", "DEBUG"]\n'
    )
    (server,) = config.servers
    assert (server.transport, server.command, server.module) == ("stdio", None, "examples.servers.database")
    assert server.command_line == [sys.executable, "-m", "examples.servers.database", "--log-level", "DEBUG"]


def test_a_command_line_is_the_command_and_its_args_and_empty_for_remote_servers() -> None:
    assert ServerConfig(name="a", transport="stdio", command="srv", args=["-v"]).command_line == ["srv", "-v"]
    assert ServerConfig(name="b", transport="http", url="https://x/mcp").command_line == []


def test_roots_are_file_uris_per_server_and_for_the_proxy_with_references_expanded(tmp_path: Path) -> None:
    text = (
        '[proxy]\nroots = ["file:///srv/shared"]\n\n'
        f'[servers.own]\n{STDIO}roots = ["file://${{HOME}}/project", "file:///tmp"]\n\n'
        f"[servers.inherits]\n{STDIO}"
    )
    config = load_toml(tmp_path, text, {"HOME": "/home/ada"})
    own, inherits = config.servers
    assert config.proxy.roots == ["file:///srv/shared"]
    assert own.roots == ["file:///home/ada/project", "file:///tmp"]
    assert inherits.roots is None  # answered with the proxy's roots


@pytest.mark.parametrize(("section", "field"), [("[servers.a]\n" + STDIO, "roots"), ("[proxy]\n", "proxy.roots")])
def test_a_root_that_is_not_a_file_uri_is_an_error_with_an_example(tmp_path: Path, section: str, field: str) -> None:
    (problem,) = toml_problems(tmp_path, f'{section}roots = ["/home/ada"]\n')
    assert problem.field == field
    assert problem.message == "must be file:// URIs, got '/home/ada'; for example \"file:///home/me/project\""

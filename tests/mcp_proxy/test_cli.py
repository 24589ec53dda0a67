"""The `mcp-proxy` command line: help, check, tools, import, and the installed entry points."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from mcp_proxy import cli
from mcp_proxy.config.loading import CONFIG_PATH_ENV, load_config
from tests.processes import REPO_ROOT, child_env

CONSOLE_SCRIPT = Path(sys.executable).parent / "mcp-proxy"
SUBPROCESS_DEADLINE = 60.0
EXAMPLE_SERVERS = ("database", "github", "files")
HEADER_SECRET = "hdr-5ecret-value-0123"
ENV_SECRET = "env-5ecret-value-4567"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`main` configures logging for the whole process; put it back so later tests are unaffected."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {
        name: logger.level for name, logger in root.manager.loggerDict.items() if isinstance(logger, logging.Logger)
    }
    structlog_config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, logger_level in levels.items():
        logging.getLogger(name).setLevel(logger_level)
    structlog.configure(**structlog_config)


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes may configure the CLI: no inherited MCP_CONFIG_PATH or settings."""
    for name in (CONFIG_PATH_ENV, "MCP_PROXY_LOG_LEVEL", "LOG_LEVEL", "MCP_PROXY_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def venv_first_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """`command = "python"` means the venv's interpreter here, as under `make test`, on any machine:
    `check` fails a command it cannot find."""
    monkeypatch.setenv("PATH", child_env()["PATH"])


def example_servers_toml(tmp_path: Path, *extra_tables: str) -> Path:
    """A servers.toml running the three example servers over stdio with this interpreter."""
    python, root = json.dumps(sys.executable), json.dumps(str(REPO_ROOT))
    db_path = json.dumps(str(tmp_path / "shop.db"))
    tables = [
        f'[servers.{name}]\ncommand = {python}\nargs = ["-m", "examples.servers.{name}"]\ncwd = {root}\n'
        + (f"env = {{ DB_PATH = {db_path} }}\n" if name == "database" else "")
        for name in EXAMPLE_SERVERS
    ]
    path = tmp_path / "servers.toml"
    path.write_text("[proxy]\nstartup_timeout = 20\n\n" + "\n".join([*tables, *extra_tables]))
    return path


# ---- help --------------------------------------------------------------------------------


def test_help_shows_usage_examples_and_where_the_config_is_found(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "examples:" in out
    assert "mcp-proxy check --config servers.toml" in out
    assert "mcp-proxy import claude-desktop > servers.toml" in out
    assert "$MCP_CONFIG_PATH" in out
    for command in ("serve", "check", "tools", "import"):
        assert command in out


def test_no_command_prints_the_usage_and_exits_with_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_USAGE
    assert "usage: mcp-proxy" in capsys.readouterr().err


def test_serve_help_shows_the_front_transport_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert "--transport" in out and "--port" in out and "examples:" in out


# ---- check -------------------------------------------------------------------------------


def test_check_shows_every_server_with_secrets_hidden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_TEST_TOKEN", HEADER_SECRET)
    (tmp_path / "work").mkdir()
    config = tmp_path / "servers.toml"
    config.write_text(
        f"""
[proxy]
separator = "."

[servers.database]
command = "python"
args = ["-m", "examples.servers.database"]
env = {{ DB_PATH = "/data/shop.db", API_KEY = "{ENV_SECRET}" }}
cwd = "work"
priority = 10

[servers.github]
transport = "http"
url = "https://mcp.example.com/mcp"
headers = {{ Authorization = "Bearer ${{MANIFOLD_TEST_TOKEN}}" }}
timeout = 60
exclude_tools = ["delete_*"]

[servers.files]
transport = "sse"
url = "http://files:{ENV_SECRET}@127.0.0.1:8102/sse?api_key=${{MANIFOLD_TEST_TOKEN}}&v=2"
prefix = ""
enabled = false
protocol = "legacy"
"""
    )
    code = cli.main(["check", "--config", str(config)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_OK
    out = captured.out
    for expected in (
        f"configuration: {config}",
        "separator='.'",
        "database  [enabled]",
        "target:    python -m examples.servers.database",
        f"cwd:       {tmp_path / 'work'}",
        "env:       API_KEY, DB_PATH (values hidden)",
        "priority: 10",
        "github  [enabled]",
        "transport: http  protocol: auto  timeout: 60s",
        "target:    https://mcp.example.com/mcp",
        "headers:   Authorization (values hidden)",
        "exclude ['delete_*']",
        "files  [disabled]",
        "transport: sse  protocol: legacy",
        "target:    http://files:***@127.0.0.1:8102/sse?api_key=***&v=***",
        "prefix:    (bare names)",
        "3 server(s), 2 enabled: configuration OK",
    ):
        assert expected in out
    for secret in (HEADER_SECRET, ENV_SECRET, "/data/shop.db", "Bearer"):
        assert secret not in captured.out + captured.err


def test_check_reports_every_mistake_at_once_with_file_server_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MANIFOLD_TEST_MISSING_TOKEN", raising=False)
    config = tmp_path / "broken.toml"
    config.write_text(
        """
[servers.database]
command = "python"
priorty = 3

[servers.local]
transport = "stdio"
args = ["server.py"]

[servers.github]
transport = "http"
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer ${MANIFOLD_TEST_MISSING_TOKEN}" }

[servers."my server"]
command = "python"
"""
    )
    code = cli.main(["check", "--config", str(config)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG_ERROR
    assert captured.out == ""
    message = captured.err
    assert message.count("mcp-proxy:") == 1
    assert "4 configuration problems" in message
    expected_lines = [
        f"{config}: server 'database': field 'priorty': unknown setting; did you mean 'priority'?",
        f"{config}: server 'local': field 'command': is required when transport is 'stdio'",
        f"{config}: server 'github': field 'headers.Authorization': environment variable "
        "MANIFOLD_TEST_MISSING_TOKEN is not set",
        f"{config}: server 'my server': field 'name': server name 'my server' is not valid",
    ]
    lines = message.splitlines()
    for expected in expected_lines:
        assert any(expected in line for line in lines), expected


def test_check_without_any_configuration_says_where_it_looked_and_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # Only the relative defaults: the machine's /etc/mcp must not decide this test.
    monkeypatch.setattr(
        "mcp_proxy.config.loading.CONFIG_SEARCH_PATHS", (Path("servers.toml"), Path("config/mcp-servers.json"))
    )
    code = cli.main(["check"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CONFIG_ERROR
    assert "no configuration file found" in err
    assert "--config PATH" in err and "MCP_CONFIG_PATH" in err and "./servers.toml" in err
    assert "mcp-proxy import claude-desktop" in err


def test_check_names_a_config_file_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.toml"
    code = cli.main(["check", "--config", str(missing)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_CONFIG_ERROR
    assert f"{missing}: file not found (given by --config)" in err


def test_check_finds_the_config_named_by_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[servers.only]\ncommand = "python"\n')
    monkeypatch.setenv(CONFIG_PATH_ENV, str(config))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"configuration: {config}" in out
    assert "only  [enabled]" in out


def test_check_reads_servers_toml_in_the_current_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "servers.toml").write_text('[servers.here]\ncommand = "python"\n')
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check"]) == cli.EXIT_OK
    assert "here  [enabled]" in capsys.readouterr().out


def test_check_fails_for_a_server_whose_command_is_not_on_the_path_its_child_gets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # what a desktop client gives the proxy, at its shortest
    config = tmp_path / "servers.toml"
    config.write_text(
        '[servers.database]\ncommand = "python"\nargs = ["-m", "examples.servers.database"]\n\n'
        f'[servers.files]\nmodule = "examples.servers.files"\ncwd = "{REPO_ROOT}"\n\n'
        '[servers.later]\ncommand = "not-installed-yet"\nenabled = false\n'
    )
    code = cli.main(["check", "--config", str(config)])
    captured = capsys.readouterr()
    assert code == cli.EXIT_CONFIG_ERROR
    assert captured.out == ""
    assert "1 configuration problem:" in captured.err
    assert (
        f"{config}: server 'database': field 'command': 'python' is not found on the proxy's PATH ({empty}); "
        "to run it with the proxy's own interpreter"
    ) in captured.err
    assert 'write module = "examples.servers.database"' in captured.err


def test_check_shows_the_interpreter_a_module_runs_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    config = tmp_path / "servers.toml"
    config.write_text(f'[servers.files]\nmodule = "examples.servers.files"\ncwd = "{REPO_ROOT}"\nargs = ["-v"]\n')
    assert cli.main(["check", "--config", str(config)]) == cli.EXIT_OK
    assert f"target:    {sys.executable} -m examples.servers.files -v" in capsys.readouterr().out


def test_check_starts_nothing_and_loads_no_sdk(tmp_path: Path) -> None:
    config = tmp_path / "servers.toml"
    config.write_text(f'[servers.files]\nmodule = "examples.servers.files"\ncwd = "{REPO_ROOT}"\n')
    script = (
        "import sys\n"
        "from mcp_proxy import cli\n"
        f"code = cli.main(['check', '--config', {str(config)!r}])\n"
        "loaded = {name.partition('.')[0] for name in sys.modules}\n"
        "print('LOADED', code, ' '.join(sorted(loaded)))\n"
    )
    finished = run([sys.executable, "-c", script])
    assert finished.returncode == 0, finished.stderr
    (line,) = [line for line in finished.stdout.splitlines() if line.startswith("LOADED")]
    _, code, *modules = line.split()
    assert code == "0"
    assert {"mcp", "mcp_types", "examples"}.isdisjoint(modules)


# ---- tools -------------------------------------------------------------------------------
# These run real example servers as stdio children, whose stderr must be a real file: capfd.


def test_tools_prints_the_merged_table_with_the_origin_of_each_tool(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    broken = '[servers.broken]\ncommand = "manifold-test-no-such-command"\n'
    code = cli.main(["tools", "--config", str(example_servers_toml(tmp_path, broken))])
    out = capfd.readouterr().out
    assert code == cli.EXIT_OK
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SERVER", "ORIGINAL", "DESCRIPTION"]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[1:10]}
    assert rows == {
        f"{server}__{tool}": [server, tool]
        for server, tools in (
            ("database", ("list_tables", "describe_table", "execute_query")),
            ("github", ("search_code", "get_file", "list_issues")),
            ("files", ("list_directory", "read_file", "search_files")),
        )
        for tool in tools
    }
    assert "List the tables and views in the database." in out
    assert "database: ready" in out and "github: ready" in out and "files: ready" in out
    assert "broken: down (command not found: manifold-test-no-such-command)" in out


def test_tools_as_json_lists_every_tool_and_server_state(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["tools", "--json", "--config", str(example_servers_toml(tmp_path))])
    report = json.loads(capfd.readouterr().out)
    assert code == cli.EXIT_OK
    query = next(t for t in report["tools"] if t["name"] == "database__execute_query")
    assert query["server"] == "database"
    assert query["original"] == "execute_query"
    assert query["description"].startswith("Run one read-only SQL statement")
    assert len(report["tools"]) == 9
    assert report["servers"] == {name: {"state": "ready", "error": None} for name in EXAMPLE_SERVERS}


def test_tools_on_a_broken_config_exits_with_the_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "servers.toml"
    config.write_text('[servers.remote]\ntransport = "http"\n')
    assert cli.main(["tools", "--config", str(config)]) == cli.EXIT_CONFIG_ERROR
    assert "server 'remote': field 'url': is required" in capsys.readouterr().err


# ---- import ------------------------------------------------------------------------------

CLAUDE_DESKTOP = {
    "mcpServers": {
        "database": {"command": "python", "args": ["-m", "examples.servers.database"], "env": {"DB_PATH": "shop.db"}},
        "remote": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        "legacy": {"url": "https://mcp.example.com/sse", "disabled": True},
    }
}
VSCODE = {
    "servers": {
        "database": {
            "type": "stdio",
            "command": "python",
            "args": ["-m", "examples.servers.database"],
            "env": {"DB_PATH": "shop.db"},
        },
        "remote": {
            "type": "http",
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer ${env:TOKEN}"},
        },
        "legacy": {"type": "sse", "url": "https://mcp.example.com/sse", "enabled": False},
    }
}


@pytest.mark.parametrize(
    ("kind", "document", "file_name"),
    [
        ("claude-desktop", CLAUDE_DESKTOP, "claude_desktop_config.json"),
        ("cursor", CLAUDE_DESKTOP, "mcp.json"),
        ("vscode", VSCODE, "mcp.json"),
    ],
)
def test_import_prints_toml_that_loads_as_the_same_servers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, document: dict[str, object], file_name: str
) -> None:
    source = tmp_path / file_name
    source.write_text(json.dumps(document))
    code = cli.main(["import", kind, str(source)])
    out = capsys.readouterr().out
    assert code == cli.EXIT_OK
    assert "${TOKEN}" in out  # a reference stays a reference: no secret is baked in
    imported = tmp_path / "servers.toml"
    imported.write_text(out)
    config = load_config(imported, environ={"TOKEN": "t0k"})
    servers = {s.name: s for s in config.servers}
    assert list(servers) == ["database", "remote", "legacy"]
    database, remote, legacy = servers["database"], servers["remote"], servers["legacy"]
    assert (database.transport, database.command, database.args) == (
        "stdio",
        "python",
        ["-m", "examples.servers.database"],
    )
    assert database.env["DB_PATH"].get_secret_value() == "shop.db"
    assert (remote.transport, remote.url) == ("http", "https://mcp.example.com/mcp")
    assert remote.headers["Authorization"].get_secret_value() == "Bearer t0k"
    assert (legacy.transport, legacy.enabled) == ("sse", False)


def test_import_of_a_missing_file_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "claude_desktop_config.json"
    assert cli.main(["import", "claude-desktop", str(missing)]) == cli.EXIT_CONFIG_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{missing}: file not found" in captured.err


def test_import_refuses_an_unknown_client(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["import", "notepad"])
    assert exited.value.code == cli.EXIT_USAGE
    assert "invalid choice: 'notepad'" in capsys.readouterr().err


# ---- installed entry points ----------------------------------------------------------------


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO_ROOT, env=child_env(), capture_output=True, text=True, timeout=SUBPROCESS_DEADLINE, check=False
    )


def test_the_installed_console_script_checks_a_config(tmp_path: Path) -> None:
    config = example_servers_toml(tmp_path)
    finished = run([str(CONSOLE_SCRIPT), "check", "--config", str(config)])
    assert finished.returncode == 0, finished.stderr
    assert "3 server(s), 3 enabled: configuration OK" in finished.stdout
    assert "env:       DB_PATH (values hidden)" in finished.stdout
    assert str(tmp_path / "shop.db") not in finished.stdout


def test_the_installed_console_script_reports_its_version() -> None:
    finished = run([str(CONSOLE_SCRIPT), "--version"])
    assert finished.returncode == 0
    assert finished.stdout.startswith("mcp-proxy ")


def test_python_dash_m_mcp_proxy_shows_the_help() -> None:
    finished = run([sys.executable, "-m", "mcp_proxy", "--help"])
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("usage: mcp-proxy")
    assert "examples:" in finished.stdout

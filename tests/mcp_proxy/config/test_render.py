"""Configurations rendered as `servers.toml`, and other tools' files imported that way."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr

from mcp_proxy.config.front_auth import FrontOAuth
from mcp_proxy.config.loading import load_config
from mcp_proxy.config.models import ProxyConfig, ProxySection, ServerConfig
from mcp_proxy.config.render import SECRET_MASK, import_file, render_toml
from tests.mcp_proxy.config.files import CONFIGS, problems_of, write


def full_config() -> ProxyConfig:
    return ProxyConfig(
        proxy=ProxySection(
            separator="-",
            name_budget=40,
            startup_timeout=2.5,
            page_size=10,
            roots=["file:///srv"],
            auth=FrontOAuth(
                type="oauth",
                issuer="https://login.example.com/realms/main",
                public_url="https://mcp.example.com",
                scopes=["mcp:tools", "mcp:read"],
                verify="introspection",
                client_id="manifold",
                client_secret=SecretStr("idp-secret-value"),
                leeway=5,
            ),
        ),
        servers=[
            ServerConfig(
                name="db",
                transport="stdio",
                command="py thon",
                args=["-c", 'print("hi")\n', "tab\there", "back\\slash", "\x01\x7f", "ünï", "$${LITERAL}"],
                env={"A_B": SecretStr("x"), "dotted.key": SecretStr('quo"te')},
                cwd=Path("/srv/db"),
                priority=-3,
                prefix="",
                enabled=False,
                timeout=0.25,
                protocol="legacy",
                roots=["file:///srv/db", "file:///tmp/$$x"],
                include_tools=["q*", "list_?"],
                exclude_tools=["drop"],
            ),
            ServerConfig(
                name="gh",
                transport="http",
                url="https://h/mcp",
                headers={"Authorization": SecretStr("Bearer t"), "X Odd": SecretStr("")},
            ),
            ServerConfig(name="fs", transport="sse", url="http://h/sse", prefix="files", protocol="2026-07-28"),
        ],
    )


def test_render_toml_round_trips_to_an_equal_configuration(tmp_path: Path) -> None:
    original = full_config()
    path = write(tmp_path / "servers.toml", render_toml(original, reveal_secrets=True))
    loaded = load_config(path, {})
    assert loaded.proxy == original.proxy
    assert loaded.servers == original.servers


def test_render_toml_round_trips_the_documented_example(tmp_path: Path) -> None:
    original = load_config(CONFIGS / "servers.toml", {"GITHUB_TOKEN": "t"})
    path = write(tmp_path / "servers.toml", render_toml(original, reveal_secrets=True))
    assert load_config(path, {}).servers == original.servers


def test_render_toml_masks_secrets_unless_asked() -> None:
    text = render_toml(full_config())
    assert "Bearer t" not in text
    assert tomllib.loads(text)["servers"]["gh"]["headers"]["Authorization"] == SECRET_MASK
    assert "idp-secret-value" not in text
    assert tomllib.loads(text)["proxy"]["auth"]["client_secret"] == SECRET_MASK


def test_render_toml_leaves_defaults_out() -> None:
    config = ProxyConfig(servers=[ServerConfig(name="a", transport="stdio", command="x")])
    assert render_toml(config) == '[servers.a]\ntransport = "stdio"\ncommand = "x"\n'
    assert render_toml(ProxyConfig()) == ""


def test_import_file_keeps_references_instead_of_baking_in_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOTE_TOKEN", "hunter2")
    text = import_file("claude-desktop", CONFIGS / "claude_desktop_config.json")
    assert "hunter2" not in text
    assert 'Authorization = "Bearer ${REMOTE_TOKEN}"' in text
    assert text.startswith(f"# Servers imported from {CONFIGS / 'claude_desktop_config.json'} (claude-desktop).")


def test_an_imported_file_loads_like_the_original(tmp_path: Path) -> None:
    environ = {"HOME": "/home/me", "LOCAL_TOKEN": "lt", "REMOTE_KEY": "rk"}
    text = import_file("vscode", CONFIGS / "vscode_mcp.json")
    imported = load_config(write(tmp_path / "servers.toml", text), environ)
    assert imported.servers == load_config(CONFIGS / "vscode_mcp.json", environ).servers


def test_import_file_keeps_literal_dollars_and_references_in_urls(tmp_path: Path) -> None:
    source = write(
        tmp_path / "mcp.json",
        '{"mcpServers": {"a": {"url": "${BASE}/sse", "headers": {"P": "pa$$word"}}}}',
    )
    text = import_file("cursor", source)
    config = load_config(write(tmp_path / "servers.toml", text), {"BASE": "https://h"})
    (server,) = config.servers
    assert (server.transport, server.url, server.headers["P"].get_secret_value()) == (
        "sse",
        "https://h/sse",
        "pa$$word",
    )


def test_import_file_reads_the_workspace_vscode_file_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / ".vscode" / "mcp.json", '{"servers": {"a": {"type": "stdio", "command": "x"}}}')
    assert "[servers.a]" in import_file("vscode")


def test_import_file_reports_problems_with_the_file(tmp_path: Path) -> None:
    bad = write(tmp_path / "mcp.json", '{"servers": {"a.b": {"command": "x", "env": {"K": "${input:k}"}}}}')
    problems = problems_of(lambda: import_file("vscode", bad))
    assert [(problem.server, problem.field) for problem in problems] == [("a.b", "env.K"), ("a.b", "name")]
    (missing,) = problems_of(lambda: import_file("cursor", tmp_path / "absent.json"))
    assert "file not found" in missing.message


def test_a_module_renders_back_as_the_module_never_as_this_interpreters_path(tmp_path: Path) -> None:
    server = ServerConfig(
        name="db", transport="stdio", module="examples.servers.database", args=["-v"], cwd=Path("/srv")
    )
    text = render_toml(ProxyConfig(servers=[server]))
    assert 'module = "examples.servers.database"' in text
    assert "command" not in text and sys.executable not in text
    assert load_config(write(tmp_path / "servers.toml", text), {}).servers == [server]


def test_an_imported_python_reference_stays_a_reference_and_loads_as_this_interpreter(tmp_path: Path) -> None:
    source = write(tmp_path / "mcp.json", '{"mcpServers": {"s": {"command": "${python}", "args": ["server.py"]}}}')
    text = import_file("cursor", source)
    assert 'command = "${python}"' in text
    (server,) = load_config(write(tmp_path / "servers.toml", text), {}).servers
    assert server.command_line == [sys.executable, "server.py"]

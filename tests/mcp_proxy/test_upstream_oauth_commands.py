"""`mcp-proxy login`, `check` and `logout` as programs; the Redis store between a login and a running
proxy; what the proxy sends upstream and shows of the tokens it holds.

Against the real test authorization server and `protected_upstream`, like test_upstream_oauth.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.abc import ByteReceiveStream
from cryptography.fernet import Fernet
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from manifold_common.redaction import REDACTED, redact_text
from mcp_proxy.app import running_proxy
from mcp_proxy.config.loading import parse_config_data
from mcp_proxy.http_app import build_http_app
from mcp_proxy.upstream.token_store import TOKEN_KEY_ENV
from tests.mcp_proxy.http_support import serving
from tests.mcp_proxy.protected_upstream import ProtectedUpstream, protected_upstream
from tests.mcp_proxy.test_upstream_oauth import client_of, config_for, log_in, text_of
from tests.oauth.authorization_server import AuthorizationServer
from tests.oauth.headless_login import headless_login
from tests.processes import REPO_ROOT, child_env

pytestmark = pytest.mark.anyio

COMMAND_DEADLINE = 60.0
FRONT_TOKEN = "front-token-for-clients-of-the-proxy"


def write_config(folder: Path, upstream: ProtectedUpstream) -> Path:
    path = folder / "servers.toml"
    path.write_text(
        f'[proxy]\ntoken_store = "sqlite:///{folder}/tokens.db"\n\n'
        f'[servers.remote]\nurl = "{upstream.url}"\nauth = {{ type = "oauth", scopes = ["mcp:tools"] }}\n'
    )
    return path


def mcp_proxy(*args: str) -> list[str]:
    return [sys.executable, "-m", "mcp_proxy", *args]


async def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    with anyio.fail_after(COMMAND_DEADLINE):
        return await anyio.run_process(mcp_proxy(*args), check=False, env=child_env(), cwd=REPO_ROOT)


async def read_line_with(stream: ByteReceiveStream, marker: str, seen: list[str]) -> str:
    """Read `stream` until a line containing `marker`; every line read is kept in `seen`."""
    buffer = ""
    while True:
        lines = buffer.split("\n")
        for line in lines[:-1]:
            seen.append(line)
            if marker in line:
                return line
        buffer = lines[-1]
        buffer += (await stream.receive()).decode()


async def test_the_login_command_prints_the_address_and_stores_the_sign_in_for_check_and_logout(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        config = write_config(tmp_path, upstream)
        before = await run("check", "--config", str(config))
        command = mcp_proxy("login", "remote", "--no-browser", "--config", str(config))
        seen: list[str] = []
        with anyio.fail_after(COMMAND_DEADLINE):
            async with await anyio.open_process(command, env=child_env(), cwd=REPO_ROOT) as login:
                assert login.stderr is not None and login.stdout is not None
                url = (await read_line_with(login.stderr, "http://", seen)).strip()
                answer = await headless_login(url, "carol")
                async with httpx2.AsyncClient(timeout=10.0) as http:
                    page = await http.get(answer.redirect_url)
                outcome = (await read_line_with(login.stdout, "signed in", [])).strip()
                assert await login.wait() == 0
        after = await run("check", "--config", str(config))
        logout = await run("logout", "remote", "--config", str(config))
        again = await run("logout", "remote", "--config", str(config))
        final = await run("check", "--config", str(config))
    assert "not signed in: run `mcp-proxy login remote`" in before.stdout.decode()
    assert "Sign in to remote" in "\n".join(seen)
    assert page.status_code == 200 and "You can close this window" in page.text
    assert outcome.startswith("signed in to remote with scope") and "1 tools" in outcome
    assert "auth:      oauth: signed in (scope" in after.stdout.decode()
    assert logout.stdout.decode().strip() == "signed out of remote"
    assert again.stdout.decode().strip() == "nothing was kept for remote"
    assert "not signed in: run `mcp-proxy login remote`" in final.stdout.decode()
    for token in upstream.bearer_tokens():  # nothing the commands printed shows a token
        for result in (before, after, logout, final):
            assert token not in (result.stdout + result.stderr).decode()


async def test_the_login_command_refuses_servers_it_cannot_sign_in_to(tmp_path: Path) -> None:
    config = tmp_path / "servers.toml"
    config.write_text(
        '[servers.local]\ncommand = "python"\n\n'
        '[servers.m2m]\nurl = "https://m2m.example.com/mcp"\n'
        'auth = { type = "client_credentials", client_id = "a", client_secret = "b" }\n'
    )
    unknown = await run("login", "nope", "--config", str(config))
    plain = await run("login", "local", "--config", str(config))
    machine = await run("login", "m2m", "--config", str(config))
    assert unknown.returncode == 1 and "no server named 'nope'" in unknown.stderr.decode()
    assert plain.returncode == 1 and "has no auth setting" in plain.stderr.decode()
    assert machine.returncode == 1 and "the proxy obtains its tokens itself" in machine.stderr.decode()


async def test_a_sign_in_kept_in_redis_reaches_the_running_proxy(
    authorization_server: AuthorizationServer, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_KEY_ENV, Fernet.generate_key().decode())
    async with protected_upstream(authorization_server) as upstream:
        config = config_for(upstream, tmp_path / "unused.db", {"type": "oauth", "scopes": ["mcp:tools"]})
        config = config.model_copy(
            update={"proxy": config.proxy.model_copy(update={"token_store": _secret(redis_url)})}
        )
        await log_in(config, "dave")
        async with running_proxy(config, watch=False) as proxy, client_of(proxy) as client:
            answer = await client.call_tool("remote__whoami", {})
    assert text_of(answer) == "subject=dave"
    assert not (tmp_path / "unused.db").exists()


async def test_the_fronts_token_never_reaches_the_upstream_and_the_upstream_tokens_show_nowhere(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    async with protected_upstream(authorization_server) as upstream:
        remote = {"url": upstream.url, "auth": {"type": "oauth", "scopes": ["mcp:tools"]}}
        config = parse_config_data(
            {
                "proxy": {"token_store": f"sqlite:///{tmp_path}/tokens.db"},
                "security": {"auth_tokens": [FRONT_TOKEN]},
                "servers": {"remote": remote},
            },
            "test.toml",
            environ={},
        )
        await log_in(config, "erin")
        app = build_http_app(config)
        async with serving(app) as base:
            headers = {"Authorization": f"Bearer {FRONT_TOKEN}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30.0) as http,
                Client(streamable_http_client(f"{base}/mcp", http_client=http), cache=None) as client,
            ):
                answer = await client.call_tool("remote__whoami", {})
            detailed = (await httpx2.AsyncClient(headers=headers).get(f"{base}/health/detailed")).text
    assert text_of(answer) == "subject=erin"
    assert FRONT_TOKEN not in upstream.authorizations and f"Bearer {FRONT_TOKEN}" not in upstream.authorizations
    tokens = upstream.bearer_tokens()
    assert tokens and all(token != FRONT_TOKEN for token in tokens)
    for token in tokens:
        assert token not in detailed
        assert redact_text(f"header was Bearer {token}") == f"header was Bearer {REDACTED}"
    status = json.loads(detailed)["servers"][0]["auth"]
    assert status["signed_in"] is True and status["scope"] and "mcp:tools" in status["scope"]


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)

"""No secret value in anything the proxy emits over a full run: logs, log file, HTTP answers, MCP results.

The run uses every kind of secret the configuration knows: a bearer token for the front (from the
`[security]` table or from MCP_PROXY_AUTH_TOKENS), a stdio server's `env` value (which the server
prints on its stderr, so the proxy re-emits it), a remote server's header, and the seed form's
`api_key` (which becomes an `Authorization` header).
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from manifold_common.redaction import REDACTED
from tests.processes import proxy_listening, spawn

pytestmark = pytest.mark.anyio

SECRETS = {
    "PROXY_TOKEN": "tok-front-7d1e2a9c4b5f6e8d0a1b2c3d",
    "CHILD_SECRET": "sk-child-env-93c1b2a4d5e6f708",
    "REMOTE_KEY": "rk-remote-hdr-5a6b7c8d9e0f1a2b",
}


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that is bound but never listens: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def toml_config(tmp_path: Path, port: int) -> Path:
    python = json.dumps(sys.executable)
    path = tmp_path / "servers.toml"
    path.write_text(
        '[proxy]\nstartup_timeout = 20\n\n[security]\nauth_tokens = ["${PROXY_TOKEN}"]\n\n'
        f'[servers.noisy]\ncommand = {python}\nargs = ["-m", "tests.mcp_proxy.noisy_upstream", "noisy"]\n'
        'env = { CONFIGURED_VAR = "${CHILD_SECRET}" }\n\n'
        f'[servers.remote]\nurl = "http://127.0.0.1:{port}/mcp"\nreconnect_initial = 0.05\n'
        'headers = { Authorization = "Bearer ${REMOTE_KEY}" }\n'
    )
    return path


def seed_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "mcp-servers.json"
    noisy = {"command": sys.executable, "args": ["-m", "tests.mcp_proxy.noisy_upstream", "noisy"]}
    document = {
        "version": "1.0",
        "servers": [
            {"name": "noisy", "transport": "stdio", "config": {**noisy, "env": {"CONFIGURED_VAR": "${CHILD_SECRET}"}}},
            {
                "name": "remote",
                "transport": "http",
                "config": {"endpoint": f"http://127.0.0.1:{port}/mcp", "api_key": "${REMOTE_KEY}"},
            },
        ],
    }
    path.write_text(json.dumps(document))
    return path


async def exercise(url: str, token: str) -> list[str]:
    """Use every route with and without the token; returns every answer as text."""
    seen: list[str] = []
    base = url.removesuffix("/mcp")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(base_url=base, headers=auth) as http:
        for mode in ("legacy", "auto"):
            async with Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as client:
                seen.append(repr(await client.list_tools()))
                seen.append(repr(await client.call_tool("noisy__echo", {"message": "hello"})))
                seen.append(repr(await client.call_tool("noisy__fail", {})))
                try:
                    await client.call_tool("no_such_tool", {})
                except MCPError as exc:
                    seen.append(repr(exc))
        async with Client(sse_client(f"{base}/sse", headers=auth), mode="legacy", cache=None) as client:
            seen.append(repr(await client.call_tool("noisy__echo", {"message": "over sse"})))
        for path in ("/health", "/health/detailed", "/readyz", "/healthz", "/metrics"):
            response = await http.get(path)
            seen.append(f"{response.status_code} {response.headers} {response.text}")
        refused = await http.post("/mcp", json={}, headers={"Authorization": "Bearer wrong"})
        seen.append(f"{refused.status_code} {refused.headers} {refused.text}")
    return seen


@pytest.mark.parametrize("form", ["toml", "seed-json"])
async def test_no_secret_value_appears_in_anything_the_proxy_emits(
    tmp_path: Path, refusing_port: int, form: str
) -> None:
    config = toml_config(tmp_path, refusing_port) if form == "toml" else seed_config(tmp_path, refusing_port)
    log_file = tmp_path / "logs" / "mcp-aggregator.log"
    env = dict(SECRETS)
    if form == "seed-json":
        env["MCP_PROXY_AUTH_TOKENS"] = f"other-token-value,{SECRETS['PROXY_TOKEN']}"
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0", "--config", str(config)]
    args += ["--log-format", "json", "--log-level", "DEBUG", "--log-file", str(log_file)]
    async with spawn(args, ready=proxy_listening, env=env) as proxy:
        answers = await exercise(proxy.ready["url"], SECRETS["PROXY_TOKEN"])
    emitted: dict[str, Any] = {
        "stderr": "\n".join(proxy.stderr_lines),
        "log file": log_file.read_text(),
        "answers": "\n".join(answers),
    }
    for where, text in emitted.items():
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} appeared in {where}"
    # The child did print its secret, and the proxy did relay that line: scrubbed.
    relayed = [line for line in proxy.stderr_lines if '"upstream_stderr"' in line and "CONFIGURED_VAR" in line]
    assert relayed and REDACTED in relayed[0]
    assert '"tool_call"' in emitted["log file"]

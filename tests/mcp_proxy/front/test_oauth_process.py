"""`[proxy.auth]` in a real `mcp-proxy serve` process: read from the file, secret from the environment, no leaks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import httpx2
import pytest

from tests.mcp_proxy.front.oauth_support import REQUIRED_SCOPE, bearer_client, challenge_of, initialize
from tests.oauth.authorization_server import MACHINE_CLIENT, AuthorizationServer, ResourcePolicy
from tests.processes import REPO_ROOT, proxy_listening, spawn

pytestmark = pytest.mark.anyio

# The address clients would use, in front of the process (say, a reverse proxy with TLS).
PUBLIC_URL = "https://mcp.example.test"
LOG_DEADLINE = 10.0


def write_config(path: Path, issuer: str) -> Path:
    path.write_text(
        f"""[proxy]
startup_timeout = 20

[proxy.auth]
type = "oauth"
issuer = {json.dumps(issuer)}
public_url = "{PUBLIC_URL}"
scopes = ["{REQUIRED_SCOPE}"]
verify = "introspection"
client_id = "{MACHINE_CLIENT.client_id}"
client_secret = "${{IDP_SECRET}}"

[servers.alpha]
module = "tests.upstreams"
args = ["alpha"]
cwd = {json.dumps(str(REPO_ROOT))}
"""
    )
    return path


async def test_the_process_checks_tokens_by_introspection_and_never_logs_them(
    authorization_server: AuthorizationServer, tmp_path: Path
) -> None:
    assert MACHINE_CLIENT.client_secret is not None
    await authorization_server.add_resource(f"{PUBLIC_URL}/mcp", ResourcePolicy(format="opaque"))
    tokens = await authorization_server.sign_in("alice", resource=f"{PUBLIC_URL}/mcp", scopes=[REQUIRED_SCOPE])
    config = write_config(tmp_path / "servers.toml", authorization_server.issuer)
    args = [sys.executable, "-m", "mcp_proxy", "serve", "--transport", "http", "--port", "0"]
    args += ["--config", str(config), "--log-format", "json"]
    async with spawn(args, ready=proxy_listening, env={"IDP_SECRET": MACHINE_CLIENT.client_secret}) as proxy:
        url = proxy.ready["url"]
        base = url.removesuffix("/mcp")
        async with bearer_client(url, tokens.access_token) as client:
            result = await client.call_tool("alpha__echo", {"message": "from a process"})
        async with httpx2.AsyncClient() as http:
            refused = await initialize(http, url, None)
            metadata = (await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")).json()
        with anyio.fail_after(LOG_DEADLINE):
            while not any('"tool_call"' in line for line in proxy.stderr_lines):
                await anyio.sleep(0.05)
        log = "\n".join(proxy.stderr_lines)
    assert result.is_error is not True
    assert challenge_of(refused)["resource_metadata"] == f"{PUBLIC_URL}/.well-known/oauth-protected-resource/mcp"
    assert metadata["resource"] == f"{PUBLIC_URL}/mcp"
    assert metadata["authorization_servers"] == [authorization_server.issuer]
    [call] = [json.loads(line) for line in proxy.stderr_lines if '"tool_call"' in line]
    assert call["principal"] == f"{authorization_server.issuer}#alice"
    assert tokens.access_token not in log
    assert MACHINE_CLIENT.client_secret not in log

"""`python -m tests.e2e.protected_server ISSUER`: `protected_upstream` as a process of its own.

The browser tests drive Playwright's sync API, so the protected server they sign in to cannot
run in their event loop. It announces itself with the example servers' readiness line and
serves until SIGTERM.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import httpx2

from examples.servers._serve import announce_ready
from tests.mcp_proxy.protected_upstream import protected_upstream
from tests.oauth.authorization_server import AuthorizationServer

DISCOVERY_TIMEOUT = 10.0


async def serve(issuer: str) -> None:
    """Serve a protected server trusting the authorization server at `issuer`, until cancelled."""
    async with httpx2.AsyncClient(timeout=DISCOVERY_TIMEOUT) as http:
        metadata = (await http.get(f"{issuer}/.well-known/openid-configuration")).raise_for_status().json()
    server = AuthorizationServer(issuer=issuer, metadata=metadata, log_path=Path("/dev/null"), pid=0)
    async with protected_upstream(server) as upstream:
        announce_ready(transport="http", url=upstream.url)
        await anyio.sleep_forever()


if __name__ == "__main__":
    anyio.run(serve, sys.argv[1])

"""A remote MCP server protected by the test authorization server, served on a real loopback port.

It is an OAuth resource server the way the MCP authorization specification describes one, built
from the SDK's own pieces: protected resource metadata at
`/.well-known/oauth-protected-resource/mcp` naming the test authorization server, 401 with
`WWW-Authenticate: Bearer ... resource_metadata=...` without a valid token, and 403
`insufficient_scope` without the required scopes. A token is valid when it is an RS256 JWT from
the authorization server's JWKS, for this server's URL (`aud`), not expired. Its tool `whoami`
answers with the token's subject, so a test sees whose token reached the server, and every
`Authorization` header received is recorded.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import jwt
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_proxy.listeners import listening_socket, socket_url
from tests.mcp_proxy.http_support import serving
from tests.oauth.authorization_server import AuthorizationServer


class JwtVerifier:
    """Accepts the authorization server's JWT access tokens issued for one resource URL."""

    def __init__(self, authorization_server: AuthorizationServer, resource: str) -> None:
        self._keys = jwt.PyJWKClient(authorization_server.jwks_uri, cache_keys=True)
        self._issuer = authorization_server.issuer
        self._resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's grant, or None when it is not a valid token for this server."""
        try:
            key = await anyio.to_thread.run_sync(self._keys.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=["RS256"], audience=self._resource, issuer=self._issuer
            )
        except jwt.PyJWTError:
            return None
        return AccessToken(
            token=token,
            client_id=str(claims.get("client_id", "")),
            scopes=str(claims.get("scope", "")).split(),
            expires_at=int(claims["exp"]),
            resource=self._resource,
            subject=str(claims.get("sub")),
        )


@dataclass
class ProtectedUpstream:
    """A running protected server: its URL and what it received."""

    url: str
    authorizations: list[str] = field(default_factory=list[str])
    """Every `Authorization` header value received, in order."""
    whoami_calls: list[tuple[str | None, str | None]] = field(default_factory=list[tuple[str | None, str | None]])
    """For each `whoami` call: the subject of the token it came with, and that token."""

    def bearer_tokens(self) -> list[str]:
        """The bearer tokens among them."""
        return [value.removeprefix("Bearer ") for value in self.authorizations if value.startswith("Bearer ")]


class _Recorder:
    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self._app = app
        self._seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"authorization":
                    self._seen.append(value.decode("latin-1"))
        await self._app(scope, receive, send)


@asynccontextmanager
async def protected_upstream(
    authorization_server: AuthorizationServer, *, required_scopes: tuple[str, ...] = ("mcp:tools",)
) -> AsyncGenerator[ProtectedUpstream]:
    """Serve a protected MCP server on a free loopback port for the block."""
    sock: socket.socket = listening_socket("127.0.0.1", 0)
    url = socket_url(sock, "/mcp")
    server = MCPServer(
        "protected",
        auth=AuthSettings(
            issuer_url=authorization_server.issuer,  # pyright: ignore[reportArgumentType]
            resource_server_url=url,  # pyright: ignore[reportArgumentType]
            required_scopes=list(required_scopes),
            validate_token_resource=False,  # the verifier checks the audience itself
        ),
        token_verifier=JwtVerifier(authorization_server, url),
    )

    running = ProtectedUpstream(url)

    @server.tool(description="Whose token reached the server.")
    def whoami() -> str:
        token = get_access_token()
        running.whoami_calls.append((token.subject, token.token) if token else (None, None))
        return f"subject={token.subject if token else None}"

    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = _Recorder(server.streamable_http_app(transport_security=security), running.authorizations)
    async with serving(app, sock=sock):
        yield running

"""Inbound bearer-token authentication of the HTTP front.

Tokens come from `[security] auth_tokens` (written as `${VAR}` references) and from the
`MCP_PROXY_AUTH_TOKENS` environment variable. A presented token is compared with every
configured one in constant time: both sides are hashed to equal-length digests first, and the
loop never stops early, so neither the length nor the position of a match shows in the timing.

A request let through carries its `Principal` in its ASGI scope (`principal_of`): for a static
token, a name for the token's holder, stable for the life of the process and revealing nothing of
the token; for an OAuth access token (`oauth_resource.py`), the issuer and subject. It tells
modern-era clients apart, which have no connection of their own (see `clients.client_identity`),
and names the caller in the `tool_call` log line. The scope also gets the SDK's `user` and `auth`
entries, so the SDK's transports bind each session to the principal that opened it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from pydantic import SecretStr
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config.security import SecuritySection

REALM = "manifold"
"""The realm named in `WWW-Authenticate` challenges."""
_SCHEME = "bearer"
PRINCIPAL_SCOPE_KEY = "manifold.principal"
"""The ASGI scope key of an authenticated request's principal."""
TOKEN_NOT_KEPT = "[not kept]"
"""What the SDK's `AccessToken.token` holds: the presented token stays in the request that carried it."""
# Keys the principal names: without it, a name cannot be matched against guessed tokens.
_PRINCIPAL_KEY = secrets.token_bytes(32)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenSet:
    """The accepted bearer tokens, kept only as digests."""

    def __init__(self, tokens: Iterable[SecretStr]) -> None:
        self._digests = [_digest(value) for t in tokens if (value := t.get_secret_value())]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def accepts(self, presented: str) -> bool:
        """Whether `presented` is one of the tokens, in time independent of which one (or none)."""
        candidate = _digest(presented)
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(candidate, digest)
        return matched


def configured_tokens(security: SecuritySection, env_tokens: Iterable[SecretStr] = ()) -> TokenSet:
    """The tokens of the `[security]` table plus those from the environment."""
    return TokenSet([*security.auth_tokens, *env_tokens])


def presented_token(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None when there is none."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != _SCHEME or not token.strip():
        return None
    return token.strip()


@dataclass(frozen=True)
class Principal:
    """Who an authenticated HTTP request comes from."""

    name: str
    """Stable and unique: `token:<digest>` for a static token, `<issuer>#<subject>` for an OAuth access token."""
    issuer: str | None = None
    subject: str | None = None
    client_id: str | None = None
    """The OAuth client the token was issued to, when the token says."""

    @classmethod
    def of_grant(cls, grant: AccessToken, issuer: str) -> Principal:
        """The principal of a verified OAuth access token."""
        subject = grant.subject or grant.client_id
        return cls(f"{issuer}#{subject}", issuer, subject, grant.client_id or None)


def principal_for(token: str) -> str:
    """The principal name of the holder of `token` (the same for the same token in this process)."""
    return "token:" + hmac.new(_PRINCIPAL_KEY, token.encode(), hashlib.sha256).hexdigest()[:16]


def principal_of(request: object) -> Principal | None:
    """The principal of an HTTP request the front's guard let through; None without one (or off HTTP)."""
    if not isinstance(request, HTTPConnection):
        return None
    principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
    return principal if isinstance(principal, Principal) else None


def admit(scope: Scope, principal: Principal, grant: AccessToken | None = None) -> None:
    """Mark a request as authenticated: its principal for the proxy, its user and scopes for the SDK."""
    grant = grant or AccessToken(token=TOKEN_NOT_KEPT, client_id=principal.name, scopes=[])
    scope[PRINCIPAL_SCOPE_KEY] = principal
    scope["user"] = AuthenticatedUser(grant)
    scope["auth"] = AuthCredentials(grant.scopes)


def challenge(invalid: bool) -> JSONResponse:
    """401 with the `WWW-Authenticate` challenge of RFC 6750."""
    if invalid:
        header = f'Bearer realm="{REALM}", error="invalid_token"'
        body = {"error": "invalid_token", "error_description": "the bearer token is not valid"}
    else:
        header = f'Bearer realm="{REALM}"'
        body = {"error": "unauthorized", "error_description": "this endpoint requires a bearer token"}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": header})


class BearerGuard:
    """ASGI middleware: let a request through only with one of the accepted bearer tokens."""

    def __init__(self, app: ASGIApp, tokens: TokenSet, on_reject: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.tokens = tokens
        self._on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the `Authorization` header of HTTP requests; pass everything else through."""
        if scope["type"] != "http" or not self.tokens:
            await self.app(scope, receive, send)
            return
        token = presented_token(Headers(scope=scope))
        if token is not None and self.tokens.accepts(token):
            admit(scope, Principal(principal_for(token)))
            await self.app(scope, receive, send)
            return
        if self._on_reject is not None:
            self._on_reject("unauthorized")
        await challenge(invalid=token is not None)(scope, receive, send)

"""The HTTP front as an OAuth 2.1 protected resource: its metadata documents, challenges and guard.

With `[proxy.auth] type = "oauth"`:

- the protected-resource metadata (RFC 9728) is served at the well-known path of each of the
  proxy's resources: `<public_url>/mcp`, `<public_url>/sse` and `<public_url>` itself, i.e.
  `/.well-known/oauth-protected-resource<prefix>/mcp`, `.../sse` and
  `/.well-known/oauth-protected-resource<prefix>` (and the bare root form too), naming the issuer
  as the authorization server and the required scopes;
- `OAuthGuard` lets a request through with a static `[security]` token or with an access token
  the verifier accepts that carries every required scope. Otherwise it answers as RFC 6750 and
  the MCP authorization rules say: 401 with `WWW-Authenticate: Bearer resource_metadata="...",
  scope="..."` when no token was sent, the same with `error="invalid_token"` when the token is
  not acceptable, and 403 with `error="insufficient_scope"` and the needed scopes when it lacks
  some (a client may then ask for more: step-up). When the provider cannot be reached to check a
  token, 503: the client is not at fault.

An admitted request carries its principal (issuer and subject) in its scope (see `auth.admit`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.routes import cors_middleware
from mcp.shared.auth import ProtectedResourceMetadata
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from manifold_common.logging import get_logger

from ..config.front_auth import FrontOAuth
from .auth import Principal, TokenSet, admit, presented_token, principal_for
from .token_verifiers import InvalidToken, ProviderUnavailable, TokenChecker

log = get_logger(__name__)

WELL_KNOWN = "/.well-known/oauth-protected-resource"
RETRY_AFTER_SECONDS = 5
# Which resource a request path belongs to: SSE posts its messages to /messages/.
_ENDPOINTS = (("/mcp", "/mcp"), ("/sse", "/sse"), ("/messages", "/sse"))


def _quoted(text: str) -> str:
    """A quoted-string for a header parameter (RFC 9110): no quotes or backslashes inside."""
    return '"' + text.replace("\\", "").replace('"', "'") + '"'


class ProtectedResource:
    """The proxy's identity as an OAuth resource: its resource URLs, metadata and challenges."""

    def __init__(self, settings: FrontOAuth) -> None:
        self.settings = settings
        parts = urlsplit(settings.public_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")

    @property
    def required_scopes(self) -> list[str]:
        """The scopes every token must carry."""
        return list(self.settings.scopes)

    @staticmethod
    def endpoint_of(path: str) -> str:
        """The resource a request path belongs to: "/mcp", "/sse", or "" for the proxy as a whole."""
        return next((endpoint for start, endpoint in _ENDPOINTS if path.startswith(start)), "")

    def metadata_path(self, endpoint: str) -> str:
        """The well-known path of the metadata of one resource (RFC 9728 section 3.1)."""
        return f"{WELL_KNOWN}{self._prefix}{endpoint}"

    def metadata_url(self, endpoint: str) -> str:
        """The absolute URL of that metadata document, as clients reach it."""
        return self._origin + self.metadata_path(endpoint)

    def metadata(self, endpoint: str) -> ProtectedResourceMetadata:
        """The metadata document of one resource."""
        return ProtectedResourceMetadata.model_validate(
            {
                "resource": self.settings.resource_url(endpoint),
                "authorization_servers": [self.settings.issuer],
                "scopes_supported": self.required_scopes,
                "bearer_methods_supported": ["header"],
                "resource_name": self.settings.resource_name,
            }
        )

    def routes(self) -> list[Route]:
        """The metadata documents' routes (GET, with CORS so browser-based clients can read them)."""
        paths = {self.metadata_path(endpoint): endpoint for endpoint in ("/mcp", "/sse", "")}
        paths.setdefault(WELL_KNOWN, "")  # behind a path prefix, the bare root form too
        return [
            Route(
                path,
                endpoint=cors_middleware(ProtectedResourceMetadataHandler(self.metadata(endpoint)).handle, ["GET"]),
                methods=["GET", "OPTIONS"],
            )
            for path, endpoint in paths.items()
        ]

    def challenge(self, path: str, *, error: str | None = None, description: str = "") -> JSONResponse:
        """401 (or 403 for `insufficient_scope`) with the `WWW-Authenticate` header of RFC 6750 and RFC 9728.

        `error` is left out when no token was sent (RFC 6750 section 3.1).
        """
        parameters: list[str] = []
        if error is not None:
            parameters += [f"error={_quoted(error)}", f"error_description={_quoted(description)}"]
        parameters += [
            f"resource_metadata={_quoted(self.metadata_url(self.endpoint_of(path)))}",
            f"scope={_quoted(' '.join(self.required_scopes))}",
        ]
        body = {"error": error or "unauthorized", "error_description": description}
        status = 403 if error == "insufficient_scope" else 401
        return JSONResponse(body, status_code=status, headers={"WWW-Authenticate": "Bearer " + ", ".join(parameters)})


class OAuthGuard:
    """ASGI middleware: admit a request with a static token or an acceptable access token, else challenge it."""

    def __init__(
        self,
        app: ASGIApp,
        resource: ProtectedResource,
        verifier: TokenChecker,
        tokens: TokenSet,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.resource = resource
        self.verifier = verifier
        self.tokens = tokens
        self._on_reject: Callable[[str], None] = on_reject or _ignore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the `Authorization` header of HTTP requests; pass everything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        token = presented_token(Headers(scope=scope))
        if token is None:
            self._on_reject("unauthorized")
            await self.resource.challenge(path, description="this endpoint requires a bearer token")(
                scope, receive, send
            )
            return
        if self.tokens and self.tokens.accepts(token):
            admit(scope, Principal(principal_for(token)))
            await self.app(scope, receive, send)
            return
        try:
            grant = await self.verifier.check(token)
        except InvalidToken as exc:
            self._on_reject("unauthorized")
            log.info("front_token_rejected", path=path, reason=str(exc))
            await self.resource.challenge(path, error="invalid_token", description=str(exc))(scope, receive, send)
            return
        except ProviderUnavailable:
            self._on_reject("auth_unavailable")
            await _unavailable(scope, receive, send)
            return
        missing = [name for name in self.resource.required_scopes if name not in grant.scopes]
        if missing:
            self._on_reject("insufficient_scope")
            description = f"the access token lacks the scope {' '.join(missing)}"
            await self.resource.challenge(path, error="insufficient_scope", description=description)(
                scope, receive, send
            )
            return
        admit(scope, Principal.of_grant(grant, self.resource.settings.issuer), grant)
        await self.app(scope, receive, send)


def _ignore(_: str) -> None:
    pass


async def _unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    body = {"error": "temporarily_unavailable", "error_description": "the proxy cannot check access tokens right now"}
    response = JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    await response(scope, receive, send)

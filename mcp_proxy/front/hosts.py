"""Who may reach the HTTP front's MCP routes: Host and Origin allowlists, and CORS.

A Host check defeats DNS rebinding (a web page that makes its own name resolve to 127.0.0.1);
an Origin check stops a browser page from another site driving the proxy. Both always apply
to the MCP routes. Loopback names and the bound address are always accepted; operators add
names with `[security] allowed_hosts` / `allowed_origins` (or `MCP_PROXY_ALLOWED_HOSTS` /
`MCP_PROXY_ALLOWED_ORIGINS`). `"*"` accepts any value, for deployments behind a reverse proxy
that checks them itself.

CORS headers are sent only when `cors_origins` is configured. The proxy never asks browsers to
send credentials (it uses no cookies; the bearer token travels in an explicit `Authorization`
header), so `"*"` can never be combined with credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mcp.server.transport_security import TransportSecuritySettings
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ANY = "*"
"""In an allowlist: accept every value."""
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "[::]", "")
_SCHEMES = ("http", "https")

CORS_ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "Mcp-Session-Id",
    "Mcp-Protocol-Version",
    "Mcp-Method",
    "Mcp-Name",
    "Last-Event-ID",
)
CORS_EXPOSED_HEADERS = ("Mcp-Session-Id",)
CORS_METHODS = ("GET", "POST", "DELETE")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _host_name(header: str) -> str:
    """The name part of a Host header value (`[::1]:8000` -> `[::1]`), lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@dataclass(frozen=True)
class HostPolicy:
    """The Host names and Origins the MCP routes accept, and the Origins CORS answers."""

    hosts: tuple[str, ...]
    origins: tuple[str, ...]
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        bind_host: str,
        extra_hosts: Iterable[str] = (),
        extra_origins: Iterable[str] = (),
        cors_origins: Iterable[str] = (),
    ) -> HostPolicy:
        """Loopback names and the bound address, plus the configured extras; CORS origins are accepted Origins too."""
        hosts: list[str] = list(LOOPBACK_NAMES)
        bound = _bracketed(bind_host).lower()
        for name in (bound, *(_bracketed(h).lower() for h in extra_hosts)):
            if name not in WILDCARD_BINDS and name not in hosts:
                hosts.append(name)
        cors = tuple(dict.fromkeys(o.rstrip("/") for o in cors_origins))
        origins = tuple(dict.fromkeys([*(o.rstrip("/") for o in extra_origins), *cors]))
        return cls(hosts=tuple(hosts), origins=origins, cors_origins=cors)

    def host_allowed(self, header: str | None) -> bool:
        """Whether a Host header names this proxy (any port)."""
        if ANY in self.hosts:
            return True
        return bool(header) and _host_name(header or "") in self.hosts

    def origin_allowed(self, origin: str | None) -> bool:
        """Whether an Origin header is acceptable; requests without one (not from a browser) are."""
        if origin is None:
            return True
        origin = origin.strip().rstrip("/").lower()
        if ANY in self.origins or origin in (o.lower() for o in self.origins):
            return True
        scheme, _, rest = origin.partition("://")
        return scheme in _SCHEMES and _host_name(rest) in self.hosts

    def transport_security(self) -> TransportSecuritySettings:
        """The same allowlists for the SDK's own check, behind ours (defence in depth).

        The SDK has no "any value" entry, so with `"*"` in either list its check is switched
        off and `HostGuard` alone decides.
        """
        if ANY in self.hosts or ANY in self.origins:
            return TransportSecuritySettings(enable_dns_rebinding_protection=False)
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{name}:*" for name in self.hosts] + list(self.hosts),
            allowed_origins=[f"{s}://{n}:*" for n in self.hosts for s in _SCHEMES]
            + [f"{s}://{n}" for n in self.hosts for s in _SCHEMES]
            + list(self.origins),
        )

    def cors_middleware(self) -> list[Middleware]:
        """The CORS middleware for the app, or none when no CORS origin is configured."""
        if not self.cors_origins:
            return []
        return [
            Middleware(
                CORSMiddleware,
                allow_origins=list(self.cors_origins),
                allow_methods=list(CORS_METHODS),
                allow_headers=list(CORS_ALLOWED_HEADERS),
                expose_headers=list(CORS_EXPOSED_HEADERS),
                allow_credentials=False,
            )
        ]


class HostGuard:
    """ASGI middleware: 421 for a foreign Host, 403 for a foreign Origin, before anything else runs."""

    def __init__(self, app: ASGIApp, policy: HostPolicy, on_reject: Callable[[str], None] | None = None) -> None:
        self.app = app
        self.policy = policy
        self._on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the Host and Origin headers of HTTP requests; pass everything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host, origin = _host_and_origin(scope)
        if not self.policy.host_allowed(host):
            await self._refuse(
                "foreign_host", PlainTextResponse("Invalid Host header", status_code=421), scope, receive, send
            )
            return
        if not self.policy.origin_allowed(origin):
            await self._refuse(
                "foreign_origin", PlainTextResponse("Invalid Origin header", status_code=403), scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    async def _refuse(
        self, reason: str, response: PlainTextResponse, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if self._on_reject is not None:
            self._on_reject(reason)
        await response(scope, receive, send)


def _host_and_origin(scope: Scope) -> tuple[str | None, str | None]:
    """The first Host and Origin headers of a request, as Starlette's `Headers.get` reads them.

    One pass over the raw headers: `Headers.get` of a header that is absent (Origin, from most
    clients) scans them all and raises and catches a KeyError, which sampling showed costing
    about 6% of the HTTP front's CPU per call.
    """
    host: str | None = None
    origin: str | None = None
    for name, value in scope["headers"]:
        if name == b"host" and host is None:
            host = value.decode("latin-1")
        elif name == b"origin" and origin is None:
            origin = value.decode("latin-1")
    return host, origin

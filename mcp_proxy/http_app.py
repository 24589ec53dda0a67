"""The HTTP front: streamable HTTP at /mcp, legacy SSE at /sse + /messages/, and health routes.

One Starlette app serves both MCP transports (each in both protocol eras) from one proxy. The
app's lifespan owns the proxy: upstreams start before the first request is accepted and stop
when the server shuts down. Host/Origin validation is always on for the MCP routes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.sse import SseServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from .app import Proxy, running_proxy
from .config import ProxyConfig
from .server import ProxyServer

MCP_PATH = "/mcp"
SSE_PATH = "/sse"
MESSAGES_PATH = "/messages/"

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_BINDS = ("0.0.0.0", "::", "")


def security_settings(host: str, extra_hosts: tuple[str, ...] = ()) -> TransportSecuritySettings:
    """DNS-rebinding protection: accept only the loopback names, the bound host and `extra_hosts`."""
    names: list[str] = list(_LOOPBACK_NAMES)
    bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if bound not in _WILDCARD_BINDS and bound not in names:
        names.append(bound)
    names.extend(h for h in extra_hosts if h not in names)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names] + names,
        allowed_origins=[f"{scheme}://{name}:*" for name in names for scheme in ("http", "https")]
        + [f"{scheme}://{name}" for name in names for scheme in ("http", "https")],
    )


class _ProxyHolder:
    """The running proxy and its session manager, set by the lifespan; routes read them per request."""

    def __init__(self) -> None:
        self.proxy: Proxy | None = None
        self.manager: StreamableHTTPSessionManager | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI endpoint of /mcp: the session manager exists only while the app runs."""
        if self.manager is None:
            raise RuntimeError("the proxy is not running")
        await StreamableHTTPASGIApp(self.manager)(scope, receive, send)

    def require(self) -> Proxy:
        if self.proxy is None:
            raise RuntimeError("the proxy is not running")
        return self.proxy


def build_http_app(config: ProxyConfig, *, host: str = "127.0.0.1", extra_hosts: tuple[str, ...] = ()) -> Starlette:
    """Build the Starlette app that serves the proxy for `config` over HTTP."""
    holder = _ProxyHolder()
    security = security_settings(host, extra_hosts)
    sse = SseServerTransport(MESSAGES_PATH, security_settings=security)

    async def handle_sse(request: Request) -> Response:
        server = holder.require().server.server
        async with sse.connect_sse(request.scope, request.receive, request._send) as (read, write):  # pyright: ignore[reportPrivateUsage]
            await server.run(read, write, server.create_initialization_options())
        return Response()

    async def health(_: Request) -> JSONResponse:
        proxy = holder.require()
        summary = health_summary(proxy)
        return JSONResponse(summary, status_code=503 if summary["status"] == "unhealthy" else 200)

    async def healthz(_: Request) -> JSONResponse:
        # Liveness only: the process answers. Upstream trouble is /health's business.
        return JSONResponse({"status": "ok"})

    async def health_detailed(_: Request) -> JSONResponse:
        proxy = holder.require()
        return JSONResponse(
            {**health_summary(proxy), **proxy.registry.status(), "resource_cache": proxy.server.cache.stats()}
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncGenerator[None]:
        async with running_proxy(config) as proxy:
            manager = _session_manager(proxy.server, security)
            holder.proxy, holder.manager = proxy, manager
            async with manager.run():
                yield
            holder.proxy, holder.manager = None, None

    return Starlette(
        routes=[
            Route(MCP_PATH, holder, methods=["GET", "POST", "DELETE"]),
            Route(SSE_PATH, handle_sse, methods=["GET"]),
            Mount(MESSAGES_PATH, app=sse.handle_post_message),
            Route("/health", health, methods=["GET"]),
            Route("/health/detailed", health_detailed, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _session_manager(server: ProxyServer, security: TransportSecuritySettings) -> StreamableHTTPSessionManager:
    # Stateful with SSE responses: handshake-era clients need their session for pushed
    # notifications and server-to-client requests.
    return StreamableHTTPSessionManager(app=server.server, security_settings=security)


def health_summary(proxy: Proxy) -> dict[str, Any]:
    """The seed-compatible health summary: status, mode and the number of healthy servers."""
    enabled = [u for u in proxy.registry.upstreams.values() if u.config.enabled]
    ready = proxy.registry.ready_count()
    if enabled and ready == len(enabled):
        status = "healthy"
    elif ready > 0:
        status = "degraded"
    else:
        status = "unhealthy"
    return {"status": status, "mode": "multi", "servers": ready, "configured": len(enabled)}

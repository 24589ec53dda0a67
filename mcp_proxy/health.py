"""Health, readiness and metrics endpoints, shared by the HTTP front and the stdio side listener.

- `/healthz`: liveness. The process answers; upstreams are never consulted.
- `/readyz`: readiness. 200 while the proxy serves and its readiness policy holds: every
  server marked `required = true` is usable, or, when none is marked, at least one is.
  503 lists the servers that fail the policy.
- `/health`: the seed-compatible summary (`status`, `mode`, healthy `servers`).
- `/health/detailed`: the summary (its count of healthy servers as `ready_servers`, since
  `servers` is the per-server list there) and everything an operator needs to see per server
  (behind the bearer token when one is configured).
- `/metrics`: Prometheus exposition (open by default, see docs/OPERATIONS.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from manifold_common.redaction import redact_tree

from .app import Proxy
from .metrics import ProxyMetrics
from .upstream.supervisor import USABLE_STATES

ProxySource = Callable[[], Proxy | None]

MODE = "multi"
"""The seed's `mode` for a proxy fronting several servers."""


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
    return {"status": status, "mode": MODE, "servers": ready, "configured": len(enabled)}


def readiness(proxy: Proxy) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the readiness policy holds, and the servers that fail it (name, state, last error)."""
    enabled = [u for u in proxy.registry.upstreams.values() if u.config.enabled]
    required = [u for u in enabled if u.config.required]
    usable = {u.name for u in enabled if u.state in USABLE_STATES}
    if required:
        failing = [u for u in required if u.name not in usable]
        ready = not failing
    else:
        ready = bool(usable)
        failing = [] if ready else enabled
    return ready, [
        {"name": u.name, "state": str(u.state), "required": u.config.required, "last_error": u.last_error}
        for u in failing
    ]


def era_of_protocol(protocol: str | None) -> str | None:
    """ "modern", "handshake", or None when not connected."""
    if protocol is None:
        return None
    return "modern" if protocol in MODERN_PROTOCOL_VERSIONS else "handshake"


def detailed_status(proxy: Proxy) -> dict[str, Any]:
    """Per-server state, era, counts, errors, breaker and retry timing, conflicts, and cache stats."""
    status = proxy.registry.status()
    conflicts: list[dict[str, Any]] = status["conflicts"]
    servers: list[dict[str, Any]] = []
    for server in status["servers"]:
        name = server["name"]
        servers.append(
            {
                **server,
                "era": era_of_protocol(server.get("protocol")),
                "conflicts_won": [c["name"] for c in conflicts if c["winner"] == name],
                "conflicts_lost": [c["name"] for c in conflicts if name in c["losers"]],
            }
        )
    ready, failing = readiness(proxy)
    summary = health_summary(proxy)
    document = {
        **summary,
        # The summary's `servers` count, renamed: here `servers` is the list of servers.
        "ready_servers": summary["servers"],
        **status,
        "servers": servers,
        "ready": ready,
        "not_ready": failing,
        "client_sessions": proxy.server.clients.session_count,
        "resource_cache": proxy.server.cache.stats(),
    }
    detail: dict[str, Any] = redact_tree(document)
    return detail


def health_routes(
    source: ProxySource,
    metrics: ProxyMetrics,
    *,
    detail_guards: Sequence[Middleware] = (),
    metrics_guards: Sequence[Middleware] = (),
) -> list[BaseRoute]:
    """The health, readiness and metrics routes, reading the proxy from `source` on each request.

    `detail_guards` and `metrics_guards` (such as bearer authentication) run in front of
    `/health/detailed` and `/metrics`; the other routes are always open.
    """

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        proxy = source()
        if proxy is None:
            return JSONResponse({"ready": False, "reason": "the proxy is not serving"}, status_code=503)
        ready, failing = readiness(proxy)
        return JSONResponse({"ready": ready, "failing": redact_tree(failing)}, status_code=200 if ready else 503)

    async def health(_: Request) -> JSONResponse:
        proxy = source()
        if proxy is None:
            return JSONResponse({"status": "unhealthy", "mode": MODE, "servers": 0}, status_code=503)
        summary = health_summary(proxy)
        return JSONResponse(summary, status_code=503 if summary["status"] == "unhealthy" else 200)

    async def detailed(_: Request) -> JSONResponse:
        proxy = source()
        if proxy is None:
            return JSONResponse({"status": "unhealthy", "reason": "the proxy is not serving"}, status_code=503)
        return JSONResponse(detailed_status(proxy))

    async def scrape(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(body, media_type=content_type)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/health/detailed", detailed, methods=["GET"], middleware=list(detail_guards)),
        Route("/metrics", scrape, methods=["GET"], middleware=list(metrics_guards)),
    ]

"""Health and metrics: `/health`, `/health/detailed`, `/healthz` and `/metrics`, in the single-server backend's keys.

Every figure comes from the one MCP link. The counts of servers, tools and resources are the
link's (in multi mode, the proxy's per-server report as last read by the link's probe); the
resource cache figures are read from the proxy's `manifold://status` resource when asked for,
and are zero in single mode, where no proxy cache sits in front of the server. `status` speaks
of the MCP side only; whether a language model is configured is reported in `llm`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from .errors import LinkUnavailable
from .mcp_link import McpLink
from .metrics import CONTENT_TYPE
from .proxy_status import NO_CACHE, CacheFigures, read_report
from .schemas import DetailedHealth, HealthStatus, HealthSummary, LlmStatus, McpFigures
from .services import Services, get_services

router = APIRouter(tags=["health"])

CACHE_READ_TIMEOUT = 2.0
"""Seconds a health or metrics request waits for the proxy's status; it answers zero after that."""


def overall_status(initialized: bool, total: int, healthy: int) -> HealthStatus:
    """`unhealthy` while the link is down, `healthy` when every server behind it is, else `degraded`."""
    if not initialized:
        return "unhealthy"
    return "healthy" if total > 0 and healthy == total else "degraded"


def http_status(status: HealthStatus) -> int:
    """503 for `unhealthy` (load balancers take the instance out), 200 otherwise."""
    return 503 if status == "unhealthy" else 200


def llm_status(services: Services) -> LlmStatus:
    """Which provider and model the chat uses, if any."""
    llm = services.llm
    return LlmStatus(configured=llm is not None, provider=llm.name if llm else None, model=llm.model if llm else None)


async def proxy_cache(link: McpLink, timeout: float = CACHE_READ_TIMEOUT) -> CacheFigures:
    """The proxy's resource cache figures, read now over the link; zero without a proxy report."""
    try:
        client, inventory = link.require()
    except LinkUnavailable:  # not connected: no figures to read, and the counts say why
        return NO_CACHE
    if inventory.reported is None:  # a single server, or a proxy without a status resource
        return NO_CACHE
    report = await read_report(client, timeout)
    return report.cache if report is not None else NO_CACHE


async def mcp_figures(services: Services) -> McpFigures:
    """The integration layer's figures: the link's counts plus the proxy's cache."""
    counts = services.link.status()
    cache = await proxy_cache(services.link, min(CACHE_READ_TIMEOUT, services.settings.mcp_request_timeout))
    resources = {
        "total": counts["resources"]["total"],
        "cache": {"entries": cache.entries, "size_bytes": cache.size_bytes},
    }
    return McpFigures.model_validate({**counts, "resources": resources})


def summary(services: Services) -> HealthSummary:
    """The `/health` body."""
    counts = services.link.status()
    servers = counts["servers"]
    return HealthSummary(
        status=overall_status(counts["initialized"], servers["total"], servers["healthy"]),
        mode=counts["mode"],
        servers=servers["healthy"],
        initialized=counts["initialized"],
        llm=llm_status(services),
    )


async def detailed(services: Services) -> DetailedHealth:
    """The `/health/detailed` body."""
    figures = await mcp_figures(services)
    facts: dict[str, Any] = services.link.details()
    return DetailedHealth.model_validate(
        {
            **facts,
            **figures.model_dump(),
            "status": overall_status(figures.initialized, figures.servers.total, figures.servers.healthy),
            "llm": llm_status(services),
            "conversations": len(services.history),
        }
    )


ServicesDep = Annotated[Services, Depends(get_services)]
_UNHEALTHY_DOC = "The MCP link is down (the body is the same document, with `status: unhealthy`)."


@router.get(
    "/health",
    response_model=HealthSummary,
    responses={503: {"model": HealthSummary, "description": _UNHEALTHY_DOC}},
)
async def health(services: ServicesDep) -> JSONResponse:
    """`status` (healthy, degraded, unhealthy), `mode` and the number of healthy `servers`."""
    body = summary(services)
    return JSONResponse(body.model_dump(mode="json"), status_code=http_status(body.status))


@router.get(
    "/health/detailed",
    response_model=DetailedHealth,
    responses={503: {"model": DetailedHealth, "description": _UNHEALTHY_DOC}},
)
async def health_detailed(services: ServicesDep) -> JSONResponse:
    """Servers, tools, resources and the proxy's cache, plus the link's connection facts and each server."""
    body = await detailed(services)
    return JSONResponse(body.model_dump(mode="json"), status_code=http_status(body.status))


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers (the MCP server's state is /health's business)."""
    return {"status": "ok"}


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics: the `mcp_*` figures of /health/detailed and the chat service's own `chat_api_*`."""
    figures = await mcp_figures(services)
    services.metrics.observe_mcp(
        servers=figures.servers.total,
        healthy=figures.servers.healthy,
        tools=figures.tools.total,
        resources=figures.resources.total,
        cache_entries=figures.resources.cache.entries,
        cache_bytes=figures.resources.cache.size_bytes,
    )
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)
